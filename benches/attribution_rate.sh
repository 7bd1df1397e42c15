#!/usr/bin/env bash
# Attribution rate for short-lived clients: N sequential `curl` runs against the mock IMDS in
# a namespace topology, with `imdswatch live --json` watching. Prints how many requests were
# attributed to the right pid, and the miss reasons. Needs root (network namespaces).
#   benches/attribution_rate.sh [N=200] [container|pidns]
#     'container' runs curl one hop away (another network namespace); 'pidns' runs it there
#     inside its own pid namespace too (its pid as seen from the monitor is compared).
#   ATTRIBUTION=kernel|procfs|auto (default auto) picks the monitor's attribution path;
#   HOG=1 runs a busy loop on every core at nice 0 meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
where=${2:-host}
pidns=
[ "$where" = container ] && where=ctr # the namespace one routed hop away (captures/netns.sh)
[ "$where" = pidns ] && where=ctr && pidns=1
bin=${IMDSWATCH:-target/release/imdswatch}
[ -x "$bin" ] || cargo build --release --quiet
p="imw-rate$$-"
tmp=$(mktemp -d)
cleanup() {
    [ -n "${mon:-}" ] && kill "$mon" 2>/dev/null || true
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null || true
    for h in ${hogs:-}; do kill "$h" 2>/dev/null || true; done
    bash captures/netns.sh down "$p" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
bash captures/netns.sh up "$p"
ip netns exec "${p}imds" python3 captures/mock_imds.py --listen 0.0.0.0:80 --count-file "$tmp/count.json" &
mock=$!
for _ in $(seq 100); do ip netns exec "${p}imds" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.05; done
IMDSWATCH_DEBUG_ATTRIBUTION=1 ip netns exec "${p}host" "$bin" live --json --stats-interval 1 \
    --attribution "${ATTRIBUTION:-auto}" >"$tmp/live.ndjson" 2>"$tmp/live.err" &
mon=$!
for _ in $(seq 100); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.05; done
hogs=
if [ -n "${HOG:-}" ]; then
    for _ in $(seq "$(nproc)"); do nice -n 0 sh -c 'while :; do :; done' & hogs="$hogs $!"; done
fi
url=http://169.254.169.254/latest/meta-data/instance-id
for _ in $(seq "$n"); do
    if [ -n "$pidns" ]; then
        # /proc here is the monitor's: /proc/self/stat gives the pid the monitor sees.
        ip netns exec "${p}${where}" unshare --pid --fork sh -c 'read -r me _ </proc/self/stat; echo "$me"; exec curl -s -o /dev/null '"$url"
    else
        ip netns exec "${p}${where}" sh -c 'echo $$; exec curl -s -o /dev/null '"$url"
    fi
done >"$tmp/pids"
for h in $hogs; do kill "$h" 2>/dev/null || true; done; hogs=
sleep 1
kill -TERM "$mon"; wait "$mon" || true; mon=
grep attribution: "$tmp/live.err" | cut -c1-200 || true; grep "lookup " "$tmp/live.err" | head -"${SHOW:-0}" || true
python3 - "$tmp/pids" "$tmp/live.ndjson" <<'PY'
import json, sys, collections
pids = [int(l) for l in open(sys.argv[1]) if l.strip()]
recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
recs = [r for r in recs if r.get("type") == "request"]
got = {r["process"]["pid"]: r["process"]["file"] for r in recs if r.get("process")}
right = sum(1 for p in pids if p in got)
exe = sum(1 for p in pids if p in got and (got[p].get("path") or "").endswith("/curl"))
misses = collections.Counter(r.get("attribution") for r in recs if not r.get("process"))
sources = collections.Counter(r.get("attribution_source") for r in recs)
print(f"curl runs: {len(pids)}  requests seen: {len(recs)}  attributed to the right pid: {right} "
      f"({100.0 * right / max(len(pids), 1):.1f}%)  right pid and exe: {exe}  misses: {dict(misses)}  "
      f"sources: {dict(sources)}")
odd = [r for r in recs if r.get("process") and r["process"]["pid"] in pids
       and not (r["process"]["file"].get("path") or "").endswith("/curl")]
for r in odd[:5]:
    print("  right pid, other exe:", r["process"]["file"], r.get("attribution_source"), r.get("attribution_missing"))
stats = [r for r in map(json.loads, open(sys.argv[2])) if r.get("type") == "stats"]
if stats:
    print("  last stats:", {k: stats[-1].get(k) for k in ("perf_lost", "shadow_hits", "shadow_evicted")})
PY
