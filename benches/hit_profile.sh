#!/usr/bin/env bash
# Where a 64 KiB hit's CPU goes: livecache (1 shard, CPU 1) in front of the mock origin serves a
# working set of 2,000 x 64 KiB objects to loadgen (64 connections, CPU 0) for 8 s under
# `perf record -e cpu-clock` (software clock: no hardware counters needed), then prints the
# split by binary (kernel, livecache, libc) and the top user-space symbols.
#
# usage: benches/hit_profile.sh [BINARY]   (default target/release/livecache)
# Needs perf and `cargo build --release -p livecache -p mock-origin -p loadgen`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/livecache}"
data="$(mktemp)"
objects="http://127.0.0.1:9362/b/{0..1999}.bin?size=65536&cc=public,%20max-age%3D86400"
taskset -c 1 "$root/target/release/mock-origin" --listen 127.0.0.1:9361 >/dev/null 2>&1 &
mo=$!
taskset -c 1 "$bin" --listen 127.0.0.1:9362 --origin http://127.0.0.1:9361 --shards 1 >/dev/null 2>&1 &
lc=$!
trap 'kill "$lc" "$mo" 2>/dev/null || true; rm -f "$data"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:9362/" && break
  sleep 0.1
done
"$root/target/release/loadgen" urls --connections 8 --requests 2000 --quiet --url-pattern "$objects" >/dev/null
perf record -e cpu-clock -F 4000 -p "$lc" -o "$data" 2>/dev/null &
pr=$!
sleep 0.3
taskset -c 0 "$root/target/release/loadgen" urls --connections 64 --duration 8s --quiet \
  --url-pattern "$objects" >/dev/null
kill -INT "$pr"
wait "$pr" 2>/dev/null || true
perf report -i "$data" --no-children --sort dso -g none 2>/dev/null | grep '%' | head -5
echo "-- user-space symbols (share of all CPU)"
perf report -i "$data" --no-children --dsos livecache,libc.so.6,'[vdso]' --sort symbol -g none \
  2>/dev/null | grep '%' | head -25 | cut -c1-140
