//! LL-DASH chunked fan-out (LIVE.md F12, T12.1, T12.2): viewers of a segment the packager is
//! still writing share one upstream fetch and each gets the packager's chunks, one HTTP chunk
//! per CMAF chunk, as they come; a segment asked for a little before its availability is
//! held and fetched once, never answered by the origin's 404; an origin that dies or falls
//! silent inside a segment cuts every viewer and leaves nothing stored; and the live MPD is
//! kept no longer than its update period.
//!
//! The mock origin publishes 1 s segments in four 250 ms chunks (availabilityTimeOffset
//! 0.75 s), started 5 s before the test.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{all_at_once, cache_status_ttl, eventually, expected_body, Conn, MockOrigin, Setup};
use livecache::metrics::OriginErrorKind;
use mock_origin::LiveConfig;

const MPD: &str = "/live/s0/manifest.mpd";
const VIEWERS: usize = 12;

fn live() -> LiveConfig {
    LiveConfig {
        segment_duration: Duration::from_secs(1),
        part_duration: Duration::from_millis(250),
        start: Instant::now().checked_sub(Duration::from_secs(5)),
        chunked_dash: true,
        ..LiveConfig::default()
    }
}

fn setup(shards: usize, extra: &[(&str, &str)]) -> (Setup, LiveConfig) {
    let live = live();
    let origin = MockOrigin::start_with("127.0.0.1:0", live.clone()).expect("mock origin starts");
    (Setup::in_front_of(origin, shards, extra), live)
}

/// A response read to the connection's close, its body split as it was framed.
struct Framed {
    status: u16,
    head: String,
    /// The body's HTTP chunks in order (the whole body as one piece when not chunked).
    chunks: Vec<Vec<u8>>,
    /// Ended properly: the last chunk came (or all of a `Content-Length`).
    complete: bool,
}

impl Framed {
    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

fn get_framed(addr: SocketAddr, target: &str) -> Framed {
    send_framed(&mut Conn::open(addr), target)
}

fn send_framed(conn: &mut Conn, target: &str) -> Framed {
    let request = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
    conn.send(request.as_bytes());
    parse_framed(&conn.read_to_close())
}

fn parse_framed(raw: &[u8]) -> Framed {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head[9..12].parse().unwrap();
    let mut rest = &raw[end..];
    let lower = head.to_ascii_lowercase();
    if !lower.contains("transfer-encoding: chunked") {
        let length: Option<usize> = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map(|n| n.trim().parse().unwrap());
        let complete = length.is_none_or(|n| n == rest.len());
        return Framed {
            status,
            head,
            chunks: vec![rest.to_vec()],
            complete,
        };
    }
    let mut chunks = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
            .expect("a chunk size");
        if size == 0 {
            return Framed {
                status,
                head,
                chunks,
                complete: rest[line_end..].starts_with(b"\r\n\r\n"),
            };
        }
        let data = &rest[line_end + 2..];
        if data.len() < size + 2 {
            chunks.push(data[..data.len().min(size)].to_vec());
            break;
        }
        chunks.push(data[..size].to_vec());
        rest = &data[size + 2..];
    }
    Framed {
        status,
        head,
        chunks,
        complete: false,
    }
}

/// Asks for the MPD (so the cache knows the schedule) and waits until the owners of every
/// rendition's segments have it (with several shards, one shard learning it is not enough:
/// the segment asked for may be another's).
fn learn_schedule(setup: &Setup, live: &LiveConfig) {
    let mpd = setup.get(MPD);
    assert_eq!(mpd.status, 200);
    let stats = &setup.running().stats;
    let renditions = live.renditions.len() as u64;
    assert!(
        eventually(Duration::from_secs(5), || stats
            .sum(|s| &s.live.dash_schedules)
            >= renditions),
        "not every rendition's owner learned the MPD's segment schedule"
    );
}

/// The segment the packager starts next, and when its first chunk is written (from then it
/// may be asked for).
fn next_segment(live: &LiveConfig) -> (u64, Instant) {
    let start = live.start.unwrap();
    let elapsed = start.elapsed();
    let next = elapsed.as_millis() / live.segment_duration.as_millis() + 1;
    let next = u64::try_from(next).unwrap();
    let first_chunk = start + live.segment_duration * next as u32 + live.part_duration;
    (next, first_chunk)
}

