#!/usr/bin/env bash
# Checks that the test build reuses every dependency the demo's build
# compiled: a dependency whose features differ between `cargo build` and
# `cargo test` (a dev-dependency turning a feature on) is compiled twice,
# and with the AWS SDK above it that costs minutes on a fresh machine.
# Prints the artifacts `cargo build` made that `cargo test` does not use;
# exits 1 when there are any. Both builds are run (and are no-ops when warm).
#   scripts/check-build-reuse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
artifacts() {
  cargo "$@" --locked --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] != "pipectl":
        print(*sorted(f.rsplit("/", 1)[-1] for f in m["filenames"]))' | sort
}
build=$(mktemp) test=$(mktemp)
trap 'rm -f "$build" "$test"' EXIT
artifacts build >"$build"
artifacts test --no-run >"$test"
missing=$(comm -23 "$build" "$test")
echo "$(wc -l <"$build") dependency artifacts in the demo's build; $(comm -12 "$build" "$test" | wc -l) reused by the tests"
if [ -n "$missing" ]; then
  echo "built again with other features for the tests:"
  echo "$missing"
  exit 1
fi
