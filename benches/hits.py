#!/usr/bin/env python3
"""Cache hits against the machine's ceiling, in interleaved rounds (issue "Performance II").

livecache (1 shard), nginx (proxy_cache on tmpfs) and Varnish (malloc) in front of the same mock
origin, and the zero-logic reference (`tools/reference`: one epoll loop, one read and one
writev per request, a distinct in-memory body per object), all pinned to CPU 1 with loadgen
(64 keep-alive connections, closed loop) on CPU 0. Scenarios:

  ws64   2,000 objects of 64 KiB, rotated over (128 MiB: larger than the CPU caches)
  ws1m   200 objects of 1 MiB, rotated over (200 MiB)
  hot64  one 64 KiB object (it stays in the CPU caches: flatters everyone)
  hot1m  one 1 MiB object

Every cache is warmed (each object fetched once) before its first measured run. Each round runs
every scenario on every server, the servers' order rotating from round to round, so a noisy
neighbour hits them alike; the summary gives per scenario and server the median and the range
of req/s and of server CPU us per request (utime + stime of all its processes, /proc), and the
median over the rounds of each round's figure over the reference's in that round, and the
medians of user and system CPU us per request apart (a server's own logic shows in user time).

--syscalls adds, after the rounds, one run per server under `strace -c -f` (5,000 requests;
the run is slow, only the counts matter) and prints system calls per request.

Run from the repo root: python3 benches/hits.py [--rounds 5] [--seconds 10] [--only ws64,ws1m]
    [--servers reference,livecache,nginx,varnish] [--syscalls] [--json FILE]
    [--baseline OTHER_LIVECACHE_BINARY --servers reference,livecache,livecache-base]
    [--servers reference,reference-glommio,livecache]
It builds the release binaries, installs nginx and varnish if missing (as root), starts
everything on free loopback ports and stops (by PID) what it started.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the servers' set-up is shared)

ROOT = compare.ROOT
BIN = compare.BIN
SETS = {"ws64": (2000, 65536), "ws1m": (200, 1 << 20), "hot64": (1, 65536), "hot1m": (1, 1 << 20)}
CONNECTIONS = "64"


def start_reference(workdir, runtime="epoll"):
    """The zero-logic reference; on glommio (server `reference-glommio`) it runs on livecache's
    runtime and socket layer, so the gap between the two is the runtime's share of a hit."""
    port = compare.free_port()
    argv = [os.path.join(BIN, "reference"), "--listen", f"127.0.0.1:{port}", "--runtime", runtime]
    for name, (count, size) in SETS.items():
        argv += ["--set", f"{name}:{count}:{size}"]
    name = "reference" if runtime == "epoll" else f"reference-{runtime}"
    return compare.Server(name, compare.pinned(1, argv), port, workdir)


def pattern(server, scenario):
    count, size = SETS[scenario]
    if server.name.startswith("reference"):
        return f"{server.base()}/{scenario}/{{0..{count - 1}}}.bin"
    # A day's freshness: no revalidation (the origin's default is 60 s) during the rounds.
    return f"{server.base()}/bench/{scenario}/{{0..{count - 1}}}.bin?size={size}&cc=public,%20max-age%3D86400"


def warm(server, scenario, workdir):
    count, _ = SETS[scenario]
    report = compare.loadgen(["urls", "--connections", "8", "--requests", str(count),
                      "--url-pattern", pattern(server, scenario)], workdir, f"warm-{scenario}-{server.name}")
    if report["errors"] or report["bad_status"]:
        raise RuntimeError(f"warming {scenario} on {server.name}: {report['errors']} errors, "
                           f"{report['bad_status']} bad statuses")


def measure(server, scenario, seconds, workdir, label):
    user0, sys0 = compare.cpu_split(server.proc.pid)
    report = compare.loadgen(["urls", "--connections", CONNECTIONS, "--duration", f"{seconds}s",
                      "--url-pattern", pattern(server, scenario)], workdir, label)
    user1, sys1 = compare.cpu_split(server.proc.pid)
    url = report["kinds"].get("url") or {}
    per = lambda seconds_used: 1e6 * seconds_used / max(report["requests"], 1)
    return {
        "scenario": scenario,
        "server": server.name,
        "requests": report["requests"],
        "requests_per_s": report["requests_per_s"],
        "errors": report["errors"] + report["bad_status"],
        "cpu_us_per_request": per(user1 - user0 + sys1 - sys0),
        # User space is where a server's own logic shows; system time is the kernel's share
        # (the sockets), alike for servers that make the same calls.
        "user_us_per_request": per(user1 - user0),
        "sys_us_per_request": per(sys1 - sys0),
        "total_p99_ms": url.get("total_ms", {}).get("p99"),
    }


def syscalls_per_request(server, scenario, workdir):
    """System calls the server's processes make per request, by strace -c over 5,000 requests."""
    if not shutil.which("strace"):
        return None
    out = os.path.join(workdir, f"strace-{scenario}-{server.name}.txt")
    argv = ["strace", "-c", "-f", "-o", out]
    for pid in compare.process_tree(server.proc.pid):
        argv += ["-p", str(pid)]
    tracer = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    requests = 5000
    compare.loadgen(["urls", "--connections", CONNECTIONS, "--requests", str(requests),
             "--url-pattern", pattern(server, scenario)], workdir, f"strace-{scenario}-{server.name}")
    tracer.send_signal(2)
    tracer.wait(30)
    with open(out) as f:
        text = f.read()
    # The last line: "100.00  seconds  usecs/call  calls  [errors]  total".
    total = re.search(r"^100\.00\s+\S+\s+\S+\s+(\d+)", text, re.M)
    if not total:
        return None
    return int(total.group(1)) / requests


