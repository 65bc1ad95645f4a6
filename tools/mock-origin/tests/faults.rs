//! Black-box tests of live fault injection over real sockets: errors,
//! resets and stalls at rate 1, nothing at rate 0, the counters in
//! `/__stats` and `MockOrigin::faults`, and reproducibility by seed. Streams
//! use 200 ms segments that started two seconds ago, so segments exist;
//! timing assertions are lower bounds only.

mod common;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use mock_origin::{expected_body, FaultCounts, Faults, LiveConfig, MockOrigin};

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The connection was reset before the end of the body.
    reset: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> usize {
        self.header("content-length")
            .expect("content-length")
            .parse()
            .unwrap()
    }
}

/// One request with `Connection: close` on a fresh connection; the body is
/// read to the end of the connection, noting a reset.
fn request(origin: &MockOrigin, method: &str, target: &str) -> Response {
    let (mut reader, status, headers) =
        common::send_and_read_head(origin, method, target, "Connection: close\r\n");
    let mut body = Vec::new();
    let mut reset = false;
    if method != "HEAD" {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    reset = true;
                    break;
                }
                Err(e) => panic!("unexpected read error {e}"),
            }
        }
    }
    Response {
        status,
        headers,
        body,
        reset,
    }
}

fn get(origin: &MockOrigin, target: &str) -> Response {
    request(origin, "GET", target)
}

fn origin(faults: Faults) -> MockOrigin {
    let live = LiveConfig {
        streams: 2,
        segment_duration: Duration::from_millis(200),
        part_duration: Duration::from_millis(50),
        // A long DVR buffer keeps the fixed segment below fetchable.
        window: 30,
        start: Instant::now().checked_sub(Duration::from_secs(2)),
        faults,
        ..LiveConfig::default()
    };
    MockOrigin::start_with("127.0.0.1:0", live).expect("start origin")
}

/// A segment and a part that exist: complete 2 s after the clock started
/// (200 ms segments) and inside the 90-segment DVR buffer for 18 s.
const SEGMENT: &str = "/live/s1/r1/seg-5.m4s";
const PART: &str = "/live/s1/r1/seg-5.1.m4s";
/// 2500 kbit/s for 200 ms.
const SEGMENT_SIZE: usize = 2500 * 1000 / 8 / 5;

fn stats(origin: &MockOrigin) -> String {
    let response = get(origin, "/__stats");
    assert_eq!(response.status, 200);
    String::from_utf8(response.body).unwrap()
}

fn faults_json(counts: FaultCounts) -> String {
    format!(
        "\"faults\":{{\"errors\":{},\"resets\":{},\"stalls\":{}}}",
        counts.errors, counts.resets, counts.stalls
    )
}

#[test]
fn error_rate_one_fails_every_live_response() {
    let origin = origin(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let live = [
        SEGMENT,
        PART,
        "/live/s0/r0/seg-6.m4s",
        "/live/s0/r2/init.mp4",
        "/live/s0/master.m3u8",
        "/live/s1/manifest.mpd",
        "/live/s1/r0/index.m3u8",
        // Would otherwise be held or refused: the fault answers at once.
        "/live/s1/r0/index.m3u8?_HLS_msn=99999",
        "/live/s0/r0/seg-7.m4s?cc=public",
    ];
    for target in live {
        let response = get(&origin, target);
        assert_eq!(response.status, 503, "{target}");
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{target}"
        );
        assert_eq!(response.header("x-origin-fault"), Some("error"));
        assert!(!response.reset);
    }
    // Query-driven paths, other /live/ paths included, are never faulted.
    for target in ["/seg/1.ts?size=10", "/live/s9/r0/seg-5.m4s?size=10"] {
        let response = get(&origin, target);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.header("x-origin-fault"), None);
    }
    let counts = FaultCounts {
        errors: live.len() as u64,
        ..FaultCounts::default()
    };
    assert_eq!(origin.faults(), counts);
    let json = stats(&origin);
    assert!(
        json.contains(&format!(",{},\"playlists\":", faults_json(counts))),
        "{json}"
    );
    assert_eq!(
        origin.total(),
        live.len() as u64 + 2,
        "faulted requests count"
    );
    origin.reset();
    assert_eq!(origin.faults(), FaultCounts::default());
}

