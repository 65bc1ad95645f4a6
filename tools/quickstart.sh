#!/usr/bin/env bash
# Runs livecache on its built-in defaults (127.0.0.1:8080 in front of an origin on
# 127.0.0.1:9000), with the bundled mock origin playing that origin, shows a miss turning
# into a hit, and keeps both running until Ctrl-C. Stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p livecache -p mock-origin

./target/release/mock-origin --listen 127.0.0.1:9000 &
origin=$!
./target/release/livecache &
cache=$!
trap 'kill "$cache" "$origin" 2>/dev/null; wait "$cache" "$origin" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 50); do
  curl -s -o /dev/null http://127.0.0.1:8080/ 2>/dev/null && break
  sleep 0.1
done
url='http://127.0.0.1:8080/live/ch1/720p/seg-1.m4s?size=65536'
for attempt in first second; do
  echo "== $attempt request: curl -si '$url'"
  curl -si "$url" | sed -n '1p;/^Cache-Status/p;/^Age/p'
done
echo
echo "livecache is serving on http://127.0.0.1:8080 (origin: mock-origin on :9000); Ctrl-C stops both."
wait "$cache"
