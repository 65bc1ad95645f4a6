#!/usr/bin/env bash
# Installs what tools/e2e/hlsjs.sh needs besides Rust: Debian `chromium` and `ffmpeg` (and
# `nodejs npm` when node is missing), then the npm packages in tools/e2e/package.json (playwright-core,
# hls.js) into tools/e2e/node_modules. Installs only what is missing; Debian packages only as
# root (otherwise it says what to install and exits 1). Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/../debian-packages.sh" e2e-install nodejs=node npm=npm chromium=/usr/bin/chromium ffmpeg=ffmpeg

cd "$here"
if [ -f node_modules/playwright-core/package.json ] && [ -f node_modules/hls.js/dist/hls.min.js ] \
   && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