#[test]
fn reset_rate_one_cuts_segments_and_parts_halfway() {
    let origin = origin(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    });
    let segment = get(&origin, SEGMENT);
    assert_eq!(segment.status, 200);
    assert_eq!(segment.content_length(), SEGMENT_SIZE);
    assert_eq!(segment.header("x-origin-fault"), Some("reset"));
    assert!(segment.reset, "expected a TCP reset");
    assert_eq!(
        segment.body,
        &expected_body(SEGMENT, SEGMENT_SIZE)[..SEGMENT_SIZE / 2]
    );
    let part = get(&origin, PART);
    assert!(part.reset && part.body.len() == part.content_length() / 2);
    // Not segments or parts, or no body: untouched and not counted.
    for (method, target) in [
        ("GET", "/live/s1/r1/index.m3u8"),
        ("GET", "/live/s1/r1/init.mp4"),
        ("GET", "/live/s1/r1/seg-99999.m4s"),
        ("HEAD", SEGMENT),
    ] {
        let response = request(&origin, method, target);
        assert!(!response.reset, "{method} {target}");
        assert_eq!(response.header("x-origin-fault"), None);
    }
    let counts = FaultCounts {
        resets: 2,
        ..FaultCounts::default()
    };
    assert_eq!(origin.faults(), counts);
    assert!(stats(&origin).contains(&faults_json(counts)));
}

#[test]
fn stall_rate_one_pauses_mid_body() {
    let stall = Duration::from_millis(300);
    let origin = origin(Faults {
        stall_rate: 1.0,
        stall,
        ..Faults::default()
    });
    for target in [SEGMENT, PART] {
        let started = Instant::now();
        let response = get(&origin, target);
        assert!(
            started.elapsed() >= stall,
            "{target}: {:?}",
            started.elapsed()
        );
        assert_eq!(response.header("x-origin-fault"), Some("stall"));
        assert!(!response.reset);
        assert_eq!(response.body.len(), response.content_length());
    }
    let segment = get(&origin, &format!("{SEGMENT}?te=chunked"));
    assert_eq!(segment.header("transfer-encoding"), Some("chunked"));
    let mut framed = format!("{SEGMENT_SIZE:x}\r\n").into_bytes();
    framed.extend_from_slice(&expected_body(SEGMENT, SEGMENT_SIZE));
    framed.extend_from_slice(b"\r\n0\r\n\r\n");
    assert!(segment.body == framed, "one chunk, stalled inside");
    let counts = FaultCounts {
        stalls: 3,
        ..FaultCounts::default()
    };
    assert_eq!(origin.faults(), counts);
    assert!(stats(&origin).contains(&faults_json(counts)));
}

#[test]
fn zero_rates_change_nothing() {
    let origin = origin(Faults {
        seed: 99,
        ..Faults::default()
    });
    for _ in 0..3 {
        let segment = get(&origin, SEGMENT);
        assert_eq!(segment.status, 200);
        assert!(!segment.reset);
        assert_eq!(segment.body, expected_body(SEGMENT, SEGMENT_SIZE));
        assert_eq!(segment.header("x-origin-fault"), None);
        assert_eq!(get(&origin, "/live/s0/master.m3u8").status, 200);
    }
    assert_eq!(origin.faults(), FaultCounts::default());
    assert!(stats(&origin).contains(&faults_json(FaultCounts::default())));
}

#[test]
fn same_seed_same_faults() {
    let faults = Faults {
        error_rate: 0.3,
        reset_rate: 0.2,
        stall_rate: 0.2,
        stall: Duration::from_millis(1),
        seed: 7,
    };
    let run = |faults: &Faults| {
        let origin = origin(faults.clone());
        let marks: Vec<Option<String>> = (0..40)
            .map(|i| {
                let target = if i % 4 == 0 {
                    "/live/s0/r0/index.m3u8"
                } else {
                    SEGMENT
                };
                get(&origin, target)
                    .header("x-origin-fault")
                    .map(str::to_string)
            })
            .collect();
        (marks, origin.faults())
    };
    let (first, counts) = run(&faults);
    assert_eq!(run(&faults), (first.clone(), counts));
    assert!(
        counts.errors > 0 && counts.resets + counts.stalls > 0,
        "{counts:?}"
    );
    let tally = |kind: &str| first.iter().filter(|m| m.as_deref() == Some(kind)).count() as u64;
    assert_eq!(
        (tally("error"), tally("reset"), tally("stall")),
        (counts.errors, counts.resets, counts.stalls)
    );
    let other = run(&Faults { seed: 8, ..faults });
    assert_ne!(other.0, first, "another seed, another sequence");
}

#[test]
fn invalid_fault_rates_refuse_to_start() {
    let live = LiveConfig {
        faults: Faults {
            reset_rate: 0.7,
            stall_rate: 0.7,
            ..Faults::default()
        },
        ..LiveConfig::default()
    };
    let err = MockOrigin::start_with("127.0.0.1:0", live).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
