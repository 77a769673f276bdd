"""``python -m tickwire.itch``: see :mod:`tickwire.itch.cli`."""

import sys

from tickwire.itch.cli import main

if __name__ == "__main__":
    sys.exit(main())
