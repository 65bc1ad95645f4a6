#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run give it: first what the tests need besides
# Rust (tools/test-deps.sh for the Rust tests, tools/e2e/install.sh for the player test), then
# every test of the workspace with the lockfile as committed, then the end-to-end test with a
# real player (hls.js in headless Chromium through livecache, tools/e2e/hlsjs.sh) on the debug
# build cargo test just made. Extra arguments go to cargo test; LIVECACHE_SKIP_E2E=1 leaves the
# player test out.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/test-deps.sh
if [ -z "${LIVECACHE_SKIP_E2E:-}" ]; then
  tools/e2e/install.sh
fi
cargo test --workspace --locked "$@"
if [ -z "${LIVECACHE_SKIP_E2E:-}" ]; then
  E2E_PROFILE=dev tools/e2e/hlsjs.sh
fi
