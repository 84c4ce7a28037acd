#!/usr/bin/env bash
# zk-local.sh start|stop|status [--members 1|3|5] [--dir out/zk]
#
# A local ZooKeeper ensemble from Debian's package on free loopback ports (4-letter words
# and the AdminServer enabled), run in the background by `zkload ensemble`:
#   start   starts it, waits until every member serves, prints the connect string
#   status  prints the connect string if it runs (exit 0), else says so (exit 3)
#   stop    stops it cleanly
# The pid, log and connect string live in the --dir (default out/zk).
set -uo pipefail
cd "$(dirname "$0")/.."
ZKLOAD=${ZKLOAD:-bin/zkload}
cmd=${1:-}; shift || true
members=1 dir=out/zk
while [ $# -gt 0 ]; do
  case $1 in
    --members) members=${2:-}; shift 2 ;;
    --dir) dir=${2:-}; shift 2 ;;
    *) echo "zk-local.sh: unknown argument \"$1\"; want --members 1|3|5 or --dir DIR" >&2; exit 2 ;;
  esac
done
pidfile=$dir/ensemble.pid log=$dir/ensemble.log

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
connect() { sed -n 's/^connect: //p' "$log" 2>/dev/null; }

case $cmd in
  start)
    [[ "$members" == 1 || "$members" == 3 || "$members" == 5 ]] || { echo "zk-local.sh: --members \"$members\": want 1, 3 or 5" >&2; exit 2; }
    if running; then connect; exit 0; fi
    [ -x "$ZKLOAD" ] || { echo "zk-local.sh: $ZKLOAD not found; run make build" >&2; exit 2; }
    mkdir -p "$dir"
    setsid "$ZKLOAD" ensemble --members "$members" --dir "$dir" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 900); do
      [ -n "$(connect)" ] && { connect; exit 0; }
      running || break
      sleep 0.1
    done
    echo "zk-local.sh: the ensemble did not start; see $log:" >&2
    tail -5 "$log" >&2
    [ -f "$pidfile" ] && kill -TERM "$(cat "$pidfile")" 2>/dev/null
    rm -f "$pidfile"
    exit 1 ;;
  status)
    if running && [ -n "$(connect)" ]; then connect; exit 0; fi
    echo "zk-local.sh: no local ensemble runs from $dir" >&2
    exit 3 ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill -TERM "$pid"
      for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { echo "zk-local.sh: ensemble (pid $pid) did not stop" >&2; exit 1; }
      echo "stopped"
    fi
    rm -f "$pidfile"
    exit 0 ;;
  *)
    echo "usage: zk-local.sh start|stop|status [--members 1|3|5] [--dir DIR]" >&2
    exit 2 ;;
esac
