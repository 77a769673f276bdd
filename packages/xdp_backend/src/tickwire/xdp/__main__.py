"""``python -m tickwire.xdp``: see :mod:`tickwire.xdp.cli`."""

from tickwire.xdp.cli import main

raise SystemExit(main())
