#!/usr/bin/env python3
"""Soak test (a script, not CI): a live audience through livecache for --minutes while the mock
origin injects faults (503s, resets mid-body, stalls mid-body), with a slowloris population and
a slow-reader population alongside. Every body is checked byte for byte, and livecache's RSS,
open fds and in-flight counts are sampled each second, written to a CSV and plotted (SVG).

- Audience: --viewers Python threads (not loadgen: every body is checked here), each on its own
  keep-alive connection, spread over --streams and --renditions. A share (--ll-share) plays
  LL-HLS (parts, blocking reloads with `_HLS_msn`/`_HLS_part`), the rest plain HLS (whole
  segments, playlist reloads); a cut or 5xx is retried twice, as a player would. Each segment,
  part and init body is compared with what the origin sent. Those bytes are deterministic:
  `expected_body` below is `mock_origin::expected_body` (tools/mock-origin/src/body.rs), and a
  part is its byte range of the segment (`part_bytes`, tools/mock-origin/src/live/clock.rs).
  Each playlist is checked against its ETag, which the origin computes from the text (FNV-1a 64
  of the body, and its length).
  - A response with incomplete framing (livecache cut it, typically because the origin reset
    the fetch) is "cut", never "corrupt", though the bytes it did carry must be right.
  - A complete response whose bytes differ is CORRUPT: printed at once, logged to corrupt.log
    (the first 10 bodies saved beside it), and the run fails. So does broken framing
    (garbage status line or chunk, bytes after the response).
- Slowloris: --slowloris connections each send a request head one byte every
  --slowloris-interval seconds, and the head never completes. When livecache drops one, it
  reconnects. The summary gives how long livecache held them (client_header_timeout: 10 s).
- Slow readers: --slow-readers connections with a 16 KiB receive buffer ask for 8 MiB objects
  on the query-driven paths (`/soak-big/N?size=8388608`; a share with `cc=no-store`, so not
  stored). Most read --slow-read-bytes every --slow-read-interval seconds (those bytes are
  checked too); --slow-never-share of them (half) never read. Each is replaced after --slow-lifetime seconds, or
  when livecache drops it; the summary says which (from livecache's own fds).
- Samples, each second: livecache's VmRSS (/proc/PID/status) and open fds (/proc/PID/fd), and
  from its admin /metrics: connections open, in-flight fetches, stored and in-flight store bytes,
  pass-through bytes, requests, origin requests and errors, guards. The origin's /__stats
  (injected faults) is read every --origin-every seconds, and the clients count their own.
- Outputs in --out (default target/soak/):
  - samples.csv: one row a second;
  - soak.svg: panels for memory (RSS, store), open fds, connections and in-flight fetches,
    audience responses per second, and cumulative faults, cuts, 5xx and corrupt bodies;
  - summary.json, livecache.log, origin.log, and corrupt.log only if something was corrupt.

Run from the repo root, after `cargo build --release -p livecache -p mock-origin` (it builds
nothing and says so if a binary is missing):

    python3 benches/soak.py                      # 30 minutes, 2 shards
    python3 benches/soak.py --minutes 2 --out target/soak-short

It starts the mock origin and livecache (with --admin) on free 127.0.0.1 ports. With 2 CPUs or
more it pins livecache and the origin to CPU 1 (CPUs 1..shards if there are more) and itself
to CPU 0. It sends traffic only to 127.0.0.1 and stops everything it started (by PID) at the
end, on Ctrl-C or on SIGTERM. The load phase lasts --minutes; start-up and the drain at the end
add a few seconds (every wait there has a limit: a minute in all at worst). It exits 1 if a
body was corrupt or framing broken, if livecache or the origin died, or if nothing could be
verified.

Last result: only a validation run so far, not the 30-minute soak (2-core x86_64 dev VM,
2026-12-06, `--minutes 2`, defaults otherwise: 2 shards, 100 viewers with 48 on LL-HLS,
4 streams, 50 slowloris, 20 slow readers, origin faults 1% each).
- Traffic: 57,462 complete viewer responses; 1,430 MiB verified in 29,402 segment/part/init
  bodies, plus 28,007 playlists. 0 corrupt.
- Faults: 230 cut (the origin injected 22 resets, each cutting every collapsed follower),
  53 503s (53 injected), 0 timeouts.
- Memory: RSS 5.6 MiB at the start, 188.3 MiB at the end (the maximum); the store was at
  143 MiB, still filling its 256 MiB budget.
- fds: 17 at the start, 217 at most, 36 after the load. The 19 more are idle origin
  connections; no client socket was left.
- CPU: livecache 6% of a core, this script 15%.
- Slow clients: livecache dropped slowloris after 10.3 s (p50). It still held all 10
  never-reading slow readers at 90 s, past client_idle_timeout (60 s).
"""
import argparse
import collections
import csv
import functools
import http.client
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
HOST = "127.0.0.1"  # the only address this script ever sends to

# --- the mock origin's deterministic bytes (tools/mock-origin/src/body.rs) ----------------------

M64 = (1 << 64) - 1
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3
GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
INIT_SIZE = 1024  # mock_origin::INIT_SIZE


def fnv1a(data):
    """FNV-1a 64 of bytes: `path_seed` of a path, and the playlists' ETag hash."""
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def path_seed(path):
    return fnv1a(path.encode())


def pattern(seed, offset, n):
    """`n` bytes of the stream for `seed` from byte `offset` (body.rs `fill`): word i is the
    splitmix64 finaliser of seed + (i + 1) * GAMMA, little-endian."""
    if n <= 0:
        return b""
    first, last = offset // 8, (offset + n + 7) // 8
    words = []
    append = words.append
    z0 = (seed + (first + 1) * GAMMA) & M64
    for _ in range(last - first):
        z = ((z0 ^ (z0 >> 30)) * MIX1) & M64
        z = ((z ^ (z >> 27)) * MIX2) & M64
        append(z ^ (z >> 31))
        z0 = (z0 + GAMMA) & M64
    data = struct.pack(f"<{len(words)}Q", *words)
    start = offset % 8
    return data[start:start + n]


@functools.lru_cache(maxsize=256)
def expected_body(path, size):
    """mock_origin::expected_body(path, size)."""
    return pattern(path_seed(path), 0, size)


