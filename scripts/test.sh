#!/usr/bin/env bash
# Runs every test: unit tests beside the code, the integration tests (which
# start the pinned emulator, moto, themselves, one per test), and the Lambda
# handler templates under pytest against the same emulator, and the spec's
# JSON Schema under a real validator (tests/schema). First it checks that
# the tests reuse every dependency the demo's build compiled (a feature a
# dev-dependency turns on would build the AWS SDK a second time).
#   scripts/test.sh [cargo test args...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PIPECTL_MOTO_SERVER="$(ensure_emulator)"
export PIPECTL_MOTO_SERVER
bash scripts/check-build-reuse.sh
cargo test --locked "$@"
"$(dirname "$PIPECTL_MOTO_SERVER")/python" -m pytest -q tests/templates tests/schema
