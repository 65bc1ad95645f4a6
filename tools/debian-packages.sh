#!/usr/bin/env bash
# Installs the Debian packages whose programs are missing, so no test installs anything itself.
# usage: tools/debian-packages.sh TAG PACKAGE=PROGRAM...
# PROGRAM is a command name or an absolute path. Installs only what is missing, and only as
# root; otherwise it says what to install and exits 1. Exits 1 too when a program is still
# missing afterwards. TAG starts its messages. Shared by tools/test-deps.sh and
# tools/e2e/install.sh.
set -euo pipefail
tag="$1"
shift
present() { if [[ "$1" == /* ]]; then [ -x "$1" ]; else command -v "$1" >/dev/null 2>&1; fi; }

missing=()
for pair in "$@"; do
  present "${pair#*=}" || missing+=("${pair%%=*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "$tag: missing Debian packages: ${missing[*]} (run this script as root, or apt-get install them)" >&2
  exit 1
fi
echo "$tag: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pair in "$@"; do
  present "${pair#*=}" || { echo "$tag: ${pair#*=} still missing after installing ${pair%%=*}" >&2; exit 1; }
done
