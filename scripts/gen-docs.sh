#!/usr/bin/env bash
# Regenerates every sample output in README.md and docs/*.md from the bundled captures: the
# blocks after `<!-- sample: ARGS -->` and `<!-- sample-tui: WxH ARGS -->` markers
# (tests/docs.rs, which fails when a sample drifts, rewrites them with IMDSWATCH_REGEN_DOCS=1).
# The dashboard samples need tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
IMDSWATCH_REGEN_DOCS=1 cargo test --quiet --test docs doc_samples_match_the_binary
git status --short README.md docs/
