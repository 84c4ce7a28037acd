#!/usr/bin/env bash
# suite.sh [test[:value-size] ...]: zk-locust's headless suite with zkload workers. Each
# test runs one task set through a real `locust --master --headless` with WORKERS zkload
# workers and leaves OUT/<label>.log and Locust's CSVs OUT/<label>_*.csv; a summary table
# ends it. A test given a value size (set:512) writes values of that size, and its label
# and task-set names carry it as zk-locust's sequence did (set_512_B, get_8.0_KiB).
#
# Tests (default: all, in zk-locust's order; `zkload list --suite` lists them):
# create_and_delete exists_many exists get_children2 get_children get set_and_get set
# watch, and connect when named.
# Beside Locust's files, each test leaves zkload's extended statistics of every worker
# (OUT/<label>_ext_stats_<i>.csv, OUT/<label>_ext_distrib_<i>.jsonl) and the ensemble's
# metrics (OUT/<label>_zk_metrics.csv).
# Settings (environment): ZK_LOCUST_HOSTS (default: a local ensemble is started and
# stopped again), WORKERS (2), USERS (128), SPAWN_RATE (32), RUN_TIME (10s), OUT (out),
# STATS_COLLECT (1000 ms), and any ZK_LOCUST_* setting the workers read (ZK_LOCUST_BENCH_*
# too: the workers inherit the environment, as --bench-NAME on their command line).
# REPORT_DIR=D writes everything into D instead of OUT (refusing a D that is not empty,
# unless FORCE=1), then D/run.json (zkload runinfo) and the report (zkload report D).
set -uo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2} USERS=${USERS:-128} SPAWN_RATE=${SPAWN_RATE:-32} RUN_TIME=${RUN_TIME:-10s}
OUT=${OUT:-out} STATS_COLLECT=${STATS_COLLECT:-1000} REPORT_DIR=${REPORT_DIR:-} FORCE=${FORCE:-}
suite_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -n "$REPORT_DIR" ]; then
  if [ -d "$REPORT_DIR" ] && [ -n "$(ls -A "$REPORT_DIR")" ] && [ "$FORCE" != 1 ]; then
    echo "suite.sh: REPORT_DIR \"$REPORT_DIR\" is not empty; give an empty or new directory, or FORCE=1 to overwrite" >&2
    exit 2
  fi
  OUT=$REPORT_DIR
fi
export ZKLOAD=${ZKLOAD:-$PWD/bin/zkload}
[ -x "$ZKLOAD" ] || { echo "suite.sh: $ZKLOAD not found; run make build first" >&2; exit 2; }
# The tests come from the classes themselves: "label class" lines, "+ " before those
# that run only when named.
declare -A class_by_label
all_tests=() known=()
while read -r a b c; do
  if [ "$a" = "+" ]; then class_by_label[$b]=$c; known+=("$b"); else class_by_label[$a]=$b; all_tests+=("$a"); known+=("$a"); fi
