#!/usr/bin/env bash
# live_load.sh: `imdswatch live --json` under a paced IMDS request load, in namespaces only.
#
#   benches/live_load.sh [RATE=5000] [SECONDS=60]   load run
#   benches/live_load.sh idle [SECONDS=30]          imdswatch with no traffic: CPU and RSS
#
# Load run: builds the captures/netns.sh topology under a fresh imw- prefix; nginx (Debian
# nginx-light, generated config, one worker) serves 169.254.169.254:80 inside ${P}imds and logs
# every request, so its access log is the server's own count; imdswatch runs in ${P}host with
# `live --json --stats-interval 5`; wrk (Debian) runs in ${P}host for SECONDS, paced by
# benches/load/paced.lua at RATE requests/s: 80% IMDSv1 GETs, 15% v2 GETs, 5% token PUTs,
# over keep-alive connections, with 10% of the requests sent with "Connection: close" so the
# next one goes out on a new connection (a new attribution lookup under load).
# Then it stops imdswatch with SIGTERM and prints the server's count, imdswatch's count, the
# losses and the stats counters, the attribution rate, and imdswatch's CPU and peak RSS.
#
# Environment: IMDSWATCH (binary, default target/release/imdswatch, built when missing),
#   WRK_THREADS (default 1; 2 above 10,000 req/s), CONNS (wrk connections, default
#   max(16, RATE/100)), CLOSE_PCT (default 10), PERF=1 (perf record imdswatch during the
#   load, prints the top symbols; the release binary is stripped: use
#   IMDSWATCH=target/profiling/imdswatch after `cargo build --profile profiling`), KEEP=1 (keep the work directory and say where).
# Needs root (network namespaces). Installs nginx-light and wrk with apt when missing.
# Run by hand, never by CI. Nothing here sends a packet from the root namespace: every client
# and server runs under `ip netns exec` in this run's own imw- namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=captures/netns.sh
source captures/netns.sh

mode=load
if [[ ${1:-} == idle ]]; then
    mode=idle
    secs=${2:-30}
