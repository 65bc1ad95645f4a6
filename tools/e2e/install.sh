#!/usr/bin/env bash
# Installs what tools/e2e/hlsjs.sh needs besides Rust: Debian `chromium` and `ffmpeg` (and
# `nodejs npm` when node is missing), then the npm packages in tools/e2e/package.json (playwright-core,
# hls.js) into tools/e2e/node_modules. Installs only what is missing; Debian packages only as
# root (otherwise it says what to install and exits 1). Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "e2e-install: missing Debian packages: ${missing[*]} (run this script as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "e2e-install: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null && command -v npm >/dev/null && [ -x /usr/bin/chromium ] && command -v ffmpeg >/dev/null

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
