#!/usr/bin/env bash
# make-captures.sh: regenerate every bundled capture in captures/ (same requests each
# time; timestamps, ports and tokens differ). Root only. All IMDS traffic happens inside
# network namespaces made by netns.sh, where 169.254.169.254 / fd00:ec2::254 belong to
# the mock (mock_imds.py); nothing is sent from the root namespace.
#
#   sudo bash captures/make-captures.sh            # write the captures, check .expected
#   sudo bash captures/make-captures.sh --write-expected   # also rewrite the .expected files
#   OUT=/tmp/x bash captures/make-captures.sh      # write elsewhere
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/netns.sh
source "$HERE/netns.sh"

BOTOCORE_VERSION=1.44.5
BOTO2_VERSION=2.49.0
OUT=${OUT:-$HERE}
VENV=${VENV:-$HERE/.venv}
# boto 2 (IMDSv1 only) in its own venv: it and botocore must not share one.
VENV_BOTO2=${VENV_BOTO2:-$HERE/.venv-boto2}
# ONLY="verdicts": make just those captures (default: all).
ONLY=${ONLY:-}
WRITE_EXPECTED=0
[[ ${1:-} == --write-expected ]] && WRITE_EXPECTED=1

P="imw-cap$$-"
H="${P}host"
C="${P}ctr"
M="${P}imds"
WORK=""
MOCK_PID=""
CAP_PIDS=()