class Live:
    """The origin's live geometry, as configured by this script (live/mod.rs, live/clock.rs)."""

    MEDIA = re.compile(r"^/live/s(\d+)/r(\d+)/(?:init\.mp4|seg-(\d+)\.m4s|seg-(\d+)\.(\d+)\.m4s)$")

    def __init__(self, segment_ms, part_ms, renditions):
        self.seg_ns, self.part_ns, self.renditions = segment_ms * 1_000_000, part_ms * 1_000_000, renditions
        self.parts_per_segment = max(1, -(-self.seg_ns // self.part_ns))

    def segment_size(self, kbps):
        return kbps * 1000 * self.seg_ns // 1_000_000_000 // 8

    def part_bytes(self, total, p):
        start = min(self.part_ns * p, self.seg_ns)
        end = min(self.part_ns * (p + 1), self.seg_ns)
        at = lambda t: t * total // self.seg_ns
        return at(start), at(end) - at(start)

    def expected(self, path):
        """The body the origin sends for a live media path, or None if it is not one."""
        m = self.MEDIA.match(path)
        if not m:
            return None
        stream, rendition = int(m.group(1)), int(m.group(2))
        if rendition >= len(self.renditions):
            return None
        total = self.segment_size(self.renditions[rendition])
        if m.group(3) is not None:
            return expected_body(path, total)
        if m.group(4) is not None:
            segment = f"/live/s{stream}/r{rendition}/seg-{m.group(4)}.m4s"
            offset, length = self.part_bytes(total, int(m.group(5)))
            return expected_body(segment, total)[offset:offset + length]
        return expected_body(path, INIT_SIZE)


def first_difference(a, b):
    n = min(len(a), len(b))
    step = 4096
    for i in range(0, n, step):
        if a[i:i + step] != b[i:i + step]:
            for j in range(i, min(i + step, n)):
                if a[j] != b[j]:
                    return j
    return n


# --- counters shared by the client threads -----------------------------------------------------


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.counts)


class Soak:
    """What every client thread shares: the stop flag, the counters, the corrupt log."""

    def __init__(self, args, live, cache_port, out):
        self.args, self.live, self.port, self.out = args, live, cache_port, out
        self.stop = threading.Event()
        self.tally = Tally()
        self.corrupt_lock = threading.Lock()
        self.corrupt_seen = 0
        self.conns = set()  # open viewer connections, to abort at the end
        self.conns_lock = threading.Lock()
        self.cache_pid = 0

    def corrupt(self, who, target, what, response=None, got=None, want=None):
        """A body whose bytes are not the origin's: loud, logged, and fails the run."""
        self.tally.add("corrupt")
        self.tally.add(f"corrupt.{who}")
        detail = what
        if got is not None and want is not None:
            detail += (f"; got {len(got)} bytes, want {len(want)}, first difference at byte "
                       f"{first_difference(got, want)}")
        line = f"CORRUPT {who} GET {target}: {detail}"
        print(f"\n*** {line}", file=sys.stderr, flush=True)
        with self.corrupt_lock:
            self.corrupt_seen += 1
            n = self.corrupt_seen
            with open(os.path.join(self.out, "corrupt.log"), "a") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                if response is not None:
                    f.write(f"  status {response.status}, framing {response.framing}\n")
                    for name, value in response.headers.items():
                        f.write(f"  {name}: {value}\n")
            if got is not None and n <= 10:
                with open(os.path.join(self.out, f"corrupt-{n}.bin"), "wb") as f:
                    f.write(got)


# --- a strict HTTP/1.1 client for the viewers ----------------------------------------------------


class Response:
    def __init__(self):
        self.status = 0
        self.headers = {}
        self.body = b""
        self.complete = False
        self.why = ""  # why incomplete: eof, reset, timeout (cut), or a framing error
        self.framing = ""  # length, chunked, close, none


class Conn:
    """One keep-alive connection to livecache; reconnects when needed."""

    def __init__(self, soak, timeout):
        self.soak, self.timeout = soak, timeout
        self.sock = None
        self.buf = bytearray()

    def close(self):
        if self.sock is not None:
            with self.soak.conns_lock:
                self.soak.conns.discard(self)
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = bytearray()

    def abort(self):
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def get(self, target):
        """The response, or None if the connection gave no response at all (fresh connection
        closed or refused before a byte of head)."""
        request = (f"GET {target} HTTP/1.1\r\nHost: {HOST}:{self.soak.port}\r\n"
                   "User-Agent: livecache-soak\r\n\r\n").encode()
        for attempt in range(2):
            fresh = self.sock is None
            if fresh:
                try:
                    self.sock = socket.create_connection((HOST, self.soak.port), timeout=self.timeout)
                except OSError:
                    self.soak.tally.add("viewer.connect_failed")
                    return None
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self.soak.conns_lock:
                    self.soak.conns.add(self)
                self.soak.tally.add("viewer.connections")
            try:
                self.sock.sendall(request)
            except OSError:
                self.close()
                if fresh:
                    return None
                continue
            r = self.read_response()
            if r is None and not fresh:  # the server closed an idle keep-alive connection
                self.close()
                continue
            if r is None or not r.complete or r.framing == "close" or \
                    "close" in r.headers.get("connection", "").lower():
                self.close()
            return r
        return None

    def fill(self):
        data = self.sock.recv(1 << 18)
        if not data:
            raise EOFError
        self.buf += data

    def read_response(self):
        r = Response()
        try:
            while True:
                while (end := self.buf.find(b"\r\n\r\n")) < 0:
                    if len(self.buf) > 65536:
                        r.why = "head too large"
                        return r
                    self.fill()
                head = bytes(self.buf[:end]).decode("latin-1")
                del self.buf[:end + 4]
                lines = head.split("\r\n")
                parts = lines[0].split(" ", 2)
                if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                    r.why = "bad status line"
                    return r
                r.status = int(parts[1])
                r.headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    value = value.strip()
                    r.headers[name] = f"{r.headers[name]}, {value}" if name in r.headers else value
                if 100 <= r.status < 200:
                    continue  # interim (103 Early Hints): the final head follows
                break
            te = r.headers.get("transfer-encoding", "").lower()
            if r.status in (204, 304):
                r.framing = "none"
            elif "chunked" in te:
                r.framing = "chunked"
                body = bytearray()
                while True:
                    while (eol := self.buf.find(b"\r\n")) < 0:
                        self.fill()
                    size_text = bytes(self.buf[:eol]).split(b";")[0].strip()
                    try:
                        size = int(size_text, 16)
                    except ValueError:
                        r.why = "bad chunk size"
                        r.body = bytes(body)
                        return r
                    del self.buf[:eol + 2]
                    if size == 0:
                        while (eol := self.buf.find(b"\r\n")) != 0:  # trailers, then the empty line
                            if eol < 0:
                                self.fill()
                            else:
                                del self.buf[:eol + 2]
                        del self.buf[:2]
                        break
                    while len(self.buf) < size + 2:
                        self.fill()
                    if self.buf[size:size + 2] != b"\r\n":
                        r.why = "bad chunk end"
                        r.body = bytes(body)
                        return r
                    body += self.buf[:size]
                    del self.buf[:size + 2]
                r.body = bytes(body)
            elif "content-length" in r.headers:
                r.framing = "length"
                length = int(r.headers["content-length"].split(",")[0])
                try:
                    while len(self.buf) < length:
                        self.fill()
                finally:
                    r.body = bytes(self.buf[:length])
                del self.buf[:length]
            else:
                r.framing = "close"
                try:
                    while True:
                        self.fill()
                except EOFError:
                    pass
                r.body = bytes(self.buf)
                self.buf = bytearray()
            if self.buf:
                r.why = "trailing data after the response"
                return r
            r.complete = True
            return r
        except EOFError:
            if r.status == 0 and not self.buf:
                return None
            r.why = "eof"
        except socket.timeout:
            r.why = "timeout"
        except OSError:
            if r.status == 0 and not self.buf:
                return None
            r.why = "reset"
        return r  # incomplete: r.body holds what arrived (Content-Length framing) or nothing


# --- HLS ------------------------------------------------------------------------------------------


class Playlist:
    def __init__(self, text):
        if not text.startswith("#EXTM3U"):
            raise ValueError("no #EXTM3U")
        self.sequence, self.target, self.ended = 0, 1.0, False
        self.segments = {}  # msn -> (uri, duration, [part uris])
        pending, duration, msn = [], None, None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                self.sequence = int(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-TARGETDURATION:"):
                self.target = float(line.split(":", 1)[1])
            elif line.startswith("#EXT-X-ENDLIST"):
                self.ended = True
            elif line.startswith("#EXT-X-PART:"):
                m = re.search(r'URI="([^"]+)"', line)
                if not m:
                    raise ValueError("part without URI")
                pending.append(m.group(1))
            elif line.startswith("#EXTINF:"):
                duration = float(line.split(":", 1)[1].split(",")[0])
            elif line and not line.startswith("#"):
                if duration is None:
                    raise ValueError(f"URI without EXTINF: {line}")
                msn = self.sequence + len(self.segments)
                self.segments[msn] = (line, duration, pending)
                pending, duration = [], None
        self.next_msn = self.sequence + len(self.segments)
        self.trailing = pending

    def parts(self, msn):
        if msn in self.segments:
            return self.segments[msn][2]
        return self.trailing if msn == self.next_msn else []


class Stop(Exception):
    """The run is over: a viewer unwinds."""


class Viewer(threading.Thread):
    def __init__(self, soak, index, stream, rendition, ll, delay):
        super().__init__(name=f"viewer-{index}", daemon=True)
        self.soak, self.ll, self.delay = soak, ll, delay
        self.base = f"/live/s{stream}/r{rendition}/"
        self.master = f"/live/s{stream}/master.m3u8"
        self.conn = Conn(soak, soak.args.timeout)
        self.segment_s = soak.args.segment_ms / 1000
        self.part_s = soak.args.part_ms / 1000

    def run(self):
        try:
            if self.soak.stop.wait(self.delay):
                return
            self.playlist(self.master)
            self.media(self.base + "init.mp4", "init")
            self.play_ll() if self.ll else self.play_plain()
        except Stop:
            pass
        except Exception:  # a bug here, not in livecache: say so, keep the run going
            self.soak.tally.add("viewer.crashed")
            traceback.print_exc()
        finally:
            self.conn.close()

    def sleep(self, seconds):
        if self.soak.stop.wait(max(0.0, seconds)):
            raise Stop

    def fetch(self, target, kind):
        """One request, classified and counted: the complete response (any status), or None."""
        soak, tally = self.soak, self.soak.tally
        if soak.stop.is_set():
            raise Stop
        r = self.conn.get(target)
        if soak.stop.is_set():
            raise Stop  # what the end of the run cut is not the server's doing
        if r is None:
            tally.add("no_response")
            return None
        if not r.complete:
            if r.why == "timeout":
                tally.add("timeout")
                tally.add(f"timeout.{kind}")
            elif r.why in ("eof", "reset"):
                tally.add("cut")
                tally.add(f"cut.{kind}")
            else:
                tally.add("protocol_error")
                print(f"protocol error on GET {target}: {r.why}", file=sys.stderr, flush=True)
            if r.status == 200 and r.body and kind != "playlist":
                want = soak.live.expected(target.split("?", 1)[0])
                if want is not None and want[:len(r.body)] != r.body:
                    soak.corrupt(kind, target, f"cut response ({r.why}) whose bytes differ", r, r.body,
                                 want[:len(r.body)])
            return None
        tally.add("responses")
        tally.add(f"responses.{kind}")
        tally.add(f"status.{r.status}")
        # Cache-Status without the cache's name and the ttl: "hit", "fwd=miss; stored", ...
        items = [i.strip() for i in r.headers.get("cache-status", "-").split(";")[1:]]
        tally.add("cache." + ("; ".join(i for i in items if not i.startswith("ttl=")) or "-"))
        if r.status != 200:
            tally.add("errors" if r.status >= 500 else "not_found" if r.status == 404 else "other_status")
        return r

    def playlist(self, target):
        r = self.fetch(target, "playlist")
        if r is None or r.status != 200:
            return None
        etag = r.headers.get("etag", "")
        want = f'"{fnv1a(r.body):016x}-{len(r.body):x}"'
        if etag != want:
            self.soak.corrupt("playlist", target, f"ETag {etag or '(none)'} does not match the body ({want})", r,
                              r.body)
            return None
        self.soak.tally.add("verified.playlists")
        try:
            return Playlist(r.body.decode())
        except (ValueError, UnicodeDecodeError) as e:
            if target.endswith("master.m3u8"):
                return None
            self.soak.corrupt("playlist", target, f"unparseable playlist: {e}", r)
            return None

    def media(self, target, kind, retries=2):
        """Fetches a segment/part/init and checks every byte; retries a cut or 5xx (as a player
        does). Returns True once a correct body arrived."""
        want = self.soak.live.expected(target)
        for attempt in range(retries + 1):
            if attempt:
                self.soak.tally.add("retries")
                self.sleep(0.1)
            r = self.fetch(target, kind)
            if r is None or r.status >= 500:
                continue
            if r.status != 200:
                return False
            if r.body == want:
                self.soak.tally.add("verified.bodies")
                self.soak.tally.add("verified.bytes", len(r.body))
                return True
            self.soak.corrupt(kind, target, "complete response whose bytes differ from the origin's", r, r.body, want)
            return False
        return False

    def first_playlist(self):
        while True:
            pl = self.playlist(self.base + "index.m3u8")
            if pl is not None:
                return pl
            self.sleep(0.5)

    def play_plain(self):
        pl = self.first_playlist()
        msn = max(pl.sequence, pl.next_msn - 3)  # three target durations of hold-back
        reloaded, changed = time.monotonic(), True
        while True:
            if msn < pl.sequence:
                self.soak.tally.add("skipped", pl.sequence - msn)
                msn = pl.sequence
            if msn in pl.segments:
                self.media(self.base + pl.segments[msn][0], "segment")
                msn += 1
                continue
            interval = self.segment_s if changed else self.segment_s / 2
            self.sleep(reloaded + interval - time.monotonic())
            reloaded = time.monotonic()
            new = self.playlist(self.base + "index.m3u8")
            if new is None:
                changed = False
                continue
            changed = (new.sequence, len(new.segments)) != (pl.sequence, len(pl.segments))
            pl = new

    def play_ll(self):
        pl = self.first_playlist()
        with_parts = [m for m, s in pl.segments.items() if s[2]]
        msn, part = (max(with_parts) if with_parts else pl.next_msn), 0
        while True:
            if msn < pl.sequence:
                self.soak.tally.add("skipped", pl.sequence - msn)
                msn, part = pl.sequence, 0
            parts = pl.parts(msn)
            if part < len(parts):
                self.media(self.base + parts[part], "part")
                part += 1
                continue
            if msn in pl.segments:
                if part == 0:
                    self.media(self.base + pl.segments[msn][0], "segment")
                msn, part = msn + 1, 0
                continue
            asked = time.monotonic()
            before = (pl.next_msn, len(pl.trailing))
            new = self.playlist(f"{self.base}index.m3u8?_HLS_msn={msn}&_HLS_part={part}")
            if new is not None:
                pl = new
                if (new.next_msn, len(new.trailing)) != before:
                    continue
            self.sleep(asked + self.part_s - time.monotonic())  # no progress: poll, do not spin


# --- slowloris and slow readers: one thread each, many non-blocking sockets ----------------------


def connect_nonblocking(rcvbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:  # before connect, so the window scale matches: a small window, as a slow mobile client has
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    try:
        s.connect((HOST, SOAK_PORT[0]))
    except BlockingIOError:
        pass
    return s


SOAK_PORT = [0]


def server_holds(pid, cache_port, client_port):
    """Whether livecache still has an fd on its end of the connection from client_port."""
    inode = None
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)) == \
                        (cache_port, client_port):
                    inode = fields[9]
                    break
        if inode in (None, "0"):
            return False
        link = f"socket:[{inode}]"
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


class Slowloris(threading.Thread):
    """Connections that send a request head one byte at a time and never finish it."""

    def __init__(self, soak):
        super().__init__(name="slowloris", daemon=True)
        self.soak, self.n, self.interval = soak, soak.args.slowloris, soak.args.slowloris_interval
        self.slots = [None] * self.n
        self.held = []  # seconds livecache kept each one
        self.open = 0

    def head(self, i):
        return (f"GET /soak-slowloris/{i}?size=1024 HTTP/1.1\r\nHost: {HOST}\r\n"
                f"User-Agent: livecache-soak-slowloris\r\nX-Pad: {'a' * 400}\r\n\r\n").encode()

    def run(self):
        start = time.monotonic()
        reopen = [start + self.interval * i / max(self.n, 1) for i in range(self.n)]
        tally = self.soak.tally
        while not self.soak.stop.is_set():
            now = time.monotonic()
            for i in range(self.n):
                slot = self.slots[i]
                if slot is None:
                    if now >= reopen[i]:
                        self.slots[i] = {"sock": connect_nonblocking(), "opened": now, "sent": 0, "next": now,
                                         "head": self.head(i)}
                        tally.add("slowloris.connections")
                    continue
                if now >= slot["next"] and slot["sent"] < len(slot["head"]):
                    try:
                        slot["sock"].send(slot["head"][slot["sent"]:slot["sent"] + 1])
                        slot["sent"] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        self.closed(i, now, "reset on send")
                        reopen[i] = now + 1
                        continue
                    slot["next"] = now + self.interval
            poller = select.poll()
            for slot in self.slots:
                if slot is not None:
                    poller.register(slot["sock"], select.POLLIN)
            readable = {fd for fd, _ in poller.poll(0)}
            now = time.monotonic()
            for i, slot in enumerate(self.slots):
                if slot is not None and slot["sock"].fileno() in readable:
                    try:
                        data = slot["sock"].recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    status = "closed"
                    if data.startswith(b"HTTP/1."):
                        status = data.split(b" ", 2)[1].decode("latin-1", "replace")
                    self.closed(i, now, status)
                    reopen[i] = now + 1
            self.open = sum(s is not None for s in self.slots)
            self.soak.stop.wait(0.2)
        self.close_all()

    def closed(self, i, now, how):
        slot = self.slots[i]
        self.held.append(now - slot["opened"])
        self.soak.tally.add(f"slowloris.dropped.{how}")
        slot["sock"].close()
        self.slots[i] = None

    def close_all(self):
        for i, slot in enumerate(self.slots):
            if slot is not None:
                slot["sock"].close()
                self.slots[i] = None
        self.open = 0


class SlowReaders(threading.Thread):
    """Connections that ask for large objects and read a few KiB every few seconds, or never."""

    def __init__(self, soak):
        super().__init__(name="slow-readers", daemon=True)
        a = soak.args
        self.soak, self.n = soak, a.slow_readers
        self.slots = [None] * self.n
        self.open = 0
        never = round(self.n * a.slow_never_share)
        uncacheable = round(self.n * a.slow_uncacheable_share)
        # Bresenham spreads of the two shares over the slots, independently.
        self.never = [int((i + 1) * never / max(self.n, 1)) > int(i * never / max(self.n, 1)) for i in range(self.n)]
        self.nostore = [int((i + 1) * uncacheable / max(self.n, 1)) > int(i * uncacheable / max(self.n, 1))
                        for i in range(self.n)]

    def target(self, i, generation):
        a = self.soak.args
        if self.nostore[i]:
            path = f"/soak-big/nostore-{i}-{generation}"
            return path, f"{path}?size={a.big_size}&cc=no-store"
        path = f"/soak-big/{i % a.big_objects}"
        return path, f"{path}?size={a.big_size}"

    def open_slot(self, i, now, generation):
        path, target = self.target(i, generation)
        sock = connect_nonblocking(self.soak.args.slow_rcvbuf)
        slot = {"sock": sock, "opened": now, "port": sock.getsockname()[1], "seed": path_seed(path),
                "head": bytearray(), "status": None, "offset": 0, "next": now + self.soak.args.slow_read_interval,
                "sent": False, "target": target, "verify": True}
        self.soak.tally.add("slow.connections")
        self.soak.tally.add("slow.never" if self.never[i] else "slow.trickle")
        return slot

    def run(self):
        a = self.soak.args
        start = time.monotonic()
        reopen = [start + a.slow_read_interval * i / max(self.n, 1) for i in range(self.n)]
        generation = [0] * self.n
        while not self.soak.stop.is_set():
            now = time.monotonic()
            for i in range(self.n):
                slot = self.slots[i]
                if slot is None:
                    if now >= reopen[i]:
                        generation[i] += 1
                        self.slots[i] = self.open_slot(i, now, generation[i])
                    continue
                if not slot["sent"]:
                    request = (f"GET {slot['target']} HTTP/1.1\r\nHost: {HOST}\r\n"
                               "User-Agent: livecache-soak-slow-reader\r\n\r\n").encode()
                    try:
                        slot["sock"].send(request)  # small: goes out whole once connected
                        slot["sent"] = True
                    except BlockingIOError:
                        continue
                    except OSError:
                        self.finish(i, now, "connect failed")
                        reopen[i] = now + 1
                        continue
                if now - slot["opened"] >= a.slow_lifetime:
                    # The client's TCP state cannot tell: livecache's FIN waits behind the unread
                    # bytes. Whether livecache still has an fd on its end can.
                    held = server_holds(self.soak.cache_pid, self.soak.port, slot["port"])
                    self.finish(i, now, "held by livecache to the lifetime" if held else "closed by livecache")
                    reopen[i] = now + 0.5
                    continue
                if self.never[i] or now < slot["next"]:
                    continue
                slot["next"] = now + a.slow_read_interval
                try:
                    data = slot["sock"].recv(a.slow_read_bytes)
                except BlockingIOError:
                    continue
                except OSError:
                    data = None
                if not data:
                    self.finish(i, now, "closed by livecache")
                    reopen[i] = now + 1
                    continue
                self.consume(i, data)
            self.open = sum(s is not None for s in self.slots)
            self.soak.stop.wait(0.2)
        for i in range(self.n):
            if self.slots[i] is not None:
                self.slots[i]["sock"].close()
                self.slots[i] = None
        self.open = 0

    def consume(self, i, data):
        slot, tally = self.slots[i], self.soak.tally
        if slot["status"] is None:
            slot["head"] += data
            end = slot["head"].find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(slot["head"][:end]).decode("latin-1")
            data = bytes(slot["head"][end + 4:])
            status_line = head.split("\r\n", 1)[0].split(" ")
            slot["status"] = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else -1
            tally.add(f"slow.status.{slot['status']}")
            if slot["status"] != 200 or "chunked" in head.lower():
                slot["verify"] = False
                if slot["status"] == 200:
                    tally.add("slow.unverified_chunked")
        if data and slot["verify"]:
            want = pattern(slot["seed"], slot["offset"], len(data))
            if data != want:
                self.soak.corrupt("slow-reader", slot["target"],
                                  f"bytes {slot['offset']}..{slot['offset'] + len(data)} differ", None, data, want)
                slot["verify"] = False
            else:
                tally.add("slow.verified_bytes", len(data))
        slot["offset"] += len(data)

    def finish(self, i, now, how):
        slot = self.slots[i]
        self.soak.tally.add(f"slow.ended.{'never' if self.never[i] else 'trickle'}.{how}")
        slot["sock"].close()
        self.slots[i] = None


# --- processes, ports, /proc ---------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} (see its log in the --out directory)")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def http_get(port, path, timeout=3.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def pinned(cpus, argv):
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus] + argv
    return argv


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    """utime + stime of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_kinds(pid, cache_port, admin_port, origin_port):
    """livecache's fds by kind: client/origin/admin sockets (from /proc/net/tcp), listeners, other."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    lport = int(fields[1].rsplit(":", 1)[1], 16)
                    rport = int(fields[2].rsplit(":", 1)[1], 16)
                    sockets[fields[9]] = (lport, rport, fields[3])
        except OSError:
            pass
    kinds = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if not m:
            kinds["anon_inode" if link.startswith("anon_inode") else "file/pipe"] += 1
            continue
        lport, rport, state = sockets.get(m.group(1), (0, 0, ""))
        if state == "0A":
            kinds["listener"] += 1
        elif lport == cache_port:
            kinds["client"] += 1
        elif lport == admin_port:
            kinds["admin"] += 1
        elif rport == origin_port:
            kinds["origin"] += 1
        else:
            kinds["other socket"] += 1
    return dict(sorted(kinds.items()))


