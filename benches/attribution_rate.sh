#!/usr/bin/env bash
# Attribution rate for short-lived clients: N sequential `curl` runs against the mock IMDS in
# a namespace topology, with `imdswatch live --json` watching. Prints how many requests were
# attributed to the right pid, and the miss reasons. Needs root (network namespaces).
#   benches/attribution_rate.sh [N=200] [container]   ('container' runs curl one hop away)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
where=${2:-host}
[ "$where" = container ] && where=ctr # the namespace one routed hop away (captures/netns.sh)
bin=${IMDSWATCH:-target/release/imdswatch}
[ -x "$bin" ] || cargo build --release --quiet
p="imw-rate$$-"
tmp=$(mktemp -d)
cleanup() {
    [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null || true
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null || true
    bash captures/netns.sh down "$p" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
bash captures/netns.sh up "$p"
ip netns exec "${p}imds" python3 captures/mock_imds.py --listen 0.0.0.0:80 --count-file "$tmp/count.json" &
mock=$!
for _ in $(seq 100); do ip netns exec "${p}imds" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.05; done
IMDSWATCH_DEBUG_ATTRIBUTION=1 ip netns exec "${p}host" "$bin" live --json --stats-interval 0 >"$tmp/live.ndjson" 2>"$tmp/live.err" &
mon=$!
for _ in $(seq 100); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.05; done
for _ in $(seq "$n"); do
    ip netns exec "${p}${where}" sh -c 'echo $$; exec curl -s -o /dev/null http://169.254.169.254/latest/meta-data/instance-id'
done >"$tmp/pids"
sleep 1
kill -TERM "$mon"; wait "$mon" || true; mon=
grep attribution: "$tmp/live.err" || true; grep "lookup " "$tmp/live.err" | head -${SHOW:-0}
python3 - "$tmp/pids" "$tmp/live.ndjson" <<'PY'
import json, sys, collections
pids = [int(l) for l in open(sys.argv[1]) if l.strip()]
recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
recs = [r for r in recs if r.get("type") == "request"]
got = {r["process"]["pid"] for r in recs if r.get("process")}
right = sum(1 for p in pids if p in got)
misses = collections.Counter(r.get("attribution") for r in recs if not r.get("process"))
print(f"curl runs: {len(pids)}  requests seen: {len(recs)}  attributed to the right pid: {right} "
      f"({100.0 * right / max(len(pids), 1):.1f}%)  misses: {dict(misses)}")
PY