def summary(rows, scenarios, servers):
    out = []
    for scenario in scenarios:
        ref = [r for r in rows if r["scenario"] == scenario and r["server"] == "reference"]
        for server in servers:
            mine = [r for r in rows if r["scenario"] == scenario and r["server"] == server]
            if not mine:
                continue
            cpu = [r["cpu_us_per_request"] for r in mine]
            rps = [r["requests_per_s"] for r in mine]
            line = {
                "scenario": scenario, "server": server, "rounds": len(mine),
                "user_median": statistics.median(r["user_us_per_request"] for r in mine),
                "sys_median": statistics.median(r["sys_us_per_request"] for r in mine),
                "cpu_median": statistics.median(cpu), "cpu_min": min(cpu), "cpu_max": max(cpu),
                "rps_median": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
                "errors": sum(r["errors"] for r in mine),
            }
            if ref:
                # Each round's figure over the reference's in the same round, then the median:
                # a noisy neighbour slows both within a round, so the ratio is steadier.
                by_round = {r["round"]: r for r in ref}
                paired = [(r, by_round[r["round"]]) for r in mine if r["round"] in by_round]
                line["cpu_over_reference"] = statistics.median(
                    m["cpu_us_per_request"] / f["cpu_us_per_request"] for m, f in paired)
                line["rps_over_reference"] = statistics.median(
                    m["requests_per_s"] / f["requests_per_s"] for m, f in paired)
            out.append(line)
    return out


def print_summary(lines, syscalls):
    print(f"\n{'scenario':<7} {'server':<17} {'rounds':>6} {'CPU us/req median':>17} {'range':>13} "
          f"{'x ref':>6} {'req/s median':>12} {'range':>15} {'x ref':>6} {'errors':>6} {'syscalls/req':>12}"
          f" {'user us':>8} {'sys us':>7}")
    for s in lines:
        fmt = lambda v: "-" if v is None else f"{v:.2f}"
        calls = syscalls.get(f"{s['scenario']}/{s['server']}")
        print(f"{s['scenario']:<7} {s['server']:<17} {s['rounds']:>6} {s['cpu_median']:>17.1f} "
              f"{s['cpu_min']:>6.1f}-{s['cpu_max']:<6.1f} {fmt(s.get('cpu_over_reference')):>6} "
              f"{s['rps_median']:>12.0f} {s['rps_min']:>7.0f}-{s['rps_max']:<7.0f} "
              f"{fmt(s.get('rps_over_reference')):>6} {s['errors']:>6} {fmt(calls):>12}"
              f" {s['user_median']:>8.1f} {s['sys_median']:>7.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--only", default="ws64,ws1m,hot64,hot1m")
    ap.add_argument("--servers", default="reference,livecache,nginx,varnish")
    ap.add_argument("--syscalls", action="store_true", help="count system calls per request (strace -c)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--baseline", metavar="BINARY",
                    help="another livecache build to run beside this one, as server livecache-base "
                         "(add it to --servers), e.g. one built from an earlier commit")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "hits.json"))
    args = ap.parse_args()
    os.chdir(ROOT)
    scenarios = args.only.split(",")
    wanted = args.servers.split(",")
    if "nginx" in wanted or "varnish" in wanted:
        compare.ensure_peers()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "livecache", "-p", "mock-origin",
                        "-p", "loadgen", "-p", "reference"], check=True)
    workdir = tempfile.mkdtemp(prefix="livecache-hits-")
    os.chmod(workdir, 0o755)
    static = os.path.join(workdir, "static")
    os.makedirs(static)
    started, rows, syscalls = [], [], {}
    try:
        origin_port = compare.free_port()
        origin = compare.Server("origin", compare.pinned(1, [os.path.join(BIN, "mock-origin"), "--listen",
                                                             f"127.0.0.1:{origin_port}"]), origin_port, workdir)
        started.append(origin)
        servers = []
        for name in wanted:
            if name == "reference":
                servers.append(start_reference(workdir))
            elif name == "reference-glommio":
                servers.append(start_reference(workdir, "glommio"))
            elif name == "livecache":
                servers.append(compare.start_livecache(workdir, origin_port, cache_size="1GiB"))
            elif name == "livecache-base" and args.baseline:
                servers.append(compare.start_livecache(workdir, origin_port, binary=args.baseline,
                                                       name="livecache-base"))
            elif name == "nginx":
                servers.append(compare.start_nginx(workdir, origin_port, static))
            elif name == "varnish":
                servers.append(compare.start_varnish(workdir, origin_port))
            else:
                sys.exit(f"unknown server {name} (livecache-base needs --baseline)")
            started.append(servers[-1])
        for server in servers:
            for scenario in scenarios:
                warm(server, scenario, workdir)
        for r in range(args.rounds):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for scenario in scenarios:
                for server in order:
                    row = measure(server, scenario, args.seconds, workdir, f"{scenario}-{server.name}-{r}")
                    row["round"] = r
                    rows.append(row)
                    print(f"round {r} {scenario:<6} {server.name:<17} {row['requests_per_s']:>9.0f} req/s "
                          f"{row['cpu_us_per_request']:>7.1f} us/req  errors {row['errors']}", flush=True)
        if args.syscalls:
            for scenario in scenarios:
                for server in servers:
                    syscalls[f"{scenario}/{server.name}"] = syscalls_per_request(server, scenario, workdir)
    finally:
        for server in reversed(started):
            server.stop()
    lines = summary(rows, scenarios, wanted)
    print_summary(lines, syscalls)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "command": " ".join(sys.argv),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip()}
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "rows": rows, "summary": lines, "syscalls_per_request": syscalls}, f, indent=2)
    print(f"\nresults: {args.json} (logs in {workdir})")


if __name__ == "__main__":
    main()
