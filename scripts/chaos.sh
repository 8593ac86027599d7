#!/usr/bin/env bash
# Apply -> plan -> destroy cycles of pipelines/lab.yaml and of
# pipelines/stream-data-processor.yaml (with a NAT gateway) through the
# fault proxy: 10% of calls throttled, 3% answered with a 5xx, 2% of
# mutating calls executed with their answer dropped. Every cycle must
# converge: apply succeeds, the re-plan is empty, nothing is made twice,
# destroy leaves nothing.
#   scripts/chaos.sh [cycles]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PIPECTL_MOTO_SERVER="$(ensure_emulator)"
export PIPECTL_MOTO_SERVER
export PIPECTL_CHAOS_CYCLES="${1:-20}"
cargo test --locked --test pipectl unattended::random_faults_converge_cycle_after_cycle -- --nocapture 2>&1 \
  | grep -E "^chaos:|^test |test result|panicked|left behind" 