done < <("$ZKLOAD" list --suite)
[ ${#all_tests[@]} -gt 0 ] || { echo "suite.sh: $ZKLOAD list --suite listed no tests" >&2; exit 1; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${all_tests[@]}")

class_of() {
  [ -n "${class_by_label[$1]:-}" ] || return 1
  echo "${class_by_label[$1]}"
}
# names_of T: the file names of test T (zkload rundir), as name_<kind> variables.
names_of() {
  local k v
  while IFS='=' read -r k v; do printf -v "name_$k" '%s' "$v"; done < <("$ZKLOAD" rundir --test "$1" --worker '{i}')
}
# size_suffix prints zk-locust's size suffix: 8_B, 512_B, 8.0_KiB.
size_suffix() { /usr/bin/python3 -c 'import sys; v=int(sys.argv[1]); print(f"{v}_B" if v < 1024 else f"{round(v/1024, 3)}_KiB")' "$1"; }
labels=()
for t in "${tests[@]}"; do
  name=${t%%:*} size=""
  [ "$name" != "$t" ] && size=${t#*:}
  class_of "$name" >/dev/null || { echo "suite.sh: unknown test \"$name\"; want one of: ${known[*]}" >&2; exit 2; }
  if [ -n "$size" ]; then
    [[ "$size" =~ ^[1-9][0-9]*$ ]] || { echo "suite.sh: value size \"$size\" in \"$t\": want a whole number of bytes" >&2; exit 2; }
    labels+=("${name}_$(size_suffix "$size")")
  else
    labels+=("$name")
  fi
done
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || { echo "suite.sh: WORKERS \"$WORKERS\": want a whole number, 1 or more" >&2; exit 2; }
[[ "$USERS" =~ ^[0-9]+$ ]] || { echo "suite.sh: USERS \"$USERS\": want a whole number" >&2; exit 2; }
mkdir -p "$OUT/tmp"

ensemble_pid=""
stop_ensemble() {
  if [ -n "$ensemble_pid" ]; then
    kill -TERM "$ensemble_pid" 2>/dev/null; wait "$ensemble_pid" 2>/dev/null
    echo "== local ZooKeeper stopped"
    ensemble_pid=""
  fi
}
trap stop_ensemble EXIT
trap 'exit 130' INT TERM

hosts=${ZK_LOCUST_HOSTS:-}
if [ -z "$hosts" ]; then
  echo "== starting a local ZooKeeper ($OUT/zk)"
  "$ZKLOAD" ensemble --dir "$OUT/zk" >"$OUT/tmp/ensemble.log" 2>&1 &
  ensemble_pid=$!
  for _ in $(seq 600); do
    grep -q '^connect: ' "$OUT/tmp/ensemble.log" && break
    kill -0 "$ensemble_pid" 2>/dev/null || break
    sleep 0.1
  done
  hosts=$(sed -n 's/^connect: //p' "$OUT/tmp/ensemble.log")
  [ -n "$hosts" ] || { echo "suite.sh: the local ZooKeeper did not start:" >&2; cat "$OUT/tmp/ensemble.log" >&2; exit 1; }
fi
echo "== ZooKeeper $hosts; $WORKERS workers, $USERS users, spawn rate $SPAWN_RATE, $RUN_TIME per test"

# progress prints the run's state every 5 s from the master's console table.
progress() {
  local label=$1 log=$2 pid=$3 start=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    kill -0 "$pid" 2>/dev/null || break
    local line
    line=$(grep -E '^ +Aggregated +[0-9]' "$log" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || continue
    awk -v l="$label" -v s=$((SECONDS - start)) -v rt="$RUN_TIME" \
      '{printf "   %s %ss of %s: %s requests, %s failed, %s req/s now\n", l, s, rt, $2, $3, $(NF-1)}' <<<"$line"
  done
}

failed=()
for i in "${!tests[@]}"; do
  t=${labels[$i]} name=${tests[$i]%%:*} size=""
  [ "$name" != "${tests[$i]}" ] && size=${tests[$i]#*:}
  class=$(class_of "$name")
  names_of "$t"
  work="$OUT/$name_tmp/$t"
  mkdir -p "$work"
  # Exact names only: "get" must not remove get_children's files.
  rm -f "$OUT/$name_locust_stats" "$OUT/$name_locust_history" "$OUT/$name_locust_failures" "$OUT/$name_locust_exceptions" "$OUT/$name_zk_metrics"
  for f in "$OUT"/*; do # each worker's files: {i} is the worker's number
    case ${f##*/} in ${name_ext_stats/\{i\}/[0-9]*} | ${name_ext_distrib/\{i\}/[0-9]*}) rm -f "$f" ;; esac
  done
  "$ZKLOAD" locustfile "$class" >"$work/locustfile.py"
  echo "== [$((i + 1))/${#tests[@]}] $t ($class)"
  worker_args=("$class" --stats-collect "$STATS_COLLECT"
    --stats-csv "$OUT/$name_ext_stats" --stats-distrib "$OUT/$name_ext_distrib")
  [ -n "$size" ] && worker_args+=(--val-size "$size")
  "$ZKLOAD" metrics --hosts "$hosts" --interval "$STATS_COLLECT" --csv "$OUT/$name_zk_metrics" \
    >/dev/null 2>"$work/metrics.log" &
  metrics=$!
  bash scripts/multi-worker.sh "$WORKERS" "$work" \
    -f "$work/locustfile.py" --headless -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" \
    --csv "$OUT/$name_locust_prefix" -H "zk://$hosts" -- "${worker_args[@]}" >"$OUT/$name_log" 2>&1 &
  run=$!
  progress "[$t]" "$OUT/$name_log" "$run"
  wait "$run"; rc=$?
  kill -TERM "$metrics" 2>/dev/null; wait "$metrics" 2>/dev/null
  if [ "$rc" -ne 0 ]; then
    # Exit code 1 from the master alone means failures were recorded; a dead worker
    # is reported by multi-worker.sh in the log.
    grep -h 'multi-worker.sh:' "$OUT/$name_log" >&2
    echo "   $t: exit status $rc (see $OUT/$name_log)" >&2
    failed+=("$t")
  fi
  "$ZKLOAD" cleanup --hosts "$hosts" >"$work/cleanup.log" 2>&1 || { echo "   cleanup failed: $work/cleanup.log" >&2; failed+=("$t(cleanup)"); }
done

echo
printf '%-18s %10s %9s %11s %8s %8s %8s\n' test requests failures 'req/s' 'p50 ms' 'p99 ms' 'max ms'
for t in "${labels[@]}"; do
  names_of "$t"
  csv="$OUT/$name_locust_stats"
  if [ ! -s "$csv" ]; then
    printf '%-18s %s\n' "$t" "(no stats: see $OUT/$name_log)"
    failed+=("$t(no stats)")
    continue
  fi
  tr -d '\r' <"$csv" | awk -F, -v t="$t" 'NR==1{for(i=1;i<=NF;i++)c[$i]=i; next}
    $2=="Aggregated"{printf "%-18s %10s %9s %11.1f %8s %8s %8.1f\n", t, $c["Request Count"], $c["Failure Count"], $c["Requests/s"], $c["50%"], $c["99%"], $c["Max Response Time"]}'
done
echo "== logs and Locust's CSVs in $OUT/"
if [ -n "$REPORT_DIR" ]; then
  settings=()
  for v in WORKERS USERS SPAWN_RATE RUN_TIME STATS_COLLECT; do settings+=(--setting "$(tr A-Z a-z <<<"$v")=${!v}"); done
  "$ZKLOAD" runinfo --out "$OUT/run.json" --start "$suite_start" --ensemble "$hosts" --tests "${labels[*]}" \
    --setting "hosts=$hosts" "${settings[@]}" -- "REPORT_DIR=$REPORT_DIR" scripts/suite.sh "${tests[@]}" ||
    echo "suite.sh: warning: writing $OUT/run.json failed" >&2
  if "$ZKLOAD" report --help >/dev/null 2>&1; then
    "$ZKLOAD" report "$OUT" || echo "suite.sh: warning: the report of $OUT failed (the files are kept; retry: $ZKLOAD report $OUT)" >&2
  else
    echo "suite.sh: no zkload report in this build; the files are in $OUT/" >&2 # HOOK(report)
  fi
fi
[ -n "$REPORT_DIR" ] || "$ZKLOAD" report --out "$OUT/report" "$OUT" || echo "suite.sh: warning: zkload report failed (the files are kept in $OUT/; retry: $ZKLOAD report --out $OUT/report $OUT)" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "suite.sh: failed: ${failed[*]}" >&2
  exit 1
fi
