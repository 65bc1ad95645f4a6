#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run give it: first what the tests need besides
# Rust (tools/test-deps.sh), then every test of the workspace, with the lockfile as committed.
# Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/test-deps.sh
exec cargo test --workspace --locked "$@"
