"""pytest runs in importlib mode, so test helpers are not importable by default:
put this directory on sys.path for ``_ouch_strategies`` (uniquely named)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
