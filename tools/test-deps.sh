#!/usr/bin/env bash
# Installs what the test suite needs besides Rust, so no test installs anything itself:
# `systemd-analyze` (Debian's systemd package) for tests/systemd_units.rs and `promtool`
# (Debian's prometheus package) for tests/metrics.rs, `haproxy` and `nginx` for
# tests/deploy.rs (the front-end examples are checked with their own parsers). Installs only
# what is missing, and only as root; otherwise it says what to install and exits non-zero.
# Called by tools/test.sh.
set -euo pipefail
exec "$(dirname "$0")/debian-packages.sh" test-deps systemd=systemd-analyze prometheus=promtool \
  haproxy=/usr/sbin/haproxy nginx=/usr/sbin/nginx
