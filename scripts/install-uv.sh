#!/usr/bin/env bash
# Installs uv into ~/.local/bin when it is not on PATH there already (demo.sh and setup.sh).
set -euo pipefail
if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
  echo "setup: installing uv"
  # Debian's own python3 refuses pip installs outside a venv (PEP 668, "externally managed");
  # uv is a self-contained binary that touches no Debian package, so it may go to ~/.local.
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
fi
