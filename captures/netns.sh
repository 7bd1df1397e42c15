#!/usr/bin/env bash
# netns.sh: the test topology for imdswatch, in network namespaces only.
#
#   bash captures/netns.sh up   [PREFIX]   # build it (cleans leftovers of PREFIX first)
#   bash captures/netns.sh down [PREFIX]   # remove it (kills what runs inside)
#   bash captures/netns.sh check [PREFIX]  # exit 0 if it is up and isolated
#   bash captures/netns.sh dnat-proxy PREFIX [PORT]  # ctr's metadata traffic -> a proxy in host
# or `source captures/netns.sh` and call imw_up / imw_down / imw_exec / imw_wait_listen.
#
# PREFIX defaults to "imw-" and must start with "imw-" (so `down` can never touch
# anything else). Namespaces (all names prefixed):
#
#   ${P}ctr   ctr0  10.213.0.2/30  fd00:213::2/64      default via host (one routed hop)
#               |
#   ${P}host  h-ctr 10.213.0.1/30  fd00:213::1/64      forwarding on (v4+v6)
#             h-imds 10.213.1.1/30 fd00:213:1::1/64    169.254.169.254, fd00:ec2::254 via imds
#               |
#   ${P}imds  imds0 10.213.1.2/30  fd00:213:1::2/64
#                   169.254.169.254/32  fd00:ec2::254/128   (the mock IMDS listens here)
#                   routes back to 10.213.0.0/30 and fd00:213::/64 via host
#
# The metadata addresses exist only inside these namespaces. Nothing here ever sends
# a packet from the root namespace.

IMW_V4_CTR_NET=10.213.0.0/30
IMW_V4_CTR_HOST=10.213.0.1
IMW_V4_CTR=10.213.0.2
IMW_V4_HOST=10.213.1.1
IMW_V4_IMDS=10.213.1.2
IMW_V6_CTR_NET=fd00:213::/64
IMW_V6_CTR_HOST=fd00:213::1
IMW_V6_CTR=fd00:213::2
IMW_V6_HOST=fd00:213:1::1
IMW_V6_IMDS=fd00:213:1::2
IMW_IMDS_V4=169.254.169.254
IMW_IMDS_V6=fd00:ec2::254

imw_die() {
    echo "netns.sh: $*" >&2
    return 1
}

