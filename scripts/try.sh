#!/usr/bin/env bash
# Try imdswatch without EC2: a mock IMDS, the live dashboard watching it, and real clients
# calling it every few seconds (a v1 curl, botocore's own IMDSv2 fetch, and, as root, a
# "container" one routed hop away whose token answer dies at the hop limit, so that it falls
# back to IMDSv1). Press Enter on a row for its advice, q to quit; everything started here
# is stopped on the way out.
#
#   scripts/try.sh               the namespace topology (captures/netns.sh), where
#                                169.254.169.254 is the mock: builds as you, then goes on
#                                under sudo when you are not root (no sudo: --loopback)
#   scripts/try.sh --loopback    the mock on 127.0.0.1, watched with --endpoint (capturing on
#                                lo needs CAP_NET_RAW: imdswatch runs under sudo when not root)
#
# Environment: IMDSWATCH=PATH uses that binary instead of building target/release/imdswatch;
# TRY_EVERY=S seconds between client rounds (default 3); TRY_SETUP=0 skips scripts/setup.sh.
# Safety: nothing is ever sent to a metadata address from the root network namespace; in
# loopback mode the clients call 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=auto
for a in "$@"; do
    case $a in
    --loopback) mode=loopback ;;
    --netns) mode=netns ;;
    -h | --help)
        sed -n '2,18p' "$root/scripts/try.sh" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "try.sh: unknown argument '$a' (try --help)" >&2
        exit 2
        ;;
    esac
