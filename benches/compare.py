#!/usr/bin/env python3
"""Peer comparison: livecache, nginx (proxy_cache + proxy_cache_lock, upstream keep-alive) and
Varnish (malloc storage) in front of the same mock origin, plus a zero-logic reference (nginx
serving the same bytes as static files), driven by the same loadgen scenarios. Servers and the
origin run on CPU 1, loadgen on CPU 0 (when the machine has two or more CPUs). Server CPU time
per request comes from /proc/PID/stat (utime + stime of the server's processes) before and after.

Live scenarios also report, for livecache, the share of its prefetches (media fetched because a
playlist listed it) that no viewer asked for ("pf waste%", from its /metrics).

Run from the repo root:  python3 benches/compare.py [--quick] [--only hot64,herd50] [--json FILE]
It installs nginx and varnish from Debian if missing (as root), builds the release binaries,
starts everything on free loopback ports, and stops (by PID) everything it started.

Scenarios (issue: tools and benchmarks):
  hot64, hot1m   closed loop on one cached object of 64 KiB / 1 MiB
  herd50, herd200 500 connections ask at once for one new 1 MiB object; origin first-byte delay 50 / 200 ms
  live           10 streams x 50 viewers, 1 s segments of 256 KiB, 30 s
  hotstream      1 stream x 500 viewers, same segments, 30 s

Last results: README "Measured" (2-core dev VM, 2026-11-25): every target of the tools issue met.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
SEGMENT_KBPS = 2048  # 1 s segments of 256 KiB


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def pinned(cpu, argv):
    if os.cpu_count() and os.cpu_count() > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + argv
    return argv


def process_tree(pid):
    """pid and all its descendants (nginx workers, varnish's cache process)."""
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
        except FileNotFoundError:
            break
        for child in out.split():
            pids.append(int(child))
            frontier.append(int(child))
    return pids


def cpu_split(pid):
    """(user, system) CPU seconds of pid and its descendants, from /proc."""
    user = system = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user, system = user + int(fields[11]), system + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def cpu_seconds(pid):
    return sum(cpu_split(pid))


def ensure_peers():
    missing = [name for name, binary in (("nginx", "nginx"), ("varnish", "varnishd")) if not shutil.which(binary)
               and not os.path.exists(f"/usr/sbin/{binary}")]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {missing}: run as root once, or apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, check=True, env=env)


