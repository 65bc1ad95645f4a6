#!/usr/bin/env bash
# Hold release of LL-HLS blocking reloads in livecache alone: the LL-HLS audience of
# benches/llhls.py (500 hls.js-like viewers over 10 renditions, TD 4 s, PT 0.5 s, a 50 ms origin
# first-byte delay, 20% swapped and 20% _HLS_skip spellings) for a while, then the viewers'
# release latency (loadgen) and the server's own livecache_hls_hold_release_seconds histogram,
# as shares of held answers released within each bound and its 99th percentile (interpolated
# within a bucket a millisecond wide up to 6 ms), and the server's CPU time per held
# answer (with everything else its viewer costs per part: the part's body, the next requests).
# It also splits the release by playlist version: how long each version waited for its
# release to start on the rendition's owner, and how long the release took (medians and 99th
# percentiles of livecache_hls_release_wait_seconds and _burst_seconds).
#
# usage: benches/hold_release.sh [SECONDS] [VIEWERS]   (defaults 40 and 500)
# LIVECACHE=path/to/binary runs another livecache build (an A/B against a baseline).
# TWO_HOSTS=1 (as root) puts the viewers in a network namespace of their own behind a veth
# pair whose ends receive as two hosts' NICs would: on loopback (or a plain veth) the kernel
# runs each viewer's TCP receive and wake-up in the sending server's context, on the server's
# core; here each end's receive runs in a NAPI thread pinned to its own side's CPUs. (Steering
# it there with RPS instead costs the sender an IPI per answer, a VM exit on a VM.) veth only
# takes that path for packets it need not segment, so both ends have TSO off and a 64 KiB MTU:
# one packet per send, as a NIC with TSO takes one descriptor. The viewers' end is moderated
# as a NIC's interrupt coalescing is (rx-usecs, VIEWERS_RX_US, default 50): after a poll its
# NAPI thread polls again that much later (up to 100 times) instead of being woken by the next
# packet. Without it the server's every send woke the viewers' thread on the other CPU (an IPI,
# a VM exit here: a sixth of the send where a burst's answers go out, README), a cost no sender
# pays for another host's NIC. VIEWERS_RX_US=0 wakes per packet (the harness of the README's
# sittings 1-8; an empty value means the default). The server's own end is woken per packet,
# as a NIC without moderation interrupts per packet (the costlier case for the server);
# SERVER_RX_US=N moderates it too. Both take whole microseconds.
# Needs ethtool (installed with apt-get when missing); makes and removes namespace lchr.
# PROFILE=1 also records the server for 2 s halfway through (perf, cpu-clock, DWARF stacks; as
# root) and splits the first 12 ms of its release bursts by what they do
# (benches/release_profile.py). perf's own work shares the machine then, so the release shares
# printed by a profiled run are not comparable with an unprofiled one's. PROFILE_OUT=FILE keeps
# the `perf script` text there (for `benches/release_profile.py FILE --leaves` and the like).
# The server's figures are printed twice: over the whole run, and over its steady state, from
# WARMUP seconds after the viewers start (default 5: loadgen spreads their joins over one
# target duration, 4 s, and the bursts then have fewer viewers and share the core with the
# joins' connections and first requests) to the end, the difference of two readings of the
# histogram. A run of SECONDS <= WARMUP prints the whole run only.
# Needs `cargo build --release -p livecache -p mock-origin -p loadgen`. Server and origin on
# CPU 1, loadgen on CPU 0, ports 9321-9323 (127.0.0.1, or 10.98.0.1 with TWO_HOSTS); stops what
# it started. On a larger machine: SHARDS=N SERVER_CPUS=a,b,... (the server's shards and the
# origin share them) LOADGEN_CPUS=c,d,... (one loadgen thread per CPU), comma-separated lists;
# e.g. SHARDS=4 SERVER_CPUS=0,1,2,3 LOADGEN_CPUS=8,9,10,11 for a 500-viewer release on 4 cores.
# ORIGIN_CPUS=e,f,... moves the mock origin off the server's CPUs (a real origin is another
# host; on the 2-core VM, ORIGIN_CPUS=0 shares the load generator's: README, sitting 15).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/target/release"
seconds="${1:-40}"
viewers="${2:-500}"
renditions="$(seq -s, 0 9 | sed 's/\([0-9]\+\)/r\1/g')"
pids=()
shards="${SHARDS:-1}"
server_cpus="${SERVER_CPUS:-1}"
loadgen_cpus="${LOADGEN_CPUS:-0}"
IFS=, read -ra loadgen_list <<<"$loadgen_cpus"
profile_dir=
host=127.0.0.1
viewer_side=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$profile_dir" ]; then rm -rf "$profile_dir"; fi
  if [ -n "${TWO_HOSTS:-}" ]; then
    ip netns del lchr 2>/dev/null || true
    ip link del lchr0 2>/dev/null || true
  fi
}
trap cleanup EXIT
if [ -n "${TWO_HOSTS:-}" ]; then
  host=10.98.0.1
  viewer_side=(ip netns exec lchr)
  if ip netns list | grep -qw lchr; then
    echo "TWO_HOSTS: namespace lchr exists (another run, or one left over: ip netns del lchr)" >&2
    trap - EXIT
    cleanup
    exit 1
  fi
  ip netns add lchr
  ip link add lchr0 type veth peer name lchr1
  ip link set lchr1 netns lchr
  ip addr add 10.98.0.1/24 dev lchr0
  ip link set lchr0 up
  ip netns exec lchr ip addr add 10.98.0.2/24 dev lchr1
  ip netns exec lchr ip link set lchr1 up
  ip netns exec lchr ip link set lo up
  # Receive work where each host would do it: the server's side on its CPUs, the viewers' on
  # theirs, each end's in its own NAPI thread.
  command -v ethtool >/dev/null || { apt-get update >/dev/null && apt-get install -y ethtool >/dev/null; }
  for side in "lchr0 $server_cpus ${SERVER_RX_US:-0}" "lchr1 $loadgen_cpus ${VIEWERS_RX_US:-50}"; do
    read -r dev cpus rx_us <<<"$side"
    if ! [[ $rx_us =~ ^[0-9]+$ ]]; then
      echo "TWO_HOSTS: VIEWERS_RX_US and SERVER_RX_US take whole microseconds, not '$rx_us'" >&2
      exit 1
    fi
    in_ns=()
    if [ "$dev" = lchr1 ]; then in_ns=(ip netns exec lchr); fi
    "${in_ns[@]}" ip link set "$dev" mtu 65535
    "${in_ns[@]}" ethtool -K "$dev" gro on tso off >/dev/null
    "${in_ns[@]}" sh -c "echo 1 >/sys/class/net/$dev/threaded"
    # A new namespace's device starts unmoderated; lchr0 is made anew too.
    if [ "$rx_us" -gt 0 ]; then
      "${in_ns[@]}" sh -c "echo $((rx_us * 1000)) >/sys/class/net/$dev/gro_flush_timeout
        echo 100 >/sys/class/net/$dev/napi_defer_hard_irqs"
    fi
    threads="$(pgrep "^napi/$dev-" || true)"
    if [ -z "$threads" ]; then
      echo "TWO_HOSTS: no NAPI thread for $dev (kernel without threaded NAPI?)" >&2
      exit 1
    fi
    for thread in $threads; do taskset -pc "$cpus" "$thread" >/dev/null; done
  done
