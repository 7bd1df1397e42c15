#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 600), one after the other,
# pinned to one core at the lowest priority, and prints per target: executions, exec/s,
# coverage (libFuzzer's final cov:/ft:) and crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, -Cpasses=sancov-module); on a stable toolchain RUSTC_BOOTSTRAP=1
# lets stable rustc accept them. That is what this script sets; a nightly toolchain works too.
#
# Seeds: fuzz/corpus/<target> is filled from captures/*.pcap* by fuzz/src/bin/seed.rs the
# first time (whole files, single frames, segment sequences, HTTP byte streams). The corpus,
# crash artifacts and logs stay out of git (fuzz/corpus, fuzz/artifacts).
# Every crash found must become a test in tests/regressions.rs.
#
# Env: FUZZ_CPU (core to pin to, default 1), FUZZ_JOBS_NICE (default 19).
set -euo pipefail

SECONDS_EACH="${1:-600}"
shift || true
ALL_TARGETS=(decode reassembly http engine capture_file)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
CPU="${FUZZ_CPU:-1}"
NICE="${FUZZ_JOBS_NICE:-19}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/fuzz"
export RUSTC_BOOTSTRAP=1
PIN=(taskset -c "$CPU" nice -n "$NICE")

cd "$FUZZ"

# Seed corpora (a plain build: the seed tool is not instrumented).
if [ ! -d corpus/decode ] || [ -z "$(ls -A corpus/decode 2>/dev/null)" ]; then
    echo "fuzz: seeding corpora from captures/" >&2
    "${PIN[@]}" cargo run --quiet --release --bin seed -- "$ROOT/captures" "$FUZZ/corpus"
fi

max_len() {
    case "$1" in
        decode) echo 4096 ;;
        reassembly | http) echo 16384 ;;
        engine | capture_file) echo 65536 ;;
    esac
}

SUMMARY="$FUZZ/artifacts/summary.txt"
mkdir -p "$FUZZ/artifacts"
printf '%-14s %8s %12s %10s %8s %8s %8s\n' target seconds execs exec/s cov ft crashes >"$SUMMARY"

for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="artifacts/$t/fuzz.log"
    echo "fuzz: building $t" >&2
    "${PIN[@]}" cargo fuzz build --debug-assertions "$t" >&2
    echo "fuzz: running $t for ${SECONDS_EACH}s (cpu $CPU, nice $NICE), log $FUZZ/$log" >&2
    start=$(date +%s)
    set +e
    "${PIN[@]}" cargo fuzz run --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1
    status=$?
    set -e
    ran=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    crashes=$(find "artifacts/$t" -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
    printf '%-14s %8s %12s %10s %8s %8s %8s\n' "$t" "$ran" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "$crashes" >>"$SUMMARY"
    tail -1 "$SUMMARY" >&2
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $t exited $status; see $FUZZ/$log and artifacts/$t/" >&2
    fi
done
echo >&2
cat "$SUMMARY"
