#!/usr/bin/env bash
# Instructions per held LL-HLS answer, counted by valgrind's callgrind (stable where time on a
# shared machine is not): livecache (1 shard) under callgrind in front of the mock origin's
# LL-HLS stream (10 renditions, TD 4 s, PT 0.5 s, 50 ms first-byte delay, as
# benches/hold_release.sh) serves loadgen's hls.js-like viewers for a while. It prints, per
# held answer the server released (its livecache_hls_hold_release_seconds count):
#   - the whole process's instructions (everything a viewer costs per part: its playlist
#     answer, its part's body, its next requests, the origin's answers read and installed);
#   - the release path: `long_poll::install`, inclusive (parsing aside, a version's install
#     and every answer its release writes in place), the part of a burst that comes before
#     each held answer leaves.
# The first figure moves by a few % between runs of one build (how many reactor turns, polls
# and heartbeats the run takes); the release path by less.
#
# usage: benches/hold_instructions.sh [BINARY] [VIEWERS] [SECONDS]   (default
# target/release/livecache, 100, 12). CALLGRIND_OUT=FILE keeps the profile
# (callgrind_annotate --inclusive=yes FILE).
# Needs valgrind, curl and `cargo build --release -p livecache -p mock-origin -p loadgen`.
# Loopback, ports 9341-9343; CPU 1 for the server and origin, CPU 0 for loadgen. Compare two
# commits by building the other into its own target dir and passing its binary.
# Measured 2026-12-07 (2-core VM, two runs each): release path 4,644 and 4,519 per held answer
# at 68112ad, 3,977 and 4,016 at 9c5482b (the release's heads rendered into one buffer, its
# answers not boxed); the whole process 127,405 and 127,552 against 126,003 and 126,158.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/livecache}"
viewers="${2:-100}"
seconds="${3:-12}"
release="$root/target/release"
renditions="$(seq -s, 0 9 | sed 's/\([0-9]\+\)/r\1/g')"
out="${CALLGRIND_OUT:-$(mktemp)}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -z "${CALLGRIND_OUT:-}" ]; then rm -f "$out"; fi
}
trap cleanup EXIT

taskset -c 1 "$release/mock-origin" --listen 127.0.0.1:9341 --streams 1 \
  --renditions 300,400,500,600,700,800,900,1000,1100,1200 --segment-duration 4s \
  --part-duration 500ms --first-byte-delay 50ms --window 10 --can-skip-until 24s >/dev/null 2>&1 &
pids+=($!)
sleep 5  # the first segment must be complete for playlists to carry dates
taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" \
  --listen 127.0.0.1:9342 --origin http://127.0.0.1:9341 --shards 1 --cache-size 1GiB \
  --admin 127.0.0.1:9343 >/dev/null 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 150); do
  curl -s -o /dev/null http://127.0.0.1:9343/metrics && break
  sleep 0.2
done
taskset -c 0 "$release/loadgen" llhls --base http://127.0.0.1:9342 --viewers "$viewers" \
  --renditions "$renditions" --duration "${seconds}s" --swapped-fraction 0.2 --skip-fraction 0.2 \
  --quiet >/dev/null
held="$(curl -s http://127.0.0.1:9343/metrics |
  awk '/^livecache_hls_hold_release_seconds_count/ { print $2 }')"
kill -TERM "$server"
wait "$server" || true
if [ -z "$held" ] || [ "$held" = 0 ]; then
  echo "no held answer was released" >&2
  exit 1
fi
total="$(grep -E '^summary' "$out" | awk '{print $2}')"
# The first line naming the function (its own file's entry), read to the end: a reader that
# stops early would fail the pipe.
install="$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk '
  !found && /long_poll\.rs:livecache::shard::long_poll::install \[/ {
    gsub(",", "", $1); print $1; found = 1 }')"
per() { awk -v n="$1" -v d="$held" 'BEGIN { printf "%.0f", n / d }'; }
echo "held answers released: $held ($bin, $viewers viewers, ${seconds}s)"
echo "instructions per held answer: $(per "$total") (whole process)"
echo "release path per held answer: $(per "${install:-0}") (long_poll::install, inclusive)"
