#!/usr/bin/env bash
# MSG_ZEROCOPY against copying sends for 1 MiB bodies (issue "Performance II", item 3), over a
# veth pair into a network namespace: on loopback the kernel copies anyway, and a veth pair is
# how two hosts meet on one machine. The zero-logic reference (tools/reference) serves 200 x
# 1 MiB from the root namespace (10.99.0.1, CPU 1); loadgen asks from namespace lczc
# (10.99.0.2, CPU 0) with 16 connections. Rounds alternate `--zerocopy off` and `on`; each
# prints the server's CPU microseconds per request (user + system, /proc) and req/s, and the
# zero-copy runs the kernel's completion counts (how many sends it copied after all).
#
# usage: benches/zerocopy.sh [ROUNDS] [SECONDS]   (defaults 3 and 8; as root: it makes and
# removes the namespace and the veth pair). Needs `cargo build --release -p reference -p loadgen`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/target/release"
rounds="${1:-3}"
seconds="${2:-8}"
ns=lczc
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del lczc0 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip link add lczc0 type veth peer name lczc1
ip link set lczc1 netns "$ns"
ip addr add 10.99.0.1/24 dev lczc0
ip link set lczc0 up
ip netns exec "$ns" ip addr add 10.99.0.2/24 dev lczc1
ip netns exec "$ns" ip link set lczc1 up
ip netns exec "$ns" ip link set lo up

cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
  for mode in off on; do
    taskset -c 1 "$bin/reference" --listen 10.99.0.1:9398 --set ws1m:200:1048576 --zerocopy "$mode" \
      2>/tmp/lczc-server.log &
    server=$!
    sleep 0.5
    # Warm: every body once, so the timed run reads memory that exists.
    ip netns exec "$ns" "$bin/loadgen" urls --connections 4 --requests 400 --quiet \
      --url-pattern "http://10.99.0.1:9398/ws1m/{0..199}.bin" >/dev/null
    before=$(cpu_of "$server")
    out=$(ip netns exec "$ns" taskset -c 0 "$bin/loadgen" urls --connections 16 \
      --duration "${seconds}s" --quiet --url-pattern "http://10.99.0.1:9398/ws1m/{0..199}.bin")
    after=$(cpu_of "$server")
    requests=$(echo "$out" | awk '/^requests/ { print $2 }')
    rate=$(echo "$out" | awk '/^requests/ { split($6, r, "/"); print r[1] }')
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    awk -v r="$round" -v m="$mode" -v c=$((after - before)) -v t="$tick" -v n="$requests" -v q="$rate" \
      'BEGIN { printf "round %s zerocopy %-3s  %7.1f us CPU per request  %8.1f req/s\n", r, m, c / t * 1e6 / n, q }'
    [ "$mode" = on ] && tail -1 /tmp/lczc-server.log | sed 's/^/    /'
  done
done
