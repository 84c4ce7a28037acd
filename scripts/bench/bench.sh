#!/usr/bin/env bash
# bench.sh: `make bench`. Compares zkload with other load generators side by side in one
# run, the load generator pinned to core 0 and the server to core 1 (taskset), rounds
# interleaved (tools in reverse order on even rounds), and writes medians, ratios and
# CPU cost to doc/performance.md (BENCH_OUT).
#
#   HTTP: nginx (3-byte body, 1 worker) loaded by zkload's Http user (GOMAXPROCS=1),
#         wrk -t1, Locust FastHttpUser and HttpUser (one process each), 50 connections.
#   ZK:   a local ZooKeeper (standalone), 64 sessions, a matrix of cases OP:SIZE:MODE:
#         get or set of an 8-byte or 1 KiB value, closed loop (1 request in flight per
#         session) or pipelined (BENCH_ZK_OUTSTANDING in flight per session), by
#         zkload's Get/Set users (GOMAXPROCS=1, --outstanding), a bare go-zookeeper loop
#         (scripts/bench/zkbare, -inflight) and, closed loop only (kazoo with gevent is
#         synchronous per greenlet), Locust + kazoo (scripts/bench/locustfile_zk.py).
#         Each case has its own warm-up, rounds, table and target verdicts.
#   Scale: scripts/bench/scale, one worker (boomer.Worker, GOMAXPROCS=1) under a fake
#         master: RSS and spawn speed of 10k and 100k idle users, RSS of 10k users whose
#         requests a refusing target fails at once (checked against boomer's user
#         limit), heartbeat gaps with its core saturated, stats message size as the
#         request rate grows.
#   Micro: go test benchmarks of recording, rounding and report building, -cpu 1,N.
#
# Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_OUT
# (doc/performance.md), BENCH_ZK (1; 0 skips ZooKeeper), BENCH_HTTP_USERS (50),
# BENCH_ZK_USERS (64), BENCH_SCALE (1; 0 skips scripts/bench/scale), BENCH_SCALE_ARGS (its
# flags, e.g. "-users 1000 -hb-time 3s"), BENCH_MICRO (1; 0 skips the go test benchmarks), BENCH_MICRO_TIME
# (1s, go test's -benchtime), ZKLOAD (bin/zkload). A tool that is not installed is skipped;
# zkload failing, or an installed tool failing to produce a rate, fails the run (exit 1).
# ZooKeeper matrix: BENCH_ZK_OPS ("get set"), BENCH_ZK_SIZES ("8 1024", bytes),
# BENCH_ZK_MODES ("closed pipelined"), BENCH_ZK_OUTSTANDING (8), or instead of the three
# lists BENCH_ZK_CASES, a list of OP:SIZE:MODE (e.g. "get:8:closed set:1024:pipelined");
# BENCH_ZK_JIT_WARMUP (8): seconds of bare-loop sets, then as many of gets, before the
# first case, for the server's JIT; BENCH_ZK_WARMUP (3): seconds of the bare loop
# before each case (it also writes the
# keys with the case's value size; 0 only writes them).
# A full run (the defaults) takes about 20 minutes. A quick one:
#   BENCH_ROUNDS=1 BENCH_SECONDS=2 BENCH_ZK_CASES="get:8:closed" BENCH_OUT=/tmp/p.md
# (BENCH_SECONDS=1 is too short: Locust's CSV of a 1 s run may count no requests.)
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-10}
OUT=${BENCH_OUT:-doc/performance.md}
DO_ZK=${BENCH_ZK:-1}
HTTP_USERS=${BENCH_HTTP_USERS:-50}
ZK_USERS=${BENCH_ZK_USERS:-64}
DO_SCALE=${BENCH_SCALE:-1}
SCALE_ARGS=${BENCH_SCALE_ARGS:-}
DO_MICRO=${BENCH_MICRO:-1}
MICRO_RE='^Benchmark(RecordSuccess|RecordFailure|RecordParallel|Bucket|Report|UserRecord|CollectorRecord|CollectorRecordParallel)$'
MICRO_TIME=${BENCH_MICRO_TIME:-1s}
ZKLOAD=${ZKLOAD:-bin/zkload}
case $ZKLOAD in /*) ;; *) ZKLOAD=$root/$ZKLOAD ;; esac
PY=/usr/bin/python3 # Debian's, where python3-locust and python3-kazoo live
[ -x "$PY" ] || PY=python3
export PATH=$PATH:/usr/local/go/bin

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$ZKLOAD" ] || die "$ZKLOAD not found; run make build"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS=\"$ROUNDS\": want a positive integer"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS=\"$SECS\": want a positive integer"

# The ZooKeeper matrix, checked before anything runs: zk_cases holds OP:SIZE:MODE.
ZK_OUTSTANDING=${BENCH_ZK_OUTSTANDING:-8}
ZK_WARMUP=${BENCH_ZK_WARMUP:-3}
ZK_JIT_WARMUP=${BENCH_ZK_JIT_WARMUP:-8}
zk_cases=()
if [ "$DO_ZK" = 1 ]; then
  [[ $ZK_USERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ZK_USERS=\"$ZK_USERS\": want a positive integer"
  [[ $ZK_OUTSTANDING =~ ^[1-9][0-9]*$ ]] && [ "$ZK_OUTSTANDING" -le 10000 ] ||
    die "BENCH_ZK_OUTSTANDING=\"$ZK_OUTSTANDING\": want an integer from 1 to 10000"
  [[ $ZK_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_ZK_WARMUP=\"$ZK_WARMUP\": want a whole number of seconds"
  [[ $ZK_JIT_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_ZK_JIT_WARMUP=\"$ZK_JIT_WARMUP\": want a whole number of seconds"
  zk_from=BENCH_ZK_CASES
  if [ -n "${BENCH_ZK_CASES+set}" ]; then
    read -ra zk_cases <<<"$BENCH_ZK_CASES"
  else
    zk_from="BENCH_ZK_OPS × BENCH_ZK_SIZES × BENCH_ZK_MODES"
    read -ra ops <<<"${BENCH_ZK_OPS-get set}"
    read -ra sizes <<<"${BENCH_ZK_SIZES-8 1024}"
    read -ra modes <<<"${BENCH_ZK_MODES-closed pipelined}"
    for op in "${ops[@]}"; do
      for size in "${sizes[@]}"; do
        for mode in "${modes[@]}"; do zk_cases+=("$op:$size:$mode"); done
      done
    done
  fi
  [ ${#zk_cases[@]} -gt 0 ] || die "no ZooKeeper cases (BENCH_ZK_OPS, BENCH_ZK_SIZES, BENCH_ZK_MODES or BENCH_ZK_CASES is empty); BENCH_ZK=0 skips ZooKeeper"
  for c in "${zk_cases[@]}"; do
    IFS=: read -r op size mode rest <<<"$c"
    want="want OP:SIZE:MODE with OP get or set, SIZE 1 to 1048576 bytes, MODE closed or pipelined"
    [ -z "$rest" ] && [[ $op =~ ^(get|set)$ ]] && [[ $mode =~ ^(closed|pipelined)$ ]] &&
      [[ $size =~ ^[1-9][0-9]*$ ]] && [ "$size" -le 1048576 ] || die "ZooKeeper case \"$c\" (from $zk_from): $want"
  done
fi

ncpu=$(nproc)
GEN_CPU=0 SRV_CPU=1
[ "$ncpu" -ge 2 ] || SRV_CPU=0
GEN="taskset -c $GEN_CPU"
SRV="taskset -c $SRV_CPU"

tmp=$(mktemp -d /tmp/zkload-bench.XXXXXX)
server_pid="" zk_started=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$zk_started" ] && ZKLOAD=$ZKLOAD bash scripts/zk-local.sh stop --dir "$tmp/zk" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=$tmp/results.tsv # section tool round rate requests cpu_seconds
: >"$results"
commands=$tmp/commands # one line per tool: the command as run in round 1
: >"$commands"
failed=0

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# csv_field FILE COLUMN: COLUMN of the Aggregated row of a Locust stats CSV.
csv_field() {
  awk -F, -v col="$2" 'NR==1 { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); if (h == col) c = i } next }
    { n = $2; gsub(/"/, "", n) } n == "Aggregated" && c { v = $c; gsub(/"/, "", v); print v }' "$1"
}

# summary_field LOG N: from the request table a Locust-style console summary ends with,
# the Aggregated row's request count (N=reqs) or rate (N=rate). Locust 2.12.1 writes its
# CSV only every second and not at exit, so a short run's CSV may still hold no
# requests: its console summary, printed at exit, is the figure it ends with.
summary_field() {
  awk -v want="$2" '$1 == "Aggregated" && !done { split($0, p, "|"); n = split(p[1], a, " ");
    split(p[3], r, " "); print (want == "reqs" ? a[2] : r[1]); done = 1 }' "$1"
}

# measure SECTION TOOL ROUND KIND CMD...: runs CMD pinned to the generator core, timing
# its CPU (user+system, children included), then records its rate and request count
# (KIND: csv = Locust CSV at $tmp/csv_stats.csv, wrk, bare).
measure() {
  local section=$1 tool=$2 round=$3 kind=$4; shift 4
  local log=$tmp/log rate="" reqs="" cpu rc
  rm -f "$tmp"/csv_*.csv
  [ "$round" = 1 ] && printf '%s\t%s\t%s\n' "$section" "$tool" "$*" >>"$commands"
  local TIMEFORMAT='%3U %3S'
  { time $GEN "$@" >"$log" 2>&1; } 2>"$tmp/time"
  rc=$?
  cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$tmp/time")
  case $kind in
    csv)
      if [ -f "$tmp/csv_stats.csv" ]; then
        rate=$(csv_field "$tmp/csv_stats.csv" "Requests/s")
        reqs=$(csv_field "$tmp/csv_stats.csv" "Request Count")
      fi
      if [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
        rate=$(summary_field "$log" rate)
        reqs=$(summary_field "$log" reqs)
      fi ;;
    wrk)
      rate=$(awk '/^Requests\/sec:/ { print $2 }' "$log")
      reqs=$(awk '/requests in/ { print $1 }' "$log") ;;
    bare)
      rate=$(awk '/^requests / { print $8 }' "$log")
      reqs=$(awk '/^requests / { print $2 }' "$log") ;;
  esac
  if [ -z "$rate" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
    echo "bench: $tool (round $round) gave no rate (exit $rc); its output ends:" >&2
    tail -15 "$log" >&2
    failed=1
    return
  fi
  [ "$rc" -ne 0 ] && echo "bench: note: $tool (round $round) exited $rc (failed requests?)" >&2
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$tool" "$round" "$rate" "$reqs" "$cpu" >>"$results"
  printf '  %-24s round %s: %10.0f req/s, %s requests, %s CPU s\n' "$tool" "$round" "$rate" "$reqs" "$cpu"
}

# in_order ROUND TOOL...: the tools in order on odd rounds, reversed on even ones, so
# that a server whose speed drifts during a case (JIT, GC, a growing log) favours no
# tool; printed one a line with spaces as underscores (the caller turns them back).
in_order() {
  local round=$1 i; shift
  local t=("$@")
  if [ $((round % 2)) = 1 ]; then
    for ((i = 0; i < ${#t[@]}; i++)); do echo "${t[i]// /_}"; done
  else
    for ((i = ${#t[@]} - 1; i >= 0; i--)); do echo "${t[i]// /_}"; done
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }
have_py() { "$PY" -c "import $1" >/dev/null 2>&1; }
have_locust() { have locust && have_py locust; }
skipped=()

# ---------------------------------------------------------------- HTTP
http_server="" http_url=""
start_http_server() {
  local port
  port=$(free_port)
  if have nginx || [ -x /usr/sbin/nginx ]; then
    local nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
    $SRV "$nginx" -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/out" 2>&1 &
    server_pid=$!
    http_server="nginx $("$nginx" -v 2>&1 | sed 's/.*nginx\///'), 1 worker process (master_process off), 3-byte body"
  else
    skipped+=("nginx (not installed; zkload serve is the target instead)")
    $SRV "$ZKLOAD" serve --listen "127.0.0.1:$port" >"$tmp/serve.out" 2>&1 &
    server_pid=$!
    http_server="zkload serve (nginx not installed), 2-byte body"
  fi
  http_url="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp"/nginx/out "$tmp"/nginx/error.log "$tmp"/serve.out 2>/dev/null >&2
  die "the HTTP target did not start"
}

http_tools=("zkload Http")
have wrk && http_tools+=("wrk -t1") || skipped+=("wrk (not installed)")
if have_locust && have_py geventhttpclient; then http_tools+=("Locust FastHttpUser"); else skipped+=("Locust FastHttpUser (locust or geventhttpclient not installed)"); fi
if have_locust; then http_tools+=("Locust HttpUser"); else skipped+=("Locust HttpUser (locust not installed)"); fi

run_http() {
  local tool=$1 round=$2 p=$tmp/csv
  case $tool in
    "zkload Http")
      measure http "$tool" "$round" csv env GOMAXPROCS=1 "$ZKLOAD" run -u "$HTTP_USERS" -r 1000 -t "${SECS}s" -H "$http_url" --only-summary --csv "$p" Http ;;
    "wrk -t1")
      measure http "$tool" "$round" wrk wrk -t1 -c"$HTTP_USERS" -d"${SECS}s" "$http_url/" ;;
    "Locust FastHttpUser")
      measure http "$tool" "$round" csv locust -f scripts/bench/locustfile_http.py --headless -u "$HTTP_USERS" -r 1000 -t "${SECS}s" -H "$http_url" --only-summary --csv "$p" FastHttp ;;
    "Locust HttpUser")
      measure http "$tool" "$round" csv locust -f scripts/bench/locustfile_http.py --headless -u "$HTTP_USERS" -r 1000 -t "${SECS}s" -H "$http_url" --only-summary --csv "$p" Http ;;
  esac
}

echo "bench: HTTP, $ROUNDS round(s) of ${SECS}s, $HTTP_USERS users/connections, generator on core $GEN_CPU, server on core $SRV_CPU"
start_http_server
for round in $(seq "$ROUNDS"); do
  for tool in $(in_order "$round" "${http_tools[@]}"); do run_http "${tool//_/ }" "$round"; done
done
kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""

# ---------------------------------------------------------------- ZooKeeper
# Each case OP:SIZE:MODE of zk_cases is its own results section, zk-OP-SIZE-MODE: a
# warm-up of the bare loop (which also writes every key with a SIZE-byte value, so the
# gets of all tools read SIZE bytes), then its rounds, the tools interleaved.
zk_server="" zk_tools=() zk_locust=""
zk_inflight() { [ "$1" = pipelined ] && echo "$ZK_OUTSTANDING" || echo 1; }
zk_size() { # 8 B, 1 KiB
  if [ "$1" -ge 1024 ] && [ $(($1 % 1024)) = 0 ]; then echo "$(($1 / 1024)) KiB"; else echo "$1 B"; fi
}

# run_zk TOOL ROUND OP SIZE MODE
run_zk() {
  local tool=$1 round=$2 op=$3 size=$4 mode=$5 n
  local sec=zk-$op-$size-$mode
  n=$(zk_inflight "$mode")
  case $tool in
    "zkload "*)
      measure "$sec" "$tool" "$round" csv env GOMAXPROCS=1 "$ZKLOAD" run -u "$ZK_USERS" -r 1000 -t "${SECS}s" --hosts "$hosts" --val-size "$size" --outstanding "$n" --only-summary --csv "$tmp/csv" "${tool#zkload }" ;;
    "bare go-zookeeper")
      measure "$sec" "$tool" "$round" bare env GOMAXPROCS=1 "$tmp/zkbare" -hosts "$hosts" -sessions "$ZK_USERS" -inflight "$n" -op "$op" -size "$size" -t "${SECS}s" ;;
    "Locust + kazoo")
      measure "$sec" "$tool" "$round" csv env BENCH_ZK_SIZE="$size" locust -f scripts/bench/locustfile_zk.py --headless -u "$ZK_USERS" -r 1000 -t "${SECS}s" -H "zk://$hosts" --only-summary --csv "$tmp/csv" "${op^}" ;;
  esac
}

if [ "$DO_ZK" = 1 ]; then
  if dpkg-query -W -f='${Status}' zookeeper 2>/dev/null | grep -q "install ok installed"; then
    go build -o "$tmp/zkbare" ./scripts/bench/zkbare || die "building scripts/bench/zkbare failed"
    zk_started=1
    hosts=$(ZKLOAD=$ZKLOAD $SRV bash scripts/zk-local.sh start --dir "$tmp/zk") || die "the local ZooKeeper did not start"
    zk_server="ZooKeeper $(dpkg-query -W -f='${Version}' zookeeper) standalone (zkload ensemble), $hosts"
    if have_locust && have_py kazoo; then zk_locust=1; else skipped+=("Locust + kazoo (locust or kazoo not installed)"); fi
    # The server runs with the JVM's full JIT, which takes a while to compile the hot
    # paths: warm both the read and the write path up before the first case.
    if [ "$ZK_JIT_WARMUP" -gt 0 ]; then
      echo "bench: ZooKeeper JIT warm-up, ${ZK_JIT_WARMUP}s of sets then ${ZK_JIT_WARMUP}s of gets (bare loop)"
      for op in set get; do
        $GEN "$tmp/zkbare" -hosts "$hosts" -sessions "$ZK_USERS" -inflight "$ZK_OUTSTANDING" -op "$op" -t "${ZK_JIT_WARMUP}s" >"$tmp/log" 2>&1 ||
          { tail -5 "$tmp/log" >&2; die "the ZooKeeper warm-up failed"; }
      done
    fi
    for c in "${zk_cases[@]}"; do
      IFS=: read -r op size mode <<<"$c"
      n=$(zk_inflight "$mode")
      zk_tools=("zkload ${op^}" "bare go-zookeeper")
      [ -n "$zk_locust" ] && [ "$mode" = closed ] && zk_tools+=("Locust + kazoo")
      echo "bench: ZooKeeper $op of $(zk_size "$size"), $mode ($n in flight per session), $ROUNDS round(s) of ${SECS}s, $ZK_USERS sessions, $hosts"
      # Warm the JVM up on this case's requests and write the keys with its value size.
      $GEN "$tmp/zkbare" -hosts "$hosts" -sessions "$ZK_USERS" -inflight "$n" -op "$op" -size "$size" -t "${ZK_WARMUP}s" >"$tmp/log" 2>&1
      if ! grep -q '^requests ' "$tmp/log"; then
        echo "bench: ZooKeeper $c: the bare loop's warm-up failed, so the case is not measured; its output ends:" >&2
        tail -5 "$tmp/log" >&2
        failed=1
        continue
      fi
      for round in $(seq "$ROUNDS"); do
        for tool in $(in_order "$round" "${zk_tools[@]}"); do run_zk "${tool//_/ }" "$round" "$op" "$size" "$mode"; done
      done
    done
  else
    skipped+=("ZooKeeper comparison (the zookeeper package is not installed)")
  fi
fi

# ---------------------------------------------------------------- scale
# scripts/bench/scale: one worker process with many idle users (RSS, spawn speed), users
# failing fast (RSS, against boomer's user limit), heartbeat gaps with its core
# saturated, stats message size as the rate grows. It
# starts its own nginx on the server core and pins the worker to the generator core.
scale_md=""
if [ "$DO_SCALE" = 1 ]; then
  echo "bench: scale (scripts/bench/scale $SCALE_ARGS)"
  go build -o "$tmp/scale" ./scripts/bench/scale || die "building scripts/bench/scale failed"
  echo "scale	scale	go run ./scripts/bench/scale $SCALE_ARGS" >>"$commands"
  # shellcheck disable=SC2086 # SCALE_ARGS is a list of flags
  if "$tmp/scale" -worker-cpu "$GEN_CPU" -server-cpu "$SRV_CPU" $SCALE_ARGS >"$tmp/scale.md" 2>"$tmp/scale.err"; then
    scale_md=$(cat "$tmp/scale.md")
  else
    echo "bench: scale failed; its output ends:" >&2
    tail -15 "$tmp/scale.err" >&2
    failed=1
  fi
fi

# ---------------------------------------------------------------- micro
# go test benchmarks of the hot path: recording a request (one shard, and all cores in
# parallel), rounding to Locust's buckets, building a report, the extended statistics.
# Not pinned: the parallel ones must see every core.
micro_table="" micro_targets=""
if [ "$DO_MICRO" = 1 ]; then
  echo "bench: micro benchmarks (go test -bench, -cpu 1,$ncpu)"
  micro_cmd="go test -run '^\$' -bench '$MICRO_RE' -benchmem -benchtime ${MICRO_TIME} -cpu 1,$ncpu ./boomer/recorder/ ./boomer/ ./stats/"
  echo "micro	go test	$micro_cmd" >>"$commands"
  if go test -run '^$' -bench "$MICRO_RE" -benchmem -benchtime "$MICRO_TIME" -cpu "1,$ncpu" ./boomer/recorder/ ./boomer/ ./stats/ >"$tmp/micro" 2>&1; then
    # name[-cpus] N ns/op [extra metrics] B/op allocs/op
    micro_table=$(awk '/^Benchmark/ {
        name = $1; cpus = 1
        if (match(name, /-[0-9]+$/)) { cpus = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
        sub(/^Benchmark/, "", name)
        ns = ""; b = ""; al = ""
        for (i = 3; i < NF; i++) {
          if ($(i + 1) == "ns/op") ns = $i
          if ($(i + 1) == "B/op") b = $i
          if ($(i + 1) == "allocs/op") al = $i
        }
        printf "| %s | %s | %s | %s | %s |\n", name, cpus, ns, b, al
      }' "$tmp/micro")
    micro_targets=$(awk -v n="$ncpu" '/^Benchmark/ {
        name = $1; cpus = 1
        if (match(name, /-[0-9]+$/)) { cpus = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
        for (i = 3; i < NF; i++) { if ($(i + 1) == "ns/op") ns[name, cpus] = $i; if ($(i + 1) == "allocs/op") al[name, cpus] = $i }
      }
      END {
        split("BenchmarkRecordSuccess BenchmarkRecordFailure", one, " ")
        for (k = 1; k <= 2; k++) {
          t = one[k]; label = substr(t, 10)
          if (!((t, 1) in ns)) { printf "- %s ≤ 100 ns and 0 allocations: not measured\n", label; continue }
          ok = ns[t, 1] <= 100 && al[t, 1] == 0
          printf "- %s ≤ 100 ns and 0 allocations: %s ns, %s allocs — %s\n", label, ns[t, 1], al[t, 1], (ok ? "**met**" : "**missed**")
        }
        t = "BenchmarkRecordParallel"
        if (n < 2) { print "- recording scales with cores: not measurable on one core"; exit }
        if (!((t, 1) in ns) || !((t, n) in ns)) { print "- recording scales with cores: not measured"; exit }
        r = ns[t, 1] / ns[t, n]
        printf "- recording scales with cores (RecordParallel throughput on %d cores ≥ %.1f× one core): %.2f× — %s\n", n, n * 0.75, r, (r >= n * 0.75 ? "**met**" : "**missed**")
      }' "$tmp/micro")
  else
    echo "bench: the micro benchmarks failed; their output ends:" >&2
    tail -15 "$tmp/micro" >&2
    failed=1
  fi
fi

# ---------------------------------------------------------------- report
# table SECTION BASELINE: markdown rows of median rate, ratio to BASELINE and CPU
# seconds per 100k requests (median over rounds of cpu/requests). The ratio is the
# median over rounds of the tool's rate over BASELINE's in the same round: the server's
# speed drifts between rounds (JIT, GC), and tools measured side by side see the same.
table() {
  awk -F'\t' -v sec="$1" -v base="$2" '
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == sec {
      if (!($2 in rates)) order[++k] = $2
      rates[$2] = rates[$2] " " $4
      rate[$2, $3] = $4
      if (!($3 in seen)) { seen[$3] = 1; rds[++nr] = $3 }
      cost[$2] = cost[$2] " " ($5 > 0 ? $6 * 100000 / $5 : 0)
      rounds[$2] = rounds[$2] ", " sprintf("%.0f", $4)
    }
    END {
      for (i = 1; i <= k; i++) {
        t = order[i]; rs = ""
        for (j = 1; j <= nr; j++) if (((t, rds[j]) in rate) && ((base, rds[j]) in rate) && rate[base, rds[j]] > 0) rs = rs " " rate[t, rds[j]] / rate[base, rds[j]]
        ratio = rs != "" ? sprintf("%.2f", median(rs)) : "n/a"
        printf "| %s | %.0f | %s | %.2f | %s |\n", t, median(rates[t]), ratio, median(cost[t]), substr(rounds[t], 3)
      }
    }' "$results"
}
# ratio_of SECTION TOOL BASELINE: TOOL's ratio to BASELINE, as in the table.
ratio_of() { table "$1" "$3" | awk -F'|' -v t=" $2 " '$2 == t { gsub(/ /, "", $4); if ($4 != "n/a") print $4 }'; }

http_table=$(table http "wrk -t1")

verdict() { # verdict LABEL RATIO FACTOR
  if [ -z "$2" ]; then echo "- $1: not measured (a tool is missing)"; return; fi
  awk -v l="$1" -v r="$2" -v f="$3" 'BEGIN { printf "- %s: %.2f× — %s\n", l, r, (r >= f ? "**met**" : "**missed**") }'
}
targets=$(
  verdict "zkload Http ≥ 0.5× wrk -t1" "$(ratio_of http "zkload Http" "wrk -t1")" 0.5
  verdict "zkload Http ≥ 5× Locust FastHttpUser" "$(ratio_of http "zkload Http" "Locust FastHttpUser")" 5
)

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
zk_rev=$(git describe --always --dirty --tags 2>/dev/null || echo unknown)
header='| tool | median req/s | ratio (median of rounds) | CPU s per 100k requests | req/s per round |'
sep='| --- | ---: | ---: | ---: | --- |'

# zk_report: a section per ZooKeeper case measured: its table (ratio to the bare loop)
# and its target verdicts.
zk_report() {
  local c op size mode n sec rows zk bare
  for c in "${zk_cases[@]}"; do
    IFS=: read -r op size mode <<<"$c"
    sec=zk-$op-$size-$mode
    rows=$(table "$sec" "bare go-zookeeper")
    [ -n "$rows" ] || continue
    n=$(zk_inflight "$mode")
    echo
    if [ "$mode" = closed ]; then
      echo "## ZooKeeper: $op of $(zk_size "$size"), closed loop, $ZK_USERS sessions, 1 request in flight each"
    else
      echo "## ZooKeeper: $op of $(zk_size "$size"), pipelined, $ZK_USERS sessions, $n requests in flight each"
    fi
    echo
    echo "Server: $zk_server. Ratio is to the bare go-zookeeper loop."
    [ "$mode" = pipelined ] && echo "Locust + kazoo is not run pipelined: kazoo with gevent is synchronous per greenlet, so a Locust user keeps one request in flight (see the closed-loop table)."
    echo
    echo "$header"
    echo "$sep"
    echo "$rows"
    echo
    echo "Targets:"
    echo
    verdict "zkload ${op^} ≥ 0.9× bare go-zookeeper" "$(ratio_of "$sec" "zkload ${op^}" "bare go-zookeeper")" 0.9
    if [ "$mode" = closed ]; then
      verdict "zkload ${op^} ≥ 4× Locust + kazoo" "$(ratio_of "$sec" "zkload ${op^}" "Locust + kazoo")" 4
    else
      echo "- zkload ${op^} ≥ 4× Locust + kazoo: not applicable (Locust + kazoo is not pipelined)"
    fi
  done
}

# The comparisons as one bar chart beside the report (scripts/bench/plot).
svg=${OUT%.md}.svg
mkdir -p "$(dirname "$OUT")"
if ! go run ./scripts/bench/plot -in "$results" -out "$svg"; then
  echo "bench: the chart could not be drawn" >&2
  failed=1
  svg=""
fi

report=$(
  echo "# Performance"
  echo
  echo "Written by \`make bench\` (scripts/bench/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); rerun it to refresh."
  echo "Everything on one machine over loopback: the load generator pinned to core $GEN_CPU, the server to"
  echo "core $SRV_CPU (\`taskset\`), $ROUNDS round(s) of ${SECS} s, the tools interleaved within each round"
  echo "(in reverse order on even rounds, so that a drifting server favours no tool)."
  echo "Rates are each tool's own figure (wrk's \`Requests/sec\`, the Aggregated \`Requests/s\` of the"
  echo "Locust-format CSV, the bare loop's count over its run time); CPU is user+system seconds of the"
  echo "generator process (children included, start-up included) per 100,000 requests it counted."
  if [ -n "$svg" ]; then
    echo
    echo "![requests/s of each tool relative to the baseline of its comparison]($(basename "$svg"))"
  fi
  echo
  echo "## Machine and versions"
  echo
  echo "- CPU: $cpu_model, nproc $ncpu; kernel $(uname -r)"
  echo "- zkload $zk_rev, $(go version 2>/dev/null | awk '{ print $3 }'), GOMAXPROCS=1"
  echo "- wrk $(ver wrk), nginx-light $(ver nginx-light), Locust $(ver python3-locust), geventhttpclient $(ver python3-geventhttpclient), kazoo $(ver python3-kazoo), Python $("$PY" -c 'import platform; print(platform.python_version())'), ZooKeeper $(ver zookeeper)"
  echo
  echo "## HTTP: GET / of a tiny body, $HTTP_USERS connections"
  echo
  echo "Target: $http_server. Ratio is to wrk -t1."
  echo
  echo "$header"
  echo "$sep"
  echo "$http_table"
  echo
  echo "Targets:"
  echo
  echo "$targets"
  [ -n "$zk_server" ] && zk_report
  if [ -n "$scale_md" ]; then
    echo
    echo "$scale_md"
  fi
  if [ -n "$micro_table" ]; then
    echo
    echo "## Micro: the recording hot path (go test -bench)"
    echo
    echo "Per operation, on all cores unpinned (\`-cpu 1,$ncpu\`; a parallel benchmark's ns/op is wall time per"
    echo "operation across its goroutines, so lower at more cores means it scales):"
    echo
    echo "| benchmark | cores | ns/op | B/op | allocs/op |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    echo "$micro_table"
    echo
    echo "Targets:"
    echo
    echo "$micro_targets"
  fi
  if [ ${#skipped[@]} -gt 0 ]; then
    echo
    echo "Skipped: $(IFS=';'; echo "${skipped[*]}" | sed 's/;/; /g')."
  fi
  echo
  echo "## Commands"
  echo
  echo "Each run as \`taskset -c $GEN_CPU CMD\` under bash's \`time\` (round 1 shown; ports and temp paths vary):"
  echo
  echo '```sh'
  [ -f "$tmp/nginx/nginx.conf" ] && echo "taskset -c $SRV_CPU nginx -p DIR -c DIR/nginx.conf   # scripts/bench/bench.sh writes the config"
  [ -n "$zk_server" ] && echo "taskset -c $SRV_CPU bash scripts/zk-local.sh start --dir DIR"
  [ -n "$zk_server" ] && echo "go build -o \$TMP/zkbare ./scripts/bench/zkbare   # first ${ZK_JIT_WARMUP} s of -op set and of -op get -inflight $ZK_OUTSTANDING; before each case, a ${ZK_WARMUP} s warm-up run of it with the case's -op, -size, -inflight"
  awk -F'\t' '$1 != last { print "# " $1; last = $1 } { print $3 }' "$commands" | sed "s#$tmp#\$TMP#g; s#$root/##g"
  echo '```'
  if [ -f scripts/bench/notes.md ]; then
    echo
    cat scripts/bench/notes.md
  fi
)

echo
echo "$report" | sed -n '/^## HTTP/,/^## Commands/p' | sed '$d'
mkdir -p "$(dirname "$OUT")"
echo "$report" >"$OUT"
echo "bench: wrote $OUT"
[ "$failed" = 0 ] || die "some runs failed (see above)"
