#!/usr/bin/env bash
# Times apply, a no-op plan and destroy of pipelines/lab.yaml and a
# generated 498-resource spec against the emulator behind a proxy that
# adds AWS's round trips and provisioning times and throttles each
# operation above AWS's rates (scripts/bench-proxy.py, rates/aws.json),
# with a release build. Prints, per spec and command, the median wall
# time, the critical-path bound of the graph, the rate-aware bound, the
# ratio of wall time to the latter, AWS calls, throttled calls and peak
# RSS (docs/bench.md).
#   scripts/bench.sh                                  # 30 ms, a tenth of AWS's times, AWS's rates, 3 runs
#   scripts/bench.sh --scale 1 --runs 3               # AWS's real times (minutes)
#   scripts/bench.sh --scale 1 --only lab --cli       # and the sequential CLI way, for comparison
#   scripts/bench.sh --no-rates --calls               # nothing throttled; calls by operation
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
moto=$(ensure_emulator)
cargo build --release --quiet
exec "$(dirname "$moto")/python" scripts/bench.py --binary "$CARGO_TARGET_DIR/release/pipectl" --moto "$moto" "$@"
