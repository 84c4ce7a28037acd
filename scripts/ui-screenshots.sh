#!/usr/bin/env bash
# Screenshots of Locust's web UI driving zkload workers, one per Locust release, for the
# documentation: doc/locust-ui-2.12.1.png and doc/locust-ui-<newest>.png.
#
# They are taken by the end-to-end test TestWebUIWorkersAndCounts (a master with its UI,
# two zkload workers against a local HTTP target, a test started through the UI's form
# endpoint), which writes them where ZKLOAD_UI_SCREENSHOTS says instead of a temporary
# directory; `make test` leaves that unset, so it never writes into doc/.
# Needs what `make test-setup` installs (Locust, Chromium) and the newest Locust
# (../shared/third_party/newest-locust.sh beside the repository, or LOCUST_NEWEST).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The test skips the newest release when it is not available: that is caught below.
set +e
ZKLOAD_UI_SCREENSHOTS=$out go test -count=1 -run '^TestWebUIWorkersAndCounts$' -v ./zkload >"$out/test.log" 2>&1
rc=$?
set -e
grep -E -- '--- (PASS|FAIL|SKIP)' "$out/test.log" || true
# A failing run leaves the documentation as it was.
if [ "$rc" -ne 0 ]; then
  tail -40 "$out/test.log" >&2
  echo "ui-screenshots: the test failed (exit $rc); doc/ left as it was" >&2
  exit 1
fi
shopt -s nullglob
shots=("$out"/locust-ui-*.png)
if [ "${#shots[@]}" -ne 2 ]; then
  echo "ui-screenshots: want 2 screenshots (2.12.1 and the newest), got: ${shots[*]##*/}" >&2
  exit 1
fi
cp "${shots[@]}" doc/
echo "ui-screenshots: wrote doc/${shots[0]##*/} doc/${shots[1]##*/}"
