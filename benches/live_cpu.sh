#!/usr/bin/env bash
# live_cpu.sh: what `imdswatch live` costs in CPU per request and when idle, in namespaces only.
#
#   benches/live_cpu.sh [RATE=22] [SECONDS=40]   one keep-alive client (one process, one pid,
#                                                one connection) at RATE IMDSv1 requests/s;
#                                                then a new process per request (curl) at the
#                                                same rate; then idle for SECONDS
#   benches/live_cpu.sh idle [SECONDS=40]        idle only, with and without exec churn
#
# Each phase runs its own monitor (`live --json --attribution $ATTRIBUTION`, default kernel)
# in ${P}host of a fresh captures/netns.sh topology against captures/mock_imds.py, and reads
# the monitor's CPU from /proc/PID/task/*/schedstat (nanoseconds, every thread) over the
# phase, after a 2 s settle. Phases:
#   idle          no traffic, no churn
#   churn         no traffic; `/bin/true` exec'd CHURN times a second (default 100) in the
#                 root namespace (the sched tracepoints see every exec on the host)
#   seen          the keep-alive client: (CPU - idle CPU) / requests = CPU per request for a
#                 process already seen
#   new           one curl per request (`Connection: close`): per request for a new process
# Prints one line per phase: requests seen by the monitor, CPU seconds, % of a core, and
# microseconds of CPU per request above the idle phase. BIN=PATH picks the binary (default
# target/release/imdswatch); THREADS=1 prints each thread's CPU and wakeups per phase; BEFORE=PATH runs every phase with that binary too, interleaved
# (phase by phase, the same minute), so the two can be compared from one run. PHASES="idle seen"
# runs only those (idle first: the per-request figures subtract it).
# Needs root. Nothing is sent from the root namespace: the clients run under `ip netns exec`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=captures/netns.sh
source captures/netns.sh

mode=load
if [[ ${1:-} == idle ]]; then
    mode=idle
    secs=${2:-40}
    rate=0
else
    rate=${1:-22}
    secs=${2:-40}
fi
[[ $(id -u) == 0 ]] || { echo "live_cpu.sh: needs root (network namespaces)" >&2; exit 1; }
churn=${CHURN:-100}
attribution=${ATTRIBUTION:-kernel}
bin=$(realpath "${BIN:-target/release/imdswatch}")
bins=("$bin")
[[ -n ${BEFORE:-} ]] && bins+=("$(realpath "$BEFORE")")

p="imw-cpu$$-"
tmp=$(mktemp -d /tmp/imw-cpu.XXXXXX)
chmod 755 "$tmp"
mon='' mock='' client='' churner=''
cleanup() {
    local x
    for x in $client $churner $mon $mock; do kill -TERM "$x" 2>/dev/null || true; done
    wait 2>/dev/null || true
    imw_down "$p" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

imw_up "$p" >/dev/null
ip netns exec "${p}imds" python3 captures/mock_imds.py --listen 0.0.0.0:80 --count-file "$tmp/count.json" 2>/dev/null &
mock=$!
imw_wait_listen "${p}imds" 80

# cpu_ns PID: run time of every thread of PID, nanoseconds.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# threads PID: "name ns wakeups" per thread (THREADS=1 prints the per-phase difference).
threads() { local t; for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm") $(awk '{print $1, $3}' "$t/schedstat")"; done; }

# The keep-alive client: one process, one connection, RATE requests/s for SECONDS.
cat >"$tmp/client.py" <<'PY'
import http.client, sys, time
rate, secs = float(sys.argv[1]), float(sys.argv[2])
c = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
n, start = 0, time.monotonic()
while time.monotonic() - start < secs:
    c.request("GET", "/latest/meta-data/instance-id")
    c.getresponse().read()
    n += 1
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
print(n)
PY
# A new process per request: one curl (one fork and exec) at a time, paced like the client.
cat >"$tmp/curls.py" <<'PY'
import subprocess, sys, time
rate, secs = float(sys.argv[1]), float(sys.argv[2])
url = "http://169.254.169.254/latest/meta-data/instance-id"
n, start = 0, time.monotonic()
while time.monotonic() - start < secs:
    subprocess.run(["curl", "-s", "-m", "5", "-o", "/dev/null", url], check=False)
    n += 1
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
print(n)
PY

# phase NAME BIN: one monitor for one phase; prints "requests cpu_ns".
phase() {
    local name=$1 b=$2 n0 n1 t0 t1 reqs
    ip netns exec "${p}host" "$b" live --json --stats-interval 0 --attribution "$attribution" \
        >"$tmp/$name.ndjson" 2>"$tmp/$name.err" &
    mon=$!
    for _ in $(seq 200); do grep -q capturing "$tmp/$name.err" 2>/dev/null && break; sleep 0.05; done
    grep -q capturing "$tmp/$name.err" || { echo "monitor did not start:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
    sleep 2
    case $name in
    churn) (while :; do for _ in $(seq "$churn"); do /bin/true; done; sleep 1; done) & churner=$! ;;
    esac
    n0=$(cpu_ns "$mon")
    threads "$mon" >"$tmp/$name.t0"
    t0=$(date +%s%N)
    case $name in
    idle | churn) sleep "$secs" ;;
    seen) ip netns exec "${p}host" python3 "$tmp/client.py" "$rate" "$secs" >"$tmp/$name.count" ;;
    new) ip netns exec "${p}host" python3 "$tmp/curls.py" "$rate" "$secs" >"$tmp/$name.count" ;;
    esac
    sleep 0.5
    n1=$(cpu_ns "$mon")
    t1=$(date +%s%N)
    if [[ ${THREADS:-0} == 1 ]]; then
        threads "$mon" | paste -d' ' "$tmp/$name.t0" - |
            awk -v ph="$name" '{printf "  %s %-16s %8.1f ms %7d wakeups\n", ph, $1, ($5 - $2) / 1e6, $6 - $3}' >&2
    fi
    if [[ -n $churner ]]; then kill "$churner" 2>/dev/null; wait "$churner" 2>/dev/null || true; churner=''; fi
    kill -TERM "$mon"
    wait "$mon" || true
    mon=''
    reqs=$(grep -c '"type":"request"' "$tmp/$name.ndjson" || true)
    local named
    named=$(grep '"type":"request"' "$tmp/$name.ndjson" | grep -c '"process":{' || true)
    echo "$reqs $((n1 - n0)) $((t1 - t0)) $named"
}

phases=(idle churn)
[[ $mode == load ]] && phases=(idle seen new churn)
if [[ -n ${PHASES:-} ]]; then read -ra phases <<<"$PHASES"; fi
printf '%-9s %-6s %9s %7s %9s %10s %12s\n' binary phase requests named cpu_s "%core" "us/request"
for ph in "${phases[@]}"; do
    for b in "${bins[@]}"; do
        tag=after
        [[ $b != "$bin" ]] && tag=before
        read -r reqs ns wall named < <(phase "$ph" "$b")
        [[ $ph == idle ]] && declare "idle_$tag=$ns" "idlewall_$tag=$wall"
        iv=idle_$tag iw=idlewall_$tag
        awk -v t="$tag" -v ph="$ph" -v r="$reqs" -v n="$ns" -v w="$wall" -v nm="$named" \
            -v i="${!iv:-0}" -v iw="${!iw:-1}" 'BEGIN {
            per = "-"
            if (r > 0) per = sprintf("%.0f", (n - i * w / iw) / r / 1000)
            printf "%-9s %-6s %9d %7d %9.3f %10.2f %12s\n", t, ph, r, nm, n / 1e9, 100 * n / w, per }'
    done
done
