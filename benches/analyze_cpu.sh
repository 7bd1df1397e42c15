#!/usr/bin/env bash
# analyze_cpu.sh: `imdswatch analyze --format json` against `cat` on a generated mixed
# capture (>= 1 GiB) and on the dense IMDS-only capture, in one hyperfine run each, so that
# the ratios come from the same minutes. Optionally older binaries (BEFORE="PATH ...", e.g.
# copies of the build before a change, named by their file names) in the same runs.
#
#   benches/analyze_cpu.sh                       # 1 GiB mixed + 200,001-request dense file
#   BEFORE="/tmp/imdswatch-old /tmp/imdswatch-older" RUNS=11 benches/analyze_cpu.sh
#
# Files are made by examples/gencap (seeded) under $DATA (default /work/perf-data) and kept;
# never commit them. Environment: SIZE (default 1GiB), REQUESTS (default 200000), RUNS
# (default 11), CPU (taskset core, default 0; empty for none), BIN (default
# target/release/imdswatch, built when missing). Prints hyperfine's medians and the ratios,
# peak RSS of each binary (/usr/bin/time), and checks that each binary finds the generator's
# request count. Needs hyperfine (apt) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/work/perf-data}
SIZE=${SIZE:-1GiB}
REQUESTS=${REQUESTS:-200000}
RUNS=${RUNS:-11}
CPU=${CPU-0}
BIN=${BIN:-target/release/imdswatch}
[[ -x $BIN && -x target/release/examples/gencap ]] || cargo build --release --quiet --bin imdswatch --example gencap
BIN=$(realpath "$BIN")
GEN=$PWD/target/release/examples/gencap
PIN=()
[[ -n $CPU ]] && command -v taskset >/dev/null && PIN=(taskset -c "$CPU")
mkdir -p "$DATA"
mixed=$DATA/mixed-$SIZE-s1.pcap
dense=$DATA/imds-${REQUESTS}req-s1.pcap
[[ -f $mixed ]] || "$GEN" --seed 1 --size "$SIZE" --out "$mixed" 2>"$mixed.gencap"
[[ -f $dense ]] || "$GEN" --seed 1 --imds-only --requests "$REQUESTS" --out "$dense" 2>"$dense.gencap"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bins=("$BIN")
for b in ${BEFORE:-}; do bins+=("$(realpath "$b")"); done
for f in "$mixed" "$dense"; do
    cat "$f" >/dev/null
    cmds=("${PIN[*]} cat $f")
    names=(cat)
    for b in "${bins[@]}"; do
        cmds+=("${PIN[*]} $b analyze --format json --quiet $f")
        [[ $b == "$BIN" ]] && names+=(imdswatch) || names+=("$(basename "$b")")
    done
    args=()
    for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]} > /dev/null"); done
    hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/h.json" "${args[@]}" >/dev/null 2>&1 ||
        hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/h.json" "${args[@]}" >/dev/null
    echo "$(basename "$f") ($(($(stat -c %s "$f") / 1048576)) MiB), $RUNS runs, pinned: ${PIN[*]:-no}"
    jq -r '.results as $r | $r[] | [.command, (.median * 1000), (.user * 1000), (.system * 1000), (.median / $r[0].median)] |
        "  \(.[0] | .[0:18])  median \(.[1] | floor) ms  user \(.[2] | floor) ms  sys \(.[3] | floor) ms  \(.[4] * 100 | round / 100)x cat"' "$tmp/h.json"
    for b in "${bins[@]}"; do
        /usr/bin/time -f '%M' -o "$tmp/rss" "$b" analyze --format json --quiet "$f" >"$tmp/out"
        echo "  $(basename "$b"): peak RSS $(($(tail -1 "$tmp/rss") / 1024)) MiB, $(grep -c '"type":"request"' "$tmp/out") requests (generator: $(grep -o '[0-9]* IMDS requests' "$f.gencap" 2>/dev/null || echo '?'))"
    done
done
