#!/usr/bin/env bash
# suite.sh [test[:value-size] ...]: zk-locust's headless suite with zkload workers. Each
# test runs one task set through a real `locust --master --headless` with WORKERS zkload
# workers and leaves OUT/<label>.log and Locust's CSVs OUT/<label>_*.csv; a summary table
# ends it. A test given a value size (set:512) writes values of that size, and its label
# and task-set names carry it as zk-locust's sequence did (set_512_B, get_8.0_KiB).
#
# Tests (default: all, in zk-locust's order; `zkload list --suite` lists them):
# create_and_delete exists_many exists get_children2 get_children get set_and_get set
# watch, and connect and standby when named.
# Beside Locust's files, each test leaves zkload's extended statistics of every worker
# (OUT/<label>_ext_stats_<i>.csv, OUT/<label>_ext_distrib_<i>.jsonl) and the ensemble's
# metrics (OUT/<label>_zk_metrics.csv).
# Settings (environment): ZK_LOCUST_HOSTS (default: a local ensemble is started and
# stopped again), WORKERS (2), USERS (128), SPAWN_RATE (32), RUN_TIME (10s), OUT (out),
# STATS_COLLECT (1000 ms), WARMUP (5s: before the first test, the ensemble is warmed up
# for that long by a `zkload run` of the first test's class, not measured, its files in
# OUT/tmp/warmup; 0 skips it), and any ZK_LOCUST_* setting the workers read
# (ZK_LOCUST_BENCH_* too: the workers inherit the environment, as --bench-NAME on their
# command line).
# While a test runs, a progress line every half of RUN_TIME (at most every 5 s) gives
# its requests, failures and rate so far, from the workers' extended statistics.
# Faults: ZK_DISPATCH_PROGRAM (or ZK_DISPATCH_RANDOM=1) runs a fault program in each test
# (by the worker the master numbers 0; doc/faults.md), its timeline in
# OUT/<label>_faults.csv; on the local ensemble (MEMBERS 1, or 3 or 5 for faults) it
# disables members through the ensemble's control, elsewhere through
# ZK_DISPATCH_DISABLE_SCRIPT and ZK_DISPATCH_ENABLE_SCRIPT.
# REPORT_DIR=D writes everything into D instead of OUT (refusing a D that is not empty,
# unless FORCE=1), then the report (zkload report D). Either way OUT/run.json (zkload
# runinfo) records the command, settings, versions and tests for the report.
# The name_<kind> variables are set by names_of (printf -v), unseen by shellcheck.
# shellcheck disable=SC2154
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
WORKERS=${WORKERS:-2} USERS=${USERS:-128} SPAWN_RATE=${SPAWN_RATE:-32} RUN_TIME=${RUN_TIME:-10s}
OUT=${OUT:-out} STATS_COLLECT=${STATS_COLLECT:-1000} REPORT_DIR=${REPORT_DIR:-} FORCE=${FORCE:-}
MEMBERS=${MEMBERS:-1}
case $MEMBERS in 1|3|5) ;; *) echo "suite.sh: MEMBERS \"$MEMBERS\": want 1, 3 or 5" >&2; exit 2 ;; esac
WARMUP=${WARMUP:-5s}
# seconds_of NAME VALUE sets secs to VALUE's seconds: a time span as Locust's -t takes
# it (30, 30s, 2m, 1h30m).
seconds_of() {
  local v=$2 h=0 m=0 x=0
  if [[ "$v" =~ ^[0-9]+$ ]]; then
    secs=$((10#$v))
    return
  fi
  if [ -z "$v" ] || ! [[ "$v" =~ ^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?$ ]]; then
    echo "suite.sh: $1 \"$v\": want a time span such as 10s, 2m or 1h30m" >&2
    exit 2
  fi
  h=${BASH_REMATCH[2]:-0} m=${BASH_REMATCH[4]:-0} x=${BASH_REMATCH[6]:-0}
  secs=$((10#$h * 3600 + 10#$m * 60 + 10#$x))
}
seconds_of RUN_TIME "$RUN_TIME"; run_time_s=$secs
[ "$run_time_s" -gt 0 ] || { echo "suite.sh: RUN_TIME \"$RUN_TIME\": want a time span above 0, such as 10s" >&2; exit 2; }
seconds_of WARMUP "$WARMUP"; warmup_s=$secs
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
[[ "$STATS_COLLECT" =~ ^[1-9][0-9]*$ ]] || { echo "suite.sh: STATS_COLLECT \"$STATS_COLLECT\": want milliseconds, 1 or more" >&2; exit 2; }
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
  "$ZKLOAD" ensemble --members "$MEMBERS" --dir "$OUT/zk" >"$OUT/tmp/ensemble.log" 2>&1 &
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

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

# ext_progress GLOB SPAN_MS prints "R requests, F failed, X req/s" from every worker's
# extended statistics (the files GLOB matches): R and F are the workers' cumulative
# counts, X the sum of each worker's rate over its last windows spanning about SPAN_MS
# (at least its last window; 90 % of it, as windows are a few µs short of their interval). Only the Total rows are read: their errors column is always
# empty, so splitting on commas is safe. The master's console table would lag: workers
# report to it every 3 s, and its "req/s" column is Locust's current rate, 0 early on.
ext_progress() {
  # shellcheck disable=SC2086 # GLOB is a pattern
  awk -F, -v span="$(($2))" '
    { sub(/\r$/, "") }
    FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; f++; next }
    $c["method"] == "" && $c["name"] == "Total" {
      k = ++n[f]; req[f, k] = $c["num_requests"]; iv[f, k] = $c["interval_s"]
      cum[f] = $c["cum_num_requests"]; fail[f] = $c["cum_num_failures"]
    }
    END {
      for (w = 1; w <= f; w++) {
        r = 0; s = 0
        for (k = n[w]; k >= 1 && (s * 1000 < 0.9 * span || k == n[w]); k--) { r += req[w, k]; s += iv[w, k] }
        if (s > 0) rate += r / s
        total += cum[w]; fails += fail[w]; rows += n[w]
      }
      if (rows == 0) { print "no statistics yet"; exit }
      printf "%d requests, %d failed, %.1f req/s\n", total, fails, rate
    }' $1 2>/dev/null || echo "no statistics yet"
}

# progress LABEL SECONDS LOG PID GLOB START prints a test's progress while PID runs for
# SECONDS: every half of its run time (at most every 5 s, at least every 0.5 s) a line with the
# seconds run so far and ext_progress's numbers, and when the run time is over a
# "finishing" line (the master still gathers the final numbers), or "done" if PID ended
# on time before that, or "stopped after" if it ended early. Never "Ns of Ms" past M. The run time counts
# from the line matching START in LOG (the master's "Run time limit set"), or from now
# when START is empty.
progress() {
  local label=$1 rt_s=$2 log=$3 pid=$4 glob=$5 start_re=$6
  local rt_ms=$(($2 * 1000)) period_ms start now tick k=1
  period_ms=$((rt_ms / 2 < 5000 ? rt_ms / 2 : 5000))
  [ "$period_ms" -ge 500 ] || period_ms=500
  if [ -n "$start_re" ]; then
    until grep -q -- "$start_re" "$log" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.1
    done
  fi
  start=$(now_ms)
  while :; do
    tick=$((start + k * period_ms))
    [ "$tick" -le $((start + rt_ms)) ] || tick=$((start + rt_ms))
    while now=$(now_ms); [ "$now" -lt "$tick" ]; do
      if ! kill -0 "$pid" 2>/dev/null; then
        if [ $((now - start)) -ge $((rt_ms - 1000)) ]; then # ended on time, give or take
          echo "   $label done: $(ext_progress "$glob" "$period_ms")"
        else
          echo "   $label stopped after $(((now - start) / 1000))s of ${rt_s}s: $(ext_progress "$glob" "$period_ms")"
        fi
        return 0
      fi
      sleep 0.2
    done
    if [ $((now - start)) -ge "$rt_ms" ]; then
      echo "   $label run time over, finishing: $(ext_progress "$glob" "$period_ms")"
      return 0
    fi
    echo "   $label $(((now - start) / 1000))s of ${rt_s}s: $(ext_progress "$glob" "$period_ms")"
    k=$((k + 1))
  done
}

# warm_up runs the first test's class against the ensemble for WARMUP, unmeasured: a
# fresh server serves the first measured test several times slower than the next ones.
warm_up() {
  local name=${tests[0]%%:*} size="" class dir="$OUT/tmp/warmup" rc
  [ "$name" != "${tests[0]}" ] && size=${tests[0]#*:}
  class=$(class_of "$name")
  rm -rf "$dir" && mkdir -p "$dir"
  echo "== warming up the ensemble: $WARMUP of $class, $USERS users, not measured (WARMUP=0 skips it; files in $dir)"
  local args=(run -u "$USERS" -r "$SPAWN_RATE" -t "$WARMUP" --hosts "$hosts" --only-summary
    --stats-collect "$STATS_COLLECT" --stats-csv "$dir/ext_stats_1.csv" "$class")
  [ -n "$size" ] && args+=(--val-size "$size")
  # No faults while warming up: the tests' fault program is theirs.
  env -u ZK_DISPATCH_PROGRAM -u ZK_DISPATCH_RANDOM "$ZKLOAD" "${args[@]}" >"$dir/warmup.log" 2>&1 &
  local pid=$!
  progress "[warm-up]" "$warmup_s" "$dir/warmup.log" "$pid" "$dir/ext_stats_1.csv" ""
  wait "$pid"; rc=$?
  # 1 is failed requests, which a warm-up may have; anything else is worth a look.
  [ "$rc" -le 1 ] || echo "suite.sh: warning: the warm-up exited with status $rc (see $dir/warmup.log); going on" >&2
  "$ZKLOAD" cleanup --hosts "$hosts" >"$dir/cleanup.log" 2>&1 || echo "suite.sh: warning: cleanup after the warm-up failed: $dir/cleanup.log" >&2
}
if [ "$warmup_s" -gt 0 ]; then
  warm_up
  warmup_note="$WARMUP of $(class_of "${tests[0]%%:*}") before the first test, not measured"
else
  echo "== no warm-up (WARMUP=$WARMUP): the first test meets a cold ensemble"
  warmup_note="none"
fi

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
    # shellcheck disable=SC2254 # the patterns are globs on purpose
    case ${f##*/} in ${name_ext_stats/\{i\}/[0-9]*} | ${name_ext_distrib/\{i\}/[0-9]*}) rm -f "$f" ;; esac
  done
  "$ZKLOAD" locustfile "$class" >"$work/locustfile.py"
  echo "== [$((i + 1))/${#tests[@]}] $t ($class)"
  worker_args=("$class" --stats-collect "$STATS_COLLECT"
    --stats-csv "$OUT/$name_ext_stats" --stats-distrib "$OUT/$name_ext_distrib")
  [ -n "$size" ] && worker_args+=(--val-size "$size")
  if [ -n "${ZK_DISPATCH_PROGRAM:-}" ] || [ "${ZK_DISPATCH_RANDOM:-}" = 1 ] || [ "${ZK_DISPATCH_RANDOM:-}" = true ]; then
    rm -f "$OUT/$name_faults"
    worker_args+=(--hosts "$hosts" --dispatch-csv "$OUT/$name_faults")
    if [ -n "$ensemble_pid" ] && [ -z "${ZK_DISPATCH_DISABLE_SCRIPT:-}" ] && [ -z "${ZK_DISPATCH_CONTROL:-}" ]; then
      worker_args+=(--dispatch-control "$OUT/zk")
    fi
  fi
  "$ZKLOAD" metrics --hosts "$hosts" --interval "$STATS_COLLECT" --csv "$OUT/$name_zk_metrics" \
    >/dev/null 2>"$work/metrics.log" &
  metrics=$!
  bash scripts/multi-worker.sh "$WORKERS" "$work" \
    -f "$work/locustfile.py" --headless -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" \
    --csv "$OUT/$name_locust_prefix" -H "zk://$hosts" -- "${worker_args[@]}" >"$OUT/$name_log" 2>&1 &
  run=$!
  progress "[$t]" "$run_time_s" "$OUT/$name_log" "$run" "$OUT/${name_ext_stats/\{i\}/*}" "Run time limit set to"
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
# The first column is as wide as the longest label (create_and_delete_8.0_KiB).
w=4
for t in "${labels[@]}"; do [ ${#t} -le "$w" ] || w=${#t}; done
printf '%-*s %10s %9s %11s %8s %8s %8s\n' "$w" test requests failures 'req/s' 'p50 ms' 'p99 ms' 'max ms'
for t in "${labels[@]}"; do
  names_of "$t"
  csv="$OUT/$name_locust_stats"
  if [ ! -s "$csv" ]; then
    printf '%-*s %s\n' "$w" "$t" "(no stats: see $OUT/$name_log)"
    failed+=("$t(no stats)")
    continue
  fi
  tr -d '\r' <"$csv" | awk -F, -v t="$t" -v w="$w" 'NR==1{for(i=1;i<=NF;i++)c[$i]=i; next}
    $2=="Aggregated"{printf "%-" w "s %10s %9s %11.1f %8s %8s %8.1f\n", t, $c["Request Count"], $c["Failure Count"], $c["Requests/s"], $c["50%"], $c["99%"], $c["Max Response Time"]}'
done
echo "== logs and Locust's CSVs in $OUT/"
# run.json in every case: the report's front page states the settings and versions
# from it, and it names this run's tests (files of earlier runs in OUT are left out).
settings=()
for v in WORKERS USERS SPAWN_RATE RUN_TIME STATS_COLLECT; do settings+=(--setting "${v,,}=${!v}"); done
if [ -n "$REPORT_DIR" ]; then where="REPORT_DIR=$REPORT_DIR"; else where="OUT=$OUT"; fi
"$ZKLOAD" runinfo --out "$OUT/run.json" --start "$suite_start" --ensemble "$hosts" --tests "${labels[*]}" \
  --setting "hosts=$hosts" --setting "warmup=$warmup_note" "${settings[@]}" -- "$where" scripts/suite.sh "${tests[@]}" ||
  echo "suite.sh: warning: writing $OUT/run.json failed" >&2
if [ -n "$REPORT_DIR" ]; then
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
