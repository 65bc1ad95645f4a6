//! End-to-end runs of every mode through the library API against a tiny std-thread HTTP
//! server on 127.0.0.1:0: fixed bodies (Content-Length and chunked), a 404, a short-body
//! route that must be reported as errors, and a clock-driven live HLS stream with 200 ms
//! segments and 50 ms parts that honours blocking reloads. Runs last about a second each;
//! assertions are on counts that do not depend on timing.

// The test server's threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use loadgen::modes::live::{self, LiveConfig};
use loadgen::modes::rate::{self, RateConfig};
use loadgen::modes::urls::{self, Stop, UrlsConfig};
use loadgen::{Common, Report};

const SEGMENT: Duration = Duration::from_millis(200);
const PART: Duration = Duration::from_millis(50);
const PARTS: u64 = 4;
const WINDOW: u64 = 10;

/// The live clock: segment `n` is complete at `epoch + (n + 1) * SEGMENT`.
struct Clock {
    epoch: Instant,
}

impl Clock {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// (complete segments, complete parts of the segment in progress).
    fn position(&self) -> (u64, u64) {
        let ms = self.now().as_millis() as u64;
        let seg = SEGMENT.as_millis() as u64;
        (ms / seg, (ms % seg) / PART.as_millis() as u64)
    }

    /// When part `p` of segment `m` exists (`p >= PARTS` means the next segment's first).
    fn part_ready(&self, m: u64, p: u64) -> Duration {
        let (m, p) = if p >= PARTS { (m + 1, 0) } else { (m, p) };
        SEGMENT * m as u32 + PART * (p as u32 + 1)
    }

    fn playlist(&self) -> String {
        let (done, parts) = self.position();
        let first = done.saturating_sub(WINDOW);
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.05\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.15\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for m in first..done {
            if m + 3 >= done {
                for p in 0..PARTS {
                    s += &format!("#EXT-X-PART:DURATION=0.050,URI=\"part-{m}-{p}.m4s\"\n");
                }
            }
            s += &format!("#EXTINF:0.200,\nseg-{m}.m4s\n");
        }
        for p in 0..parts {
            s += &format!("#EXT-X-PART:DURATION=0.050,URI=\"part-{done}-{p}.m4s\"\n");
        }
        s += &format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-{done}-{parts}.m4s\"\n");
        s
    }
}

enum Reply {
    Body(u16, Vec<u8>),
    Chunked(Vec<u8>),
    /// Declares this many bytes, sends half, closes.
    Short(usize),
}

fn query(target: &str, name: &str) -> Option<u64> {
    let q = target.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn route(target: &str, clock: &Clock) -> Reply {
    let path = target.split('?').next().unwrap_or("");
    if path.ends_with("index.m3u8") {
        if let (Some(m), Some(p)) = (query(target, "_HLS_msn"), query(target, "_HLS_part")) {
            let ready = clock.part_ready(m, p);
            let now = clock.now();
            if ready > now {
                thread::sleep((ready - now).min(Duration::from_secs(3)));
            }
        }
        return Reply::Body(200, clock.playlist().into_bytes());
    }
    let name = path.rsplit('/').next().unwrap_or("");
    if name.starts_with("seg-") {
        return Reply::Chunked(vec![b's'; 2000]);
    }
    if name.starts_with("part-") {
        return Reply::Body(200, vec![b'p'; 500]);
    }
    match path {
        "/short" => Reply::Short(1000),
        "/missing" => Reply::Body(404, b"not found".to_vec()),
        "/chunked" => Reply::Chunked(vec![b'c'; 3000]),
        _ => Reply::Body(200, vec![b'x'; 1000]),
    }
}

fn handle(mut s: TcpStream, clock: Arc<Clock>) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let out = match route(&target, &clock) {
            Reply::Body(status, body) => {
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(&body);
                out
            }
            Reply::Chunked(body) => {
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for piece in body.chunks(700) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                out
            }
            Reply::Short(n) => {
                let mut out =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
                out.resize(out.len() + n / 2, b'x');
                let _ = s.write_all(&out);
                return;
            }
        };
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

/// Starts the server; its threads live until the test process exits.
fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Two seconds of stream already exist when the first viewer comes.
    let clock = Arc::new(Clock {
        epoch: Instant::now() - Duration::from_secs(2),
    });
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let clock = Arc::clone(&clock);
            thread::spawn(move || handle(s, clock));
        }
    });
    addr
}

fn common(threads: usize) -> Common {
    Common {
        threads,
        cpus: Vec::new(),
        timeout: Duration::from_secs(5),
        progress: false,
    }
}

fn assert_clean(r: &Report) {
    let s = r.summary();
    assert_eq!(s.errors, 0, "{}", r.table());
    assert_eq!(s.bad_status, 0, "{}", r.table());
    assert!(s.requests > 0, "{}", r.table());
    assert_eq!(s.status.get("200"), Some(&s.requests), "{}", r.table());
}

