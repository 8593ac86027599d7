#!/usr/bin/env bash
# The main job, on a local AWS emulator: price pipelines/lab.yaml offline,
# apply it (its plan ends with what it costs while deployed), send records into its stream,
# verify that a canary comes out of every path the emulator runs, show that
# a second plan has nothing to do, then destroy it all.
#   scripts/demo.sh [spec]
# DEMO_RECORDS (default 200) records of DEMO_GENERATE (taxi | sensor |
# tenant-metrics, default taxi) go into the spec's first stream.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
spec=${1:-pipelines/lab.yaml}
cargo build --locked --quiet
pipectl="$CARGO_TARGET_DIR/debug/pipectl"
start_emulator /tmp/pipectl-demo-moto.log

echo "== cost of $spec on AWS (offline: no AWS call)"
"$pipectl" cost "$spec"
echo
echo "== apply $spec (on the emulator at $AWS_ENDPOINT_URL)"
"$pipectl" apply "$spec" --yes
echo
# The first stream of the spec, from its graph (offline).
stream=$("$pipectl" graph "$spec" --json | python3 -c '
import json, sys
keys = [n["address"].split(".", 1)[1] for n in json.load(sys.stdin)["nodes"] if n["kind"] == "stream"]
print(keys[0] if keys else "")')
if [ -n "$stream" ]; then
  # Taxi trips as the lab's host sends them: CSV rows of the trip files,
  # made JSON by the agent flow's field names, which the filter reads.
  format=()
  [ "${DEMO_GENERATE:-taxi}" = taxi ] && format=(--format csv)
  echo "== produce ${DEMO_RECORDS:-200} ${DEMO_GENERATE:-taxi} records into stream.$stream"
  "$pipectl" produce "$spec" --stream "$stream" --generate "${DEMO_GENERATE:-taxi}" "${format[@]}" --limit "${DEMO_RECORDS:-200}"
  echo
fi
# Exit 0 when every hop delivered or is "not checkable": the emulator does
# not run a stream-sourced Firehose or a function, and says so.
echo "== verify: a canary down every path"
"$pipectl" verify "$spec"
echo
echo "== plan again: nothing to do"
"$pipectl" plan "$spec" --detailed-exitcode
echo
pipeline=$(sed -n 's/^pipeline: *//p' "$spec" | head -1)
echo "== destroy (from the deployment record, no spec needed)"
"$pipectl" destroy --pipeline "$pipeline" --yes
