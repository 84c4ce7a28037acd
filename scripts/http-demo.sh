#!/usr/bin/env bash
# The main job until the ZooKeeper suite lands: a real Locust master, headless, drives
# WORKERS zkload workers against a local HTTP target; Locust's CSVs land in out/.
# It ends by comparing what the target served with what the master counted.
#
# Settings (environment): WORKERS (2), USERS (20), SPAWN_RATE (10), RUN_TIME (15s), OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2} USERS=${USERS:-20} SPAWN_RATE=${SPAWN_RATE:-10} RUN_TIME=${RUN_TIME:-15s}
OUT=${OUT:-out}
ZKLOAD=${ZKLOAD:-bin/zkload}
LOCUST=${LOCUST:-/usr/bin/locust}
mkdir -p "$OUT/tmp"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

"$ZKLOAD" serve --listen 127.0.0.1:0 >"$OUT/tmp/target.log" 2>&1 &
target_pid=$!; pids+=("$target_pid")
for _ in $(seq 100); do grep -q listening "$OUT/tmp/target.log" && break; sleep 0.1; done
target=$(sed -n 's/^listening on //p' "$OUT/tmp/target.log")
[ -n "$target" ] || { echo "http-demo: the target did not start:" >&2; cat "$OUT/tmp/target.log" >&2; exit 1; }

port=$(free_port)
"$ZKLOAD" locustfile Http >"$OUT/tmp/zkload_locustfile.py"
echo "== Locust master (headless): $USERS users, spawn rate $SPAWN_RATE, $RUN_TIME, $WORKERS zkload workers -> $target"
"$LOCUST" -f "$OUT/tmp/zkload_locustfile.py" --master --headless \
  --master-bind-host 127.0.0.1 --master-bind-port "$port" \
  --expect-workers "$WORKERS" --expect-workers-max-wait 60 \
  -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" -H "$target" \
  --csv "$OUT/http" --only-summary >"$OUT/http.log" 2>&1 &
master_pid=$!
for i in $(seq "$WORKERS"); do
  "$ZKLOAD" worker --master-host 127.0.0.1 --master-port "$port" Http >"$OUT/tmp/worker-$i.log" 2>&1 &
  pids+=("$!")
done
set +e
wait "$master_pid"; master_rc=$?
set -e
for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
kill -TERM "$target_pid"; wait "$target_pid" 2>/dev/null || true
pids=()

sed -n '/Response time percentiles/,$p' "$OUT/http.log" | head -20 || true
grep -E '^ *(Type|GET|Aggregated|--------)' "$OUT/http.log" | head -8 || true
served=$(sed -n 's/^served \([0-9]*\) requests/\1/p' "$OUT/tmp/target.log")
counted=$(awk -F, '$2=="Aggregated"{print $3}' "$OUT/http_stats.csv")
echo "== target served $served requests; Locust master counted $counted (exit code $master_rc)"
echo "== Locust's CSVs: $(ls "$OUT"/http_*.csv | tr '\n' ' ')"
[ "$master_rc" -eq 0 ] || { echo "http-demo: the master exited with $master_rc; see $OUT/http.log" >&2; exit 1; }
[ "$served" = "$counted" ] || { echo "http-demo: counts differ: served $served, counted $counted" >&2; exit 1; }