else
    rate=${1:-5000}
    secs=${2:-60}
    [[ $rate =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [RATE] [SECONDS] | $0 idle [SECONDS]" >&2; exit 2; }
fi
if ! [[ $secs =~ ^[1-9][0-9]*$ ]] || ((secs > 3600)); then echo "SECONDS: 1..3600" >&2; exit 2; fi
[[ $(id -u) == 0 ]] || { echo "live_load.sh: needs root (network namespaces)" >&2; exit 1; }

bin=${IMDSWATCH:-target/release/imdswatch}
[[ -x $bin ]] || cargo build --release --quiet
bin=$(realpath "$bin")

need=()
if [[ $mode == load ]]; then
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v wrk >/dev/null || need+=(wrk)
fi
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    echo "live_load.sh: installing ${need[*]}" >&2
    # Debian's nginx package would start a server in the root namespace unless the container
    # forbids service starts; make sure nothing is started while installing.
    own_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
    [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
fi

p="imw-load$$-"
tmp=$(mktemp -d /tmp/imw-load.XXXXXX)
mon='' srv='' gen='' perfpid='' sampler=''
cleanup() {
    local pid
    for pid in "$sampler" "$gen" "$perfpid" "$mon" "$srv"; do
        if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    imw_down "$p" >/dev/null 2>&1 || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hz=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of the whole process (all threads), in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# status_kib PID FIELD: a VmXXX value from /proc/PID/status, in KiB.
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
# thread_cpu PID: "name=seconds" for each thread of PID.
thread_cpu() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s=%.2f ' "$(cat "$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk -v hz="$hz" '{print ($12 + $13) / hz}')"
    done
}
# machine_busy: "busy total" jiffies of the whole machine from /proc/stat.
machine_busy() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

imw_up "$p"

if [[ $mode == load ]]; then
    threads=${WRK_THREADS:-$((rate > 10000 ? 2 : 1))}
    conns=${CONNS:-$((rate / 100 > 16 ? rate / 100 : 16))}
    ((conns >= threads)) || conns=$threads
    close_pct=${CLOSE_PCT:-10}
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx.conf" <<EOF
user root root;
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 8192; }
http {
    client_body_temp_path $tmp/nginx;
    proxy_temp_path $tmp/nginx;
    fastcgi_temp_path $tmp/nginx;
    uwsgi_temp_path $tmp/nginx;
    scgi_temp_path $tmp/nginx;
    log_format imds '\$request_method \$uri \$status tok=\$http_x_aws_ec2_metadata_token \$remote_port';
    access_log $tmp/access.log imds buffer=256k flush=1s;
    default_type text/plain;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 0.0.0.0:80 backlog=4096;
        location = /latest/api/token {
            if (\$request_method != PUT) { return 405; }
            add_header X-aws-ec2-metadata-token-ttl-seconds 21600;
            return 200 "AQAEAload-token==";
        }
        location = /latest/meta-data/instance-id { return 200 "i-0fa4e5e0000imdsw"; }
        location / { return 404; }
    }
}
EOF
    ip netns exec "${p}imds" nginx -q -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx.err" &
    srv=$!
    imw_wait_listen "${p}imds" 80 10
fi

ip netns exec "${p}host" "$bin" live --json --stats-interval 5 >"$tmp/live.ndjson" 2>"$tmp/live.err" &
mon=$!
for _ in $(seq 200); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.05; done
grep -q capturing "$tmp/live.err" || { echo "imdswatch did not start:" >&2; cat "$tmp/live.err" >&2; exit 1; }
sleep 1

# RSS and CPU of imdswatch once a second, for the timeline (bounded: SECONDS + 10 samples).
(
    for ((i = 0; i < secs + 10; i++)); do
        printf '%s %s %s\n' "$i" "$(status_kib "$mon" VmRSS)" "$(cpu_ticks "$mon")" || break
        sleep 1
    done
) >"$tmp/samples" 2>/dev/null &
sampler=$!
t0=$(date +%s.%N)
c0=$(cpu_ticks "$mon")
read -r mb0 mt0 < <(machine_busy)

if [[ $mode == load ]]; then
    if [[ ${PERF:-0} == 1 ]]; then
        perf record -q -F 999 -g -p "$mon" -o "$tmp/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
        perfpid=$!
    fi
    # The load: wrk in the host namespace, bounded by -d (and by timeout as a backstop).
    LOAD_THREAD_RATE=$(awk -v r="$rate" -v t="$threads" 'BEGIN {print r / t}') LOAD_CLOSE_PCT=$close_pct \
        timeout -k 5 $((secs + 30)) ip netns exec "${p}host" \
        wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 2s -s benches/load/paced.lua \
        "http://169.254.169.254/latest/meta-data/instance-id" >"$tmp/wrk.out" 2>&1 &
    gen=$!
    wait "$gen" || { echo "wrk failed:" >&2; cat "$tmp/wrk.out" >&2; exit 1; }
    gen=''
    t1=$(date +%s.%N)
    [[ -n $perfpid ]] && { wait "$perfpid" || true; perfpid=''; }
    sleep 2 # let imdswatch drain its queues
else
    sleep "$secs"
    t1=$(date +%s.%N)
fi

c1=$(cpu_ticks "$mon")
read -r mb1 mt1 < <(machine_busy)
t2=$(date +%s.%N)
hwm=$(status_kib "$mon" VmHWM)
rss=$(status_kib "$mon" VmRSS)
threads_cpu=$(thread_cpu "$mon")
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=''
kill -TERM "$mon"
mon_rc=0
wait "$mon" || mon_rc=$?
mon=''
if [[ -n $srv ]]; then
    kill -QUIT "$srv" 2>/dev/null || true # graceful: flushes the access log
    wait "$srv" || true
    srv=''
fi

# CPU % of one core over the measured window (load: start of load to end of the drain).
cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
win=$(awk -v a="$t0" -v b="$t2" 'BEGIN {printf "%.2f", b - a}')
cpu_pct=$(awk -v c="$cpu_s" -v w="$win" 'BEGIN {printf "%.1f", 100 * c / w}')
mach_pct=$(awk -v a="$mb0" -v b="$mb1" -v ta="$mt0" -v tb="$mt1" 'BEGIN {printf "%.0f", 100 * (b - a) / (tb - ta)}')

echo "== imdswatch live_load: $mode, $(nproc) cores, $(date -u +%FT%TZ) =="
echo "imdswatch exit status: $mon_rc"
grep 'stopped after' "$tmp/live.err" || true
if [[ $mode == idle ]]; then
    printf 'idle seconds: %s   CPU: %s s = %s%% of one core   RSS %s KiB, peak (VmHWM) %s KiB\n' \
        "$win" "$cpu_s" "$cpu_pct" "$rss" "$hwm"
    printf 'threads (CPU s): %s\n' "$threads_cpu"
    exit 0
fi

load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
sed -n '/Requests\/sec\|requests in\|Socket errors\|Latency/p' "$tmp/wrk.out"
python3 - "$tmp/access.log" "$tmp/live.ndjson" "$rate" "$secs" "$load_s" "$cpu_s" "$cpu_pct" "$hwm" \
    "$mach_pct" "$conns" "$threads" "$close_pct" <<'PY'
import collections, json, sys
acc, nd, rate, secs, load_s, cpu_s, cpu_pct, hwm, mach, conns, threads, close_pct = sys.argv[1:]
secs = int(secs)

def server_class(method, uri, tok):
    if tok != "tok=-":
        return "v2"
    if method == "PUT" and uri.endswith("/api/token"):
        return "token_request"
    return "v1"

srv = collections.Counter()
srv_status = collections.Counter()
srv_port = collections.Counter()
for line in open(acc):
    f = line.split()
    if len(f) < 4:
        continue
    srv[server_class(f[0], f[1], f[3])] += 1
    srv_status[f[2]] += 1
    if len(f) > 4:
        srv_port[f[4]] += 1
server_total = sum(srv.values())

reqs, stats = [], None
for line in open(nd):
    if not line.strip():
        continue
    r = json.loads(line)
    if r.get("type") == "request":
        reqs.append(r)
    elif r.get("type") == "stats":
        stats = r
got = collections.Counter(r["imds"]["version"] for r in reqs)
attributed = sum(1 for r in reqs if r.get("process"))
misses = collections.Counter(r.get("attribution") for r in reqs if not r.get("process"))
procs = collections.Counter((r["process"] or {}).get("file", {}).get("name") for r in reqs if r.get("process"))
status = collections.Counter(str(r["imds"].get("status")) for r in reqs)
# the same request twice: same client socket, timestamp, method and path
dup = collections.Counter((r["network"]["client"], r["timestamp"], r["imds"]["method"], r["imds"]["path"]) for r in reqs)
dups = [k for k, v in dup.items() if v > 1]
st = stats or {}
print(f"target rate {rate}/s for {secs} s  (wrk: {threads} thread(s), {conns} connections, "
      f"{close_pct}% Connection: close); load lasted {load_s} s")
print(f"server count {server_total}  achieved {server_total / secs:.0f} req/s  "
      f"classes {dict(srv)}  statuses {dict(srv_status)}")
print(f"imdswatch count {len(reqs)}  classes {dict(got)}  statuses {dict(status)}")
print(f"lost (server - imdswatch) {server_total - len(reqs)}  per class "
      f"{ {k: srv[k] - got.get(k, 0) for k in sorted(set(srv) | set(got))} }")
print(f"last stats: packets {st.get('packets')} imds_packets {st.get('imds_packets')} "
      f"kernel_drops {st.get('kernel_drops')} interface_drops {st.get('interface_drops')} "
      f"queue_losses {st.get('queue_losses')} flows_active {st.get('flows_active')} "
      f"flows_evicted {st.get('flows_evicted')} attribution_misses {st.get('attribution_misses')} "
      f"anomalies {st.get('anomalies')}")
print(f"attribution {100.0 * attributed / max(len(reqs), 1):.2f}% ({attributed}/{len(reqs)})  "
      f"processes {dict(procs)}  misses {dict(misses)}")
print(f"imdswatch CPU {cpu_s} s = {cpu_pct}% of one core; peak RSS (VmHWM) {int(hwm) / 1024:.1f} MiB; "
      f"whole machine busy {mach}% of {2} cores")
# Per client port (all connections that used it): more requests seen than served = double count.
got_port = collections.Counter(r["network"]["client"].rsplit(":", 1)[1] for r in reqs)
more = {p: (got_port[p], srv_port[p]) for p in got_port if got_port[p] > srv_port[p]}
print(f"client ports where imdswatch saw more requests than nginx served: {len(more)}"
      + (f", e.g. {list(more.items())[:3]} (imdswatch, nginx)" if more else " (no double counting)"))
if dups:
    print(f"request records sharing client socket, timestamp, method and path: {len(dups)} keys, "
          f"{sum(dup[k] - 1 for k in dups)} extra records, outcomes "
          f"{dict(collections.Counter(r['imds']['outcome'] for r in reqs if dup[(r['network']['client'], r['timestamp'], r['imds']['method'], r['imds']['path'])] > 1))}; first:")
    for r in [r for r in reqs if (r["network"]["client"], r["timestamp"], r["imds"]["method"], r["imds"]["path"]) == dups[0]]:
        print("  " + json.dumps({k: r[k] for k in ("timestamp", "imds", "network")}, separators=(",", ":")))
over = {k: got[k] - srv.get(k, 0) for k in got if got[k] > srv.get(k, 0)}
if over:
    print(f"imdswatch counted MORE than the server in {over}")
print("TSV\t" + "\t".join(str(x) for x in [
    rate, f"{server_total / secs:.0f}", server_total, len(reqs), server_total - len(reqs),
    st.get("kernel_drops"), st.get("interface_drops"), st.get("queue_losses"),
    f"{100.0 * attributed / max(len(reqs), 1):.2f}", cpu_pct, f"{int(hwm) / 1024:.1f}"]))
PY
printf 'imdswatch threads (CPU s): %s\n' "$threads_cpu"
# every 10 s: RSS MiB and CPU % of a core over the last 10 s
awk -v hz="$hz" 'NR > 1 && $1 % 10 == 0 {printf "t=%ss rss=%.0fMiB cpu=%.0f%%  ", $1, $2 / 1024, 100 * ($3 - c) / hz / 10; c = $3}
    NR == 1 {c = $3} END {print ""}' "$tmp/samples"
if [[ -f $tmp/perf.data ]]; then
    echo "perf: top symbols of imdswatch during the load"
    perf report -i "$tmp/perf.data" --stdio --no-children --sort comm,symbol 2>/dev/null |
        grep -v '^#' | grep -E '^ +[0-9]' | head -25 || true
fi
