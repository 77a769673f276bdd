#!/usr/bin/env bash
# Runs every check tickwire has, on a fresh machine: installs what is missing, then lint, types,
# the docs site, and the test suite on every supported Python the machine has.
#
#   bash scripts/test.sh [PYTEST ARGS...]              # extra arguments go to every pytest run
#   TICKWIRE_PYTHONS="3.12" bash scripts/test.sh ...   # only these versions (default: all)
#
# Interpreters. scripts/pythons.sh holds the supported versions (3.11, 3.12, 3.13) and finds an
# interpreter for each by version, never by patch level (uv's search, then pyenv's installs).
# Every version found runs the whole suite in its own environment (.venv for 3.11, what
# `uv run` uses; .venv-3.12, .venv-3.13: each synced from uv.lock, the Cython extensions
# compiled for it). Lint (ruff), types (mypy, which checks for 3.11 whatever runs it) and the
# docs site (mkdocs build --strict) run once, in the first version's environment. A version
# this machine lacks is skipped with one line saying why (TICKWIRE_REQUIRE_PYTHONS=1, set by
# .ci/run, counts it as a failure instead). A summary line per version ends the output; the
# exit status is 0 only if every run passed.
#
# Time: CI's whole run must stay under 30 minutes on the 2-core CI machine.
# One interpreter's suite in one process took 7 minutes there, so three in a row plus two
# more environments to sync and compile and the lint, types and site steps would not fit.
# With two workers a quiet .ci/run took 16 min 49 s (each suite about 5 min); on the 2-core
# development guest a 3.11 suite needed 1,012 s of CPU, 953 s once the threshold harness's
# hypothesis strategies were built once (2026-12-05); the FPGA core's growth took it to
# 1,299 s and .ci/run past 30 minutes, and 885 s after the cuts of 2026-12-06 (ccache for
# Verilator, CoreSim.close's reuse, shorter days where the length is not the point).
# So each suite runs on pytest-xdist workers, a test file per worker (--dist loadfile:
# a file's module and session fixtures, such as a QEMU guest or the built wheels, are
# made once): three on the two cores, since about a third of a worker's wall time is
# waiting (live sessions at a set message rate, Dask and CLI subprocesses, sockets, QEMU),
# which a third worker fills: the 3.11 suite took 537 s of wall on two workers, 406 s on
# three, for 755 and 776 s of CPU (2026-12-07; CONTRIBUTING.md). TICKWIRE_TEST_WORKERS=N
# changes it (0: one process).
# Every test still runs on every interpreter: no smaller hypothesis profile, nothing skipped.
# The suite is safe in parallel: network namespaces, veth pairs and BPF pins are named after
# the process id, sockets bind port 0, scratch files live in each worker's tmp_path, and the
# build caches (BPF object, bare-metal kernel, Verilator model) are keyed by content and
# renamed into place. Measurements: docs/CONTRIBUTING.md#python-versions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
# shellcheck source=scripts/pythons.sh
source scripts/pythons.sh

read -r -a WANTED <<<"${TICKWIRE_PYTHONS:-${SUPPORTED_PYTHONS[*]}}"
# Python may cache bytecode here whatever the caller's PYTHONDONTWRITEBYTECODE says: the
# suite starts hundreds of Python processes (xdist workers, CLI runs, Dask workers, the
# docs' examples), and with the variable set each of them compiled every module it imported
# from source, and pytest rewrote every test module in each worker: 1,063 s of test time in
# the 3.11 suite, 904 s with .pyc files (2026-12-06; the sweep tests 77 s -> 32 s). Compiling
# everything at install instead (uv sync --compile-bytecode) cost 30 s per environment more.
unset PYTHONDONTWRITEBYTECODE
# C and C++ compiles go through ccache (setup.sh installs it; Debian's /usr/lib/ccache holds
# a gcc, cc, g++ that call it): each interpreter's Cython extensions are compiled by its
# `uv sync` and again, from the sdist in a temporary folder, by the release test
# (tests/test_dist_wheels.py). The folder is left out of the hash (CCACHE_NOHASHDIR; with -g
# it is hashed for the debug info's compile directory, which the release strips anyway), so
# the second compile is a hit: scripts/build-dist.sh took 101 s of CPU, 49 s after a sync
# (2026-12-07, Python 3.11; bench/RESULTS.md, "Test suite: CPU per file").
if [ -d /usr/lib/ccache ]; then export PATH="/usr/lib/ccache:$PATH" CCACHE_NOHASHDIR=1; fi
SYNC=(uv sync --all-packages --all-groups --locked --quiet --no-python-downloads)
workers=${TICKWIRE_TEST_WORKERS:-3}
XDIST=()
if [ "$workers" != 0 ]; then XDIST=(-n "$workers" --dist loadfile); fi
summary=()
failed=0

for version in "${WANTED[@]}"; do
  if ! find_python "$version"; then
    if [ "${TICKWIRE_REQUIRE_PYTHONS:-0}" = 1 ]; then
      summary+=("test: python $version FAILED: $WHY_NOT (TICKWIRE_REQUIRE_PYTHONS=1)")
      failed=1
    else
      summary+=("test: python $version skipped: $WHY_NOT")
    fi
    echo "${summary[-1]}"
    continue
  fi
  python=$FOUND_PYTHON
  primary=${primary:-$version}
  env=.venv-$version
  if [ "$version" = "${SUPPORTED_PYTHONS[0]}" ]; then env=.venv; fi
  echo "test: python $version ($python) in $env"
  export UV_PROJECT_ENVIRONMENT=$env
  "${SYNC[@]}" --python "$python"
  if [ "$version" = "$primary" ]; then
    uv run --no-sync ruff check .
    uv run --no-sync ruff format --check .
    uv run --no-sync mypy
    NO_MKDOCS_2_WARNING=1 uv run --no-sync mkdocs build --strict --quiet   # mkdocs.yml into site/
  fi
  status=0
  uv run --no-sync pytest "${XDIST[@]}" "$@" || status=$?
  if [ "$status" -eq 0 ]; then
    summary+=("test: python $version passed ($python, $env)")
  else
    summary+=("test: python $version FAILED: pytest exited $status ($python, $env)")
    failed=1
  fi
  unset UV_PROJECT_ENVIRONMENT
done

if [ -z "${primary:-}" ]; then
  summary+=("test: FAILED: none of the Python versions ${WANTED[*]} is on this machine")
  failed=1
fi
printf '%s\n' "${summary[@]}"
exit "$failed"
