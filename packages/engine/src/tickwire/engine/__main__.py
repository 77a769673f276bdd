"""Entry point of ``python -m tickwire.engine`` (see :mod:`tickwire.engine.cli`)."""

import sys

from tickwire.engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
