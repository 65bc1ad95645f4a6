#!/usr/bin/env bash
# Instructions per cache hit, counted by valgrind's callgrind (stable across runs, unlike time on
# a shared machine): livecache (1 shard) under callgrind in front of the mock origin serves one
# 64 KiB object N times (loadgen, 4 connections), and once 0 times; the difference over N is the
# cost of one hit, start-up and shutdown cancelled out.
#
# usage: benches/hit_instructions.sh [BINARY] [N] [SIZE]   (default target/release/livecache,
# 3000, 65536: the object's body bytes). CALLGRIND_OUT=FILE keeps the busy run's profile
# (callgrind_annotate --inclusive=yes FILE).
# Needs valgrind and `cargo build --release -p livecache -p mock-origin -p loadgen` (and
# `-p reference` to count the reference). Compare two commits by building the other into its
# own target dir (git worktree) and passing its binary.
# Measured 2026-12-06: 29,555 at 9de9b61, 30,539 at 91db25e (the live layer's per-stream
# accounting and checks); 30,242 at b4af0b9 and 31,321 at ef202cd (prefetch, live-window
# memory, shared budget, CMCD, replicas). The idle run does not cancel heartbeat work done
# over the longer busy run, and ef202cd's heartbeat does more every 100 ms (quota balance,
# live-window and prefetch sweeps, replica reports): part of that rise may not be per hit.
# 25,970 at f027492 and 19,223 at bfa3907 (encoded head fields, LTO, 1 KiB first head read),
# 18,930 at 0e05f33. The whole count moves by about 3% between runs of one build (18,618 to
# 19,248 for 97994a9 on 2026-12-07: how many reactor turns and heartbeats the run takes), as
# much as the guard's 3% per feature; the second line it prints, the connection's answer to a
# request (Connection::respond, inclusive), stays within 0.1% between runs of a build (hash
# seeds differ per process): 8,716 at 97994a9, 8,581 and 8,577 at a041f76 (the reuse check
# reads the age once), 8,657 at fe9c6db (the held answer's version arrival in CacheStatus).
# Passing target/release/reference counts the zero-logic reference on livecache's runtime
# (`reference --runtime glommio`, no origin): the runtime's floor under a hit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/livecache}"
n="${2:-3000}"
size="${3:-65536}"
object="/hot/seg-1.m4s?size=$size"
server=(--origin http://127.0.0.1:9331 --shards 1)
origin=yes
if [ "$(basename "$bin")" = reference ]; then
  object="/hot/0.bin"
  server=(--runtime glommio --set "hot:1:$size")
  origin=
fi

run() {
  local requests=$1 out mo= lc
  out="$(mktemp)"
  if [ -n "$origin" ]; then
    taskset -c 1 "$root/target/release/mock-origin" --listen 127.0.0.1:9331 >/dev/null 2>&1 &
    mo=$!
  fi
  taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" \
    --listen 127.0.0.1:9332 "${server[@]}" >/dev/null 2>&1 &
  lc=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:9332$object" && break
    sleep 0.2
  done
  if [ "$requests" -gt 0 ]; then
    taskset -c 0 "$root/target/release/loadgen" urls --connections 4 --requests "$requests" \
      --quiet "http://127.0.0.1:9332$object" >/dev/null
  fi
  kill -TERM "$lc"; wait "$lc" || true
  if [ -n "$mo" ]; then kill "$mo"; wait "$mo" 2>/dev/null || true; fi
  grep -E '^summary' "$out" | awk '{print $2}'
  if [ "$requests" -gt 0 ] && [ -n "$origin" ] && [ -n "${OUT_RESPOND:-}" ]; then
    # The connection's answer to each request, inclusive: steady to 0.1% per hit, unlike the
    # whole count, which the reactor's turns and the heartbeat's timing move by a few %.
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
      grep -m1 -E 'connection\.rs:livecache::server::connection::<impl .*Connection>::respond::\{\{closure\}\} \[' |
      awk '{gsub(",", "", $1); print $1}' >"$OUT_RESPOND"
  fi
  if [ "$requests" -gt 0 ] && [ -n "${CALLGRIND_OUT:-}" ]; then
    mv "$out" "$CALLGRIND_OUT"
  else
    rm -f "$out"
  fi
}

respond_file="$(mktemp)"
idle=$(run 0)
busy=$(OUT_RESPOND="$respond_file" run "$n")
echo "instructions per hit: $(( (busy - idle) / n )) ($bin, $n hits of a $size-byte object)"
if [ -s "$respond_file" ]; then
  echo "of which answering it (Connection::respond, inclusive; the steady figure): $(( $(cat "$respond_file") / (n + 1) ))"
elif [ -n "$origin" ]; then
  echo "(Connection::respond not found in callgrind_annotate's output: renamed, or another valgrind?)"
fi
rm -f "$respond_file"
