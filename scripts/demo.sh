#!/usr/bin/env bash
# Builds imdswatch and analyses a bundled capture: a container whose token request is lost
# to the hop limit and which then falls back to IMDSv1. Installs only what the build needs
# (scripts/setup.sh --build: libpcap headers, pkg-config, a C toolchain); each step says
# what it does, and cargo shows its own progress while it compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
say() { printf '[demo.sh %ds] %s\n' $(($(date +%s) - t0)) "$*" >&2; }
say "checking the build dependencies (libpcap-dev, pkg-config, a C toolchain)"
scripts/setup.sh --build
say "building imdswatch in release mode (the first build compiles ~190 crates: a few minutes on 2 cores)"
cargo build --release --locked
say "built target/release/imdswatch"
capture=${1:-captures/container-hop-limit.pcap}
echo "\$ imdswatch analyze --format table $capture" >&2
target/release/imdswatch analyze --format table "$capture"
echo >&2
echo "\$ imdswatch analyze --format json $capture" >&2
target/release/imdswatch analyze --format json --quiet "$capture"
