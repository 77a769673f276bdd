"""``python -m tickwire.ouch decode CAPTURE --json``."""

import sys

from .decode import main

sys.exit(main())
