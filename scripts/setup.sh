#!/usr/bin/env bash
# Installs what tickwire needs from outside PyPI: Debian packages (when missing) and uv.
# Idempotent and non-interactive; safe to run on every CI start.
set -euo pipefail

DEBIAN_PACKAGES=(
  clang llvm libbpf-dev bpftool          # XDP backend: compile and load BPF programs
  nasm qemu-system-x86                   # bare-metal backend: boot image and emulator
  tshark                                 # independent dissector checks in the tests
  iproute2                               # network namespaces and veth pairs for network tests
  build-essential python3-dev            # Cython extensions
  verilator                              # FPGA backend: Verilog lint, compiled simulation
  ccache                                 # FPGA backend: a Verilator model's rebuilds are cache hits
  chromium                               # headless browser that opens the backtest's HTML report
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  log=$(mktemp)
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: apt-get failed (full log: $log)" >&2
    exit 1
  fi
fi

bash "$(dirname "$0")/install-uv.sh"
