#!/usr/bin/env bash
# `pipectl status` on the emulator with an hour of metrics seeded as AWS
# would report them (scripts/seed-metrics.py): apply the spec, seed, show
# the status and write it as a page (${TMPDIR:-/tmp}/pipectl-status.html),
# destroy. The emulator runs nothing
# by itself, so without seeding every hop would be idle.
#   scripts/status-sample.sh [spec [--stall HOP]]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
spec=${1:-pipelines/lab.yaml}
shift || true
python="$(dirname "$(ensure_emulator)")/python"
cargo build --locked --quiet
pipectl="$CARGO_TARGET_DIR/debug/pipectl"
start_emulator /tmp/pipectl-status-moto.log

"$pipectl" apply "$spec" --yes >/dev/null 2>&1
"$pipectl" status "$spec" --json | "$python" scripts/seed-metrics.py "$@" >/dev/null
"$pipectl" status "$spec" --html "${TMPDIR:-/tmp}/pipectl-status.html"
"$pipectl" destroy "$spec" --yes >/dev/null 2>&1
