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
//! The mock origin publishes 1 s segments of four 250 ms parts (TD 1 s), started 5 s before
//! the test.

mod common;

use std::time::Duration;

use common::live::{hold_results, holds_active, releases_timed};
use common::{all_at_once, eventually, playlist, send_with, Setup};
use livecache::metrics::HoldResult;

const RENDITION: &str = "/live/s0/r0/index.m3u8";

fn satisfied(setup: &Setup) -> u64 {
    hold_results(setup, HoldResult::Satisfied)
}

with_shards!(
    held_answers_are_whole_and_their_connections_go_on,
    |shards| {
        let setup = Setup::live(shards, &[("admin", "127.0.0.1:0")]);
        let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
        let next = state.next_part().expect("the mock lists parts");
        let reload = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
        // The packager pauses, so every client is held, and one version releases them all.
        setup.origin.pause_publishing();
        let before = satisfied(&setup);
        let written = || setup.running().stats.sum(|s| &s.live.written_at_release);
        let written_before = written();
        let clients = 12;
        let answers = std::thread::scope(|scope| {
            let answers = scope.spawn(|| {
                // GETs (written at their release where held on the owner), a HEAD and a
                // conditional GET (written by their tasks), kept alive, then each connection's
                // next request; and an HTTP/1.0 GET, whose connection closes after its answer.
                all_at_once(setup.addr, clients, |i, conn| {
                    if i == 3 {
                        conn.send(
                            format!("GET {reload} HTTP/1.0\r\nHost: test.local\r\n\r\n").as_bytes(),
                        );
                        let held = conn.read_response(false).expect("a response");
                        return (held, None, conn.is_closed_by_peer());
                    }
                    let held = match i {
                        0 => send_with(conn, "HEAD", &reload, &[]),
                        1 => send_with(conn, "GET", &reload, &[("If-None-Match", "\"none\"")]),
                        _ => send_with(conn, "GET", &reload, &[]),
                    };
                    let after = send_with(conn, "GET", &format!("{RENDITION}?_HLS_msn=0"), &[]);
                    (held, Some(after), false)
                })
            });
            assert!(eventually(Duration::from_secs(5), || holds_active(&setup)
                == clients as u64));
            setup.origin.resume_publishing();
            answers.join().unwrap()
        });
        let (first, _, _) = &answers[2];
        let length = first.body.len().to_string();
        for (i, (held, after, closed)) in answers.iter().enumerate() {
            assert_eq!(held.status, 200, "{i}: {held:?}");
            assert!(held.complete, "{i}: cut");
            assert!(held.cache_status().contains("detail=held"), "{i}: {held:?}");
            assert_eq!(held.header("content-length"), Some(&length[..]), "{i}");
            if i > 0 {
                assert_eq!(
                    held.body, first.body,
                    "{i}: the same version, the same bytes"
                );
                assert!(playlist(held).satisfies(next.msn, Some(next.part)));
            }
            assert_eq!(held.header("via"), first.header("via"));
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
        // One shard: every plain GET was written by its release, HTTP/1.0 too (the HEAD and
        // the conditional GET by their tasks). Four: the harness accepts on a shard that owns no stream, so every
        // answer crosses the mesh and its task writes it.
        let expected = match shards {
            1 => clients as u64 - 2,
            _ => 0,
        };
        assert_eq!(written() - written_before, expected);
        assert_eq!(holds_active(&setup), 0);
        // Each answer released from a hold is timed once, however it was written.
        assert!(eventually(Duration::from_secs(5), || releases_timed(
            &setup
        ) == satisfied(
            &setup
        )));
    }
);
