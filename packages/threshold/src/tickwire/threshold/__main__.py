"""Entry point of ``python -m tickwire.threshold`` (see :mod:`tickwire.threshold.cli`)."""

import sys

from tickwire.threshold.cli import main

if __name__ == "__main__":
    sys.exit(main())
