#!/usr/bin/env bash
# Runs every check tickwire has, on a fresh machine: installs what is missing, then lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
uv sync --all-packages --all-groups --locked --quiet
uv run --no-sync ruff check .
uv run --no-sync ruff format --check .
uv run --no-sync mypy
NO_MKDOCS_2_WARNING=1 uv run --no-sync mkdocs build --strict --quiet   # the site (mkdocs.yml) into site/
uv run --no-sync pytest "$@"
