#!/usr/bin/env bash
# The README's main job on a fresh machine: install the Python side, then backtest the example
# market maker on a generated sample day (a report in the terminal, JSON/CSV/PNG in ./backtest-out).
# Arguments go to `python -m tickwire.engine backtest` (e.g. a BinaryFILE or MoldUDP64 capture).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-uv.sh
export PATH="$HOME/.local/bin:$PATH"
# --inexact: in a developer's checkout, keep the dev and bench groups scripts/test.sh installed.
uv sync --all-packages --locked --inexact --quiet
exec uv run --no-sync python -m tickwire.engine backtest "$@"
