//! Held LL-HLS answers written by their release (`shard::release_write`): a blocking reload
//! held on the rendition's own shard is answered from the long-poll that brings its version,
//! before its connection's task runs; the task only accounts for it. Seen from outside: the
//! answer is whole and the same as one its task writes (a HEAD, a conditional request, a
//! client on another shard, an HTTP/1.0 client told its connection closes), the kept-alive
//! connection carries the next request, the answer is counted and timed once, and every GET
//! held on the owner is counted as written at its release (none where the harness sends all
//! requests over the mesh). That a client with its answer is no longer counted held shows in
//! `live_holds`' drain test, which read a stale count before holds were counted out first.
//!
//! A head written at its release is field for field the one its task writes (the
//! conditional GET's), but for what its own connection adds (CMSD, `Connection`, and `Age`,
//! which the task reads later); a delta update held beside full playlists and released with
//! them gets its own body and length. The version that releases them is timed once, on the
//! owner (its wait for the release, and the release itself), and its wait ends before any of
//! its answers leaves.
//!
//! An answer larger than a slow reader's socket takes at once (a 100 KB playlist to a viewer
//! with a small MSS and receive window) goes in part at its release and the rest from its
//! task: whole, once, and the connection carries on.
//!
//! The first test's mock origin publishes 1 s segments of four 250 ms parts (TD 1 s), 12
//! listed, a skip boundary of 6 s, started 14 s before the test.

mod common;

use std::time::{Duration, Instant};

use common::live::{
    held_at_once, histogram, hold_results, holds_active, release_counts_forgiven, releases_timed,
    written_at_release,
};
use common::{eventually, playlist, send_with, Conn, MockOrigin, Setup};
use livecache::metrics::HoldResult;
use mock_origin::LiveConfig;
use socket2::{Domain, Socket, Type};

const RENDITION: &str = "/live/s0/r0/index.m3u8";
/// The client whose held GET asks for a delta update.
const DELTA: usize = 4;

fn satisfied(setup: &Setup) -> u64 {
    hold_results(setup, HoldResult::Satisfied)
}

with_shards!(
    held_answers_are_whole_and_their_connections_go_on,
    |shards| {
        let setup = Setup::live_deltas(shards, &[("admin", "127.0.0.1:0")]);
        let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let next = state.next_part().expect("the mock lists parts");
        let reload = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
        // The packager pauses, so every client is held, and one version releases them all.
        setup.origin.pause_publishing();
        let before = satisfied(&setup);
        let written_before = written_at_release(&setup);
        let timings_before = release_timings(&setup);
        let clients = 12;
        // GETs (written at their release where held on the owner; one of them asks for a
        // delta update), a HEAD and a conditional GET (written by their tasks), kept alive,
        // then each connection's next request; and an HTTP/1.0 GET, whose connection closes
        // after its answer.
        let client = |i: usize, conn: &mut common::Conn| {
            if i == 3 {
                conn.send(format!("GET {reload} HTTP/1.0\r\nHost: test.local\r\n\r\n").as_bytes());
                let held = conn.read_response(false).expect("a response");
                return (held, None, conn.is_closed_by_peer());
            }
            let held = match i {
                0 => send_with(conn, "HEAD", &reload, &[]),
                1 => send_with(conn, "GET", &reload, &[("If-None-Match", "\"none\"")]),
                DELTA => send_with(conn, "GET", &format!("{reload}&_HLS_skip=YES"), &[]),
                _ => send_with(conn, "GET", &reload, &[]),
            };
            let after = send_with(conn, "GET", &format!("{RENDITION}?_HLS_msn=0"), &[]);
            (held, Some(after), false)
        };
        let answers = held_at_once(&setup, clients, client, || setup.origin.resume_publishing());
        let (first, _, _) = &answers[2];
        let length = first.body.len().to_string();
        // Every GET's head is the one its task writes (the conditional GET's, written by its
        // task), field for field, but for what its own connection adds.
        let own = |name: &str| name.starts_with("cmsd-") || name == "connection" || name == "age";
        let fields = |answer: &common::Response| -> Vec<(String, String)> {
            let lower = answer.headers.iter();
            let lower = lower.map(|(name, value)| (name.to_ascii_lowercase(), value.clone()));
            lower.filter(|(name, _)| !own(name)).collect()
        };
        let by_task = fields(&answers[1].0);
        for (i, (held, after, closed)) in answers.iter().enumerate() {
            assert_eq!(held.status, 200, "{i}: {held:?}");
            assert!(held.complete, "{i}: cut");
            assert!(held.cache_status().contains("detail=held"), "{i}: {held:?}");
            if i > 0 {
                assert!(playlist(held).satisfies(next.msn, Some(next.part)), "{i}");
            }
            if i == DELTA {
                let delta = String::from_utf8_lossy(&held.body);
                assert!(delta.contains("#EXT-X-SKIP:"), "{delta}");
                let own_length = held.body.len().to_string();
                assert_eq!(held.header("content-length"), Some(&own_length[..]));
                assert!(after.as_ref().is_some_and(|after| after.complete));
                continue;
            }
            assert_eq!(held.header("content-length"), Some(&length[..]), "{i}");
            if i > 0 {
                assert_eq!(
                    held.body, first.body,
                    "{i}: the same version, the same bytes"
                );
            }
            assert_eq!(held.header("via"), first.header("via"));
            if i > 0 {
                assert_eq!(fields(held), by_task, "{i}: {held:?}");
                assert!(held.header("cmsd-dynamic").is_some(), "{i}: {held:?}");
            }
            let Some(after) = after else {
                // HTTP/1.0 without keep-alive: told so, and closed after its answer.
                assert_eq!(held.header("connection"), Some("close"), "{held:?}");
                assert!(closed, "the connection closed");
                continue;
            };
            assert_eq!(held.header("connection"), None, "{i}");
            // The connection carries on: nothing was left over or written twice.
            assert_eq!(after.status, 200, "{i}: {after:?}");
            assert!(after.complete);
            assert!(
                after.cache_status().contains("detail=live-state"),
                "{i}: {after:?}"
            );
        }
        assert_eq!(satisfied(&setup) - before, clients as u64);
        // One shard: every plain GET was written by its release, HTTP/1.0 and the delta too
        // (the HEAD and the conditional GET by their tasks). Four: the harness accepts on a
        // shard that owns no stream, so every answer crosses the mesh and its task writes it.
        let expected = match shards {
            1 => clients as u64 - 2,
            _ => 0,
        };
        assert_eq!(written_at_release(&setup) - written_before, expected);
        assert_eq!(holds_active(&setup), 0);
        // Every answer counted as released on the shard that asked (with four shards the
        // owner counts those it sends over the mesh) was taken there: a request after them
        // goes through that shard's release gate with no count left over to forgive.
        assert_eq!(setup.get(&format!("{RENDITION}?_HLS_msn=0")).status, 200);
        assert_eq!(release_counts_forgiven(&setup), 0);
        // Each answer released from a hold is timed once, however it was written.
        assert!(eventually(Duration::from_secs(5), || releases_timed(
            &setup
        ) == satisfied(
            &setup
        )));
        // One version released them all: its wait for its release and the release itself
        // are timed once, on the owner, and no answer left before the release began.
        let after = release_timings(&setup);
        let delta = |i: usize| {
            let ((count, sum), (count_before, sum_before)) = (after[i], timings_before[i]);
            (count - count_before, sum - sum_before)
        };
        let (wait, burst, answers) = (delta(0), delta(1), delta(2));
        assert_eq!((wait.0, burst.0, answers.0), (1, 1, clients as u64));
        assert!(answers.1 >= wait.1 * clients as f64, "{wait:?} {answers:?}");
    }
);

