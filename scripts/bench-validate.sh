#!/usr/bin/env bash
# Times `pipectl validate` of a spec with a release build: N runs, then the
# minimum, median, mean and maximum wall time in milliseconds.
#   scripts/bench-validate.sh [SPEC] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${1:-pipelines/lab.yaml}
n=${2:-200}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pipectl-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/pipectl"
python3 - "$bin" "$spec" "$n" <<'PY'
import statistics, subprocess, sys, time
binary, spec, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
subprocess.run([binary, "validate", spec], check=True, capture_output=True)  # warm the page cache
times = []
for _ in range(n):
    start = time.perf_counter()
    subprocess.run([binary, "validate", spec], check=True, capture_output=True)
    times.append((time.perf_counter() - start) * 1000)
times.sort()
print(f"pipectl validate {spec}: {n} runs")
print(f"  min {times[0]:.2f} ms  median {statistics.median(times):.2f} ms  "
      f"mean {statistics.mean(times):.2f} ms  p95 {times[int(n * 0.95) - 1]:.2f} ms  max {times[-1]:.2f} ms")
PY