with_shards!(
    viewers_asking_early_share_one_fetch_and_get_every_chunk_as_sent,
    |shards| {
        let (setup, live) = setup(shards, &[("dash_hold_early", "3s")]);
        learn_schedule(&setup, &live);
        let (n, available) = next_segment(&live);
        // The top rendition: chunks of 156 KB, each more than one socket read.
        let path = format!("/live/s0/r2/seg-{n}.m4s");
        let size = live.segment_size(live.renditions[2]);
        let addr = setup.addr;
        let responses = all_at_once(addr, VIEWERS, |_, conn| send_framed(conn, &path));
        assert!(Instant::now() >= available);
        assert_eq!(
            setup.origin.hits(&path),
            1,
            "one origin request for everyone"
        );
        let stats = &setup.running().stats;
        assert_eq!(stats.sum(|s| &s.live.dash_early_holds), VIEWERS as u64);
        assert_every_chunk_as_sent(&responses, &path, size);
    }
);

/// Each response is the whole segment, in the packager's four chunks, each its own HTTP chunk
/// (T12.1).
fn assert_every_chunk_as_sent(responses: &[Framed], path: &str, size: usize) {
    let expected = expected_body(path, size);
    for r in responses {
        assert_eq!(r.status, 200, "{}", r.head);
        assert!(r.complete, "{}", r.head);
        assert_eq!(r.body(), expected);
        let sizes: Vec<usize> = r.chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![size / 4; 4], "{}", r.head);
    }
}

with_shards!(
    a_viewer_joining_mid_segment_gets_the_chunks_it_missed_each_as_sent,
    |shards| {
        // A viewer that joins the fetch after two of the four chunks arrived is sent both in
        // one write: each must still be its own HTTP chunk, and the rest follow as they come.
        let (setup, live) = setup(shards, &[("dash_hold_early", "3s")]);
        learn_schedule(&setup, &live);
        let (n, available) = next_segment(&live);
        // The lowest rendition: chunks of 25 KB, two of which fit one gathered write.
        let path = format!("/live/s0/r0/seg-{n}.m4s");
        let size = live.segment_size(live.renditions[0]);
        let addr = setup.addr;
        let (first, late) = std::thread::scope(|scope| {
            let first = scope.spawn(|| get_framed(addr, &path));
            // Chunks are written every part duration from the segment's start; `available`
            // is the first one's.
            let two_out = available + live.part_duration + live.part_duration / 2;
            std::thread::sleep(two_out.saturating_duration_since(Instant::now()));
            let late = get_framed(addr, &path);
            (first.join().unwrap(), late)
        });
        let stats = &setup.running().stats;
        assert_eq!(
            stats.sum(|s| &s.live.dash_early_holds),
            1,
            "the first viewer was held to the segment's availability"
        );
        assert_eq!(
            setup.origin.hits(&path),
            1,
            "the late viewer joined the fetch"
        );
        assert_every_chunk_as_sent(&[first, late], &path, size);
    }
);

with_shards!(
    an_early_request_waits_for_the_clock_and_a_late_404_is_not_kept,
    |shards| {
        // Asked 30 s ahead with holds of up to a minute; the cache's clock is moved instead of
        // waiting. The origin (on real time) still says 404 then: that reaches the viewers who
        // waited, in one origin request, and is not stored.
        let (setup, live) = setup(shards, &[("dash_hold_early", "60s")]);
        learn_schedule(&setup, &live);
        let (n, _) = next_segment(&live);
        let path = format!("/live/s0/r0/seg-{}.m4s", n + 30);
        let addr = setup.addr;
        let stats = &setup.running().stats;
        std::thread::scope(|scope| {
            let waiting: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| common::get(addr, &path)))
                .collect();
            assert!(eventually(Duration::from_secs(5), || stats
                .sum(|s| &s.live.dash_early_holds)
                == 4));
            assert_eq!(setup.origin.hits(&path), 0, "held, not forwarded");
            setup.advance(Duration::from_secs(31));
            for response in waiting {
                assert_eq!(response.join().unwrap().status, 404);
            }
        });
        assert_eq!(setup.origin.hits(&path), 1);
        assert_eq!(setup.get(&path).status, 404);
        assert_eq!(
            setup.origin.hits(&path),
            2,
            "a live segment's 404 is not stored"
        );
        // Further ahead than the hold: forwarded at once.
        let far = format!("/live/s0/r0/seg-{}.m4s", n + 300);
        assert_eq!(setup.get(&far).status, 404);
        assert_eq!(setup.origin.hits(&far), 1);
    }
);