def scrape(admin_port):
    """/metrics: each family summed over its labels, guards kept per kind."""
    status, body = http_get(admin_port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    values = collections.defaultdict(float)
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        name = key.split("{", 1)[0]
        if name.endswith("_bucket"):
            continue
        values[name] += float(value)
        if name == "livecache_guards_total":
            m = re.search(r'kind="([^"]+)"', key)
            values[f"guard.{m.group(1) if m else '?'}"] += float(value)
    return values


def origin_stats(origin_port):
    status, body = http_get(origin_port, "/__stats", timeout=5.0)
    data = json.loads(body)
    return data.get("total", 0), data.get("faults", {})


# --- sampling, CSV, SVG --------------------------------------------------------------------------

COLUMNS = [
    "t_s", "rss_mib", "fds", "threads", "connections_open", "inflight_fetches", "store_mib", "store_inflight_mib",
    "store_objects", "pass_through_mib", "livecache_requests", "origin_requests", "origin_errors", "evictions",
    "guard_slow_reader", "guard_lagging_reader", "bad_requests", "viewer_responses", "viewer_verified_bodies",
    "viewer_verified_mib", "cut", "corrupt", "errors_5xx", "timeouts", "slowloris_open", "slow_readers_open",
    "origin_total", "origin_fault_errors", "origin_fault_resets", "origin_fault_stalls",
]


def proc_threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def sample(t, pid, admin_port, tally, slowloris, slow, origin):
    row = dict.fromkeys(COLUMNS, "")
    row["t_s"] = round(t, 1)
    try:
        row["rss_mib"] = round(rss_mib(pid), 1)
        row["fds"] = fd_count(pid)
        row["threads"] = proc_threads(pid)
    except OSError:
        pass
    try:
        m = scrape(admin_port)
        mib = 1 << 20
        row.update({
            "connections_open": int(m["livecache_connections_open"]),
            "inflight_fetches": int(m["livecache_inflight_fetches"]),
            "store_mib": round(m["livecache_store_bytes"] / mib, 1),
            "store_inflight_mib": round(m["livecache_store_inflight_bytes"] / mib, 1),
            "store_objects": int(m["livecache_store_objects"]),
            "pass_through_mib": round(m["livecache_pass_through_bytes"] / mib, 1),
            "livecache_requests": int(m["livecache_requests_total"]),
            "origin_requests": int(m["livecache_origin_requests_total"]),
            "origin_errors": int(m["livecache_origin_errors_total"]),
            "evictions": int(m["livecache_store_evictions_total"]),
            "guard_slow_reader": int(m["guard.slow_reader"]),
            "guard_lagging_reader": int(m["guard.lagging_reader"]),
            "bad_requests": int(m["livecache_bad_requests_total"]),
        })
    except (OSError, RuntimeError, ValueError, http.client.HTTPException):
        tally.add("scrape_failures")
    c = tally.snapshot()
    row.update({
        "viewer_responses": c["responses"], "viewer_verified_bodies": c["verified.bodies"],
        "viewer_verified_mib": round(c["verified.bytes"] / (1 << 20), 1), "cut": c["cut"],
        "corrupt": c["corrupt"], "errors_5xx": c["errors"], "timeouts": c["timeout"],
        "slowloris_open": slowloris.open if slowloris else 0, "slow_readers_open": slow.open if slow else 0,
    })
    if origin:
        total, faults = origin
        row.update({"origin_total": total, "origin_fault_errors": faults.get("errors", 0),
                    "origin_fault_resets": faults.get("resets", 0), "origin_fault_stalls": faults.get("stalls", 0)})
    return row


def nice_step(v):
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least v."""
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp * (1 + 1e-9):
            return m * exp
    return 10 * exp


def per_second(rows, column):
    out, prev = [], None
    for r in rows:
        v = r.get(column)
        out.append(None if v in ("", None) or prev in ("", None) else max(0, v - prev))
        prev = v
    return out


def write_svg(rows, path, title):
    """Hand-written SVG: one panel per figure, time on x, legends above the panels."""
    ts = [r["t_s"] for r in rows]
    col = lambda c: [r[c] if r[c] != "" else None for r in rows]
    store = [None if a is None else a + (b or 0) for a, b in zip(col("store_mib"), col("store_inflight_mib"))]
    panels = [
        ("livecache memory, MiB", [("RSS", col("rss_mib"), "#d62728"),
                                   ("store (stored + in-flight)", store, "#1f77b4"),
                                   ("pass-through", col("pass_through_mib"), "#2ca02c")]),
        ("livecache open fds", [("fds", col("fds"), "#9467bd")]),
        ("connections and in-flight fetches", [("client connections (livecache)", col("connections_open"), "#1f77b4"),
                                               ("in-flight fetches", col("inflight_fetches"), "#d62728"),
                                               ("slowloris", col("slowloris_open"), "#ff7f0e"),
                                               ("slow readers", col("slow_readers_open"), "#2ca02c")]),
        ("audience responses per second", [("complete responses", per_second(rows, "viewer_responses"), "#1f77b4")]),
        ("faults and failures, cumulative", [("origin resets", col("origin_fault_resets"), "#8c564b"),
                                             ("origin 503s", col("origin_fault_errors"), "#e377c2"),
                                             ("origin stalls", col("origin_fault_stalls"), "#7f7f7f"),
                                             ("cut", col("cut"), "#ff7f0e"), ("5xx", col("errors_5xx"), "#d62728"),
                                             ("timeouts", col("timeouts"), "#bcbd22"),
                                             ("corrupt", col("corrupt"), "#000000")]),
    ]
    width, left, right, top, panel_h, gap = 960, 60, 20, 40, 170, 56
    height = top + len(panels) * (panel_h + gap)
    plot_w = width - left - right
    tmax = max(ts[-1] if ts else 1, 1)
    minutes = tmax > 300
    xstep = nice_step(tmax / (60 if minutes else 1) / 10) * (60 if minutes else 1)
    esc = lambda text: text.replace("&", "&amp;").replace("<", "&lt;")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{esc(title)}</text>']
    for p, (name, series) in enumerate(panels):
        y0 = top + p * (panel_h + gap) + 16
        values = [v for _, vs, _ in series for v in vs if v is not None]
        ystep = nice_step(max(values, default=1) / 4)
        ymax = ystep * max(1, math.ceil(max(values, default=1) / ystep - 1e-9))
        X = lambda t: left + plot_w * t / tmax
        Y = lambda v: y0 + panel_h - panel_h * v / ymax
        out.append(f'<text x="{left}" y="{y0 - 7}" font-size="13" font-weight="bold">{esc(name)}</text>')
        lx = left + 7.5 * len(name) + 24
        for label, _, color in series:
            out.append(f'<line x1="{lx:.0f}" y1="{y0 - 11}" x2="{lx + 18:.0f}" y2="{y0 - 11}" stroke="{color}" '
                       f'stroke-width="2"/>')
            out.append(f'<text x="{lx + 23:.0f}" y="{y0 - 7}">{esc(label)}</text>')
            lx += 23 + 6.2 * len(label) + 14
        v = 0.0
        while v <= ymax + 1e-9:
            out.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{left + plot_w}" y2="{Y(v):.1f}" stroke="#e4e4e4"/>')
            out.append(f'<text x="{left - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
            v += ystep
        t = 0.0
        while t <= tmax + 1e-9:
            label = f"{t / 60:g} min" if minutes else f"{t:g} s"
            out.append(f'<line x1="{X(t):.1f}" y1="{y0 + panel_h}" x2="{X(t):.1f}" y2="{y0 + panel_h + 4}" '
                       'stroke="#444"/>')
            out.append(f'<text x="{X(t):.1f}" y="{y0 + panel_h + 16}" text-anchor="middle">{label}</text>')
            t += xstep
        out.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#444"/>')
        for label, vs, color in series:
            run = []
            for t, v in list(zip(ts, vs)) + [(None, None)]:
                if v is None:
                    if run:
                        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.3" '
                                   f'points="{" ".join(run)}"/>')
                    run = []
                else:
                    run.append(f"{X(t):.1f},{Y(v):.1f}")
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# --- the run ---------------------------------------------------------------------------------------


class Proc:
    def __init__(self, name, argv, out):
        self.name = name
        self.log = open(os.path.join(out, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def stop(self, grace=15.0):
        """SIGTERM, then SIGKILL after `grace` s; returns the exit status (None: it had died before)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Interrupted(Exception):
    pass


def on_sigterm(signum, frame):
    raise Interrupted()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30, help="length of the load phase")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--cache-size", default="256MiB", help="livecache cache_size")
    ap.add_argument("--viewers", type=int, default=100, help="live viewers in all, spread over streams and renditions")
    ap.add_argument("--ll-share", type=float, default=0.5, help="share of the viewers playing LL-HLS (parts)")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--renditions", default="1000", help="rendition bitrates, kbit/s, comma-separated")
    ap.add_argument("--segment-ms", type=int, default=1000)
    ap.add_argument("--part-ms", type=int, default=250)
    ap.add_argument("--window", type=int, default=6, help="segments per media playlist")
    ap.add_argument("--error-rate", type=float, default=0.01, help="origin: share of live responses answered 503")
    ap.add_argument("--reset-rate", type=float, default=0.01, help="origin: share of segments/parts reset halfway")
    ap.add_argument("--stall-rate", type=float, default=0.01, help="origin: share of segments/parts paused halfway")
    ap.add_argument("--stall-ms", type=int, default=1500, help="origin: length of a stall")
    ap.add_argument("--seed", type=int, default=1, help="origin: seed of the fault sequence")
    ap.add_argument("--slowloris", type=int, default=50, help="slowloris connections")
    ap.add_argument("--slowloris-interval", type=float, default=3.0, help="seconds between the bytes of a head")
    ap.add_argument("--slow-readers", type=int, default=20, help="slow-reader connections")
    ap.add_argument("--slow-read-bytes", type=int, default=4096, help="bytes a trickling reader reads at a time")
    ap.add_argument("--slow-read-interval", type=float, default=5.0, help="seconds between a reader's reads")
    ap.add_argument("--slow-never-share", type=float, default=0.5, help="share of slow readers that never read")
    ap.add_argument("--slow-uncacheable-share", type=float, default=0.25,
                    help="share of slow readers whose object is no-store (streamed through, not stored)")
    ap.add_argument("--slow-rcvbuf", type=int, default=16384,
                    help="slow readers' SO_RCVBUF (0: the kernel's, which on loopback can absorb a whole 8 MiB body)")
    ap.add_argument("--slow-lifetime", type=float, default=90.0, help="seconds before a slow reader is replaced")
    ap.add_argument("--big-size", type=int, default=8 << 20, help="size of the slow readers' objects")
    ap.add_argument("--big-objects", type=int, default=4, help="distinct cacheable objects the slow readers share")
    ap.add_argument("--timeout", type=float, default=15.0, help="viewer socket timeout, seconds")
    ap.add_argument("--origin-every", type=int, default=5,
                    help="seconds between reads of the origin's /__stats (its target list grows over a run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "soak"))
    args = ap.parse_args()
    renditions = [int(k) for k in args.renditions.split(",")]
    if args.part_ms > args.segment_ms or args.viewers < 1 or args.streams < 1:
        sys.exit("need --part-ms <= --segment-ms, at least one viewer and one stream")

    missing = [b for b in ("livecache", "mock-origin") if not os.access(os.path.join(BIN, b), os.X_OK)]
    if missing:
        sys.exit(f"missing {', '.join(os.path.join('target/release', b) for b in missing)}: build first with\n"
                 "  cargo build --release -p livecache -p mock-origin")
    os.makedirs(args.out, exist_ok=True)
    for stale in os.listdir(args.out):
        if stale == "corrupt.log" or stale.startswith("corrupt-"):
            os.remove(os.path.join(args.out, stale))

    ncpu = os.cpu_count() or 1
    server_cpus = load_cpus = None
    if ncpu >= 2:
        server_cpus = "1" if ncpu == 2 else f"1-{min(args.shards, ncpu - 1)}"
        load_cpus = {0}
        os.sched_setaffinity(0, load_cpus)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    signal.signal(signal.SIGTERM, on_sigterm)
    origin_port, cache_port, admin_port = free_port(), free_port(), free_port()
    SOAK_PORT[0] = cache_port
    live = Live(args.segment_ms, args.part_ms, renditions)
    soak = Soak(args, live, cache_port, args.out)
    procs, threads, rows = [], [], []
    slowloris = slow = None
    outcome = {"livecache_died": False, "origin_died": False, "interrupted": False}
    csv_path, svg_path = os.path.join(args.out, "samples.csv"), os.path.join(args.out, "soak.svg")
    initial = final = None
    last_origin = None
    load_seconds = 0.0
    cache_exit = None
    n_ll = 0
    try:
        origin = Proc("origin", pinned(server_cpus, [
            os.path.join(BIN, "mock-origin"), "--listen", f"{HOST}:{origin_port}", "--streams", str(args.streams),
            "--renditions", args.renditions, "--segment-duration", f"{args.segment_ms}ms",
            "--part-duration", f"{args.part_ms}ms", "--window", str(args.window),
            "--error-rate", str(args.error_rate), "--reset-rate", str(args.reset_rate),
            "--stall-rate", str(args.stall_rate), "--stall-ms", str(args.stall_ms), "--seed", str(args.seed)]),
            args.out)
        procs.append(origin)
        wait_port(origin_port, origin.proc)
        cache = Proc("livecache", pinned(server_cpus, [
            os.path.join(BIN, "livecache"), "--listen", f"{HOST}:{cache_port}", "--origin",
            f"http://{HOST}:{origin_port}", "--shards", str(args.shards), "--admin", f"{HOST}:{admin_port}",
            "--cache-size", args.cache_size, "--shutdown-grace", "5s"]), args.out)
        procs.append(cache)
        soak.cache_pid = cache.pid
        wait_port(cache_port, cache.proc)
        wait_port(admin_port, cache.proc)
        end = time.time() + 10
        while http_get(admin_port, "/readyz")[0] != 200:
            if time.time() > end:
                raise RuntimeError("livecache not ready after 10 s")
            time.sleep(0.1)

        time.sleep(0.5)
        initial = {"rss_mib": rss_mib(cache.pid), "fds": fd_count(cache.pid),
                   "fd_kinds": fd_kinds(cache.pid, cache_port, admin_port, origin_port),
                   "cpu_s": {"livecache": cpu_seconds(cache.pid), "origin": cpu_seconds(origin.pid),
                             "load": sum(os.times()[:2])}}
        print(f"soak: {args.minutes:g} min; livecache pid {cache.pid} on {HOST}:{cache_port} ({args.shards} shards, "
              f"admin :{admin_port}), origin pid {origin.pid} on :{origin_port}; CPUs: servers {server_cpus or 'any'}, "
              f"load {','.join(map(str, load_cpus)) if load_cpus else 'any'}; output in {args.out}", flush=True)
        print(f"start: RSS {initial['rss_mib']:.1f} MiB, {initial['fds']} fds {initial['fd_kinds']}", flush=True)

        n_ll = 0
        for g in range(args.viewers):
            # Round-robin over streams, then renditions; each stream and rendition gets its share of
            # LL-HLS viewers, so parts and whole segments of the same media meet in the cache.
            stream, rendition = g % args.streams, (g // args.streams) % len(renditions)
            k = g // (args.streams * len(renditions))
            ll = int((k + 1) * args.ll_share) > int(k * args.ll_share)
            n_ll += ll
            delay = 2.0 * g / args.viewers  # spread the joins over two seconds
            threads.append(Viewer(soak, g, stream, rendition, ll, delay))
        if args.slowloris > 0:
            slowloris = Slowloris(soak)
            threads.append(slowloris)
        if args.slow_readers > 0:
            slow = SlowReaders(soak)
            threads.append(slow)
        for t in threads:
            t.start()

        t0 = time.monotonic()
        deadline = t0 + args.minutes * 60
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            tick = 0
            while True:
                tick += 1
                now = time.monotonic()
                target = t0 + tick
                if target > deadline:
                    time.sleep(max(0.0, deadline - now))
                    break
                time.sleep(max(0.0, target - now))
                if cache.proc.poll() is not None:
                    outcome["livecache_died"] = True
                    print(f"\n*** livecache DIED (exit status {cache.proc.returncode}) at t={tick} s", file=sys.stderr)
                    break
                if origin.proc.poll() is not None:
                    outcome["origin_died"] = True
                    print(f"\n*** the origin died (exit status {origin.proc.returncode}) at t={tick} s",
                          file=sys.stderr)
                    break
                if tick % args.origin_every == 0 or last_origin is None:
                    try:
                        last_origin = origin_stats(origin_port)
                    except (OSError, ValueError, http.client.HTTPException):
                        soak.tally.add("origin_stats_failures")
                row = sample(time.monotonic() - t0, cache.pid, admin_port, soak.tally, slowloris, slow, last_origin)
                rows.append(row)
                writer.writerow(row)
                f.flush()
                if tick % 10 == 0:
                    print(f"t={tick:>5}s RSS {row['rss_mib']} MiB, fds {row['fds']}, conns {row['connections_open']}, "
                          f"in-flight {row['inflight_fetches']}, responses {row['viewer_responses']}, "
                          f"verified {row['viewer_verified_mib']} MiB, cut {row['cut']}, 5xx {row['errors_5xx']}, "
                          f"corrupt {row['corrupt']}", flush=True)
        load_seconds = time.monotonic() - t0
    except (KeyboardInterrupt, Interrupted):
        outcome["interrupted"] = True
        print("\ninterrupted: stopping", file=sys.stderr, flush=True)
    except RuntimeError as e:
        print(f"soak: {e}", file=sys.stderr)
        outcome["start_failed"] = str(e)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the teardown below must finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not load_seconds and rows:
            load_seconds = rows[-1]["t_s"]
        soak.stop.set()
        for t in threads:
            t.join(timeout=3)
        with soak.conns_lock:
            stuck = list(soak.conns)
        for conn in stuck:
            conn.abort()
        for t in threads:
            t.join(timeout=3)
        cache = next((p for p in procs if p.name == "livecache"), None)
        origin = next((p for p in procs if p.name == "origin"), None)
        if cache is not None and cache.proc.poll() is None and initial is not None:
            # Let livecache see the closes, then take the leak-check readings.
            end = time.time() + 15
            while time.time() < end:
                try:
                    if scrape(admin_port)["livecache_connections_open"] == 0:
                        break
                except (OSError, RuntimeError, ValueError, http.client.HTTPException):
                    break
                time.sleep(0.5)
            time.sleep(1)
            try:
                final = {"rss_mib": rss_mib(cache.pid), "fds": fd_count(cache.pid),
                         "fd_kinds": fd_kinds(cache.pid, cache_port, admin_port, origin_port),
                         "cpu_s": {"livecache": cpu_seconds(cache.pid), "origin": cpu_seconds(origin.pid),
                                   "load": sum(os.times()[:2])}}
                m = scrape(admin_port)
                final.update({"connections_open": int(m["livecache_connections_open"]),
                              "inflight_fetches": int(m["livecache_inflight_fetches"]),
                              "store_inflight_bytes": int(m["livecache_store_inflight_bytes"]),
                              "pass_through_bytes": int(m["livecache_pass_through_bytes"]),
                              "requests_total": int(m["livecache_requests_total"])})
                last_origin = origin_stats(origin_port)
            except (OSError, RuntimeError, ValueError, http.client.HTTPException):
                pass
        if cache is not None:
            was_running = cache.proc.poll() is None
            cache_exit = cache.stop()
            if not was_running and not outcome["interrupted"]:
                outcome["livecache_died"] = True
        if origin is not None:
            origin.stop(5)
    return report(args, soak, rows, initial, final, last_origin, outcome, load_seconds, cache_exit, slowloris,
                  csv_path, svg_path, n_ll)


def report(args, soak, rows, initial, final, origin, outcome, load_seconds, cache_exit, slowloris, csv_path, svg_path,
           n_ll):
    c = soak.tally.snapshot()
    if rows:
        write_svg(rows, svg_path, f"livecache soak: {args.viewers} viewers, {args.slowloris} slowloris, "
                                  f"{args.slow_readers} slow readers, origin faults on ({args.shards} shards)")
    rss = [r["rss_mib"] for r in rows if r["rss_mib"] != ""]
    fds = [r["fds"] for r in rows if r["fds"] != ""]
    lc_requests = [r["livecache_requests"] for r in rows if r["livecache_requests"] != ""]
    held = sorted(slowloris.held) if slowloris and slowloris.held else []
    faults = (origin or (0, {}))[1]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(sys.argv), "cpus": os.cpu_count(),
        "load_seconds": round(load_seconds, 1), "outcome": outcome, "livecache_exit_status": cache_exit,
        "initial": initial, "final": final, "rss_max_mib": max(rss, default=None), "fds_max": max(fds, default=None),
        "origin_total": (origin or (None,))[0], "origin_faults": faults,
        "slowloris_held_s": {"count": len(held), "p50": held[len(held) // 2] if held else None,
                             "max": held[-1] if held else None},
        "counts": dict(sorted(c.items())),
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)

    statuses = {k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("status.")}
    kinds = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(c.items()) if k.startswith("responses."))
    cuts = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(c.items()) if k.startswith("cut."))
    cache_results = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(c.items()) if k.startswith("cache."))
    print("\n=== soak summary ===")
    print(f"duration: {load_seconds / 60:.2f} min of load ({len(rows)} samples), {args.shards} shards, "
          f"{args.viewers} viewers ({n_ll} LL-HLS) over {args.streams} streams x {len(args.renditions.split(','))} "
          f"rendition(s), {args.slowloris} slowloris, {args.slow_readers} slow readers")
    print(f"requests: {c['responses']} complete viewer responses ({kinds}); statuses {statuses}; livecache answered "
          f"{(final or {}).get('requests_total', lc_requests[-1] if lc_requests else '?')} requests in all")
    print(f"cache results seen by viewers: {cache_results}")
    print(f"bytes verified: {c['verified.bytes'] / (1 << 20):.1f} MiB in {c['verified.bodies']} segment/part/init "
          f"bodies, {c['verified.playlists']} playlists (ETag), {c['slow.verified_bytes'] / (1 << 20):.2f} MiB read "
          f"by slow readers")
    print(f"corrupt: {c['corrupt']}" + ("   <<<<<< CORRUPT BODIES: see corrupt.log" if c["corrupt"] else ""))
    print(f"cut: {c['cut']} ({cuts or 'none'}); retries {c['retries']}; timeouts {c['timeout']}; "
          f"no response {c['no_response']}; protocol errors {c['protocol_error']}; 5xx {c['errors']}; "
          f"404 {c['not_found']}; other statuses {c['other_status']}; skipped segments {c['skipped']}; "
          f"viewer connections {c['viewer.connections']}")
    if rss:
        print(f"RSS: start {initial['rss_mib']:.1f} MiB, max {max(rss):.1f} MiB, final "
              f"{(final or {}).get('rss_mib', rss[-1]):.1f} MiB (cache_size {args.cache_size})")
    if fds and initial:
        line = f"fds: start {initial['fds']} {initial['fd_kinds']}, max {max(fds)}"
        if final:
            line += (f", final {final['fds']} {final['fd_kinds']} ({final['fds'] - initial['fds']:+d}; "
                     f"client connections open {final['connections_open']}; origin sockets are the idle upstream pool)")
            leaked = final["fd_kinds"].get("client", 0) + final["connections_open"]
            other = lambda k: sum(v for n, v in k.items() if n not in ("origin", "client", "admin"))
            if leaked or other(final["fd_kinds"]) > other(initial["fd_kinds"]):
                line += "  <<<<<< LEAK?"
        print(line)
    if final:
        print(f"after the load: in-flight fetches {final['inflight_fetches']}, store in-flight bytes "
              f"{final['store_inflight_bytes']}, pass-through bytes {final['pass_through_bytes']}"
              + ("  <<<<<< still in flight?" if final["inflight_fetches"] or final["pass_through_bytes"] else ""))
        cpu = {k: final["cpu_s"][k] - initial["cpu_s"][k] for k in final["cpu_s"]}
        print(f"CPU: livecache {cpu['livecache']:.1f} s "
              f"({100 * cpu['livecache'] / max(load_seconds, 1):.0f}% of a core), "
              f"origin {cpu['origin']:.1f} s, this script {cpu['load']:.1f} s "
              f"({100 * cpu['load'] / max(load_seconds, 1):.0f}% of a core)")
    print(f"faults injected by the origin: {faults.get('errors', 0)} errors (503), {faults.get('resets', 0)} resets, "
          f"{faults.get('stalls', 0)} stalls, of {(origin or ('?',))[0]} origin requests")
    drops = ", ".join(f"{k.split('.', 2)[2]} {v}" for k, v in sorted(c.items()) if k.startswith("slowloris.dropped."))
    if args.slowloris:
        print(f"slowloris: {c['slowloris.connections']} connections; dropped by livecache: {drops or 'none'}; held "
              f"p50 {held[len(held) // 2] if held else 0:.1f} s, max {held[-1] if held else 0:.1f} s")
    if args.slow_readers:
        ended = ", ".join(f"{k.split('.', 2)[2].replace('.', ' reader ', 1)} {v}" for k, v in sorted(c.items())
                          if k.startswith("slow.ended."))
        slow_status = ", ".join(f"{k.split('.', 2)[2]}: {v}" for k, v in sorted(c.items())
                                if k.startswith("slow.status."))
        print(f"slow readers: {c['slow.connections']} connections ({c['slow.trickle']} trickling, {c['slow.never']} "
              f"never reading); statuses read by the trickling ones {slow_status or 'none'}; ended: {ended or 'none'}")
    if rows and rows[-1]["guard_slow_reader"] != "":
        r = rows[-1]
        print(f"livecache guards: slow_reader {r['guard_slow_reader']}, lagging_reader {r['guard_lagging_reader']}; "
              f"bad requests {r['bad_requests']}; origin errors {r['origin_errors']}")
    print(f"livecache: {'DIED during the run' if outcome['livecache_died'] else 'alive to the end'}; exit status "
          f"{cache_exit} after SIGTERM")
    if c["viewer.crashed"] or c["scrape_failures"]:
        print(f"script trouble: {c['viewer.crashed']} viewer threads crashed, {c['scrape_failures']} failed scrapes")
    print(f"samples: {csv_path}\nplot: {svg_path}\nsummary: {os.path.join(args.out, 'summary.json')}")
    failed = []
    if c["corrupt"]:
        failed.append(f"{c['corrupt']} corrupt")
    if c["protocol_error"]:
        failed.append(f"{c['protocol_error']} responses with broken framing")
    if outcome["livecache_died"]:
        failed.append("livecache died")
    if outcome["origin_died"]:
        failed.append("the origin died")
    if outcome.get("start_failed"):
        failed.append("start-up failed")
    if not c["verified.bodies"] and not outcome["interrupted"]:
        failed.append("nothing verified")
    if failed:
        print(f"FAIL: {', '.join(failed)}")
        return 1
    print("interrupted (no failure seen so far)" if outcome["interrupted"] else "OK")
    return 130 if outcome["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
