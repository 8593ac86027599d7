#!/usr/bin/env bash
# `pipectl status` on the emulator with an hour of metrics seeded as AWS
# would report them (scripts/seed-metrics.py): apply the spec, seed, show
# the status (and write status.html), destroy. The emulator runs nothing
# by itself, so without seeding every hop would be idle.
#   scripts/status-sample.sh [spec [--stall HOP]]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
spec=${1:-pipelines/lab.yaml}
shift || true
moto="$(ensure_emulator)"
python="$(dirname "$moto")/python"
cargo build --locked --quiet
pipectl="$CARGO_TARGET_DIR/debug/pipectl"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >/tmp/pipectl-status-moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION="${AWS_REGION:-us-east-1}"
unset AWS_PROFILE AWS_SESSION_TOKEN

"$pipectl" apply "$spec" --yes >/dev/null 2>&1
"$pipectl" status "$spec" --json | "$python" scripts/seed-metrics.py "$@" >/dev/null
"$pipectl" status "$spec"
"$pipectl" destroy "$spec" --yes >/dev/null 2>&1