fi

taskset -c "${ORIGIN_CPUS:-$server_cpus}" "$bin/mock-origin" --listen "$host:9321" --streams 1 \
  --renditions 300,400,500,600,700,800,900,1000,1100,1200 --segment-duration 4s \
  --part-duration 500ms --first-byte-delay 50ms --window 10 --can-skip-until 24s >/dev/null 2>&1 &
pids+=($!)
sleep 5  # the first segment must be complete for playlists to carry dates
taskset -c "$server_cpus" "${LIVECACHE:-$bin/livecache}" --listen "$host:9322" \
  --origin "http://$host:9321" --shards "$shards" --cache-size 1GiB --admin 127.0.0.1:9323 >/dev/null 2>&1 &
server=$!
pids+=("$server")
sleep 1
profiler=
if [ -n "${PROFILE:-}" ]; then
  profile_dir="$(mktemp -d)"
  (sleep $((seconds / 2)); perf record -q -e cpu-clock -F 10000 --call-graph dwarf,16384 \
    -p "$server" -o "$profile_dir/perf.data" -- sleep 2 >/dev/null) &
  profiler=$!
fi
# CPU time (clock ticks) of each of the server's threads, one "tid name ticks" line each.
thread_ticks() {
  if ! kill -0 "$server" 2>/dev/null; then
    echo "livecache (pid $server) is not running" >&2
    exit 1
  fi
  for task in /proc/"$server"/task/*; do
    awk -v tid="${task##*/}" -v name="$(tr -c 'A-Za-z0-9_\n-' _ <"$task/comm")" \
      '{ sub(/^.*\) /, ""); print tid, name, $12 + $13 }' "$task/stat"
  done
}
ticks_before="$(thread_ticks)"
warmup="${WARMUP:-5}"
if ! [[ $warmup =~ ^[0-9]+$ ]]; then
  echo "WARMUP takes whole seconds, not '$warmup'" >&2
  exit 1
