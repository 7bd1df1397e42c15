#!/usr/bin/env bash
# Builds imdswatch and analyses a bundled capture: a container whose token request is lost
# to the hop limit and which then falls back to IMDSv1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
capture=${1:-captures/container-hop-limit.pcap}
echo "\$ imdswatch analyze --format table $capture" >&2
target/release/imdswatch analyze --format table "$capture"
echo >&2
echo "\$ imdswatch analyze --format json $capture" >&2
target/release/imdswatch analyze --format json --quiet "$capture"
