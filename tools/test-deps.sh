#!/usr/bin/env bash
# Installs what the test suite needs besides Rust, so no test installs anything itself:
# `systemd-analyze` (Debian's systemd package) for tests/systemd_units.rs and `promtool`
# (Debian's prometheus package) for tests/metrics.rs. Installs only what is missing, and only
# as root; otherwise it says what to install and exits non-zero. Called by tools/test.sh.
set -euo pipefail

missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test-deps: missing Debian packages: ${missing[*]} (run this script as root, or apt-get install them)" >&2
  exit 1
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v systemd-analyze >/dev/null && command -v promtool >/dev/null
