#!/usr/bin/env bash
# sequence.sh [--bench-step-duration S] [--bench-repetitions N]: zk-locust's sequence
# suite. 17 steps: set, get, set_and_get and create_and_delete at 8 B, 512 B and 8 KiB,
# then watch, exists, exists_many, get_children, get_children2; each step runs S seconds
# (default 10) through its own Locust master run, so each step's rows stay apart
# (OUT/sequence/r<k>/<step>_*.csv), and the whole list runs N times (default 1).
#
# Environment: ZK_LOCUST_BENCH_STEP_DURATION, ZK_LOCUST_BENCH_REPETITIONS (as zk-locust),
# SEQUENCE_STEPS (override the step list, e.g. "set:8 get:8"), and suite.sh's settings.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
step=${ZK_LOCUST_BENCH_STEP_DURATION:-10} reps=${ZK_LOCUST_BENCH_REPETITIONS:-1}
while [ $# -gt 0 ]; do
  case $1 in
    --bench-step-duration) step=${2:-}; shift 2 ;;
    --bench-repetitions) reps=${2:-}; shift 2 ;;
    *) echo "sequence.sh: unknown argument \"$1\"; want --bench-step-duration S or --bench-repetitions N" >&2; exit 2 ;;
  esac
done
if ! [[ "$step" =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! /usr/bin/python3 -c 'import sys; sys.exit(float(sys.argv[1]) <= 0)' "$step"; then
  echo "sequence.sh: --bench-step-duration \"$step\": want seconds, more than 0" >&2
  exit 2
fi
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "sequence.sh: --bench-repetitions \"$reps\": want a whole number, 1 or more" >&2; exit 2; }
steps=${SEQUENCE_STEPS:-}
if [ -z "$steps" ]; then
  # The steps come from the classes themselves (zkload list --sequence).
  steps=$("${ZKLOAD:-bin/zkload}" list --sequence | tr '\n' ' ') || { echo "sequence.sh: zkload list --sequence failed" >&2; exit 1; }
fi
OUT=${OUT:-out}
# Locust's -t takes whole seconds; round a fractional step up.
run_time="$(/usr/bin/python3 -c 'import math,sys; print(math.ceil(float(sys.argv[1])))' "$step")s"
rc=0
for k in $(seq "$reps"); do
  echo "== sequence repetition $k of $reps"
  # shellcheck disable=SC2086
  OUT="$OUT/sequence/r$k" RUN_TIME="$run_time" bash scripts/suite.sh $steps || rc=1
done
exit "$rc"
