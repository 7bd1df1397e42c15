#!/usr/bin/env bash
# The whole test suite, after installing what it needs. The end-to-end tests build network
# namespaces and so need root; without it they skip, and the closing line counts and lists
# them. Each step prints when it starts and how long the previous one took.
set -euo pipefail
cd "$(dirname "$0")/.."
# A clean build gains nothing from incremental state, which doubles target/ on disk.
export CARGO_INCREMENTAL=0
t0=$(date +%s)
t_step=$t0
step() {
    local now
    now=$(date +%s)
    if [ -n "${step_name:-}" ]; then
        printf '[test.sh] %s: done in %ds\n' "$step_name" $((now - t_step)) >&2
    fi
    step_name=$1
    t_step=$now
    [ "$1" = "end" ] || printf '[test.sh %s] %s...\n' "$(date +%T)" "$1" >&2
}

step "setup (system packages, botocore venv)"
scripts/setup.sh
# Supply chain: licences, sources and bans (advisories need GitHub: see deny.toml).
# cargo-deny reads every crate of the lock file, other platforms' included, which a build on
# this one never downloads: fetch them all first (crates.io only), then check offline.
if ! command -v cargo-deny >/dev/null 2>&1; then
    step "building cargo-deny (first run only, a few minutes)"
    cargo install cargo-deny --locked --quiet
fi
step "cargo fetch + cargo deny (licences, sources, bans)"
cargo fetch --locked --quiet
cargo deny --offline check bans licenses sources
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (builds everything once)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step "cargo test (builds the tests, then runs every binary; end-to-end tests take the longest)"
# Tests that cannot run here print `SKIPPED <name>: <reason>` and return: with the output
# not captured those lines reach the log, and are counted and listed below.
RUST_TEST_NOCAPTURE=1 cargo test --workspace --all-targets --quiet 2>&1 | tee "$log"
step "end"
skipped=$(grep -o 'SKIPPED [A-Za-z0-9_:]*: .*' "$log" | sort -u || true)
nskip=$(grep -c . <<<"$skipped" || true)
if [ "$nskip" -gt 0 ]; then
    echo "Skipped tests (they pass without checking anything here):"
    sed 's/^/  /' <<<"$skipped"
fi
# One closing line over every test binary (cargo prints one line per binary); a skipped test
# is reported by libtest as passed, so it is moved from "passed" to "skipped".
awk -v s="$nskip" -v secs=$(($(date +%s) - t0)) '/test result:/ {p += $4; f += $6; i += $8}
    END {printf "tests: %d passed, %d failed, %d ignored, %d skipped (%d s in all)\n", p - s, f, i, s, secs}' \
    < <(grep -o 'test result:.*' "$log")
