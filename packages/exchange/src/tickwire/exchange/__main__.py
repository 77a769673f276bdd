"""``python -m tickwire.exchange``: see :mod:`tickwire.exchange.cli`."""

import sys

from tickwire.exchange.cli import main

if __name__ == "__main__":
    sys.exit(main())
