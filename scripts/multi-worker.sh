#!/usr/bin/env bash
# multi-worker.sh N WORKDIR [locust master args ...] [-- zkload worker args ...]
#
# Runs a Locust master in the foreground with N zkload workers attached, as zk-locust's
# multi-locust.sh did: the master gets --master --expect-workers N and every argument
# before "--" (-f, --headless, -u, -r, -t, --csv, -H ...); the workers get every argument
# after "--" (user classes, --hosts, --val-size ...). Worker logs go to
# WORKDIR/worker-<i>.log; "{i}" in a worker argument becomes the worker's number (1..N),
# so that per-worker files do not collide (--stats-csv out/get_ext_{i}.csv). Signals are
# forwarded; every worker is stopped on exit.
#
# Exit status: the master's, or 1 if a worker died before the master finished (a killed
# worker fails the run loudly instead of leaving a silently smaller load).
#
# Environment: ZKLOAD (bin/zkload), LOCUST (/usr/bin/locust), MASTER_PORT (a free port).
set -uo pipefail
usage() { echo "usage: multi-worker.sh N WORKDIR [locust args ...] [-- zkload worker args ...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
n=$1 workdir=$2; shift 2
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "multi-worker.sh: N \"$n\": want a whole number of workers, 1 or more" >&2; exit 2; }
ZKLOAD=${ZKLOAD:-$(dirname "$0")/../bin/zkload}
LOCUST=${LOCUST:-/usr/bin/locust}
[ -x "$ZKLOAD" ] || { echo "multi-worker.sh: $ZKLOAD not found; run make build" >&2; exit 2; }
master_args=() worker_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; worker_args=("$@"); break; fi
  master_args+=("$1"); shift
done
mkdir -p "$workdir"
port=${MASTER_PORT:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}

workers=()
master=""
stop_all() {
  for w in "${workers[@]}"; do kill -TERM "$w" 2>/dev/null; done
  for w in "${workers[@]}"; do wait "$w" 2>/dev/null; done
}
# Background jobs of a script ignore SIGINT, so the master always gets SIGTERM, which
# Locust handles as a clean quit (final stats, CSVs, workers told to quit).
forward() { [ -n "$master" ] && kill -TERM "$master" 2>/dev/null; }
trap forward INT TERM
trap stop_all EXIT

"$LOCUST" --master --master-bind-host 127.0.0.1 --master-bind-port "$port" \
  --expect-workers "$n" "${master_args[@]}" &
master=$!
for i in $(seq "$n"); do
  args=()
  for a in "${worker_args[@]}"; do args+=("${a//\{i\}/$i}"); done
  "$ZKLOAD" worker --master-host 127.0.0.1 --master-port "$port" "${args[@]}" \
    >"$workdir/worker-$i.log" 2>&1 &
  workers+=("$!")
done

# Wait for the master; meanwhile, a worker that dies is reported at once.
died=0
while kill -0 "$master" 2>/dev/null; do
  for i in "${!workers[@]}"; do
    w=${workers[$i]}
    [ -z "$w" ] && continue
    if ! kill -0 "$w" 2>/dev/null; then
      # Status 0 is a clean quit (the master's quit arrives before the master exits).
      wait "$w"; rc=$?
      if [ "$rc" -ne 0 ]; then
        echo "multi-worker.sh: worker $((i + 1)) (pid $w) died with status $rc while the master was running; see $workdir/worker-$((i + 1)).log" >&2
        died=1
      fi
      workers[$i]=""
    fi
  done
  sleep 0.2
done
wait "$master"; master_rc=$?
for i in "${!workers[@]}"; do
  w=${workers[$i]}
  [ -z "$w" ] && continue
  # Workers quit by themselves after the master's quit; give them a moment.
  for _ in $(seq 50); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$w" 2>/dev/null; then kill -TERM "$w" 2>/dev/null; fi
  wait "$w"; rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "multi-worker.sh: worker $((i + 1)) exited with status $rc; see $workdir/worker-$((i + 1)).log" >&2
    died=1
  fi
done
workers=()
[ "$died" -eq 0 ] || exit 1
exit "$master_rc"
