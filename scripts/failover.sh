#!/usr/bin/env bash
# failover.sh: the failure experiment of the ZooKeeper paper (Hunt et al., USENIX ATC
# 2010, §5.1, Figure 8) on a local ensemble: a mixed read/write load (Get and Set users)
# while a fault program fails and recovers a follower, another follower, the leader, two
# followers at once, and the leader again. `make failover` runs it.
#
# Settings (environment): MEMBERS (3; 5), USERS (32), STEP_MS (4000: how long each fault
# lasts and each recovery is left alone), OUT (out/failover). The run directory is
# OUT/run with faults.csv and report/ (report.html: throughput over time, every fault
# marked; failover.csv); this script prints the election times beside the paper's "< 200 ms".
set -uo pipefail
cd "$(dirname "$0")/.."
ZKLOAD=${ZKLOAD:-bin/zkload}
MEMBERS=${MEMBERS:-3} USERS=${USERS:-32} STEP_MS=${STEP_MS:-4000} OUT=${OUT:-out/failover}
case $MEMBERS in 3|5) ;; *) echo "failover.sh: MEMBERS \"$MEMBERS\": want 3 or 5" >&2; exit 2 ;; esac
[[ $USERS =~ ^[1-9][0-9]*$ ]] || { echo "failover.sh: USERS \"$USERS\": want a positive whole number" >&2; exit 2; }
[[ $STEP_MS =~ ^[1-9][0-9]*$ ]] || { echo "failover.sh: STEP_MS \"$STEP_MS\": want milliseconds, more than 0" >&2; exit 2; }

rm -rf "$OUT" && mkdir -p "$OUT/zk" || exit 1
ensemble_pid=""
stop_ensemble() {
  if [ -n "$ensemble_pid" ]; then
    kill -TERM "$ensemble_pid" 2>/dev/null; wait "$ensemble_pid" 2>/dev/null
    ensemble_pid=""
  fi
}
trap stop_ensemble EXIT
trap 'exit 130' INT TERM

echo "== starting a local ZooKeeper of $MEMBERS members ($OUT/zk)"
"$ZKLOAD" ensemble --members "$MEMBERS" --dir "$OUT/zk" >"$OUT/ensemble.log" 2>&1 &
ensemble_pid=$!
for _ in $(seq 1200); do
  grep -q '^connect: ' "$OUT/ensemble.log" && break
  kill -0 "$ensemble_pid" 2>/dev/null || break
  sleep 0.1
done
hosts=$(sed -n 's/^connect: //p' "$OUT/ensemble.log")
[ -n "$hosts" ] || { echo "failover.sh: the local ZooKeeper did not start:" >&2; cat "$OUT/ensemble.log" >&2; exit 1; }

# The paper's sequence, after 3 steps of load to warm the servers up. The second of two
# followers needs "force" on 3 members: it takes the ensemble below its quorum, as the
# paper's double failure does not on 5.
program="once
poll_initial_hatch_complete 100
sleep $((STEP_MS * 3))
disable_follower
sleep $STEP_MS
enable_all
sleep $STEP_MS
disable_follower
sleep $STEP_MS
enable_all
sleep $STEP_MS
disable_leader
sleep $STEP_MS
enable_all
sleep $STEP_MS
disable_follower
disable_follower force
sleep $STEP_MS
enable_all
sleep $STEP_MS
disable_leader
sleep $STEP_MS
enable_all
sleep $((STEP_MS * 2))"
# The run ends when the program has done its last step (it says "fault program done"):
# each recovery restarts a JVM, whose time is not known in advance. -t only bounds it.
echo "== $USERS users (Get and Set); a fault every $((STEP_MS * 2 / 1000))s or so (log: $OUT/run.log)"
"$ZKLOAD" run --hosts "$hosts" -u "$USERS" -r "$USERS" -t 15m --only-summary --report-dir "$OUT/run" \
  --dispatch-control "$OUT/zk" --dispatch-program "$program" Get Set >"$OUT/run.log" 2>&1 &
run_pid=$!
shown=0
while kill -0 "$run_pid" 2>/dev/null; do
  sleep 1
  n=$(grep -c 'msg="fault: ' "$OUT/run.log")
  if [ "$n" != "$shown" ]; then
    shown=$n
    echo "   $n fault actions; last: $(grep -o 'msg="fault: [a-z]*" member=[0-9]*' "$OUT/run.log" | tail -1 | sed 's/msg="fault: //; s/"//')"
  fi
  if grep -q 'fault program done' "$OUT/run.log"; then
    kill -TERM "$run_pid" 2>/dev/null
    break
  fi
done
wait "$run_pid"; rc=$?
# Exit 1 is the expected outcome: requests fail while the ensemble has no leader (and
# the run was ended by a signal).
if [ "$rc" -gt 1 ]; then
  echo "failover.sh: zkload run failed (exit $rc):" >&2; tail -20 "$OUT/run.log" >&2; exit "$rc"
fi
[ -f "$OUT/run/faults.csv" ] || { echo "failover.sh: no faults timeline in $OUT/run" >&2; exit 1; }
echo "== elections after each leader's failure (polled every 10 ms, under load), beside the paper's < 200 ms,"
echo "   and the first successful write after it (the dispatcher's probe session):"
# Columns are found by their header's name: a file with more columns reads the same.
awk -F, '{ sub(/\r$/, "") } NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  ($c["Action"] == "disable" || $c["Action"] == "pause" || $c["Action"] == "partition") && $c["Role Before"] == "leader" && $c["Note"] == "" {
  printf "   %-8s member %s, %-9s a leader again after %8s ms, a write after %8s ms\n", $c["Action"], $c["Member"], $c["Role Before"] ":",
    ($c["Election (ms)"] == "" ? "-" : $c["Election (ms)"]), ($c["First Write (ms)"] == "" ? "-" : $c["First Write (ms)"])
}' "$OUT/run/faults.csv"
if [ -f "$OUT/run/report/failover.csv" ]; then
  echo "== what the load saw (failover.csv):"
  awk -F, '{ sub(/\r$/, "") } NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { printf "   %-8s member %s: first write %s ms, dip %s%%, back to 90%% in %ss, p99 %s ms before, %s during\n", $c["Action"], $c["Member"],
      ($c["First Write (ms)"] == "" ? "-" : $c["First Write (ms)"]), $c["Dip (%)"],
      ($c["Recovery to 90% (s)"] == "" ? "never " : $c["Recovery to 90% (s)"]), $c["p99 Before (ms)"], $c["p99 During (ms)"] }' "$OUT/run/report/failover.csv"
fi
echo "== report: $OUT/run/report/report.html"
