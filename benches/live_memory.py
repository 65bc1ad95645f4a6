#!/usr/bin/env python3
"""Live-window memory, A/B (LIVE.md T7.2; issue "Live video II", item 2): many live streams
whose segments add up to several times the cache budget, viewers on every one, through
livecache with `live_window_memory = on` and then `off` (plain LRU), alternating, same binary,
same origin. Per run it prints the peak RSS against the target (1.1 x budget + 32 MiB), the
live-edge hit ratio (the share of the viewers' segment requests answered `cache=hit`, from
livecache's access log; with prefetch the first viewer of a segment gets a hit too), origin
requests per segment
(1.00: no segment was fetched twice, so none was evicted while a viewer still wanted it), and
the objects dropped as dead (left every playlist and their availability) and evicted for room.

Run from the repo root (after `cargo build --release --workspace`):
    python3 benches/live_memory.py [--streams 200] [--viewers 2] [--budget-mib 96]
        [--seconds 40] [--rounds 2]
The origin (mock-origin: classic HLS, 1 s segments of 100 KB, a 6-segment window) and
livecache run on CPU 1, loadgen on CPU 0. Everything started is stopped by PID.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (shared helpers: ports, pinning, servers, loadgen)

SEGMENT_KBPS = 800  # 1 s segments of 100 KB


def metric(admin_port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def peak_rss_mib(pid, stop, out):
    peak = 0.0
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            break
        time.sleep(0.2)
    out.append(peak)


def segment_results(log_path, offset):
    """(segment requests, hits) in an access log, from byte `offset` on."""
    requests = hits = 0
    with open(log_path) as f:
        f.seek(offset)
        for line in f:
            if "/seg-" not in line:
                continue
            requests += 1
            hits += " cache=hit " in line
    return requests, hits


def run(mode, args, origin_port, workdir, label):
    log_path = os.path.join(workdir, f"{label}.access.log")
    server = compare.start_livecache(
        workdir, origin_port, shards=1, cache_size=f"{args.budget_mib}MiB",
        extra=("--live-window-memory", mode, "--access-log", log_path))
    stop, peak = threading.Event(), []
    sampler = threading.Thread(target=peak_rss_mib, args=(server.proc.pid, stop, peak))
    sampler.start()
    try:
        # A first audience warms the restarted cache (its viewers join three segments behind
        # the edge: cold misses that are no live-edge figure); the second one is measured.
        compare.loadgen(
            ["live", "--base", server.base(), "--streams", str(args.streams), "--viewers",
             str(args.viewers), "--rendition", "r0", "--duration", "10s", "--threads", "1"],
            workdir, label + "-warmup")
        time.sleep(1.5)  # the access log's buffers reach the file
        offset = os.path.getsize(log_path)
        before = compare.origin_targets(origin_port)
        report = compare.loadgen(
            ["live", "--base", server.base(), "--streams", str(args.streams), "--viewers",
             str(args.viewers), "--rendition", "r0", "--duration", f"{args.seconds}s",
             "--threads", "1"], workdir, label)
        origin_requests, segments = compare.segment_fetches(before, compare.origin_targets(origin_port))
        dead = metric(server.admin_port, "livecache_store_dead_evictions_total")
        evicted = metric(server.admin_port, "livecache_store_evictions_total")
    finally:
        stop.set()
        sampler.join()
        server.stop()
    time.sleep(1.5)
    client, hits = segment_results(log_path, offset)
    return {
        "mode": mode,
        "peak_rss_mib": peak[0] if peak else 0.0,
        "client_segments": client,
        "origin_segment_requests": origin_requests,
        "segments": segments,
        "hit_ratio": hits / max(client, 1),
        "origin_per_segment": origin_requests / max(segments, 1),
        "dead_drops": dead,
        "evictions": evicted,
        "stalls": (report.get("live") or {}).get("stalls"),
        "errors": report["errors"] + report["bad_status"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--viewers", type=int, default=2, help="viewers per stream")
    ap.add_argument("--budget-mib", type=int, default=96)
    ap.add_argument("--seconds", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="live-memory-")
    origin_port = compare.free_port()
    origin = compare.Server("mock-origin", compare.pinned(1, [
        os.path.join(compare.BIN, "mock-origin"), "--listen", f"127.0.0.1:{origin_port}",
        "--streams", str(args.streams), "--renditions", str(SEGMENT_KBPS), "--segment-duration", "1s",
        "--part-duration", "1s", "--low-latency", "off", "--window", "6"]), origin_port, workdir)
    bytes_through = args.streams * SEGMENT_KBPS * 1000 / 8 * args.seconds
    target = 1.1 * args.budget_mib + 32
    print(f"{args.streams} streams x {args.viewers} viewers, {args.seconds} s: "
          f"{bytes_through / (1 << 20):.0f} MiB of segments through a {args.budget_mib} MiB budget "
          f"({bytes_through / (args.budget_mib << 20):.1f}x); RSS target <= {target:.1f} MiB", flush=True)
    rows = []
    try:
        for r in range(args.rounds):
            # Alternate which goes first: the first run after the origin starts differs.
            for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
                row = run(mode, args, origin_port, workdir, f"{mode}-{r}")
                rows.append(row)
                print(f"live_window_memory={mode:3} round {r}: peak RSS {row['peak_rss_mib']:.0f} MiB "
                      f"({'OK' if row['peak_rss_mib'] <= target else 'OVER'}), live-edge hit ratio "
                      f"{100 * row['hit_ratio']:.2f}% of {row['client_segments']} viewer segment requests, "
                      f"{row['origin_segment_requests']} origin segment requests, per segment "
                      f"{row['origin_per_segment']:.2f}, dead drops {row['dead_drops']:.0f}, evictions for room "
                      f"{row['evictions']:.0f}, stalls {row['stalls']}, errors {row['errors']}", flush=True)
    finally:
        origin.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
