#!/usr/bin/env bash
# Fuzzes the offline path of a spec (YAML reader, interpolation, validation,
# graph, derived IAM and attributes) for MINUTES (default 10), then prints
# how many inputs ran. A panicking input is saved under target/fuzz-failures/.
#   scripts/fuzz.sh [MINUTES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
export PIPECTL_FUZZ_SECONDS=$((minutes * 60))
[ -n "${2:-}" ] && export PIPECTL_FUZZ_SEED="$2"
exec cargo test --lib fuzz::tests::fuzz_for_a_while -- --ignored --nocapture