done
say() { printf '[try.sh] %s\n' "$*" >&2; }
# Not root: the namespace mode runs under sudo once the build is done (as this user, whose
# cargo sudo would not find); without sudo, the loopback mode.
reexec=""
if [[ $mode != loopback && $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        reexec=1
    elif [[ $mode == netns ]]; then
        echo "try.sh: --netns needs root (network namespaces) and there is no sudo; use --loopback" >&2
        exit 2
    else
        mode=loopback
    fi
fi
if [[ $mode == auto && -z $reexec ]]; then
    if ip netns list >/dev/null 2>&1; then mode=netns; else mode=loopback; fi
fi

# What this needs, and only that: build dependencies, curl, python3 with botocore.
if [[ ${TRY_SETUP:-1} != 0 ]]; then
    scripts/setup.sh --try
fi
if [[ -n ${IMDSWATCH:-} ]]; then
    bin=$IMDSWATCH
else
    say "building imdswatch (release; the first build takes a few minutes, cargo shows its progress)"
    cargo build --release --locked
    bin=$root/target/release/imdswatch
fi
if [[ -n $reexec ]]; then
    say "the namespace topology needs root: continuing under sudo"
    exec sudo env IMDSWATCH="$bin" TRY_SETUP=0 TRY_EVERY="${TRY_EVERY:-3}" "$root/scripts/try.sh" --netns
fi
py=$root/captures/.venv/bin/python
[[ -x $py ]] || py=python3

work=$(mktemp -d /tmp/imdswatch-try.XXXXXX)
pids=()
prefix=""
cgroup=""
cleanup() {
    set +e
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    if [[ -n $prefix ]]; then
        bash "$root/captures/netns.sh" down "$prefix"
    fi
    # The container's cgroup, once its last process (a client being killed) has left.
    for _ in $(seq 20); do
        [[ -n $cgroup && -d $cgroup ]] || break
        rmdir "$cgroup" 2>/dev/null && rmdir "$(dirname "$cgroup")" 2>/dev/null
        sleep 0.1
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

every=${TRY_EVERY:-3}

if [[ $mode == netns ]]; then
    prefix="imw-try$$-"
    # shellcheck source=captures/netns.sh
    source "$root/captures/netns.sh"
    say "building the namespace topology ${prefix}{ctr,host,imds} (captures/README.md)"
    bash "$root/captures/netns.sh" up "$prefix"
    imw_exec "${prefix}imds" python3 "$root/captures/mock_imds.py" --listen 0.0.0.0:80 --listen '[::]:80' \
        >"$work/mock.log" 2>&1 &
    pids+=($!)
    imw_wait_listen "${prefix}imds" 80 10
    # The "container": a docker-like cgroup on whichever hierarchy this host has (as
    # tests/live_e2e.rs makes one), so the dashboard shows it as a container of its own.
    id=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    for base in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/pids; do
        [[ -f $base/cgroup.procs ]] || continue
        if [[ -f $base/cgroup.controllers ]]; then
            cgroup=$base/imw-try$$.slice/docker-$id.scope
        else
            cgroup=$base/imw-try$$/docker-$id
        fi
        mkdir -p "$cgroup" 2>/dev/null && break
        cgroup=""
    done
    clients() {
        set +e
        sleep 2 # the dashboard is capturing by then: it sees every client from its first request
        while :; do
            imw_exec "${prefix}host" curl -s -m 2 --noproxy '*' http://169.254.169.254/latest/meta-data/instance-id
            imw_exec "${prefix}host" "$py" "$root/captures/clients/botocore_imds.py"
            (
                [[ -z $cgroup ]] || echo "$BASHPID" >"$cgroup/cgroup.procs"
                imw_exec "${prefix}ctr" "$py" "$root/captures/clients/botocore_imds.py"
            )
            sleep "$every"
        done
    }
    clients >"$work/clients.log" 2>&1 &
    pids+=($!)
    say "mock IMDS at 169.254.169.254 in ${prefix}imds; every ${every}s: curl (IMDSv1) and botocore (IMDSv2)"
    say "in ${prefix}host, botocore in ${prefix}ctr one hop away (token lost at the hop limit, then IMDSv1)"
    say "dashboard: imdswatch live in ${prefix}host. Enter: details and advice, ?: help, q: quit"
    set +e
    imw_exec "${prefix}host" "$bin" live -i any
    status=$?
else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 "$root/captures/mock_imds.py" --listen "127.0.0.1:$port" >"$work/mock.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -s -o /dev/null -m 1 --noproxy '*' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
            "http://127.0.0.1:$port/latest/api/token" && break
        sleep 0.1
    done
    cat >"$work/botocore_v2.py" <<EOF
import botocore, botocore.session
from botocore.utils import InstanceMetadataFetcher
s = botocore.session.Session()
f = InstanceMetadataFetcher(user_agent=s.user_agent(), config={"ec2_metadata_service_endpoint": "http://127.0.0.1:$port"})
c = f.retrieve_iam_role_credentials()
print("botocore", botocore.__version__, "role", c.get("role_name") if c else None)
EOF
    clients() {
        set +e
        sleep 2 # the dashboard is capturing by then: it sees every client from its first request
        while :; do
            curl -s -m 2 --noproxy '*' "http://127.0.0.1:$port/latest/meta-data/instance-id"
            env -u AWS_EC2_METADATA_DISABLED -u http_proxy -u HTTP_PROXY -u all_proxy -u ALL_PROXY \
                "$py" "$work/botocore_v2.py"
            sleep "$every"
        done
    }
    clients >"$work/clients.log" 2>&1 &
    pids+=($!)
    sudo=()
    # Capturing on lo needs CAP_NET_RAW; without sudo imdswatch says how to grant it.
    [[ $(id -u) -eq 0 ]] || ! command -v sudo >/dev/null 2>&1 || sudo=(sudo)
    say "mock IMDS on 127.0.0.1:$port; every ${every}s: curl (IMDSv1) and botocore (IMDSv2)"
    say "dashboard: ${sudo[*]} imdswatch live -i lo --endpoint 127.0.0.1:$port. Enter: details, ?: help, q: quit"
    set +e
    "${sudo[@]}" "$bin" live -i lo --endpoint "127.0.0.1:$port"
    status=$?
fi
exit "$status"