/// Viewers of the next segment once it may be asked for; once the origin has their one
/// request, `upset` disturbs it mid-segment. Returns the segment's path and the responses.
fn viewers_while(
    setup: &Setup,
    live: &LiveConfig,
    upset: impl Fn(&MockOrigin),
) -> (String, Vec<Framed>) {
    learn_schedule(setup, live);
    let (n, available) = next_segment(live);
    let path = format!("/live/s0/r0/seg-{n}.m4s");
    std::thread::sleep(available.saturating_duration_since(Instant::now()));
    let (addr, origin) = (setup.addr, &setup.origin);
    let responses = std::thread::scope(|scope| {
        let viewers: Vec<_> = (0..VIEWERS)
            .map(|_| scope.spawn(|| get_framed(addr, &path)))
            .collect();
        assert!(eventually(Duration::from_secs(5), || origin.hits(&path) == 1));
        upset(origin);
        viewers
            .into_iter()
            .map(|v| v.join().unwrap())
            .collect::<Vec<_>>()
    });
    for r in &responses {
        assert_eq!(r.status, 200, "{}", r.head);
        assert!(!r.complete, "a cut segment must not look complete (T12.2)");
    }
    (path, responses)
}

with_shards!(
    an_origin_dying_inside_a_segment_cuts_every_viewer_and_stores_nothing,
    |shards| {
        let (setup, live) = setup(shards, &[]);
        // Killed once the first chunk is out, before the segment is complete.
        let (path, _) = viewers_while(&setup, &live, |origin| {
            std::thread::sleep(Duration::from_millis(100));
            origin.refuse_connections().unwrap();
        });
        setup.origin.accept_connections().unwrap();
        assert_eq!(get_framed(setup.addr, &path).status, 200);
        assert_eq!(
            setup.origin.hits(&path),
            2,
            "nothing was stored: a new fetch"
        );
    }
);

with_shards!(
    a_silent_origin_inside_a_segment_is_given_up_after_two_chunks,
    |shards| {
        // Chunks of 250 ms: a gap over 2 s (the floor) fails the fetch, long before the
        // configured 30 s between bytes (and before the origin's own 3 s hold limit).
        let (setup, live) = setup(shards, &[("upstream_between_bytes_timeout", "30s")]);
        viewers_while(&setup, &live, MockOrigin::pause_publishing);
        let timeouts: u64 = setup
            .running()
            .stats
            .shards
            .iter()
            .map(|s| s.origin_errors_of_kind(OriginErrorKind::Timeout))
            .sum();
        assert_eq!(timeouts, 1, "the cache gave up on the silence itself");
    }
);

with_shards!(
    a_live_mpd_is_kept_no_longer_than_its_update_period,
    |shards| {
        // The origin says an hour; the MPD's minimumUpdatePeriod says 1 s.
        let (setup, _) = setup(shards, &[]);
        let target = format!("{MPD}?cc=public%2C%20max-age%3D3600");
        assert_eq!(setup.get(&target).status, 200);
        let stored = setup.get(&target);
        assert!(
            stored.cache_status().contains("hit"),
            "{}",
            stored.cache_status()
        );
        let ttl = cache_status_ttl(&stored).expect("a ttl");
        assert!(ttl <= 1, "ttl {ttl}");
        setup.advance(Duration::from_secs(2));
        let after = setup.get(&target);
        assert!(
            !after.cache_status().contains("hit"),
            "{}",
            after.cache_status()
        );
    }
);
