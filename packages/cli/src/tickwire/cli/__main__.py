"""``python -m tickwire.cli``: the ``tickwire`` command (:mod:`tickwire.cli.main`)."""

import sys

from tickwire.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
