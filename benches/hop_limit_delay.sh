#!/usr/bin/env bash
# hop_limit_delay.sh: how long after a container's token PUT, lost to the hop limit, live
# imdswatch reports it (issue 13), in namespaces only.
#
#   benches/hop_limit_delay.sh [RUNS=5]
#
# Builds the captures/netns.sh topology under a fresh imw- prefix, runs the mock IMDS (token
# answers at hop limit 1) in ${P}imds and `imdswatch live --json` in ${P}host, then RUNS
# times botocore (captures/.venv, 1 s timeout) in ${P}ctr, one routed hop away: its token
# answer dies at the host router, botocore gives up after 1 s, closes, and falls back to
# IMDSv1. For each run it prints when the `no_response` token record appeared in the output
# file, counted from the request's own timestamp (the client gives up at ~1.0 s), and the
# min/median/max. Needs root and scripts/setup.sh's venv. Run by hand, never by CI. Nothing
# is sent from the root namespace.
set -euo pipefail
RUNS=${1:-5}
# shellcheck source=benches/support/topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/topology.sh"
PY=$HERE/.venv/bin/python
[[ -x $PY ]] || { echo "botocore venv missing: run scripts/setup.sh" >&2; exit 1; }
bench_up hl --hop-limit 1
bench_monitor --stats-interval 0
for ((i = 1; i <= RUNS; i++)); do
    before=$(wc -l <"$W/live.ndjson")
    imw_exec "${P}ctr" "$PY" "$HERE/clients/botocore_imds.py" >/dev/null &
    CLIENT=$!
    # Watch the output for this run's unanswered token request; note when it shows up.
    python3 - "$W/live.ndjson" "$before" <<'PY'
import datetime, json, sys, time
path, skip = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 30
while time.time() < deadline:
    with open(path) as f:
        lines = f.read().splitlines()[skip:]
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line still being written
        i = r.get("imds") or {}
        if i.get("version") == "token_request" and i.get("outcome") == "no_response":
            sent = datetime.datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp()
            print(f"{time.time() - sent:.3f}")
            sys.exit(0)
    time.sleep(0.005)
print("none")
PY
    wait "$CLIENT" || true
    sleep 1
done | tee "$W/delays"
python3 - "$W/delays" <<'PY'
import statistics, sys
d = sorted(float(x) for x in open(sys.argv[1]) if x.strip() and x.strip() != "none")
if d:
    print(f"no_response record after the token request: min {d[0]:.3f} s, median {statistics.median(d):.3f} s, "
          f"max {d[-1]:.3f} s over {len(d)} runs (the client gives up at 1.0 s)")
PY
