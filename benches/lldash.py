#!/usr/bin/env python3
"""LL-DASH chunked fan-out (LIVE.md T12.1): the origin (mock-origin --dash-chunks) writes each
2 s segment as four 500 ms CMAF chunks, one HTTP chunk each, as they are produced; N viewers
(500 by default) ask for the next segment the moment it may be asked for (its first chunk
written: availabilityStartTime + its start + 0.5 s, as the MPD's availabilityTimeOffset says),
and each chunk's delay is measured from when the origin wrote it (the chunk's end on the
timeline) to when a viewer has all of its bytes. Reported per server: p50 / p99 / max of that
delay over every viewer and chunk, origin requests per segment, complete responses, and the
HTTP chunks per response (4: the packager's chunks kept).

Servers: livecache (1 shard), nginx (proxy_cache + proxy_cache_lock, as in compare.py) and
Varnish (default streaming), each asked for its own segment in turn, rounds interleaved; plus
the origin asked directly (every viewer its own origin request: the floor of this client).
Servers and the origin run on CPU 1, this client (Python asyncio protocols, one thread) on
CPU 0, so its own reading time is part of every figure alike.

Run from the repo root (after `cargo build --release --workspace`; nginx and varnish are
installed from Debian when missing, as root):
    python3 benches/lldash.py [--viewers 500] [--rounds 3] [--servers livecache,nginx,varnish,origin]
"""
import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (shared helpers: ports, pinning, servers)

SEGMENT_S, CHUNK_S, CHUNKS = 2.0, 0.5, 4
KBPS = 800  # segments of 200 KB, chunks of 50 KB
SEGMENT_BYTES = KBPS * 1000 // 8 * int(SEGMENT_S)


class Viewer(asyncio.Protocol):
    """One viewer's connection: sends its request when told, then notes when each chunk's
    last byte arrived (by byte offset, whatever the framing) and counts HTTP chunks."""

    def __init__(self, done):
        self.done, self.buf, self.head = done, bytearray(), None
        self.body, self.arrivals, self.http_chunks, self.chunked = 0, [], 0, False
        self.left, self.crlf, self.complete = 0, 0, False  # chunked: the current chunk's rest

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        now = time.time()
        self.buf += data
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(self.buf[:end]).decode("latin-1")
            self.chunked = "transfer-encoding: chunked" in self.head.lower()
            del self.buf[:end + 4]
        if self.chunked:
            self.read_chunked(now)
        else:
            self.body += len(self.buf)
            self.buf.clear()
            self.note(now)
            self.complete = self.body >= SEGMENT_BYTES
        if self.complete and not self.done.done():
            self.transport.close()

    def read_chunked(self, now):
        while self.buf:
            if self.left:
                take = min(self.left, len(self.buf))
                del self.buf[:take]
                self.left -= take
                self.body += take
                self.note(now)
            elif self.crlf:
                take = min(self.crlf, len(self.buf))
                del self.buf[:take]
                self.crlf -= take
            else:
                line = self.buf.find(b"\r\n")
                if line < 0:
                    return
                size = int(bytes(self.buf[:line]).split(b";")[0], 16)
                del self.buf[:line + 2]
                if size == 0:
                    self.complete = True
                    return
                self.left, self.crlf = size, 2
                self.http_chunks += 1

    def note(self, now):
        while len(self.arrivals) < CHUNKS and self.body >= (len(self.arrivals) + 1) * SEGMENT_BYTES // CHUNKS:
            self.arrivals.append(now)

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


async def one_segment(port, path, send_at, viewers):
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(viewers):
        done = loop.create_future()
        _, proto = await loop.create_connection(lambda d=done: Viewer(d), "127.0.0.1", port)
        conns.append((proto, done))
    request = f"GET {path} HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n".encode()
    await asyncio.sleep(max(0.0, send_at - time.time()))
    for proto, _ in conns:
        proto.transport.write(request)
    await asyncio.wait_for(asyncio.gather(*(d for _, d in conns)), timeout=20)
    return [proto for proto, _ in conns]


