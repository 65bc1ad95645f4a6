#!/usr/bin/env python3
"""LL-HLS comparison: livecache, nginx and Varnish in front of the same mock origin, each serving
an hls.js-like low-latency audience (`loadgen llhls`: per viewer, a blocking playlist reload for
the part after the newest plus the preload-hinted part, at once, then again).

Origin (mock-origin, started once): 1 stream x --renditions renditions (a bitrate ladder, by
default 300..1200 kbit/s), 4 s segments (TD 4), 0.5 s parts, --first-byte-delay 50ms on every
live response (after any hold), a 10-segment window and CAN-SKIP-UNTIL=24s (delta updates for
--skip-fraction viewers). Blocking responses carry max-age=12, so every cache may store them.

Servers: started fresh for every run and stopped after it (so no long-poll of an idle server
pollutes the next run's origin counts), the same way benches/compare.py starts them (its
helpers are imported): livecache with 1 shard (hold_blocking_reloads on, the default); nginx
proxy_cache + proxy_cache_lock, upstream keep-alive, 1 worker; Varnish -s malloc,1G.
Servers and the origin run on CPU 1, loadgen on CPU 0 (with 2 CPUs or more, via taskset).

Each run: `loadgen llhls` with --viewers over the renditions for --duration, reading the origin's
/__stats before and after. Rounds are interleaved (server order rotates every round); the table
gives medians over rounds, with the spread (min..max) when --rounds > 1:

  origin/part   origin blocking playlist requests per published part per rendition (ideal: 1)
  release p50/p99  part published -> blocking response listing it received, ms (held requests)
  edge p50/p99  blocking response received minus publication of its newest part, ms
  lacking       blocking 200s without the requested part (must be 0)
  4xx / 5xx     responses by status class, all kinds
  cpu s/1k      server utime+stime (/proc/PID/stat, all its processes) per 1000 client requests

Publish times come from EXT-X-PROGRAM-DATE-TIME (same machine clock). Run from the repo root:

    python3 benches/llhls.py                                 # 500 viewers, 10 renditions, 60 s
    python3 benches/llhls.py --duration 15 --viewers 50      # smoke run
    python3 benches/llhls.py --rounds 3 --skip-fraction 0.2 --swapped-fraction 0.2

It builds the release binaries first (--no-build to skip), installs nginx/varnish from Debian if
missing (as root, like compare.py), sends traffic only to 127.0.0.1 and stops (by PID)
everything it started. Results: --json (default target/llhls.json) and the logs in a temp dir.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (benches/compare.py: ports, pinning, CPU time, peer servers)

ROOT, BIN = compare.ROOT, compare.BIN
SEGMENT, PART, FIRST_BYTE_DELAY, WINDOW, SKIP_UNTIL = "4s", "500ms", "50ms", "10", "24s"

COLUMNS = [
    # (key, heading, format)
    ("origin_per_part", "origin/part", "{:.3f}"),
    ("origin_per_part_max", "worst rend", "{:.3f}"),
    ("release_p50", "release p50", "{:.1f}"),
    ("release_p99", "release p99", "{:.1f}"),
    ("edge_p50", "edge p50", "{:.1f}"),
    ("edge_p99", "edge p99", "{:.1f}"),
    ("lacking", "lacking", "{:.0f}"),
    ("status_4xx", "4xx", "{:.0f}"),
    ("status_5xx", "5xx", "{:.0f}"),
    ("errors", "errors", "{:.0f}"),
    ("cpu_s_per_1k", "cpu s/1k", "{:.4f}"),
    ("requests_per_s", "req/s", "{:.0f}"),
]


def ladder(n):
    """n bitrates from 300 kbit/s up in steps of 100 (300..1200 for 10)."""
    return [300 + 100 * i for i in range(n)]


def start_origin(workdir, renditions):
    port = compare.free_port()
    argv = [os.path.join(BIN, "mock-origin"), "--listen", f"127.0.0.1:{port}", "--streams", "1",
            "--renditions", ",".join(str(k) for k in ladder(renditions)),
            "--segment-duration", SEGMENT, "--part-duration", PART,
            "--first-byte-delay", FIRST_BYTE_DELAY, "--window", WINDOW, "--can-skip-until", SKIP_UNTIL]
    return compare.Server("origin", compare.pinned(1, argv), port, workdir)


def start_server(name, workdir, origin_port):
    os.makedirs(workdir, exist_ok=True)
    if name == "livecache":
        return compare.start_livecache(workdir, origin_port)
    if name == "nginx":
        static = os.path.join(workdir, "static")  # compare's reference server wants a root
        os.makedirs(static, exist_ok=True)
        return compare.start_nginx(workdir, origin_port, static)
    if name == "varnish":
        return compare.start_varnish(workdir, origin_port)
    raise SystemExit(f"unknown server {name!r} (livecache, nginx, varnish)")


def loadgen(base, origin_port, args, out):
    argv = [os.path.join(BIN, "loadgen"), "llhls", "--base", base, "--viewers", str(args.viewers),
            "--renditions", ",".join(f"r{i}" for i in range(args.renditions)),
            "--duration", f"{args.duration}s", "--origin-stats", f"http://127.0.0.1:{origin_port}/__stats",
            "--swapped-fraction", str(args.swapped_fraction), "--skip-fraction", str(args.skip_fraction),
            "--cpus", "0", "--json", out, "--quiet"]
    done = subprocess.run(compare.pinned(0, argv), capture_output=True, text=True, timeout=args.duration + 120)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr.strip()[-800:]}")
    with open(out) as f:
        return json.load(f), done.stdout


def run_one(name, rnd, origin_port, workdir, args):
    """One server, one run: start it, drive it, stop it; the row of figures."""
    sub = os.path.join(workdir, f"{name}-round{rnd}")
    server = start_server(name, sub, origin_port)
    try:
        before = compare.cpu_seconds(server.proc.pid)
        report, table = loadgen(server.base(), origin_port, args, os.path.join(sub, "loadgen.json"))
        cpu = compare.cpu_seconds(server.proc.pid) - before
        if server.proc.poll() is not None:
            raise RuntimeError(f"{name} exited during the run ({server.proc.returncode})")
    finally:
        server.stop()
    with open(os.path.join(sub, "loadgen.txt"), "w") as f:
        f.write(table)
    ll = report["llhls"]
    origin = ll["origin"] or {}
    return {
        "server": name,
        "round": rnd,
        "origin_per_part": origin.get("blocking_per_part"),
        "origin_per_part_max": origin.get("max_blocking_per_part"),
        "origin_blocking": origin.get("blocking"),
        "origin_plain": origin.get("plain"),
        "origin_skip": origin.get("skip"),
        "parts_published": ll["parts_published"],
        "release_p50": ll["hold_release_ms"]["p50"],
        "release_p99": ll["hold_release_ms"]["p99"],
        "release_max": ll["hold_release_ms"]["max"],
        "edge_p50": ll["edge_latency_ms"]["p50"],
        "edge_p99": ll["edge_latency_ms"]["p99"],
        "held": ll["held"],
        "answered_at_once": ll["answered_at_once"],
        "lacking": ll["lacking_part"],
        "undated": ll["undated"],
        "delta_updates": ll["delta_updates"],
        "parts": ll["parts"],
        "status_4xx": ll["status_4xx"],
        "status_5xx": ll["status_5xx"],
        "errors": report["errors"],
        "error_kinds": report["error_kinds"],
        "requests": report["requests"],
        "requests_per_s": report["requests_per_s"],
        "cpu_s": cpu,
        "cpu_s_per_1k": cpu / max(report["requests"] / 1000.0, 1e-9),
    }


def summarize(rows, servers, rounds):
    """Per server: the median of each column over its rounds, and (min, max)."""
    out = []
    for name in servers:
        mine = [r for r in rows if r["server"] == name]
        if not mine:
            continue
        summary = {"server": name, "rounds": len(mine)}
        for key, _, _ in COLUMNS:
            values = [r[key] for r in mine if r[key] is not None]
            summary[key] = statistics.median(values) if values else None
            summary[key + "_spread"] = (min(values), max(values)) if values and rounds > 1 else None
        out.append(summary)
    return out


def print_table(summaries):
    head = f"{'server':<10}" + "".join(f"{h:>13}" for _, h, _ in COLUMNS)
    print(head)
    for s in summaries:
        cells = []
        for key, _, fmt in COLUMNS:
            v = s[key]
            cells.append("-" if v is None else fmt.format(v))
        print(f"{s['server']:<10}" + "".join(f"{c:>13}" for c in cells))
        if any(s[k + "_spread"] for k, _, _ in COLUMNS):
            spread = []
            for key, _, fmt in COLUMNS:
                lo_hi = s[key + "_spread"]
                spread.append("-" if lo_hi is None else f"{fmt.format(lo_hi[0])}..{fmt.format(lo_hi[1])}")
            print(f"{'  spread':<10}" + "".join(f"{c:>13}" for c in spread))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=60, help="seconds each run lasts (default 60)")
    ap.add_argument("--viewers", type=int, default=500, help="viewers per run, over all renditions (default 500)")
    ap.add_argument("--renditions", type=int, default=10, help="renditions of the one stream (default 10)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    ap.add_argument("--servers", default="livecache,nginx,varnish")
    ap.add_argument("--swapped-fraction", type=float, default=0.0,
                    help="viewers spelling the reload _HLS_part=N&_HLS_msn=M (default 0)")
    ap.add_argument("--skip-fraction", type=float, default=0.0,
                    help="viewers appending _HLS_skip=YES to the reload (default 0)")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "llhls.json"))
    ap.add_argument("--no-build", action="store_true", help="use the binaries in target/release as they are")
    args = ap.parse_args()
    os.chdir(ROOT)
    servers = [s for s in args.servers.split(",") if s]
    if any(s in ("nginx", "varnish") for s in servers):
        compare.ensure_peers()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "livecache", "-p", "mock-origin",
                        "-p", "loadgen"], check=True)
    for binary in ("livecache", "mock-origin", "loadgen"):
        if not os.path.exists(os.path.join(BIN, binary)):
            raise SystemExit(f"missing {BIN}/{binary}: build it or drop --no-build")
    workdir = tempfile.mkdtemp(prefix="livecache-llhls-")
    os.chmod(workdir, 0o755)
    rows = []
    origin = start_origin(workdir, args.renditions)
    try:
        # One segment first: a playlist dates its parts only once it lists a complete segment.
        time.sleep(5)
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for name in order:
                row = run_one(name, rnd, origin.port, workdir, args)
                rows.append(row)
                print(f"round {rnd} {name}: origin/part {row['origin_per_part']}, release p50/p99 "
                      f"{row['release_p50']}/{row['release_p99']} ms, edge p50/p99 {row['edge_p50']}/"
                      f"{row['edge_p99']} ms, lacking {row['lacking']}, 4xx {row['status_4xx']}, "
                      f"5xx {row['status_5xx']}, cpu {row['cpu_s']:.2f} s for {row['requests']} requests",
                      flush=True)
    finally:
        origin.stop()
    summaries = summarize(rows, servers, args.rounds)
    print()
    print_table(summaries)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "command": " ".join(sys.argv),
            "origin": {"segment": SEGMENT, "part": PART, "first_byte_delay": FIRST_BYTE_DELAY,
                       "window": WINDOW, "can_skip_until": SKIP_UNTIL, "renditions": ladder(args.renditions)}}
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "rows": rows, "summary": summaries}, f, indent=2)
    print(f"\nresults: {args.json} (logs in {workdir})")


if __name__ == "__main__":
    main()