def sbin(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


class Server:
    def __init__(self, name, argv, port, workdir):
        self.name, self.port = name, port
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(port, self.proc)

    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # Varnish's and nginx's cache directories go with their server.
        if getattr(self, "cache_dir", None):
            shutil.rmtree(self.cache_dir, ignore_errors=True)


def start_livecache(workdir, origin_port, shards=1, extra=(), cache_size="1GiB", binary=None, name="livecache"):
    port, admin = free_port(), free_port()
    argv = [binary or os.path.join(BIN, "livecache"), "--listen", f"127.0.0.1:{port}", "--origin",
            f"http://127.0.0.1:{origin_port}", "--shards", str(shards), "--cache-size", cache_size,
            "--admin", f"127.0.0.1:{admin}", *extra]
    # One shard shares CPU 1 with the origin; more spread over every CPU.
    server = Server(name, pinned(1, argv) if shards == 1 else argv, port, workdir)
    server.admin_port = admin
    return server


def prefetch_counts(server):
    """livecache's prefetch outcomes so far ({used, wasted, failed}) and its cross-shard
    messages ({mesh}); None for other servers."""
    admin = getattr(server, "admin_port", None)
    if admin is None:
        return None
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    counts = {"mesh": 0.0}
    for line in text.splitlines():
        if line.startswith("livecache_prefetch_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("livecache_mesh_messages_total"):
            counts["mesh"] += float(line.rsplit(" ", 1)[1])
    return counts


def start_nginx(workdir, origin_port, static_dir):
    port, ref_port = free_port(), free_port()
    prefix = os.path.join(workdir, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    cache = tempfile.mkdtemp(prefix="nginx-cache-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    proxy_cache_path {cache} levels=1:2 keys_zone=live:64m max_size=2g inactive=10m use_temp_path=off;
    upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache live;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 10s;
            proxy_cache_lock_age 10s;
        }}
    }}
    server {{
        listen 127.0.0.1:{ref_port};
        root {static_dir};
        sendfile on;
        tcp_nopush on;
    }}
}}
""")
    server = Server("nginx", pinned(1, [sbin("nginx"), "-p", prefix, "-c", conf, "-g", "daemon off;"]), port, workdir)
    wait_port(ref_port, server.proc)
    server.ref_port = ref_port
    server.cache_dir = cache
    return server


def start_varnish(workdir, origin_port):
    port = free_port()
    name = os.path.join(workdir, "varnish")
    argv = [sbin("varnishd"), "-F", "-j", "none", "-n", name, "-a", f"127.0.0.1:{port}",
            "-b", f"127.0.0.1:{origin_port}", "-s", "malloc,1G", "-p", "thread_pool_min=200"]
    return Server("varnish", pinned(1, argv), port, workdir)


def origin_hits(origin_port, target):
    with urllib.request.urlopen(f"http://127.0.0.1:{origin_port}/__stats", timeout=5) as r:
        return json.load(r)["targets"].get(target, 0)


def origin_targets(origin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{origin_port}/__stats", timeout=5) as r:
        return json.load(r)["targets"]


def segment_fetches(before, after):
    """(origin requests, distinct segments) for segment targets requested between two readings."""
    deltas = [after[t] - before.get(t, 0) for t in after if "/seg-" in t and after[t] > before.get(t, 0)]
    return sum(deltas), len(deltas)


def loadgen(args, workdir, label):
    out = os.path.join(workdir, f"{label}.json")
    argv = pinned(0, [os.path.join(BIN, "loadgen")] + args + ["--cpus", "0", "--json", out, "--quiet"])
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed ({label}): {done.stderr.strip()[-500:]}")
    with open(out) as f:
        return json.load(f)


def run_scenario(scenario, server, base, origin_port, workdir, quick, live_warmup=""):
    """Returns the row of figures for one server in one scenario."""
    name = f"{scenario}-{server.name if server else 'reference'}"
    pid = server.proc.pid
    duration = "3s" if quick else "10s"
    live_duration = "8s" if quick else "30s"
    if scenario in ("hot64", "hot1m"):
        size = 65536 if scenario == "hot64" else 1 << 20
        if base.endswith("/ref"):
            url = f"{base[:-4]}/{scenario}.bin"
        else:
            url = f"{base}/hot/{scenario}/obj.bin?size={size}"
            urllib.request.urlopen(url, timeout=5).read()
        conns = "50" if scenario == "hot64" else "20"
        before = cpu_seconds(pid)
        report = loadgen(["urls", "--connections", conns, "--duration", duration, url], workdir, name)
    elif scenario.startswith("herd"):
        delay = scenario[4:]
        target = f"/herd/{name}/obj.bin?size={1 << 20}&delay_ms={delay}"
        if base.endswith("/ref"):
            url = f"{base[:-4]}/hot1m.bin"
        else:
            url = base + target
        before = cpu_seconds(pid)
        report = loadgen(["urls", "--connections", "500", "--requests", "500", url], workdir, name)
    else:
        streams, viewers = ("10", "50") if scenario == "live" else ("1", "500")
        if live_warmup:
            # The audience arrives first (cold fetches, viewers joining them), then is measured.
            loadgen(["live", "--base", base, "--streams", streams, "--viewers", viewers,
                     "--rendition", "r0", "--duration", live_warmup], workdir, name + "-warmup")
        before = cpu_seconds(pid)
        origin_before = origin_targets(origin_port)
        prefetch_before = prefetch_counts(server)
        report = loadgen(["live", "--base", base, "--streams", streams, "--viewers", viewers,
                          "--rendition", "r0", "--duration", live_duration], workdir, name)
    cpu = cpu_seconds(pid) - before
    kinds = report["kinds"]
    main = kinds.get("segment") or kinds.get("url") or {}
    row = {
        "scenario": scenario,
        "server": server.name if not base.endswith("/ref") else "reference",
        "requests": report["requests"],
        "requests_per_s": report["requests_per_s"],
        "errors": report["errors"] + report["bad_status"],
        "ttfb_p50_ms": main.get("ttfb_ms", {}).get("p50"),
        "ttfb_p99_ms": main.get("ttfb_ms", {}).get("p99"),
        "total_p99_ms": main.get("total_ms", {}).get("p99"),
        "cpu_us_per_request": 1e6 * cpu / max(report["requests"], 1),
        "origin_requests_per_object": None,
        "stalls": (report.get("live") or {}).get("stalls"),
        # Live scenarios: the playlists' own first-byte times (a viewer waiting for the origin
        # when a playlist expires shows here, not in the segments').
        "playlist_ttfb_p50_ms": (kinds.get("playlist") or {}).get("ttfb_ms", {}).get("p50"),
        "playlist_ttfb_p99_ms": (kinds.get("playlist") or {}).get("ttfb_ms", {}).get("p99"),
    }
    if scenario.startswith("herd") and not base.endswith("/ref"):
        row["origin_requests_per_object"] = origin_hits(origin_port, target)
    if scenario in ("live", "hotstream"):
        requests, segments = segment_fetches(origin_before, origin_targets(origin_port))
        row["origin_requests_per_object"] = requests / max(segments, 1)
        row["origin_segment_requests"], row["origin_segments"] = requests, segments
        prefetch_after = prefetch_counts(server)
        if prefetch_after is not None:
            done = {k: prefetch_after.get(k, 0) - prefetch_before.get(k, 0) for k in ("used", "wasted", "failed")}
            row["prefetch"] = done
            row["prefetch_wasted_pct"] = 100 * done["wasted"] / max(sum(done.values()), 1)
            mesh = prefetch_after["mesh"] - prefetch_before["mesh"]
            row["mesh_per_request"] = mesh / max(report["requests"], 1)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short runs, for checking the script")
    ap.add_argument("--only", default="hot64,hot1m,herd50,herd200,live,hotstream")
    ap.add_argument("--servers", default="reference,livecache,nginx,varnish")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "compare.json"))
    ap.add_argument("--live-warmup", default="",
                    help="run the live audience this long before the measured run (e.g. 3s); default: none")
    ap.add_argument("--livecache-shards", type=int, default=1,
                    help="livecache's shards (more than 1: spread over every CPU, not pinned)")
    ap.add_argument("--livecache-arg", action="append", default=[],
                    help="an extra livecache argument (repeatable), e.g. --livecache-arg=--hot-stream-requests=500")
    ap.add_argument("--live-origin-delay", default="50ms",
                    help="first-byte delay of the origin's live responses (playlists, segments)")
    args = ap.parse_args()
    os.chdir(ROOT)
    ensure_peers()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "livecache", "-p", "mock-origin", "-p", "loadgen"],
                   check=True)
    workdir = tempfile.mkdtemp(prefix="livecache-compare-")
    os.chmod(workdir, 0o755)  # nginx workers drop to an unprivileged user and must read static/
    static = os.path.join(workdir, "static")
    os.makedirs(static)
    for scenario, size in (("hot64", 65536), ("hot1m", 1 << 20)):
        with open(os.path.join(static, f"{scenario}.bin"), "wb") as f:
            f.write(b"x" * size)
    scenarios = args.only.split(",")
    wanted = args.servers.split(",")
    rows = []
    started = []
    try:
        origin_port = free_port()
        origin = Server("origin", pinned(1, [os.path.join(BIN, "mock-origin"), "--listen", f"127.0.0.1:{origin_port}",
                                             "--streams", "10", "--renditions", str(SEGMENT_KBPS),
                                             "--segment-duration", "1s", "--window", "6",
                                             "--first-byte-delay", args.live_origin_delay]), origin_port, workdir)
        started.append(origin)
        servers = []
        if "livecache" in wanted:
            servers.append(start_livecache(workdir, origin_port, args.livecache_shards, args.livecache_arg))
        nginx = None
        if "nginx" in wanted or "reference" in wanted:
            nginx = start_nginx(workdir, origin_port, static)
            servers.append(nginx)
        if "varnish" in wanted:
            servers.append(start_varnish(workdir, origin_port))
        started.extend(servers)
        for scenario in scenarios:
            if "reference" in wanted and nginx is not None and scenario in ("hot64", "hot1m", "herd50", "herd200"):
                rows.append(run_scenario(scenario, nginx, f"http://127.0.0.1:{nginx.ref_port}/ref", origin_port,
                                         workdir, args.quick))
                print_row(rows[-1])
            for server in servers:
                if server.name not in wanted:
                    continue
                rows.append(run_scenario(scenario, server, server.base(), origin_port, workdir, args.quick,
                                         args.live_warmup))
                print_row(rows[-1])
    finally:
        for server in reversed(started):
            server.stop()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "quick": args.quick,
            "command": " ".join(sys.argv)}
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    print(f"\nresults: {args.json} (logs in {workdir})")


HEADER_PRINTED = []


def print_row(row):
    if not HEADER_PRINTED:
        print(f"{'scenario':<10} {'server':<10} {'req/s':>9} {'ttfb p50':>9} {'ttfb p99':>9} {'total p99':>10} "
              f"{'cpu us/req':>10} {'origin/obj':>10} {'errors':>7} {'stalls':>7} {'pl p50':>7} {'pl p99':>7} {'pf waste%':>9}"
              f" {'mesh/req':>8}")
        HEADER_PRINTED.append(True)
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    origin = row.get("origin_requests_per_object")
    if isinstance(origin, float):
        origin = f"{origin:.2f}"
    print(f"{row['scenario']:<10} {row['server']:<10} {row['requests_per_s']:>9.0f} {fmt(row['ttfb_p50_ms'], '9.2f')} "
          f"{fmt(row['ttfb_p99_ms'], '9.2f')} {fmt(row['total_p99_ms'], '10.2f')} {row['cpu_us_per_request']:>10.1f} "
          f"{str(origin if origin is not None else '-'):>10} {row['errors']:>7} {str(row['stalls'] if row['stalls'] is not None else '-'):>7}"
          f" {fmt(row.get('playlist_ttfb_p50_ms'), '7.2f')} {fmt(row.get('playlist_ttfb_p99_ms'), '7.2f')}"
          f" {fmt(row.get('prefetch_wasted_pct'), '9.1f')} {fmt(row.get('mesh_per_request'), '8.3f')}",
          flush=True)


if __name__ == "__main__":
    main()
