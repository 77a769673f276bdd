# Sourced by scripts/test.sh and scripts/build-dist.sh: the Python versions tickwire supports
# and how to find an interpreter for one on this machine. Not a script of its own.
#
# SUPPORTED_PYTHONS is the one list of supported versions: the packages' classifiers say the
# same (tests/test_dist_wheels.py holds them to it), and requires-python is ">=" its first.

SUPPORTED_PYTHONS=(3.11 3.12 3.13)

# find_python SPEC: sets FOUND_PYTHON to an interpreter for SPEC (a version such as 3.12, or
# a path to an executable) and returns 0; else sets WHY_NOT (one line) and returns 1. Call it
# directly, not in $(...), so the variables reach the caller.
#
# Found by version, never by patch level: first what uv finds on the system (the search path,
# the global pyenv version, uv's own installs; never a download), then pyenv's other installs,
# which uv skips because their shims refuse to run outside `pyenv global`/`local`: the newest
# patch release of SPEC under $(pyenv root)/versions.
find_python() {
  local spec=$1 found root dir
  FOUND_PYTHON="" WHY_NOT=""
  if [ -x "$spec" ]; then FOUND_PYTHON=$spec; return 0; fi
  if found=$(uv python find --system --no-python-downloads "$spec" 2>/dev/null); then
    FOUND_PYTHON=$found; return 0
  fi
  if command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null); then
    # shellcheck disable=SC2012  # version folders: plain names, sorted by version
    for dir in $(ls -d "$root/versions/$spec" "$root/versions/$spec".* 2>/dev/null | sort -V -r); do
      if [ -x "$dir/bin/python$spec" ]; then FOUND_PYTHON=$dir/bin/python$spec; return 0; fi
    done
  fi
  WHY_NOT="no Python $spec on this machine (uv python find has none, nor pyenv's versions)"
  return 1
}
