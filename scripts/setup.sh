#!/usr/bin/env bash
# Installs what zkload needs on a Debian machine: libzmq (for the worker's cgo ZeroMQ
# binding), Locust (the master), ZooKeeper and a JRE (the ensemble under test), nftables
# (zkload ensemble --partitions cuts a member off with it), Node.js and npm when there is
# no npm (`make web` fetches the report's chart library with it); with
# --test also what only the tests use (Chromium and puppeteer-core from npm, to open the
# report as a person would and drive it: reports/web/browsertest; prometheus, for
# promtool to check the --prometheus endpoint's output and the dashboard;
# the Python packages that ../shared/third_party's newest Locust and Python workers with
# kazoo need);
# with --bench also what `make bench` compares against (nginx, wrk, kazoo, geventhttpclient).
# Idempotent: prints nothing when everything is already there.
set -euo pipefail

need=()
pkgs=(libzmq3-dev python3-locust zookeeper default-jre-headless pkg-config nftables)
mode=${1:-}
case $mode in
  --test) pkgs+=(chromium python3-packaging python3-requests python3-flask python3-flask-login
             python3-flask-cors python3-gevent python3-geventhttpclient python3-msgpack python3-psutil
             python3-zmq python3-typing-extensions python3-kazoo prometheus) ;;
  --bench) pkgs+=(nginx-light wrk python3-kazoo python3-geventhttpclient) ;;
  "") ;;
  *) echo "setup.sh: unknown argument \"$1\"; want --test, --bench or nothing" >&2; exit 2 ;;
esac
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in "${pkgs[@]}"; do
  have_pkg "$pkg" || need+=("$pkg")
done
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
# The browser test's npm packages (pinned by its package-lock.json), once per lock change.
browsertest() {
  [ "$mode" = --test ] || return 0
  local d
  d="$(dirname "$0")/../reports/web/browsertest"
  [ "$d/node_modules/.package-lock.json" -nt "$d/package-lock.json" ] && return 0
  echo "setup.sh: npm ci in reports/web/browsertest (puppeteer-core)"
  (cd "$d" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
}
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  need+=(golang-go)
fi
if [ ${#need[@]} -eq 0 ]; then
  browsertest
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: apt-get not found; install these yourself: ${need[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup.sh: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup.sh: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
browsertest
