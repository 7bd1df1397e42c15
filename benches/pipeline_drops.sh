#!/usr/bin/env bash
# Kernel drops under a burst: RUNS times, one client writes N pipelined IMDSv1 requests at
# once on one connection (the kernel sends them as a few GSO segments; the mock answers each
# one: ~N small frames back) while `imdswatch live --json` watches. Prints, per run, the
# requests reported against the mock's own count, the kernel drops the closing stats record
# counts, and the host verdict. Needs root (network namespaces); nothing leaves them.
#   benches/pipeline_drops.sh [N=1500] [RUNS=5]
#   ATTRIBUTION=procfs|kernel (default procfs: immediate mode, libpcap's TPACKET_V2 ring);
#   HOG=1 runs a busy loop on every core at nice 0 meanwhile; IMDSWATCH=path picks a binary.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1500}
runs=${2:-5}
bin=${IMDSWATCH:-target/release/imdswatch}
[ -x "$bin" ] || cargo build --release --quiet
p="imw-pipe$$-"
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
hogs=
if [ -n "${HOG:-}" ]; then
    for _ in $(seq "$(nproc)"); do nice -n 0 sh -c 'while :; do :; done' & hogs="$hogs $!"; done
fi
for r in $(seq "$runs"); do
    ip netns exec "${p}host" "$bin" live --json --stats-interval 60 \
        --attribution "${ATTRIBUTION:-procfs}" >"$tmp/live.ndjson" 2>"$tmp/live.err" &
    mon=$!
    for _ in $(seq 100); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.05; done
    answered=$(ip netns exec "${p}host" python3 captures/pipeliner.py "$n")
    sleep 0.3
    kill -TERM "$mon"; wait "$mon" || true; mon=
    python3 - "$tmp/live.ndjson" "$r" "$answered" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v1 = sum(1 for r in recs if r.get("type") == "request" and r["imds"]["version"] == "v1")
stats = [r for r in recs if r.get("type") == "stats"]
last = stats[-1] if stats else {}
verdict = last.get("verdict") or {}
print(f"run {sys.argv[2]}: answered {sys.argv[3]}, v1 reported {v1}, kernel_drops {last.get('kernel_drops')}, "
      f"tcp_request_gaps {last.get('anomalies', {}).get('tcp_request_gaps', 0)}, "
      f"safe_to_enforce {verdict.get('safe_to_enforce')}, incomplete {verdict.get('incomplete', False)}")
PY
done
