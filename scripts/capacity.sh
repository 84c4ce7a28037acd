#!/usr/bin/env bash
# capacity.sh: the capacity of ZooKeeper operations on a local ensemble (issue #15,
# doc/load-control.md): for each operation (Get, then Set), a `zkload run --seek` finds
# the highest rate at which every constraint of the SLO holds, on an ensemble this
# script starts and stops. `make capacity` runs it.
#
# Settings (environment): SLO ('p99<10ms, errors<1%'), OPS ("Get Set": zkload's user
# classes), RUN_TIME (2m: the bound of each seek; one not done by then reports the
# capacity found so far, marked not finished), PRECISION (0.05: the bracket's width,
# hi/lo - 1, at which a seek ends), START (500: the first rate tried, operations/s), MAX
# (0: no bound; a seek that passes at MAX ends there, its capacity "at least MAX"),
# USERS (64: the open loop's users, enough for the rate at the latencies the SLO
# allows), MEMBERS (1; 3 or 5), OUT (out/capacity).
# Leaves OUT/<op>/ (a run directory per operation: capacity.csv, control.csv, run.json,
# its report) and OUT/report (both operations in one report, report/capacity.csv), and
# prints the capacity of each operation.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ZKLOAD=${ZKLOAD:-bin/zkload}
SLO=${SLO:-p99<10ms, errors<1%} OPS=${OPS:-Get Set} RUN_TIME=${RUN_TIME:-2m} PRECISION=${PRECISION:-0.05}
START=${START:-500} MAX=${MAX:-0} USERS=${USERS:-64} MEMBERS=${MEMBERS:-1} OUT=${OUT:-out/capacity}
case $MEMBERS in 1|3|5) ;; *) echo "capacity.sh: MEMBERS \"$MEMBERS\": want 1, 3 or 5" >&2; exit 2 ;; esac
[[ $USERS =~ ^[1-9][0-9]*$ ]] || { echo "capacity.sh: USERS \"$USERS\": want a positive whole number" >&2; exit 2; }
[ -n "${SLO// /}" ] || { echo "capacity.sh: SLO is empty: want constraints such as 'p99<10ms, errors<1%'" >&2; exit 2; }
read -r -a ops <<<"$OPS"
[ ${#ops[@]} -gt 0 ] || { echo "capacity.sh: OPS is empty: want user classes such as \"Get Set\"" >&2; exit 2; }
[ -x "$ZKLOAD" ] || { echo "capacity.sh: $ZKLOAD not found; run make build" >&2; exit 2; }

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

echo "== starting a local ZooKeeper of $MEMBERS member(s) ($OUT/zk)"
"$ZKLOAD" ensemble --members "$MEMBERS" --dir "$OUT/zk" >"$OUT/ensemble.log" 2>&1 &
ensemble_pid=$!
for _ in $(seq 1200); do
  grep -q '^connect: ' "$OUT/ensemble.log" && break
  kill -0 "$ensemble_pid" 2>/dev/null || break
  sleep 0.1
done
hosts=$(sed -n 's/^connect: //p' "$OUT/ensemble.log")
[ -n "$hosts" ] || { echo "capacity.sh: the local ZooKeeper did not start:" >&2; cat "$OUT/ensemble.log" >&2; exit 1; }

dirs=() labels=()
for op in "${ops[@]}"; do
  label=$(tr '[:upper:]' '[:lower:]' <<<"$op")
  echo "== $op: seeking the highest rate at which $SLO holds (from ${START}/s, precision $PRECISION, at most $RUN_TIME; log: $OUT/$label.log)"
  "$ZKLOAD" run --hosts "$hosts" -u "$USERS" -r "$USERS" -t "$RUN_TIME" --only-summary --report-dir "$OUT/$label" \
    "$op" --seek "$SLO" --control-start "$START" --control-max "$MAX" --seek-precision "$PRECISION" >"$OUT/$label.log" 2>&1
  rc=$?
  # Exit 1 is a seek's ordinary outcome: requests fail at the levels above the knee.
  if [ "$rc" -gt 1 ]; then
    echo "capacity.sh: zkload run $op failed (exit $rc):" >&2; tail -5 "$OUT/$label.log" >&2; exit "$rc"
  fi
  grep -E '^Capacity at ' "$OUT/$label.log" | sed 's/^/   /'
  dirs+=("$OUT/$label") labels+=("$label")
done
stop_ensemble

echo "== report: both operations ($OUT/report)"
labels_csv=$(IFS=,; echo "${labels[*]}")
"$ZKLOAD" report --out "$OUT/report" --label "$labels_csv" "${dirs[@]}" >"$OUT/report.log" 2>&1 || {
  echo "capacity.sh: zkload report failed:" >&2; cat "$OUT/report.log" >&2; exit 1
}
# zkload report prints each run's capacity in one line ("get: Capacity of Get at SLO:
# N operations/s (achieved ...; the knee between LO and HI, ±X%)."), as the report has it.
echo "== capacity (the report's; every level held in $OUT/<op>/capacity.csv):"
grep -E '^[^ ]+: Capacity of ' "$OUT/report.log" | sed 's/^/   /'
echo "== report: $OUT/report/report.html"