log() { echo "make-captures: $*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# --- dependencies --------------------------------------------------------------------
ensure_deps() {
    local missing=() cmd pkg
    for cmd in tcpdump:tcpdump tshark:tshark editcap:wireshark-common curl:curl ip:iproute2 ss:iproute2 \
        python3:python3; do
        command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
    done
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3-venv)
    fi
    if ((${#missing[@]})); then
        log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || die "apt-get update failed"
        for pkg in "${missing[@]}"; do
            apt-get install -y -qq "$pkg" >/dev/null || die "apt-get install $pkg failed"
        done
    fi
    if ! "$VENV/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$BOTOCORE_VERSION')" \
        2>/dev/null; then
        log "creating $VENV with botocore==$BOTOCORE_VERSION"
        python3 -m venv "$VENV" || die "python3 -m venv failed"
        "$VENV/bin/pip" install -q "botocore==$BOTOCORE_VERSION" || die "pip install botocore failed"
    fi
    local reqs="$HERE/clients/requirements-services.txt"
    if ! "$VENV/bin/python" "$HERE/clients/have_requirements.py" "$reqs"; then
        log "installing the services' SDK clients into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs" || die "pip install failed"
    fi
    if ! "$VENV_BOTO2/bin/python" -c "import boto, sys; sys.exit(boto.__version__ != '$BOTO2_VERSION')" \
        2>/dev/null; then
        log "creating $VENV_BOTO2 with boto==$BOTO2_VERSION"
        python3 -m venv "$VENV_BOTO2" || die "python3 -m venv failed"
        "$VENV_BOTO2/bin/pip" install -q "boto==$BOTO2_VERSION" || die "pip install boto failed"
    fi
}

# --- processes -----------------------------------------------------------------------
# start_mock NS ARGS...: run the mock inside NS; waits until it listens.
start_mock() {
    local ns=$1 port=80 a
    shift
    for a in "$@"; do [[ $a == *:1338 ]] && port=1338; done
    rm -f "$WORK/count.json"
    imw_check "$P" || die "topology check failed"
    ip netns exec "$ns" python3 "$HERE/mock_imds.py" --count-file "$WORK/count.json" "$@" &
    MOCK_PID=$!
    imw_wait_listen "$ns" "$port" || die "mock did not start"
}

stop_mock() {
    [[ -n $MOCK_PID ]] || return 0
    kill -TERM "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
}

# start_capture NS IFACE FILE [BPF...]
start_capture() {
    local ns=$1 ifc=$2 file=$3 i n=${#CAP_PIDS[@]}
    shift 3
    local linktype=()
    [[ $ifc == any ]] && linktype=(-y LINUX_SLL2)
    rm -f "$file"
    ip netns exec "$ns" tcpdump -i "$ifc" "${linktype[@]}" --immediate-mode -Z root -U -s 0 -n -w "$file" "$@" \
        2>"$WORK/tcpdump.$n.log" &
    CAP_PIDS+=($!)
    for ((i = 0; i < 200; i++)); do
        grep -q "listening on" "$WORK/tcpdump.$n.log" && return 0
        kill -0 "${CAP_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/tcpdump.$n.log" >&2
    die "tcpdump on $ns/$ifc did not start"
}

stop_captures() {
    local pid
    sleep 0.3 # let the last FIN/ACKs reach the wire
    for pid in "${CAP_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${CAP_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    CAP_PIDS=()
}

cleanup() {
    local rc=$?
    set +e
    for pid in "${CAP_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null; done
    for pid in "${CAP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    stop_mock
    imw_down "$P"
    [[ -n $WORK ]] && rm -rf "$WORK"
    exit "$rc"
}

# run NS CMD...: a client inside NS, with a clean environment (no AWS_*, no proxies).
run() {
    local ns=$1
    shift
    imw_exec "$ns" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

IMDS=http://169.254.169.254
IMDS6="http://[fd00:ec2::254]"
TTL_HDR="X-aws-ec2-metadata-token-ttl-seconds"
TOK_HDR="X-aws-ec2-metadata-token"

# --- the captures ----------------------------------------------------------------------
cap_curl_seed_v2() {
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" any "$OUT/curl-seed-v2.pcap" tcp port 80
    local TOKEN
    TOKEN=$(run "$H" curl -s -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 21600")
    run "$H" curl -s -H "$TOK_HDR: $TOKEN" "$IMDS/latest/meta-data/iam/security-credentials/" >/dev/null
    stop_captures
    stop_mock
}

cap_curl_v1() {
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" h-imds "$OUT/curl-v1.pcap" tcp port 80
    run "$H" curl -s "$IMDS/latest/meta-data/instance-id" >/dev/null
    run "$H" curl -s "$IMDS/latest/meta-data/iam/security-credentials/imdswatch-test-role" >/dev/null
    stop_captures
    stop_mock
}

cap_botocore_v2() {
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" h-imds "$WORK/botocore.pcap" tcp port 80
    run "$H" "$VENV/bin/python" "$HERE/clients/botocore_imds.py" >&2
    stop_captures
    stop_mock
    rm -f "$OUT/botocore-v2.pcapng"
    editcap -F pcapng "$WORK/botocore.pcap" "$OUT/botocore-v2.pcapng"
}

cap_container_hop_limit() {
    start_mock "$M" --listen 0.0.0.0:80 --hop-limit 1
    start_capture "$H" any "$OUT/container-hop-limit.pcap" tcp port 80 or icmp
    start_capture "$H" h-ctr "$OUT/container-hop-limit-ctr.pcap" tcp port 80 or icmp
    run "$C" "$VENV/bin/python" "$HERE/clients/botocore_imds.py" >&2
    stop_captures
    stop_mock
}

cap_rejections() {
    start_mock "$M" --listen 0.0.0.0:80 --tokens required
    start_capture "$H" h-imds "$OUT/rejections.pcap" tcp port 80
    local TOKEN
    run "$H" curl -s -o /dev/null "$IMDS/latest/meta-data/instance-id"                  # v1 -> 401
    run "$H" curl -s -o /dev/null -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 21600" \
        -H "X-Forwarded-For: 203.0.113.7"                                                # -> 403
    run "$H" curl -s -o /dev/null -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 0"     # -> 400
    run "$H" curl -s -o /dev/null -X PUT "$IMDS/2021-03-23/api/token" -H "$TTL_HDR: 21600" # -> 403
    run "$H" curl -s -o /dev/null -H "$TOK_HDR: bogus-token-value" \
        "$IMDS/latest/meta-data/instance-id"                                             # v2 -> 401
    TOKEN=$(run "$H" curl -s -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 60")       # -> 200
    run "$H" curl -s -o /dev/null -H "$TOK_HDR: $TOKEN" "$IMDS/latest/meta-data/no-such-path" # v2 -> 404
    stop_captures
    stop_mock
}

cap_ipv6() {
    start_mock "$M" --listen '[::]:80'
    start_capture "$H" h-imds "$OUT/ipv6.pcap" tcp port 80
    local TOKEN
    TOKEN=$(run "$H" curl -s -X PUT "$IMDS6/latest/api/token" -H "$TTL_HDR: 21600")
    run "$H" curl -s -H "$TOK_HDR: $TOKEN" "$IMDS6/latest/meta-data/iam/security-credentials/" >/dev/null
    stop_captures
    stop_mock
}

cap_vlan_qinq() {
    # Live 802.1Q needs CONFIG_VLAN_8021Q, which the kernel this was first made on lacks
    # (and it has no act_vlan either). So: real traffic on the host<->imds veth, then
    # clients/vlan_tag.py inserts the tags: connection 1 (v1 GET) gets 802.1Q VID 100,
    # the later ones (token PUT, v2 GET) 802.1ad S-VID 200 + 802.1Q C-VID 300.
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" h-imds "$WORK/vlan.pcap" tcp port 80
    local TOKEN
    run "$H" curl -s "$IMDS/latest/meta-data/instance-id" >/dev/null
    TOKEN=$(run "$H" curl -s -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 21600")
    run "$H" curl -s -H "$TOK_HDR: $TOKEN" "$IMDS/latest/meta-data/iam/security-credentials/" >/dev/null
    stop_captures
    stop_mock
    python3 "$HERE/clients/vlan_tag.py" "$WORK/vlan.pcap" "$OUT/vlan-qinq.pcap"
}

cap_keepalive_pipelined() {
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" h-imds "$OUT/keepalive-pipelined.pcap" tcp port 80
    local TOKEN
    TOKEN=$(run "$H" curl -s -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 21600")
    # One curl, three URLs: one keep-alive connection, three v2 GETs.
    run "$H" curl -s -o /dev/null -o /dev/null -o /dev/null -H "$TOK_HDR: $TOKEN" \
        "$IMDS/latest/meta-data/instance-id" "$IMDS/latest/meta-data/ami-id" \
        "$IMDS/latest/meta-data/iam/security-credentials/"
    # One curl, --next: a v1 GET then a v2 GET on the same connection.
    run "$H" curl -s -o /dev/null "$IMDS/latest/meta-data/hostname" \
        --next -s -o /dev/null -H "$TOK_HDR: $TOKEN" "$IMDS/latest/meta-data/local-ipv4"
    # Pipelined heads in one segment, and a head split over two segments.
    run "$H" python3 "$HERE/clients/pipelined.py" >&2
    stop_captures
    stop_mock
}

cap_loopback_mock() {
    start_mock "$H" --listen 127.0.0.1:1338
    start_capture "$H" lo "$OUT/loopback-mock.pcap" tcp port 1338
    local L=http://127.0.0.1:1338 TOKEN
    run "$H" curl -s -o /dev/null "$L/latest/meta-data/instance-id"
    TOKEN=$(run "$H" curl -s -X PUT "$L/latest/api/token" -H "$TTL_HDR: 21600")
    run "$H" curl -s -o /dev/null -H "$TOK_HDR: $TOKEN" "$L/latest/meta-data/iam/security-credentials/"
    stop_captures
    stop_mock
}

# Issue 13: one client per verdict, each with its own user agent (offline a client is
# address + user agent). Tokens optional first, then the mock restarted with tokens required.
cap_verdicts() {
    start_mock "$M" --listen 0.0.0.0:80
    start_capture "$H" h-imds "$OUT/verdicts.pcap" tcp port 80
    local TOKEN
    # probe_only: other clouds' cloud-detection probes (the mock answers 404).
    run "$H" curl -s -o /dev/null -A cloud-probe/1 -H "Metadata-Flavor: Google" \
        "$IMDS/computeMetadata/v1/instance/id"
    run "$H" curl -s -o /dev/null -A cloud-probe/1 -H "Metadata: true" \
        "$IMDS/metadata/instance?api-version=2021-02-01"
    run "$H" curl -s -o /dev/null -A cloud-probe/1 -H "Authorization: Bearer Oracle" "$IMDS/opc/v2/instance/"
    run "$H" curl -s -o /dev/null -A cloud-probe/1 -X PUT -H "Metadata-Flavor: ibm" \
        "$IMDS/instance_identity/v1/token?version=2022-03-01"
    # falls_back: v1 first, then a token and v2.
    run "$H" curl -s -o /dev/null -A fallback-client/1 "$IMDS/latest/meta-data/instance-id"
    TOKEN=$(run "$H" curl -s -A fallback-client/1 -X PUT "$IMDS/latest/api/token" -H "$TTL_HDR: 21600")
    run "$H" curl -s -o /dev/null -A fallback-client/1 -H "$TOK_HDR: $TOKEN" "$IMDS/latest/meta-data/ami-id"
    # breaks: boto 2.49 from PyPI (IMDSv1 only).
    run "$H" "$VENV_BOTO2/bin/python" "$HERE/clients/boto2_imds.py" >&2
    # proxy_refused: a client behind a forwarding proxy that adds X-Forwarded-For (token 403,
    # then IMDSv1 through the same proxy).
    run "$H" python3 "$HERE/clients/xff_proxy.py" 8181 &
    local PROXY=$!
    imw_wait_listen "$H" 8181 || die "proxy did not start"
    run "$H" curl -s -o /dev/null -A pod-client/1 -x http://127.0.0.1:8181 -X PUT \
        "$IMDS/latest/api/token" -H "$TTL_HDR: 21600"
    run "$H" curl -s -o /dev/null -A pod-client/1 -x http://127.0.0.1:8181 "$IMDS/latest/meta-data/instance-id"
    kill "$PROXY" 2>/dev/null || true
    wait "$PROXY" 2>/dev/null || true
    # server_closed: a request sent after the server's FIN.
    run "$H" python3 "$HERE/clients/late_request.py" >&2
    stop_mock
    # Tokens required: v1 is refused (401) already; enforcement changes nothing for it.
    start_mock "$M" --listen 0.0.0.0:80 --tokens required
    run "$H" curl -s -o /dev/null -A already-refused/1 "$IMDS/latest/meta-data/instance-id"
    stop_captures
    stop_mock
}

# Issue 17: the other clouds' metadata services and AWS's container credential agents, by
# clients/services_scenario.sh (it starts and restarts mock_services.py itself; real SDK
# clients where PyPI has one, curl for the legacy and refused forms).
cap_services() {
    imw_check "$P" || die "topology check failed"
    start_capture "$H" h-imds "$OUT/services.pcap" tcp port 80
    VENV=$VENV bash "$HERE/clients/services_scenario.sh" "$P" "$WORK" || die "services scenario failed"
    stop_captures
}

# --- main ---------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || die "run as root (network namespaces and tcpdump need it)"
ensure_deps
WORK=$(mktemp -d /tmp/imw-captures.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
imw_up "$P" || die "could not build the network namespaces (see above)"

NAMES=(curl-seed-v2.pcap curl-v1.pcap botocore-v2.pcapng container-hop-limit.pcap container-hop-limit-ctr.pcap
    rejections.pcap ipv6.pcap vlan-qinq.pcap keepalive-pipelined.pcap loopback-mock.pcap verdicts.pcap services.pcap)
if [[ $ONLY == verdicts ]]; then
    NAMES=(verdicts.pcap)
elif [[ $ONLY == services ]]; then
    NAMES=(services.pcap)
else
    cap_curl_seed_v2
    cap_curl_v1
    cap_botocore_v2
    cap_container_hop_limit
    cap_rejections
    cap_ipv6
    cap_vlan_qinq
    cap_keepalive_pipelined
    cap_loopback_mock
fi
[[ $ONLY == services ]] || cap_verdicts
[[ $ONLY == verdicts ]] || cap_services

# --- checks: size, no secret leaked into .expected, expected lists ------------------------
fail=0
for f in "${NAMES[@]}"; do
    [[ -s $OUT/$f ]] || { log "$f is missing or empty"; fail=1; continue; }
    size=$(stat -c %s "$OUT/$f")
    ((size < 100000)) || { log "$f is too big ($size bytes)"; fail=1; }
    exp="$HERE/${f%.*}.expected"
    got=$(python3 "$HERE/clients/expected_from_pcap.py" "$OUT/$f") || { fail=1; continue; }
    if ((WRITE_EXPECTED)); then
        python3 "$HERE/clients/expected_from_pcap.py" --with-header "$OUT/$f" >"$exp"
    elif [[ ! -f $exp ]]; then
        log "$exp is missing (run with --write-expected)"
        fail=1
    elif ! diff -u <(grep -v '^\s*#' "$exp" | sed '/^\s*$/d') <(printf '%s\n' "$got") >&2; then
        log "$f: requests differ from $exp"
        fail=1
    fi
done
((fail == 0)) || die "some captures did not come out as expected"
log "done: ${NAMES[*]}"
