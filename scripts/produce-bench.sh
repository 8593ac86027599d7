#!/usr/bin/env bash
# Throughput and peak memory of `pipectl produce` for a large CSV file
# (default 1 GB), release build. Kinesis itself is not in the measurement:
# the records go to a local sink (scripts/put-sink.py) that accepts every
# PutRecords call, so the figures are pipectl's own ceiling (reading,
# converting, batching, signing, sending). A real stream accepts 1 MB/s
# or 1,000 records/s per shard.
#   scripts/produce-bench.sh [SIZE_MB]     (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-1024}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/pipectl"
python3 - "$work/rows.csv" "$size_mb" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
row = "{i},2026-11-29 10:{m:02d}:00,2026-11-29 11:{m:02d}:00,{p},{d}.{c:02d},{t}.{c:02d}\n"
with open(path, "w") as f:
    written, i, chunk = 0, 0, []
    while written < size:
        line = row.format(i=i % 3 + 1, m=i % 60, p=i % 4 + 1, d=i % 20, c=i % 100, t=i % 90)
        chunk.append(line)
        written += len(line)
        i += 1
        if len(chunk) == 100000:
            f.write("".join(chunk))
            chunk = []
    f.write("".join(chunk))
print(f"{written / 1e6:.0f} MB, {i} rows", file=sys.stderr)
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 scripts/put-sink.py "$port" &
sleep 1
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
/usr/bin/time -v "$bin" produce pipelines/lab.yaml --stream trips --file "$work/rows.csv" \
  --endpoint-url "http://127.0.0.1:$port" --in-flight 4 2>"$work/time" | tail -1
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$work/time"