imw_check_prefix() {
    local p=$1
    [[ $p =~ ^imw-[A-Za-z0-9_.-]*$ ]] ||
        imw_die "bad PREFIX '$p': it must start with 'imw-' and use only [A-Za-z0-9_.-]" || return 1
    # /run/netns names are files; keep them reasonable.
    ((${#p} <= 40)) || imw_die "PREFIX '$p' is too long (max 40)"
}

imw_ns_exists() {
    [[ -e /run/netns/$1 ]]
}

# imw_exec NS CMD...: run CMD inside namespace NS, after checking that NS is one of
# ours (imw- prefix, exists) and really is a different network namespace than the
# root one. Every client that talks to a metadata address must go through this.
imw_exec() {
    local ns=$1
    shift
    [[ $ns == imw-* ]] || imw_die "refusing to run in namespace '$ns': not an imw- namespace" || return 1
    imw_ns_exists "$ns" || imw_die "namespace '$ns' does not exist (run: netns.sh up)" || return 1
    local root inner
    # The namespace we were called from (the root one, for the scripts here).
    root=$(readlink /proc/self/ns/net) || imw_die "cannot read /proc/self/ns/net" || return 1
    inner=$(ip netns exec "$ns" readlink /proc/self/ns/net) || imw_die "cannot enter namespace '$ns'" || return 1
    [[ -n $inner && $inner != "$root" ]] ||
        imw_die "namespace '$ns' is the root network namespace; refusing" || return 1
    ip netns exec "$ns" "$@"
}

# imw_wait_listen NS PORT [TIMEOUT_S]: poll (inside NS) until a TCP socket listens on PORT.
imw_wait_listen() {
    local ns=$1 port=$2 timeout=${3:-10} i
    for ((i = 0; i < timeout * 20; i++)); do
        if ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.05
    done
    imw_die "nothing listens on port $port in namespace $ns after ${timeout}s"
}

# Wait until IFACE in NS is up with carrier.
imw_wait_link() {
    local ns=$1 dev=$2 i
    for ((i = 0; i < 200; i++)); do
        if ip -n "$ns" -o link show dev "$dev" 2>/dev/null | grep -q 'LOWER_UP'; then
            return 0
        fi
        sleep 0.02
    done
    imw_die "link $dev in $ns did not come up"
}

imw_down() {
    local p=${1:-imw-} ns pid
    imw_check_prefix "$p" || return 1
    for ns in "${p}ctr" "${p}host" "${p}imds"; do
        imw_ns_exists "$ns" || continue
        # Processes left inside our own namespaces (mock, tcpdump, clients): end them by pid.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null || true
        done
    done
    for ns in "${p}ctr" "${p}host" "${p}imds"; do
        imw_ns_exists "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            local i
            for ((i = 0; i < 40; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
            done
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns" 2>/dev/null || imw_die "could not delete namespace $ns" || return 1
    done
    return 0
}

# shellcheck disable=SC2016 # expanded by the inner sh
imw_sysctls() {
    local ns=$1
    ip netns exec "$ns" sh -c '
        for f in /proc/sys/net/ipv6/conf/all/accept_dad /proc/sys/net/ipv6/conf/default/accept_dad; do
            [ -w "$f" ] && echo 0 > "$f"
        done
        for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do
            [ -w "$f" ] && echo 0 > "$f"
        done
        true' || imw_die "cannot set sysctls in $ns"
}

# Issue 17: the other metadata and credential services' addresses, on the imds namespace as
# 169.254.169.254 is (captures/mock_services.py answers there), routed from host (ctr goes
# through host by its default route). Additive to imw_up: called once the veths are up.
IMW_SERVICE_V4=(100.100.100.200 169.254.170.2 169.254.170.23)
IMW_SERVICE_V6=(fd00:ec2::23)

imw_services_up() {
    local p=$1 a
    local h="${p}host" m="${p}imds"
    for a in "${IMW_SERVICE_V4[@]}"; do
        ip -n "$m" addr add "$a/32" dev imds0 &&
            ip -n "$h" route add "$a/32" via "$IMW_V4_IMDS" dev h-imds || return 1
    done
    for a in "${IMW_SERVICE_V6[@]}"; do
        ip -n "$m" addr add "$a/128" dev imds0 nodad &&
            ip -n "$h" -6 route add "$a/128" via "$IMW_V6_IMDS" dev h-imds || return 1
    done
}

# shellcheck disable=SC2016 # the sh -c scripts expand their own variables
imw_up() {
    local p=${1:-imw-}
    imw_check_prefix "$p" || return 1
    [[ $(id -u) == 0 ]] || imw_die "must run as root (ip netns add needs CAP_SYS_ADMIN)" || return 1
    command -v ip >/dev/null || imw_die "'ip' (iproute2) is not installed" || return 1
    imw_down "$p" || return 1

    local c="${p}ctr" h="${p}host" m="${p}imds" err ns
    for ns in "$m" "$h" "$c"; do
        if ! err=$(ip netns add "$ns" 2>&1); then
            imw_die "ip netns add $ns failed: $err (network namespaces not permitted here? need root/CAP_SYS_ADMIN)" || true
            imw_down "$p" || true
            return 1
        fi
        imw_sysctls "$ns" || { imw_down "$p"; return 1; }
        ip -n "$ns" link set lo up
    done

    {
        # host <-> imds
        ip -n "$h" link add h-imds type veth peer name imds0 netns "$m" &&
        ip -n "$h" addr add "$IMW_V4_HOST/30" dev h-imds &&
        ip -n "$h" addr add "$IMW_V6_HOST/64" dev h-imds nodad &&
        ip -n "$m" addr add "$IMW_V4_IMDS/30" dev imds0 &&
        ip -n "$m" addr add "$IMW_V6_IMDS/64" dev imds0 nodad &&
        ip -n "$m" addr add "$IMW_IMDS_V4/32" dev imds0 &&
        ip -n "$m" addr add "$IMW_IMDS_V6/128" dev imds0 nodad &&
        ip -n "$h" link set h-imds up &&
        ip -n "$m" link set imds0 up &&
        # host <-> ctr
        ip -n "$h" link add h-ctr type veth peer name ctr0 netns "$c" &&
        ip -n "$h" addr add "$IMW_V4_CTR_HOST/30" dev h-ctr &&
        ip -n "$h" addr add "$IMW_V6_CTR_HOST/64" dev h-ctr nodad &&
        ip -n "$c" addr add "$IMW_V4_CTR/30" dev ctr0 &&
        ip -n "$c" addr add "$IMW_V6_CTR/64" dev ctr0 nodad &&
        ip -n "$h" link set h-ctr up &&
        ip -n "$c" link set ctr0 up &&
        imw_wait_link "$h" h-imds && imw_wait_link "$m" imds0 &&
        imw_wait_link "$h" h-ctr && imw_wait_link "$c" ctr0 &&
        # routes
        ip -n "$h" route add "$IMW_IMDS_V4/32" via "$IMW_V4_IMDS" dev h-imds &&
        ip -n "$h" -6 route add "$IMW_IMDS_V6/128" via "$IMW_V6_IMDS" dev h-imds &&
        ip -n "$c" route add default via "$IMW_V4_CTR_HOST" dev ctr0 &&
        ip -n "$c" -6 route add default via "$IMW_V6_CTR_HOST" dev ctr0 &&
        ip -n "$m" route add "$IMW_V4_CTR_NET" via "$IMW_V4_HOST" dev imds0 &&
        ip -n "$m" -6 route add "$IMW_V6_CTR_NET" via "$IMW_V6_HOST" dev imds0 &&
        # the host routes between ctr and imds
        ip netns exec "$h" sh -c '
            echo 1 > /proc/sys/net/ipv4/ip_forward &&
            echo 1 > /proc/sys/net/ipv6/conf/all/forwarding &&
            for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done' &&
        imw_services_up "$p"
    } || {
        imw_die "building the topology for prefix '$p' failed" || true
        imw_down "$p" || true
        return 1
    }
    imw_check "$p" || { imw_down "$p"; return 1; }
}

# imw_check PREFIX: the three namespaces exist, are not the root namespace, and route
# the metadata addresses to our own interfaces.
imw_check() {
    local p=${1:-imw-} ns r
    imw_check_prefix "$p" || return 1
    for ns in "${p}ctr" "${p}host" "${p}imds"; do
        imw_exec "$ns" true || return 1
    done
    r=$(ip -n "${p}host" route get "$IMW_IMDS_V4" 2>/dev/null) || imw_die "no route to $IMW_IMDS_V4 in ${p}host" || return 1
    [[ $r == *"dev h-imds"* ]] || imw_die "${p}host routes $IMW_IMDS_V4 oddly: $r" || return 1
    r=$(ip -n "${p}ctr" route get "$IMW_IMDS_V4" 2>/dev/null) || imw_die "no route to $IMW_IMDS_V4 in ${p}ctr" || return 1
    [[ $r == *"dev ctr0"* ]] || imw_die "${p}ctr routes $IMW_IMDS_V4 oddly: $r" || return 1
    r=$(ip -n "${p}imds" route get "$IMW_IMDS_V4" 2>/dev/null) || imw_die "$IMW_IMDS_V4 missing in ${p}imds" || return 1
    [[ $r == local* ]] || imw_die "$IMW_IMDS_V4 is not local in ${p}imds: $r" || return 1
    return 0
}

# imw_dnat_proxy PREFIX PORT: in ${P}host, a DNAT rule sends the ctr namespace's traffic to
# 169.254.169.254:80 to a proxy listening on $IMW_V4_CTR_HOST:PORT in ${P}host, as
# kube2iam/kiam do on a Kubernetes node (the pod's request is seen on its veth, the proxy's
# own copy on the way to the metadata address). Needs nft (nftables). Removed with the
# namespace (`down`).
imw_dnat_proxy() {
    local p=${1:-imw-} port=${2:-8181}
    imw_check_prefix "$p" || return 1
    [[ $port =~ ^[0-9]+$ ]] || imw_die "bad proxy port '$port'" || return 1
    command -v nft >/dev/null || imw_die "'nft' (nftables) is not installed" || return 1
    imw_exec "${p}host" nft "add table ip imw_proxy
        add chain ip imw_proxy pre { type nat hook prerouting priority dstnat; }
        add rule ip imw_proxy pre iifname \"h-ctr\" ip daddr $IMW_IMDS_V4 tcp dport 80 dnat to $IMW_V4_CTR_HOST:$port" ||
        imw_die "cannot add the DNAT rule in ${p}host"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    cmd=${1:-}
    prefix=${2:-imw-}
    case $cmd in
        up) imw_up "$prefix" ;;
        down) imw_down "$prefix" ;;
        check) imw_check "$prefix" ;;
        dnat-proxy) imw_dnat_proxy "$prefix" "${3:-8181}" ;;
        *)
            echo "usage: $0 up|down|check|dnat-proxy [PREFIX] [PORT]   (PREFIX starts with imw-, default imw-)" >&2
            exit 2
            ;;
    esac
fi
