# topology.sh: what the namespace benches share (sourced, not run). Sources captures/netns.sh.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/support/topology.sh"
#   bench_up TAG [MOCK-ARGS...]      # fresh imw-TAG<pid>- topology, mock IMDS in ${P}imds
#                                    # (its counts in $W/count.json after bench_stop),
#                                    # work dir $W; both removed on exit
#   bench_monitor [LIVE-ARGS...]     # imdswatch live --json in ${P}host -> $W/live.ndjson
#   bench_stop                       # stop the monitor, then the mock
#
# Sets ROOT, HERE (captures/), BIN (IMDSWATCH or target/debug/imdswatch), P, W, MON, MOCK.
# Nothing is sent from the root namespace.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/captures
# shellcheck source=captures/netns.sh
source "$HERE/netns.sh"
BIN=${IMDSWATCH:-$ROOT/target/debug/imdswatch}
MON="" MOCK="" P="" W=""

bench_cleanup() {
    set +e
    [[ -n $MON ]] && kill -TERM "$MON" 2>/dev/null
    [[ -n $MOCK ]] && kill -TERM "$MOCK" 2>/dev/null
    wait 2>/dev/null
    [[ -n $P ]] && imw_down "$P"
    [[ -n $W ]] && rm -rf "$W"
}

bench_up() {
    local tag=$1
    shift
    P="imw-$tag$$-"
    W=$(mktemp -d "/tmp/imw-$tag.XXXXXX")
    trap bench_cleanup EXIT
    imw_up "$P"
    ip netns exec "${P}imds" python3 "$HERE/mock_imds.py" --listen 0.0.0.0:80 --count-file "$W/count.json" "$@" &
    MOCK=$!
    imw_wait_listen "${P}imds" 80
}

bench_monitor() {
    # imw_exec checks the namespace; `ip netns exec` then execs imdswatch itself, so $MON is
    # its pid and bench_stop's SIGTERM reaches it (it writes its final stats and verdicts).
    imw_exec "${P}host" true
    ip netns exec "${P}host" "$BIN" live --json "$@" >"$W/live.ndjson" 2>"$W/live.err" &
    MON=$!
    sleep 2
}

bench_stop() {
    kill -TERM "$MON"
    wait "$MON" || true
    MON=""
    kill -TERM "$MOCK"
    wait "$MOCK" || true
    MOCK=""
}
