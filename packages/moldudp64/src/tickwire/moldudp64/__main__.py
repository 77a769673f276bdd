"""``python -m tickwire.moldudp64``: see :mod:`tickwire.moldudp64.cli`."""

import sys

from tickwire.moldudp64.cli import main

if __name__ == "__main__":
    sys.exit(main())