def availability_start(base):
    text = urllib.request.urlopen(f"{base}/live/s0/manifest.mpd", timeout=5).read().decode()
    stamp = re.search(r'availabilityStartTime="([^"]+)"', text).group(1)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def measure(name, port, origin_port, ast, viewers):
    # The next segment whose first chunk is at least 0.3 s away: time to connect everyone.
    now = time.time()
    n = int((now - ast) / SEGMENT_S) + 1
    while ast + n * SEGMENT_S + CHUNK_S < now + 0.3:
        n += 1
    start = ast + n * SEGMENT_S
    path = f"/live/s0/r0/seg-{n}.m4s"
    protos = asyncio.run(one_segment(port, path, start + CHUNK_S + 0.001, viewers))
    delays = []
    for proto in protos:
        for p, arrived in enumerate(proto.arrivals):
            delays.append(1000 * (arrived - (start + (p + 1) * CHUNK_S)))
    complete = sum(1 for p in protos if p.complete and len(p.arrivals) == CHUNKS)
    chunked = [p.http_chunks for p in protos if p.chunked]
    return {
        "server": name,
        "segment": n,
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays) if delays else float("nan"),
        "complete": complete,
        "origin_requests": compare.origin_hits(origin_port, path),
        "http_chunks_per_response": (sum(chunked) / len(chunked)) if chunked else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--servers", default="livecache,nginx,varnish,origin")
    ap.add_argument("--json")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    names = args.servers.split(",")
    if "nginx" in names or "varnish" in names:
        compare.ensure_peers()
    workdir = tempfile.mkdtemp(prefix="lldash-")
    origin_port = compare.free_port()
    origin = compare.Server("mock-origin", compare.pinned(1, [
        os.path.join(compare.BIN, "mock-origin"), "--listen", f"127.0.0.1:{origin_port}",
        "--streams", "1", "--renditions", str(KBPS), "--segment-duration", "2s",
        "--part-duration", "500ms", "--dash-chunks", "on"]), origin_port, workdir)
    servers = {}
    rows = []
    try:
        if "livecache" in names:
            servers["livecache"] = compare.start_livecache(workdir, origin_port)
        if "nginx" in names:
            static = tempfile.mkdtemp(prefix="lldash-static-")
            servers["nginx"] = compare.start_nginx(workdir, origin_port, static)
        if "varnish" in names:
            servers["varnish"] = compare.start_varnish(workdir, origin_port)
        ports = {name: s.port for name, s in servers.items()}
        if "origin" in names:
            ports["origin"] = origin_port
        ast = availability_start(f"http://127.0.0.1:{origin_port}")
        print(f"{args.viewers} viewers per segment, 2 s segments in 4 x 500 ms chunks of "
              f"{SEGMENT_BYTES // CHUNKS} bytes; delay from a chunk's writing to a viewer having it", flush=True)
        for r in range(args.rounds):
            for name in names:
                row = measure(name, ports[name], origin_port, ast, args.viewers)
                row["round"] = r
                rows.append(row)
                chunks = row["http_chunks_per_response"]
                print(f"round {r} {name:9} p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                      f"max {row['max_ms']:7.1f} ms  complete {row['complete']}/{args.viewers}  "
                      f"origin requests {row['origin_requests']}  HTTP chunks/response "
                      f"{'-' if chunks is None else f'{chunks:.2f}'}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
        origin.stop()
    for name in names:
        mine = [r for r in rows if r["server"] == name]
        p99 = sorted(r["p99_ms"] for r in mine)
        print(f"{name:9} p99 median {p99[len(p99) // 2]:.1f} ms (range {p99[0]:.1f} to {p99[-1]:.1f}) "
              f"over {len(mine)} rounds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
