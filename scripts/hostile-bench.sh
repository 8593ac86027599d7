#!/usr/bin/env bash
# Measures what a hostile spec costs `pipectl validate`: wall time and peak
# memory (RSS) for an alias bomb (nine nested aliases, 10^9 nodes if
# expanded), a document nested past the depth limit, and one just over the
# size limit, each run 5 times; prints the median and the worst.
#   scripts/hostile-bench.sh            (builds --release first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/pipectl"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$bin" "$dir" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin, d = sys.argv[1], sys.argv[2]
docs = {}
bomb = "pipeline: p\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
for i in range(1, 9):
    bomb += f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]\n"
docs["alias bomb (10 lines)"] = bomb
docs["nesting 10,000 deep"] = "pipeline: p\nx: " + "[" * 10000 + "]" * 10000 + "\n"
docs["1 MiB + 1 byte"] = "pipeline: p\n# " + "x" * (1 << 20) + "\n"
for name, text in docs.items():
    path = os.path.join(d, "spec.yaml")
    with open(path, "w") as f:
        f.write(text)
    times, rss = [], []
    for _ in range(5):
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            os.execv(bin, [bin, "validate", path])
        _, status, usage = os.wait4(pid, 0)
        times.append((time.perf_counter() - t) * 1000)
        rss.append(usage.ru_maxrss / 1024)
        assert os.waitstatus_to_exitcode(status) == 2, f"{name}: expected exit 2"
    print(f"{name:24} exit 2  median {statistics.median(times):6.1f} ms (worst {max(times):6.1f})  "
          f"peak RSS median {statistics.median(rss):5.1f} MB (worst {max(rss):5.1f})")
PY