#[test]
fn urls_closed_loop_for_a_duration() {
    let addr = server();
    let cfg = UrlsConfig {
        common: common(2),
        urls: vec![format!("http://{addr}/a"), format!("http://{addr}/chunked")],
        connections: 4,
        stop: Stop::Duration(Duration::from_millis(800)),
    };
    let r = urls::run(&cfg).unwrap();
    assert_clean(&r);
    let s = r.summary();
    let url = &s.kinds["url"];
    assert!(url.ttfb_ms.count > 0 && url.ttfb_ms.p50 <= url.total_ms.max);
    assert!(s.bytes >= s.requests * 1000);
    assert_eq!(s.mode, "urls");
}

#[test]
fn urls_closed_loop_for_a_request_count_with_statuses() {
    let addr = server();
    let cfg = UrlsConfig {
        common: common(2),
        urls: vec![format!("http://{addr}/a"), format!("http://{addr}/missing")],
        connections: 3,
        stop: Stop::Requests(60),
    };
    let r = urls::run(&cfg).unwrap();
    let s = r.summary();
    assert_eq!(s.requests, 60, "{}", r.table());
    assert_eq!(s.errors, 0);
    assert_eq!(s.status["200"] + s.status["404"], 60);
    assert_eq!(s.bad_status, s.status["404"]);
    assert!(s.status["404"] > 0);
}

#[test]
fn short_body_is_reported_as_errors() {
    let addr = server();
    let cfg = UrlsConfig {
        common: common(1),
        urls: vec![format!("http://{addr}/short")],
        connections: 2,
        stop: Stop::Requests(20),
    };
    let r = urls::run(&cfg).unwrap();
    let s = r.summary();
    assert_eq!(s.requests, 0, "{}", r.table());
    assert_eq!(s.errors, 20, "{}", r.table());
    assert_eq!(s.error_kinds["short_body"], 20);
}

#[test]
fn rate_open_loop_sends_every_scheduled_request() {
    let addr = server();
    let cfg = RateConfig {
        common: common(2),
        urls: vec![format!("http://{addr}/a")],
        connections: 4,
        rate: 200.0,
        duration: Duration::from_secs(1),
    };
    let r = rate::run(&cfg).unwrap();
    eprintln!("{}", r.table());
    assert_clean(&r);
    assert_eq!(r.summary().requests, 200, "{}", r.table());
}

fn live_cfg(addr: SocketAddr, ll_hls: bool) -> LiveConfig {
    LiveConfig {
        common: common(2),
        base: format!("http://{addr}"),
        streams: 2,
        viewers: 2,
        rendition: "r1".into(),
        stream_names: "s{}".into(),
        playlist_path: LiveConfig::DEFAULT_PATH.into(),
        duration: Duration::from_millis(1200),
        ll_hls,
    }
}

#[test]
fn live_viewers_fetch_segments() {
    let addr = server();
    let r = live::run(&live_cfg(addr, false)).unwrap();
    eprintln!("{}", r.table());
    assert_clean(&r);
    let s = r.summary();
    let live = s.live.as_ref().unwrap();
    assert_eq!(live.viewers, 4);
    assert!(live.segments > 0, "{}", r.table());
    assert_eq!(live.parts, 0);
    assert!(s.kinds["playlist"].requests >= 4);
    assert_eq!(s.kinds["segment"].bytes, live.segments * 2000);
    assert_eq!(live.lag_ms.count, live.segments);
}

#[test]
fn live_ll_hls_viewers_fetch_parts_with_blocking_reloads() {
    let addr = server();
    let r = live::run(&live_cfg(addr, true)).unwrap();
    eprintln!("{}", r.table());
    assert_clean(&r);
    let s = r.summary();
    let live = s.live.as_ref().unwrap();
    assert!(live.parts > 0, "{}", r.table());
    assert_eq!(s.kinds["part"].bytes, live.parts * 500);
    assert!(s.kinds["playlist"].requests > 4, "{}", r.table());
}

#[test]
fn json_and_svg_outputs() {
    let addr = server();
    let cfg = UrlsConfig {
        common: common(1),
        urls: vec![format!("http://{addr}/a")],
        connections: 2,
        stop: Stop::Requests(50),
    };
    let r = urls::run(&cfg).unwrap();
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["requests"], 50);
    assert_eq!(json["status"]["200"], 50);
    for field in [
        "p50", "p90", "p99", "p99_9", "p99_99", "max", "mean", "count",
    ] {
        assert!(
            json["kinds"]["url"]["total_ms"][field].is_number(),
            "{field}"
        );
    }
    assert!(json["live"].is_null());
    let path = std::env::temp_dir().join(format!("loadgen-test-{}.svg", std::process::id()));
    loadgen::plot::write_svg(&r.stats, "test", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(svg.contains("<svg") && svg.contains("99.9") && svg.contains("url total"));
}
