#!/usr/bin/env bash
# Times apply, a no-op plan and destroy of pipelines/lab.yaml and a
# generated 498-resource spec against the emulator behind a proxy that
# adds AWS's round trips and provisioning times (scripts/bench-proxy.py),
# with a release build. Prints, per spec and command, the median wall
# time, the critical-path bound of the graph, their ratio, AWS calls and
# peak RSS.
#   scripts/bench.sh                                  # 30 ms, a tenth of AWS's times, 3 runs
#   scripts/bench.sh --scale 1 --runs 3               # AWS's real times (minutes)
#   scripts/bench.sh --scale 1 --only lab --cli       # and the sequential CLI way, for comparison
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
moto=$(ensure_emulator)
cargo build --release --quiet
exec "$(dirname "$moto")/python" scripts/bench.py --binary "$CARGO_TARGET_DIR/release/pipectl" --moto "$moto" "$@"
