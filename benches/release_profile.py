#!/usr/bin/env python3
"""Where a shard's time goes while it releases held LL-HLS answers (issue "Live video I").

Reads `perf script -F tid,time,ip,sym,dso` output of a `perf record -e cpu-clock --call-graph dwarf`
of livecache taken during `benches/hold_release.sh` (which does both with PROFILE=1), finds the
release bursts (every part instant the shard turns from idle to busy for tens of milliseconds:
the new playlist versions wake their held requests, then the parts' bodies follow), and splits
the samples of the first WINDOW ms of each burst (where the held answers go out) by what the
stack shows:

  IPIs                inter-processor interrupts sent or taken (RPS kicks, wake-ups, function
                      calls): a VM exit each on a virtual machine
  receive: waking     packets received in the server's context that wake their reader
                      (`sock_def_readable`); on loopback the kernel delivers what the server
                      sends in the sender's context, so this is mostly waking the viewers
  receive: TCP        the rest of that receive (`process_backlog`): on loopback mostly the
                      viewers' side of the answers; with TWO_HOSTS the server's own requests
                      and ACKs
  own TCP send        the rest of the server's `sendmsg`
  other kernel        reads, io_uring, page faults, timers
  user                livecache, glommio and libc

then the user-space functions with the most samples (inclusive). On loopback the two
"receive" shares are mostly the viewers' cost charged to the server, which two real hosts with
NICs would not charge; with TWO_HOSTS each side's receive runs on its own CPUs and they are
about the server's own requests (waking the veth peer's NAPI thread, as a NIC's doorbell, counts
as the server's own send).

then, with --leaves, the functions the samples were taken in (self time, kernel and user alike):
where a cut would save the most.

With --start-ms, the window starts that long after each burst's start: --start-ms 1.2
--window-ms 3.3 takes the stretch where the answers go out, after the reads and installs.

usage: benches/release_profile.py PERF_SCRIPT_OUTPUT [--start-ms 0] [--window-ms 12] [--top 25]
       [--leaves]
"""
import argparse
import collections
import re

KERNEL = "[kernel]"
# Where an IPI is sent or taken.
IPI_FRAMES = ("net_rps_send_ipi", "smp_call_function", "sysvec_call_function", "sysvec_reschedule",
              "x2apic_send_IPI", "send_call_function_single_ipi", "native_send_call_func",
              "kvm_send_ipi", "smp_send_reschedule", "native_smp_send_reschedule")
# Frames on every stack (the executor's loop, std's wrappers): they say nothing of the work.
PLUMBING = ("std::", "core::", "alloc::", "<std::", "<core::", "<alloc::", "<usize", "scoped_tls::",
            "glommio::executor::", "glommio::task::task_impl::", "livecache::server::serve::")


def samples(path):
    """(time, [frames innermost first]) per sample; kernel frames end with KERNEL."""
    out, current = [], None
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if current:
                    out.append(current)
                current = None
                continue
            head = re.match(r"\s*\d+\s+([\d.]+):\s*$", line)
            if head:
                current = (float(head.group(1)), [])
                continue
            if current is not None:
                parts = line.strip().split(None, 1)
                frame = parts[1] if len(parts) > 1 else "?"
                # The kernel and its modules (`[veth]`, `[virtio_net]`) print as `([name])`.
                kernel = re.search(r"\(\[[^()]*\]\)$", frame) is not None
                frame = re.sub(r"\s*\([^()]*\)$", "", frame)  # the binary
                frame = re.sub(r"\+0x[0-9a-f]+$", "", frame)
                frame = re.sub(r"::h[0-9a-f]{16}", "", frame)
                frame = frame.replace(" (inlined)", "")
                current[1].append(frame + (KERNEL if kernel else ""))
    if current:
        out.append(current)
    out.sort(key=lambda s: s[0])
    return out


def burst_starts(all_samples, within=0.002, apart=0.2):
    """Times where the shard turns busy: at least 3/4 of the samples the rate allows within
    `within` s (the rate is the median gap between samples: perf may lower it), starting from
    the first sample up to 3 ms before, at least `apart` s after the previous start."""
    times = [t for t, _ in all_samples]
    if len(times) < 2:
        return []
    gaps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    gap = gaps[len(gaps) // 2] if gaps else within
    dense = max(3, int(0.75 * within / gap))
    starts, j = [], 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + within:
            j += 1
        if j - i >= dense and (not starts or t - starts[-1] > apart):
            k = i
            while k > 0 and times[k - 1] > t - 0.003:
                k -= 1
            starts.append(times[k])
    return starts


def category(stack):
    text = " ".join(stack).replace(KERNEL, "")
    if any(s in text for s in IPI_FRAMES):
        return "IPIs"
    if "sock_def_readable" in text and "process_backlog" in text:
        return "receive: waking"
    if "process_backlog" in text or "__netif_receive_skb" in text:
        return "receive: TCP"
    if "sendmsg" in text and "tcp_sendmsg" in text:
        return "own TCP send"
    if stack and stack[0].endswith(KERNEL):
        return "other kernel"
    return "user"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("perf_script")
    ap.add_argument("--start-ms", type=float, default=0.0)
    ap.add_argument("--window-ms", type=float, default=12.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--leaves", action="store_true", help="also the self time by function")
    args = ap.parse_args()
    all_samples = samples(args.perf_script)
    starts = burst_starts(all_samples)
    start, window = args.start_ms / 1000, args.window_ms / 1000
    inside = [stack for t, stack in all_samples
              if any(s + start <= t < s + start + window for s in starts)]
    if not inside:
        print("no release bursts found (was the audience running?)")
        return
    shares = collections.Counter(category(stack) for stack in inside)
    where = f"first {args.window_ms:g} ms" if not start else \
        f"{args.window_ms:g} ms from {args.start_ms:g} ms in"
    print(f"{len(starts)} bursts, {len(inside)} samples in their {where}")
    for name, count in sorted(shares.items()):
        print(f"  {100 * count / len(inside):5.1f}%  {name} ({count})")
    user = collections.Counter()
    for stack in inside:
        if category(stack) != "user":
            continue
        for frame in set(stack):
            if "::" in frame and not frame.startswith(PLUMBING):
                user[frame] += 1
    print("user-space functions (inclusive, % of the window's samples):")
    for frame, count in user.most_common(args.top):
        print(f"  {100 * count / len(inside):5.1f}%  {frame[:110]}")
    if args.leaves:
        leaves = collections.Counter(stack[0] if stack else "?" for stack in inside)
        print("functions sampled in (self, % of the window's samples; [kernel] marks the kernel's):")
        for frame, count in leaves.most_common(args.top):
            print(f"  {100 * count / len(inside):5.1f}%  {frame[:110]}")


if __name__ == "__main__":
    main()
