#!/usr/bin/env bash
# The whole test suite, after installing what it needs. The end-to-end tests build network
# namespaces and so need root; without it they print why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Supply chain: licences, sources and bans (advisories need GitHub: see deny.toml).
# cargo-deny reads every crate of the lock file, other platforms' included, which a build on
# this one never downloads: fetch them all first (crates.io only), then check offline.
command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked --quiet
cargo fetch --locked --quiet
cargo deny --offline check bans licenses sources
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --all-targets --quiet 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one line per binary).
awk '/^test result:/ {p += $4; f += $6; i += $8} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, i}' "$log"
