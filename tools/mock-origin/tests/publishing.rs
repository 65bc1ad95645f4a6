//! Black-box tests of the runtime publishing controls over real sockets:
//! pausing and resuming the live timeline, ending the stream, rewinding it,
//! the publish log and the playlist request counters. Streams use 1 s
//! segments and 250 ms parts and start ten seconds in the past, so the
//! 3-segment window already rolls; real sleeps stay short (well under 5 s
//! for the whole file, the tests running side by side).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{media_playlist, Client};
use mock_origin::{LiveConfig, MockOrigin};

const PART: Duration = Duration::from_millis(250);

fn origin() -> MockOrigin {
    let live = LiveConfig {
        streams: 1,
        segment_duration: Duration::from_secs(1),
        part_duration: PART,
        window: 3,
        start: Instant::now().checked_sub(Duration::from_secs(10)),
        ..LiveConfig::default()
    };
    MockOrigin::start_with("127.0.0.1:0", live).expect("start origin")
}

/// The part the preload hint names: `(msn, part)`.
fn hinted(text: &str) -> (u64, u64) {
    let uri = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-"))
        .expect("a preload hint");
    let (msn, part) = uri.strip_suffix(".m4s\"").unwrap().split_once('.').unwrap();
    (msn.parse().unwrap(), part.parse().unwrap())
}

/// Whether `text` lists part `part` of segment `msn` (not just hints it).
fn lists_part(text: &str, (msn, part): (u64, u64)) -> bool {
    let uri = format!("URI=\"seg-{msn}.{part}.m4s\"");
    text.lines()
        .any(|l| l.starts_with("#EXT-X-PART:") && l.contains(&uri))
}

/// Media sequence and the last complete segment listed.
fn sequence_and_last(text: &str) -> (u64, u64) {
    let seq = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .expect("media sequence")
        .parse()
        .unwrap();
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("seg-")?.strip_suffix(".m4s")?.parse().ok())
        .expect("a complete segment");
    (seq, last)
}

fn directive((msn, part): (u64, u64)) -> String {
    format!("_HLS_msn={msn}&_HLS_part={part}")
}

#[test]
fn pause_stops_the_timeline_and_resume_continues_it() {
    let origin = origin();
    // Before any control, the publish log is the configured clock.
    let (_, last) = sequence_and_last(&media_playlist(&origin, ""));
    assert_eq!(
        origin.published_at(last, None),
        origin.live().segment_available_at(last)
    );
    assert_eq!(origin.published_at(last + 5, None), None);

    origin.pause_publishing();
    let before = media_playlist(&origin, "");
    thread::sleep(Duration::from_millis(600));
    let after = media_playlist(&origin, "");
    assert_eq!(before, after, "nothing appears while paused");
    let next = hinted(&after);
    assert_eq!(origin.published_at(next.0, Some(next.1)), None);

    // A blocking request for the next part waits out the pause.
    let resumed = thread::scope(|s| {
        let waiting = s.spawn(|| {
            let started = Instant::now();
            (media_playlist(&origin, &directive(next)), started.elapsed())
        });
        thread::sleep(Duration::from_millis(300));
        let resumed = Instant::now();
        origin.resume_publishing();
        let (text, waited) = waiting.join().unwrap();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(lists_part(&text, next), "{text}");
        resumed
    });
    // The paused time is skipped: the next part came within a part duration.
    let at = origin
        .published_at(next.0, Some(next.1))
        .expect("published");
    let slack = Duration::from_millis(50);
    assert!(
        at >= resumed && at <= resumed + PART + slack,
        "{:?}",
        at - resumed
    );
    let later = media_playlist(&origin, &directive(hinted(&media_playlist(&origin, ""))));
    assert_ne!(later, after, "the timeline runs again");

    assert_eq!(origin.blocking_playlist_hits(), 2);
    assert_eq!(origin.plain_playlist_hits(), 4);
    assert_eq!(
        Client::connect(&origin).get("/live/s0/master.m3u8").status,
        200
    );
    assert_eq!(origin.plain_playlist_hits(), 4, "the master is not counted");
    origin.reset();
    assert_eq!(
        (
            origin.blocking_playlist_hits(),
            origin.plain_playlist_hits()
        ),
        (0, 0)
    );
}

#[test]
fn end_stream_answers_blocking_requests_with_endlist() {
    let origin = origin();
    origin.pause_publishing();
    let next = hinted(&media_playlist(&origin, ""));
    thread::scope(|s| {
        let waiting = s.spawn(|| {
            let started = Instant::now();
            (media_playlist(&origin, &directive(next)), started.elapsed())
        });
        thread::sleep(Duration::from_millis(100));
        origin.end_stream();
        let (text, waited) = waiting.join().unwrap();
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        assert!(!lists_part(&text, next) && !text.contains("PRELOAD-HINT"));
    });
    // A new request for the next part is answered at once, too.
    let started = Instant::now();
    let text = media_playlist(&origin, &directive(next));
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    let hint = Client::connect(&origin).get(&format!("/live/s0/r0/seg-{}.{}.m4s", next.0, next.1));
    assert_eq!(hint.status, 404, "the hinted part never comes");
    // Ended for good: resuming changes nothing.
    origin.resume_publishing();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(media_playlist(&origin, ""), text);
}

#[test]
fn rewind_regresses_the_media_sequence() {
    let origin = origin();
    let (seq, last) = sequence_and_last(&media_playlist(&origin, ""));
    assert!(origin.published_at(last, None).is_some());
    origin.rewind_publishing(2);
    let (seq2, last2) = sequence_and_last(&media_playlist(&origin, ""));
    assert!(seq2 < seq && last2 < last, "{seq}/{last} -> {seq2}/{last2}");
    assert_eq!(origin.published_at(last, None), None, "withdrawn");
    let segment = Client::connect(&origin).get(&format!("/live/s0/r0/seg-{last}.m4s"));
    assert_eq!(segment.status, 404);
    // Content the rewind did not withdraw keeps its first publish time.
    assert_eq!(
        origin.published_at(last2, None),
        origin.live().segment_available_at(last2)
    );
}

#[test]
fn a_process_is_paused_and_resumed_over_http() {
    // `POST /__publishing?pause|resume`: the same controls for an origin run as a process
    // (tools/cluster/cluster.py freezes its primary this way).
    let origin = origin();
    let mut client = Client::connect(&origin);
    let paused = client
        .try_request("POST", "/__publishing?pause", "Content-Length: 0\r\n")
        .unwrap();
    assert_eq!(paused.status, 200);
    let before = media_playlist(&origin, "");
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        media_playlist(&origin, ""),
        before,
        "the playlist is frozen"
    );
    let resumed = client
        .try_request("POST", "/__publishing?resume", "Content-Length: 0\r\n")
        .unwrap();
    assert_eq!(resumed.status, 200);
    let wrong = client
        .try_request("POST", "/__publishing?rewind", "Content-Length: 0\r\n")
        .unwrap();
    assert_eq!(wrong.status, 400);
    assert_eq!(origin.total(), 2, "controls are not counted as requests");
}
