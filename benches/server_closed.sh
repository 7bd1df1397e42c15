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
# shellcheck source=benches/support/topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/topology.sh"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
bench_up sc
bench_monitor --stats-interval 5
imw_exec "${P}host" wrk -t1 -c4 -d"${SECONDS_RUN}s" -H "Connection: close" \
    http://169.254.169.254/latest/meta-data/instance-id | tail -4
sleep 3
bench_stop
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
