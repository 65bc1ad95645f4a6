#!/usr/bin/env bash
# Installs livecache as a systemd service: builds the release binary, installs it, the example
# configuration (never over an existing one) and the systemd units, and reloads systemd's
# view of the units. It starts, stops and enables nothing; it prints the commands for that.
# Running it again is safe: it replaces the binary and units and keeps the configuration.
#
#   sudo tools/install.sh                      # build, install under /usr/local and /etc
#   tools/install.sh --no-build                # use target/release/livecache as built
#   DESTDIR=/tmp/stage tools/install.sh        # stage into a directory (packaging; no root)
#   sudo tools/install.sh --prefix /opt/livecache   # binary in /opt/livecache/bin
#
# Installs:
#   $PREFIX/bin/livecache                       (PREFIX: /usr/local)
#   /etc/livecache/livecache.toml               (only if absent)
#   /etc/livecache/livecache.toml.example       (always: the current example, to compare)
#   /etc/systemd/system/livecache.service, livecache.socket
# each under $DESTDIR when that is set.
set -euo pipefail

usage() {
  sed -n '2,17s/^# \{0,1\}//p' "$0"
  echo "Options: --prefix DIR, --destdir DIR (or DESTDIR=DIR), --no-build, -h/--help"
}

prefix=/usr/local
destdir=${DESTDIR:-}
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    --destdir=*) destdir=${1#--destdir=}; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) prefix=${prefix%/} ;;
  *) echo "install.sh: --prefix must be an absolute path, got $prefix" >&2; exit 2 ;;
esac
destdir=${destdir%/}

cd "$(dirname "$0")/.."
repo=$(pwd)

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: installing into / needs root: run it with sudo, or set DESTDIR to stage" >&2
  exit 1
fi

# --- build -------------------------------------------------------------------------------
if [ "$build" -eq 1 ]; then
  cargo_bin=$(command -v cargo || true)
  build_user=
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    # Build as the invoking user, so target/ does not fill with root-owned files.
    build_user=$SUDO_USER
    user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if [ -z "$cargo_bin" ] && [ -x "$user_home/.cargo/bin/cargo" ]; then
      cargo_bin=$user_home/.cargo/bin/cargo
    fi
  fi
  if [ -z "$cargo_bin" ]; then
    echo "install.sh: cargo not found; build first (cargo build --release -p livecache)" >&2
    echo "            and run this again with --no-build" >&2
    exit 1
  fi
  echo "== building: cargo build --release -p livecache"
  if [ -n "$build_user" ]; then
    sudo -u "$build_user" -H "$cargo_bin" build --release -p livecache
  else
    "$cargo_bin" build --release -p livecache
  fi
fi
binary=$repo/target/release/livecache
if [ ! -x "$binary" ]; then
  echo "install.sh: $binary is missing; build it with cargo build --release -p livecache" >&2
  exit 1
fi

# --- install -------------------------------------------------------------------------------
bindir=$destdir$prefix/bin
confdir=$destdir/etc/livecache
unitdir=$destdir/etc/systemd/system
installed_binary=$prefix/bin/livecache

# Installs $1 as $2 with mode $3 through a temporary file and a rename, so a running binary
# is replaced, not overwritten, and a reader never sees half a file. Says whether it changed.
put() {
  local src=$1 dst=$2 mode=$3
  mkdir -p "$(dirname "$dst")"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    echo "   unchanged  $dst"
    return
  fi
  install -m "$mode" "$src" "$dst.install-tmp"
  mv -f "$dst.install-tmp" "$dst"
  echo "   installed  $dst"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== installing"
put "$binary" "$bindir/livecache" 0755

# The units name /usr/local/bin/livecache; follow --prefix.
for unit in livecache.service livecache.socket; do
  sed "s#/usr/local/bin/livecache#$installed_binary#g" "systemd/$unit" > "$tmp/$unit"
  put "$tmp/$unit" "$unitdir/$unit" 0644
done

put systemd/livecache.toml "$confdir/livecache.toml.example" 0644
if [ -e "$confdir/livecache.toml" ]; then
  echo "   kept       $confdir/livecache.toml (compare with livecache.toml.example)"
else
  put systemd/livecache.toml "$confdir/livecache.toml" 0644
  echo "   -> set \`origin\` in $confdir/livecache.toml before starting"
fi

# --- check the configuration (reads it only; starts nothing) -------------------------------
if "$bindir/livecache" --check-config --config "$confdir/livecache.toml" > /dev/null; then
  echo "== $confdir/livecache.toml is valid"
else
  echo "== warning: $confdir/livecache.toml does not validate (see above); fix it before starting" >&2
fi

# --- tell systemd --------------------------------------------------------------------------
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl > /dev/null; then
  echo "== systemctl daemon-reload"
  systemctl daemon-reload
else
  echo "== systemd is not running here (or DESTDIR is set): no daemon-reload"
fi

cat <<MSG

livecache is installed; nothing was started or enabled. Next:
  sudoedit /etc/livecache/livecache.toml               # set origin, cache_size, ...
  livecache --check-config --config /etc/livecache/livecache.toml
  sudo systemctl enable --now livecache.service         # livecache binds \`listen\` itself
or, with socket activation (systemd holds the port; ListenStream= in livecache.socket):
  sudo systemctl enable --now livecache.socket
Then: systemctl status livecache; journalctl -u livecache -f
      sudo systemctl reload livecache                    # validate, then SIGHUP
If livecache was already running, restart it to run the new binary:
  sudo systemctl restart livecache
MSG
