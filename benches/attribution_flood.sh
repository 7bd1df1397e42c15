#!/usr/bin/env bash
# Attribution under floods, and the monitor's CPU at a paced request rate. Everything runs in
# a namespace topology (captures/netns.sh) where 169.254.169.254 belongs to a mock; nothing
# leaves it. Needs root.
#   benches/attribution_flood.sh syn [CURLS=100]      100,000 raw SYNs in <= 3 s from the 'ctr'
#                                                     namespace while CURLS sequential curls run
#   benches/attribution_flood.sh connect [CURLS=100]  an unprivileged connect() flood (uid 65534,
#                                                     3 s) while CURLS curls run
#   benches/attribution_flood.sh rate RATE [SECONDS=20]  new-connection requests at RATE/s;
#                                                     prints the monitor's CPU
# ATTRIBUTION=kernel|procfs|auto picks the monitor's attribution path.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: $0 syn|connect|rate ...}
bin=${IMDSWATCH:-target/release/imdswatch}
[ -x "$bin" ] || cargo build --release --quiet
p="imw-fl$$-"
tmp=$(mktemp -d)
chmod 755 "$tmp"
touch "$tmp/flood.out" && chmod 666 "$tmp/flood.out"
cleanup() {
    for x in ${flood:-} ${mon:-} ${mock:-}; do kill "$x" 2>/dev/null || true; done
    bash captures/netns.sh down "$p" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
bash captures/netns.sh up "$p" >/dev/null
ip netns exec "${p}imds" sysctl -qw net.ipv4.tcp_syncookies=1 net.core.somaxconn=4096
ip netns exec "${p}imds" python3 captures/mock_imds.py --listen 0.0.0.0:80 --count-file "$tmp/count.json" 2>/dev/null &
mock=$!
for _ in $(seq 100); do ip netns exec "${p}imds" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.05; done
ip netns exec "${p}host" "$bin" live --json --stats-interval 1 --attribution "${ATTRIBUTION:-auto}" \
    >"$tmp/live.ndjson" 2>"$tmp/live.err" &
mon=$!
for _ in $(seq 100); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
monpid=$(pgrep -P "$mon" imdswatch || echo "$mon")
hz=$(getconf CLK_TCK)
ticks() { sed 's/.*) //' "/proc/$monpid/stat" | awk '{print $12 + $13}'; }
t0=$(ticks)
s0=$(date +%s.%N)

curls() {
    local url=http://169.254.169.254/latest/meta-data/instance-id
    for _ in $(seq "$1"); do
        ip netns exec "${p}host" sh -c 'echo $$; exec curl -s -m 5 -o /dev/null '"$url"
    done >"$tmp/pids"
}

case $mode in
syn)
    ip netns exec "${p}ctr" python3 - "$tmp/flood.out" <<'PY' &
import socket, struct, sys, time, random
src, dst = socket.inet_aton("10.213.0.2"), socket.inet_aton("169.254.169.254")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def csum(b):
    if len(b) % 2: b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
pkts = []
for i in range(4096):  # precomputed: the flood itself is sendto() only
    sport = 1024 + i * 15 % 64000
    tcp = struct.pack("!HHIIBBHHH", sport, 80, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(src + dst + struct.pack("!BBH", 0, 6, 20) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xffff, 0, 64, 6, 0, src, dst)
    pkts.append(ip + tcp)
n, start = 0, time.time()
while n < 100_000 and time.time() - start < 3.0:
    try:
        s.sendto(pkts[n % 4096], ("169.254.169.254", 0)); n += 1
    except OSError:
        time.sleep(0.0005)
open(sys.argv[1], "w").write(f"{n} SYNs in {time.time() - start:.2f} s\n")
PY
    flood=$!
    sleep 0.2
    curls "${2:-100}"
    wait "$flood" || true; flood=
    ;;
connect)
    ip netns exec "${p}ctr" setpriv --reuid=65534 --regid=65534 --clear-groups "${UNPRIV_PYTHON:-/usr/bin/python3}" - "$tmp/flood.out" <<'PY' &
import socket, sys, time, errno
n, start, open_ = 0, time.time(), []
while time.time() - start < 3.0:
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect(("169.254.169.254", 80))
    except BlockingIOError:
        pass
    except OSError:
        time.sleep(0.001)
    n += 1
    open_.append(s)
    if len(open_) > 500:
        for x in open_[:250]: x.close()
        del open_[:250]
open(sys.argv[1], "w").write(f"{n} connect() calls in {time.time() - start:.2f} s\n")
PY
    flood=$!
    sleep 0.2
    curls "${2:-100}"
    wait "$flood" || true; flood=
    ;;
rate)
    rate=${2:?RATE}; secs=${3:-20}
    ip netns exec "${p}host" python3 - "$rate" "$secs" "$tmp/flood.out" <<'PY'
import socket, sys, time
rate, secs = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"
n, start, errs = 0, time.time(), 0
while time.time() - start < secs:
    due = start + n / rate
    d = due - time.time()
    if d > 0: time.sleep(d)
    try:
        s = socket.create_connection(("169.254.169.254", 80), timeout=2)
        s.sendall(req)
        while s.recv(4096): pass
        s.close()
    except OSError:
        errs += 1
    n += 1
open(sys.argv[3], "w").write(f"{n} requests in {time.time() - start:.2f} s ({errs} errors)\n")
PY
    ;;
*) echo "usage: $0 syn|connect|rate ..." >&2; exit 2 ;;
esac
t1=$(ticks)
s1=$(date +%s.%N)
rss=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$monpid/status")
sleep 1.5
kill -TERM "$mon"; wait "$mon" || true; mon=
cat "$tmp/flood.out" 2>/dev/null || true
grep "attribution:" "$tmp/live.err" | head -1 || true
python3 - "$tmp/live.ndjson" "$tmp/pids" "$t0" "$t1" "$s0" "$s1" "$hz" "$rss" "$mode" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t0, t1, s0, s1, hz, rss, mode = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]), sys.argv[8], sys.argv[9]
reqs = [r for r in recs if r.get("type") == "request"]
stats = [r for r in recs if r.get("type") == "stats"][-1:] or [{}]
st = stats[0]
cpu = 100.0 * (t1 - t0) / hz / max(s1 - s0, 1e-9)
line = f"monitor CPU {cpu:.1f}% of a core over {s1 - s0:.1f} s, peak RSS {int(rss) // 1024} MiB; requests seen {len(reqs)}"
if mode != "rate":
    pids = [int(l) for l in open(sys.argv[2]) if l.strip()]
    got = {r["process"]["pid"] for r in reqs if r.get("process")}
    right = sum(1 for p in pids if p in got)
    line += f"; curls {len(pids)}, named with the right pid {right} ({100.0 * right / max(len(pids), 1):.1f}%)"
misses = collections.Counter(r.get("attribution") for r in reqs if not r.get("process"))
line += f"; misses {dict(misses)}; stats: path {st.get('attribution_path')}, perf_lost {st.get('perf_lost')}, " \
        f"attribution_overload {st.get('attribution_overload')}, kernel_drops {st.get('kernel_drops')}, queue_losses {st.get('queue_losses')}"
print(line)
PY
