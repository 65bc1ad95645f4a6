#!/usr/bin/env bash
# End-to-end test with a real player: hls.js (lowLatencyMode) in headless Chromium plays the
# mock origin's LL-HLS stream through livecache, 3 players on one rendition for 20 s. Checks:
# no fatal hls.js error, live latency within PART-HOLD-BACK + 1 s, about one origin blocking
# playlist request per published part; see tools/e2e/README.md. Run tools/e2e/install.sh first.
#
# Builds livecache and mock-origin, starts both on free 127.0.0.1 ports, runs hlsjs.mjs, stops
# only the processes it started. Everything after the build ends by itself within ~2 minutes
# (about 35 s when all is well). Exit status: 0 pass, non-zero fail.
#
# Arguments go to hlsjs.mjs (e.g. --players 5 --seconds 30 --warmup 5). Environment:
#   E2E_SEGMENT, E2E_PART    mock segment and part duration (default 1s, 250ms)
#   E2E_SHARDS               livecache shards (default 2)
#   E2E_MOCK_ARGS            more mock-origin flags, e.g. "--can-skip-until 6s --window 12"
#   E2E_LIVECACHE_ARGS       more livecache flags
#   E2E_PROFILE=dev          build and use the dev profile (what `cargo test` already built)
#   E2E_BIN_DIR              use livecache and mock-origin from this folder, no build
#   E2E_KEEP_LOGS=1          keep the log folder (mock-origin, livecache, access log); a failed
#                            run always keeps it
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

for need in node /usr/bin/chromium ffmpeg curl; do
  command -v "$need" >/dev/null 2>&1 || { echo "e2e: $need missing: run tools/e2e/install.sh" >&2; exit 1; }
done
if [ ! -f "$here/node_modules/playwright-core/package.json" ] || [ ! -f "$here/node_modules/hls.js/dist/hls.min.js" ]; then
  echo "e2e: npm packages missing: run tools/e2e/install.sh" >&2
  exit 1
fi

segment="${E2E_SEGMENT:-1s}"
part="${E2E_PART:-250ms}"
shards="${E2E_SHARDS:-2}"
secs() { case "$1" in *ms) awk "BEGIN{print ${1%ms}/1000}" ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac; }

if [ -n "${E2E_BIN_DIR:-}" ]; then
  bin="$(cd "$E2E_BIN_DIR" && pwd)"
elif [ "${E2E_PROFILE:-release}" = dev ]; then
  echo "e2e: cargo build -p livecache -p mock-origin (dev profile)"
  cargo build --quiet -p livecache -p mock-origin
  bin="$root/target/debug"
else
  echo "e2e: cargo build --release -p livecache -p mock-origin"
  cargo build --release --quiet -p livecache -p mock-origin
  bin="$root/target/release"
fi

logs="$(mktemp -d "${TMPDIR:-/tmp}/livecache-e2e.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  # Newest first (livecache before its origin), each given 5 s to stop before SIGKILL.
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid="${pids[$i]}"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    echo "e2e: failed (exit $rc); last lines of the logs in $logs:" >&2
    tail -n 20 "$logs"/*.log >&2 || true
  elif [ -z "${E2E_KEEP_LOGS:-}" ]; then
    rm -rf "$logs"
  fi
  [ -n "${E2E_KEEP_LOGS:-}" ] && echo "e2e: logs kept in $logs" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for "<word> http://ADDR" in a log and prints ADDR.
addr_in() {
  local file="$1" pattern="$2" addr=""
  for _ in $(seq 100); do
    addr="$(grep -o "$pattern http://[0-9.:]*" "$file" 2>/dev/null | head -n1 | sed 's/.* http:\/\///')" || true
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    sleep 0.1
  done
  echo "e2e: no '$pattern' address in $file" >&2
  cat "$file" >&2
  return 1
}

# shellcheck disable=SC2086 # E2E_MOCK_ARGS, E2E_LIVECACHE_ARGS: extra flags, split on spaces.
"$bin/mock-origin" --listen 127.0.0.1:0 --streams 1 \
  --segment-duration "$segment" --part-duration "$part" ${E2E_MOCK_ARGS:-} >"$logs/mock-origin.log" 2>&1 &
pids+=($!)
origin="$(addr_in "$logs/mock-origin.log" 'listening on')"

# shellcheck disable=SC2086
"$bin/livecache" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --shards "$shards" --shutdown-grace 2s \
  --origin "http://$origin" --access-log "$logs/access.log" ${E2E_LIVECACHE_ARGS:-} >"$logs/livecache.log" 2>&1 &
pids+=($!)
cache="$(addr_in "$logs/livecache.log" 'listening on')"
admin="$(addr_in "$logs/livecache.log" 'admin on')"
for _ in $(seq 50); do curl -fs -o /dev/null "http://$admin/readyz" && break; sleep 0.1; done
echo "e2e: mock-origin http://$origin (segments $segment, parts $part${E2E_MOCK_ARGS:+, $E2E_MOCK_ARGS}), livecache http://$cache (admin http://$admin, $shards shards)"

timeout -k 5 120 node "$here/hlsjs.mjs" --cache "http://$cache" --origin "http://$origin" \
  --admin "http://$admin" --segment "$(secs "$segment")" --part "$(secs "$part")" "$@"
