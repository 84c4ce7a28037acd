#!/usr/bin/env bash
# The main job's ZooKeeper run: a local ensemble (unless ZK_LOCUST_HOSTS names one), a
# real Locust master, headless, and WORKERS zkload workers running the Get and Set task
# sets; Locust's CSVs land in out/zk_*.csv. What the workloads created is cleaned up.
#
# Settings (environment): ZK_LOCUST_HOSTS (default: start one), WORKERS (2), USERS (16),
# SPAWN_RATE (16), RUN_TIME (10s), CLASSES ("Get Set"), OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-2} USERS=${USERS:-16} SPAWN_RATE=${SPAWN_RATE:-16} RUN_TIME=${RUN_TIME:-10s}
CLASSES=${CLASSES:-Get Set} OUT=${OUT:-out}
ZKLOAD=${ZKLOAD:-bin/zkload} LOCUST=${LOCUST:-/usr/bin/locust}
mkdir -p "$OUT/tmp"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
ensemble_pid=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$ensemble_pid" ]; then kill -TERM "$ensemble_pid" 2>/dev/null || true; wait "$ensemble_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

hosts=${ZK_LOCUST_HOSTS:-}
if [ -z "$hosts" ]; then
  echo "== starting a local ZooKeeper (out/zk)"
  "$ZKLOAD" ensemble --dir "$OUT/zk" >"$OUT/tmp/ensemble.log" 2>&1 &
  ensemble_pid=$!
  for _ in $(seq 600); do
    grep -q '^connect: ' "$OUT/tmp/ensemble.log" && break
    kill -0 "$ensemble_pid" 2>/dev/null || break
    sleep 0.1
  done
  hosts=$(sed -n 's/^connect: //p' "$OUT/tmp/ensemble.log")
  [ -n "$hosts" ] || { echo "zk-demo: the local ZooKeeper did not start:" >&2; cat "$OUT/tmp/ensemble.log" >&2; exit 1; }
fi

port=$(free_port)
# shellcheck disable=SC2086
"$ZKLOAD" locustfile $CLASSES >"$OUT/tmp/zk_locustfile.py"
echo "== Locust master (headless): $USERS users of $CLASSES, $RUN_TIME, $WORKERS zkload workers -> ZooKeeper $hosts"
"$LOCUST" -f "$OUT/tmp/zk_locustfile.py" --master --headless \
  --master-bind-host 127.0.0.1 --master-bind-port "$port" \
  --expect-workers "$WORKERS" --expect-workers-max-wait 60 \
  -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" -H "zk://$hosts" \
  --csv "$OUT/zk" --only-summary >"$OUT/zk.log" 2>&1 &
master_pid=$!
for i in $(seq "$WORKERS"); do
  # shellcheck disable=SC2086
  "$ZKLOAD" worker --master-host 127.0.0.1 --master-port "$port" $CLASSES >"$OUT/tmp/zk-worker-$i.log" 2>&1 &
  pids+=("$!")
done
set +e
wait "$master_pid"; master_rc=$?
set -e
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

grep -E '^ *(Type|[a-z_0-9]+ +[a-z_0-9.]+ +[0-9]|Aggregated|--------)' "$OUT/zk.log" | head -12 || true
"$ZKLOAD" cleanup --hosts "$hosts" >"$OUT/tmp/zk-cleanup.log" 2>&1 || { echo "zk-demo: cleanup failed:" >&2; cat "$OUT/tmp/zk-cleanup.log" >&2; exit 1; }
tail -1 "$OUT/tmp/zk-cleanup.log"
counted=$(awk -F, '$2=="Aggregated"{print $3" requests, "$4" failures"}' "$OUT/zk_stats.csv")
echo "== Locust master counted $counted (exit code $master_rc); CSVs: $(ls "$OUT"/zk_*.csv | tr '\n' ' ')"
[ "$master_rc" -eq 0 ] || { echo "zk-demo: the master exited with $master_rc; see $OUT/zk.log" >&2; exit 1; }
