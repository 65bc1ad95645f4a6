//! The one-command demo (`cargo run --release -p demo`): starts the mock live origin with a
//! few HLS streams, livecache in front of it on its built-in defaults, and a live audience
//! from loadgen for about 20 s (progress line every second). Then it prints what an operator
//! wants to know: viewers, segments, origin requests per segment, hit ratio, latency
//! percentiles, throughput, and stalls. While it runs, point a player at the printed URL.
//!
//! Flags: `--seconds N` (20), `--streams K` (4), `--viewers V` per stream (25),
//! `--listen ADDR` (livecache's default 127.0.0.1:8080; port 0 if that is taken).

use std::collections::BTreeSet;
use std::time::Duration;

use livecache::{Config, Shutdown};
use loadgen::modes::live::LiveConfig as Audience;
use loadgen::modes::Common;
use mock_origin::{LiveConfig, MockOrigin};

struct Args {
    seconds: u64,
    streams: usize,
    viewers: usize,
    listen: String,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 20,
        streams: 4,
        viewers: 25,
        listen: "127.0.0.1:8080".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--seconds" => {
                args.seconds = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--seconds: a number"))
            }
            "--streams" => {
                args.streams = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--streams: a number"))
            }
            "--viewers" => {
                args.viewers = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--viewers: a number"))
            }
            "--listen" => args.listen = value(),
            "-h" | "--help" => {
                println!(
                    "demo [--seconds 20] [--streams 4] [--viewers 25] [--listen 127.0.0.1:8080]"
                );
                std::process::exit(0);
            }
            other => fail(&format!("unknown flag {other}")),
        }
    }
    args
}

fn fail(message: &str) -> ! {
    eprintln!("demo: {message}");
    std::process::exit(2)
}

fn main() {
    let args = args();
    let live = LiveConfig {
        streams: args.streams,
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_millis(250),
        ..LiveConfig::default()
    };
    let origin = MockOrigin::start_with("127.0.0.1:0", live)
        .unwrap_or_else(|e| fail(&format!("origin: {e}")));
    let start = |listen: &str| {
        let config = Config::from_pairs(&[("listen", listen), ("origin", &origin.url())])
            .unwrap_or_else(|e| fail(&e.to_string()));
        livecache::start(config, Shutdown::new())
    };
    let running = match start(&args.listen) {
        Ok(running) => running,
        Err(livecache::StartError::AddressInUse(_)) => {
            start("127.0.0.1:0").unwrap_or_else(|e| fail(&e.to_string()))
        }
        Err(e) => fail(&e.to_string()),
    };
    let base = format!("http://{}", running.local_addr);
    println!(
        "mock origin : {} ({} live HLS streams, 1 s segments, 3 renditions)",
        origin.url(),
        args.streams
    );
    println!(
        "livecache   : {base} ({} shards, defaults otherwise)",
        running.stats.shards.len()
    );
    println!("play it     : ffplay {base}/live/s0/master.m3u8   (or any HLS player; DASH: {base}/live/s0/manifest.mpd)");
    println!(
        "audience    : {} streams x {} viewers for {} s",
        args.streams, args.viewers, args.seconds
    );
    println!();

    let audience = Audience {
        common: Common::default(),
        base: base.clone(),
        streams: args.streams,
        viewers: args.viewers,
        rendition: "r1".into(),
        stream_names: "s{}".into(),
        playlist_path: Audience::DEFAULT_PATH.into(),
        duration: Duration::from_secs(args.seconds),
        ll_hls: false,
    };
    let report = loadgen::modes::live::run(&audience).unwrap_or_else(|e| fail(&e));
    let summary = report.summary();
    println!("{}", loadgen::stats::table(&summary));

    // Origin requests per distinct segment, from the origin's own counters.
    let segment_requests: Vec<String> = origin
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains("/seg-"))
        .map(|r| r.target)
        .collect();
    let distinct: BTreeSet<&String> = segment_requests.iter().collect();
    let totals = running.stats.totals();
    let lookups = (totals.hits + totals.misses).max(1);
    let segment = summary.kinds.get("segment");
    println!("== summary");
    println!(
        "viewers                      {}",
        args.streams * args.viewers
    );
    if let Some(live) = &summary.live {
        println!("segments received            {}", live.segments);
        println!("stalls                       {}", live.stalls);
    }
    println!(
        "origin requests per segment  {:.2} ({} requests for {} segments)",
        segment_requests.len() as f64 / distinct.len().max(1) as f64,
        segment_requests.len(),
        distinct.len()
    );
    println!(
        "hit ratio                    {:.1}% ({} hits, {} collapsed onto a fetch, {} fetches)",
        100.0 * (totals.hits + totals.collapsed) as f64 / lookups as f64,
        totals.hits,
        totals.collapsed,
        totals.origin_requests
    );
    if let Some(segment) = segment {
        println!(
            "segment time to first byte   p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            segment.ttfb_ms.p50, segment.ttfb_ms.p99, segment.ttfb_ms.max
        );
        println!(
            "segment complete             p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            segment.total_ms.p50, segment.total_ms.p99, segment.total_ms.max
        );
    }
    println!(
        "throughput                   {:.1} MB/s, {:.0} requests/s",
        summary.bytes_per_s / 1e6,
        summary.requests_per_s
    );
    running.stop();
}
