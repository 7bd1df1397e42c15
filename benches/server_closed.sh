#!/usr/bin/env bash
# server_closed.sh: the keep-alive race, reproduced in namespaces only (issue 13).
#
#   benches/server_closed.sh [SECONDS=10]
#
# Builds the captures/netns.sh topology under a fresh imw- prefix, runs the mock IMDS in
# ${P}imds, `imdswatch live --json` and then `wrk -H "Connection: close"` (unpaced, 4
# connections: wrk ignores the server's close and sends the next request on the dying
# connection) in ${P}host. Prints the mock's own count and imdswatch's outcomes: every request
# the mock served must be `ok`, the ones it never processed `server_closed`, none
# `no_response`. Needs root; installs wrk with apt when missing. Run by hand, never by CI.
# Nothing is sent from the root namespace.
set -euo pipefail
SECONDS_RUN=${1:-10}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/captures
# shellcheck source=captures/netns.sh
source "$HERE/netns.sh"
BIN=${IMDSWATCH:-$ROOT/target/debug/imdswatch}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
P="imw-sc$$-"
W=$(mktemp -d /tmp/imw-server-closed.XXXXXX)
MON="" MOCK=""
cleanup() {
    set +e
    [[ -n $MON ]] && kill -TERM "$MON" 2>/dev/null
    [[ -n $MOCK ]] && kill -TERM "$MOCK" 2>/dev/null
    wait 2>/dev/null
    imw_down "$P"
    rm -rf "$W"
}
trap cleanup EXIT
imw_up "$P"
ip netns exec "${P}imds" python3 "$HERE/mock_imds.py" --listen 0.0.0.0:80 --count-file "$W/count.json" &
MOCK=$!
imw_wait_listen "${P}imds" 80
imw_exec "${P}host" "$BIN" live --json --stats-interval 5 >"$W/live.ndjson" 2>"$W/live.err" &
MON=$!
sleep 2
imw_exec "${P}host" wrk -t1 -c4 -d"${SECONDS_RUN}s" -H "Connection: close" \
    http://169.254.169.254/latest/meta-data/instance-id | tail -4
sleep 3
kill -TERM "$MON"
wait "$MON" || true
MON=""
kill -TERM "$MOCK"
wait "$MOCK" || true
MOCK=""
echo "mock (server) count: $(cat "$W/count.json")"
python3 - "$W/live.ndjson" <<'PY'
import collections, json, sys
c, last = collections.Counter(), {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "request":
        c[r["imds"]["outcome"]] += 1
    elif r["type"] == "stats":
        last = r
print("imdswatch outcomes:", dict(c), "total", sum(c.values()))
print("last stats requests:", last.get("requests"))
PY
