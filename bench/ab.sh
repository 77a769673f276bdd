#!/usr/bin/env bash
# A/B a benchmark between two checkouts, interleaved in one sitting:
#
#     bench/ab.sh OLD_TREE NEW_TREE ROUNDS SCRIPT [ARGS...]
#
# Runs `.venv/bin/python bench/SCRIPT ARGS` from OLD_TREE, then from NEW_TREE, ROUNDS
# times (old, new, old, new, ...), each tree with its own venv (a script that imports
# modules the other layout moved only runs in its own tree). Each run's output goes to
# bench/out/ab/SCRIPT.{old,new}.ROUND.log under the directory this script is run from;
# a failing run stops the sequence. Load average is logged before each run.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 OLD_TREE NEW_TREE ROUNDS SCRIPT [ARGS...]" >&2
    exit 2
fi
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd); rounds=$3; script=$4; shift 4
out=$PWD/bench/out/ab
mkdir -p "$out"
for ((i = 1; i <= rounds; i++)); do
    for side in old new; do
        tree=$old; [ "$side" = new ] && tree=$new
        log=$out/${script%.py}.$side.$i.log
        echo "# $side round $i: $(cat /proc/loadavg)" | tee "$log" >&2
        (cd "$tree" && .venv/bin/python "bench/$script" "$@") >>"$log" 2>&1 || {
            echo "$side round $i failed, see $log" >&2
            exit 1
        }
    done
done