/// The release timings of the scrape, each as (count, sum): the versions' waits for their
/// release, the releases, and the held answers.
fn release_timings(setup: &Setup) -> [(u64, f64); 3] {
    [
        "livecache_hls_release_wait_seconds",
        "livecache_hls_release_burst_seconds",
        "livecache_hls_hold_release_seconds",
    ]
    .map(|name| histogram(setup, name))
}

with_shards!(
    an_answer_the_socket_takes_in_part_is_finished_by_its_task,
    |shards| {
        // 4,000 segments of 40 ms listed: a playlist of over 100 KB.
        let live = LiveConfig {
            segment_duration: Duration::from_millis(40),
            part_duration: Duration::from_millis(10),
            window: 4000,
            start: Instant::now().checked_sub(Duration::from_secs(170)),
            ..LiveConfig::default()
        };
        let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("mock origin starts");
        let setup = Setup::in_front_of(origin, shards, &[("admin", "127.0.0.1:0")]);
        // Its parts come every 10 ms: the packager pauses first, and the part asked for is
        // the one after its last (read from the origin itself), so the request is held.
        setup.get(&format!("{RENDITION}?_HLS_msn=0"));
        setup.origin.pause_publishing();
        let state = common::get(setup.origin.addr(), RENDITION);
        assert!(state.body.len() > 100_000, "{} bytes", state.body.len());
        let next = playlist(&state).next_part().expect("the mock lists parts");
        let reload = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
        let written_before = written_at_release(&setup);
        // A viewer with a small MSS and a few KiB of receive window: the server's socket
        // takes some tens of KiB of the answer at once, the rest as the viewer reads.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_mss(536).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&setup.addr.into()).unwrap();
        let mut conn = Conn::over(socket.into());
        conn.send(format!("GET {reload} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes());
        assert!(eventually(Duration::from_secs(5), || holds_active(&setup) == 1));
        setup.origin.resume_publishing();
        let held = conn.read_response(false).expect("the held answer");
        assert_eq!(held.status, 200, "{held:?}");
        assert!(held.complete, "cut");
        assert!(held.cache_status().contains("detail=held"));
        let length = held.body.len().to_string();
        assert_eq!(held.header("content-length"), Some(&length[..]));
        assert!(playlist(&held).satisfies(next.msn, Some(next.part)));
        // Nothing left over or sent twice: the connection carries its next request.
        let after = conn.get(&format!("{RENDITION}?_HLS_msn=0"));
        assert_eq!(after.status, 200);
        assert!(after.complete);
        // Written at its release on one shard (in part), by its task with four.
        let expected = match shards {
            1 => 1,
            _ => 0,
        };
        assert_eq!(written_at_release(&setup) - written_before, expected);
    }
);