fi
steady_from="$(mktemp)"
if [ "$seconds" -gt "$warmup" ]; then
  (sleep "$warmup"; curl -s http://127.0.0.1:9323/metrics >"$steady_from") &
  pids+=($!)
fi
"${viewer_side[@]}" taskset -c "$loadgen_cpus" "$bin/loadgen" llhls --base "http://$host:9322" --viewers "$viewers" \
  --renditions "$renditions" --duration "${seconds}s" --swapped-fraction 0.2 --skip-fraction 0.2 \
  --origin-stats "http://$host:9321/__stats" --threads "${#loadgen_list[@]}" --cpus "$loadgen_cpus" --quiet | grep -E "release|lacking|origin:"
# The livecache_hls_*_seconds histograms of two scrapes, BEFORE and AFTER (awk's ARGV[1] and
# ARGV[2]; an empty file counts none), each as what AFTER counts and BEFORE does not, by name
# without its prefix and suffix (hold_release, release_wait, ...): total[m], and n[m, le] in
# the order of its buckets, order[m, 1..k[m]]. ms(m, q) is its q-quantile in milliseconds,
# interpolated within its bucket as Prometheus' histogram_quantile does (buckets a millisecond
# apart up to 6 ms, then 7.5, 10, 25 ms), or "above B" (its last bound, in ms) past it.
histograms_awk='
  function ms(m, q,   want, low, below, i, le) {
    want = q * total[m]; low = 0; below = 0
    for (i = 1; i <= k[m]; i++) {
      le = order[m, i]
      if (n[m, le] >= want) {
        if (le == "+Inf") return "above " 1000 * low
        return sprintf("%.1f", 1000 * (low + (le - low) * (want - below) / (n[m, le] - below)))
      }
      low = le; below = n[m, le]
    }
  }
  /^livecache_hls_[a-z_]+_seconds_(bucket|count)/ {
    m = $0; sub(/_seconds_.*/, "", m); sub(/^livecache_hls_/, "", m)
    if ($0 ~ /_count /) {
      if (FILENAME == ARGV[1]) { base_total[m] = $2 } else { total[m] = $2 - base_total[m] }
      next
    }
    match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
    if (FILENAME == ARGV[1]) { base[m, le] = $2 } else { n[m, le] = $2 - base[m, le]; order[m, ++k[m]] = le }
  }'
# `release_figures LABEL BEFORE AFTER`: the held answers' shares released within 2-6, 10 and
# 25 ms, and their 99th percentile.
release_figures() {
  awk -v label="$1" "$histograms_awk"'
    END { m = "hold_release"; if (total[m] <= 0) exit
          for (i = 1; i <= k[m]; i++) { le = order[m, i]
            if (le == "0.002" || le == "0.003" || le == "0.004" || le == "0.005" || le == "0.006" || le == "0.01" || le == "0.025")
              printf "server%s: %.1f%% of %d held answers released within %s s\n", label, 100 * n[m, le] / total[m], total[m], le }
          p99 = ms(m, 0.99)
          if (p99 ~ /^above/) { sub(/^above /, "", p99); printf "server%s: p99 above %s s\n", label, p99 / 1000 }
          else printf "server%s: p99 %s ms (interpolated in its bucket)\n", label, p99 }' "$2" "$3"
}
# Per playlist version that released held requests, on its owner: its wait for its release
# (livecache_hls_release_wait_seconds: the long-poll's turn, the parse, the checks) and the
# release itself (livecache_hls_release_burst_seconds), each as its median and 99th
# percentile: a held answer's release time is about the first plus its place in the second,
# behind whatever released before it. Same arguments.
version_figures() {
  awk -v label="$1" "$histograms_awk"'
    END {
      if (total["release_wait"] > 0)
        printf "server%s: per version that released (%d): wait p50 %s p99 %s ms; release p50 %s p99 %s ms\n",
          label, total["release_wait"], ms("release_wait", 0.5), ms("release_wait", 0.99),
          ms("release_burst", 0.5), ms("release_burst", 0.99) }' "$2" "$3"
}
steady_to="$(mktemp)"
curl -s http://127.0.0.1:9323/metrics >"$steady_to"
release_figures "" /dev/null "$steady_to"
if [ -s "$steady_from" ]; then
  release_figures " (steady, after ${warmup} s)" "$steady_from" "$steady_to"
  version_figures " (steady, after ${warmup} s)" "$steady_from" "$steady_to"
else
  version_figures "" /dev/null "$steady_to"
fi
rm -f "$steady_from" "$steady_to"
# The server's CPU per held answer, with everything else each viewer brings per part (its
# part's body, its next requests), by shard: what a burst costs each core, wherever it runs.
held="$(curl -s http://127.0.0.1:9323/metrics | awk '/^livecache_hls_hold_release_seconds_count/ { print $2 }')"
if [ "${held:-0}" -gt 0 ]; then
  # By thread name (a shard's threads share theirs); a thread started during the run counts
  # from zero, one that ended is left out.
  { echo "$ticks_before" | sed 's/^/before /'; thread_ticks | sed 's/^/after /'; } |
    awk -v held="$held" -v hz="$(getconf CLK_TCK)" '
    $1 == "before" { before[$2] = $4; next }
    { name = $3; sub(/^livecache-/, "", name); sub(/-[0-9]+$/, "", name)
      t[name] += $4 - ($2 in before ? before[$2] : 0) }
    END {
      line = ""; total = 0
      for (name in t) { us = t[name] * 1e6 / hz / held; total += us
                        if (us >= 0.05) line = line sprintf(" %s %.1f", name, us) }
      printf "server: CPU %.1f us per held answer (by thread:%s)\n", total, line }'
else
  echo "server: no held answers released (is the audience running?)"
fi
if [ -n "$profiler" ]; then
  wait "$profiler" || true
  if [ ! -s "$profile_dir/perf.data" ]; then
    echo "PROFILE: perf recorded nothing (run as root, or lower kernel.perf_event_paranoid)" >&2
    exit 1
  fi
  perf script -i "$profile_dir/perf.data" -F tid,time,ip,sym,dso >"$profile_dir/perf.txt" 2>/dev/null
  python3 "$root/benches/release_profile.py" "$profile_dir/perf.txt"
  if [ -n "${PROFILE_OUT:-}" ]; then cp "$profile_dir/perf.txt" "$PROFILE_OUT"; fi
fi
