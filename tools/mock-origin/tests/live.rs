//! Black-box tests of the live simulator over real sockets: playlists,
//! blocking reload, segments and parts, errors, and the delivery knobs on
//! live paths. Streams use 200 ms segments and 50 ms parts and start two
//! seconds in the past, so the window is already full; every timing
//! assertion is a lower bound derived from the configured clock.

mod common;

use std::io::{BufRead, Read};
use std::time::{Duration, Instant};

use mock_origin::{expected_body, LiveConfig, MockOrigin};

const SEGMENT: Duration = Duration::from_millis(200);
const PART: Duration = Duration::from_millis(50);

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// One request on a fresh connection; Content-Length or chunked bodies.
fn request(origin: &MockOrigin, method: &str, target: &str, extra: &str) -> Response {
    let (mut reader, status, headers) = common::send_and_read_head(origin, method, target, extra);
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 304 {
        return response;
    }
    if response.header("transfer-encoding") == Some("chunked") {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim_end(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let len = response
            .header("content-length")
            .expect("length")
            .parse()
            .unwrap();
        response.body = vec![0; len];
        reader.read_exact(&mut response.body).unwrap();
    }
    response
}

fn get(origin: &MockOrigin, target: &str) -> Response {
    request(origin, "GET", target, "")
}

fn config() -> LiveConfig {
    LiveConfig {
        streams: 2,
        segment_duration: SEGMENT,
        part_duration: PART,
        window: 3,
        start: Instant::now().checked_sub(Duration::from_secs(2)),
        ..LiveConfig::default()
    }
}

fn origin_with(live: LiveConfig) -> MockOrigin {
    MockOrigin::start_with("127.0.0.1:0", live).expect("start origin")
}

/// Media sequence and the last complete segment listed.
fn sequence_and_last(playlist: &str) -> (u64, u64) {
    let seq = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .expect("media sequence")
        .parse()
        .unwrap();
    let last = playlist
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("seg-")?.strip_suffix(".m4s")?.parse().ok())
        .expect("a complete segment");
    (seq, last)
}

const MEDIA: &str = "/live/s1/r1/index.m3u8";

#[test]
fn master_lists_renditions_and_mpd_describes_them() {
    let origin = origin_with(config());
    let master = get(&origin, "/live/s0/master.m3u8");
    assert_eq!(master.status, 200);
    assert_eq!(
        master.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(master.header("cache-control"), Some("public, max-age=1"));
    assert!(master.header("etag").is_some() && master.header("last-modified").is_some());
    let text = master.text();
    for (name, bandwidth) in [("r0", "880000"), ("r1", "2750000"), ("r2", "5500000")] {
        assert!(text.contains(&format!("BANDWIDTH={bandwidth},")), "{text}");
        assert!(text.contains(&format!("\n{name}/index.m3u8\n")), "{text}");
    }
    let mpd = get(&origin, "/live/s1/manifest.mpd");
    assert_eq!(mpd.header("content-type"), Some("application/dash+xml"));
    let text = mpd.text();
    assert!(text.contains("type=\"dynamic\"") && text.contains("timeShiftBufferDepth=\"PT0.6S\""));
    assert!(text.contains("media=\"r2/seg-$Number$.m4s\" initialization=\"r2/init.mp4\""));
    assert_eq!(
        get(&origin, "/live/s2/master.m3u8").status,
        200,
        "not ours: generic"
    );
    assert_eq!(get(&origin, "/live/s1/r3/index.m3u8").status, 404);
}

#[test]
fn media_playlist_rolls_forward() {
    let origin = origin_with(config());
    let first = get(&origin, MEDIA);
    assert_eq!(first.status, 200);
    let text = first.text();
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n"));
    assert!(text.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.150\n"));
    assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:"));
    assert!(text.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-"));
    let (seq, last) = sequence_and_last(&text);
    assert_eq!(last, seq + 2, "three segments in the window");
    std::thread::sleep(SEGMENT);
    let (seq2, last2) = sequence_and_last(&get(&origin, MEDIA).text());
    assert!(seq2 > seq && last2 > last, "{seq}->{seq2}, {last}->{last2}");
    assert_eq!(origin.path_hits(MEDIA), 2, "live requests are counted");
}

#[test]
fn blocking_reload_waits_for_the_next_segment_and_part() {
    let origin = origin_with(config());
    let (_, last) = sequence_and_last(&get(&origin, MEDIA).text());
    let next = last + 1;
    let ready = origin.live().segment_available_at(next).unwrap();
    let response = get(&origin, &format!("{MEDIA}?_HLS_msn={next}"));
    assert!(
        Instant::now() >= ready,
        "answered before segment {next} existed"
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("public, max-age=3"));
    assert!(response.text().contains(&format!("\nseg-{next}.m4s\n")));

    let (_, last) = sequence_and_last(&response.text());
    let target = format!("{MEDIA}?_HLS_msn={}&_HLS_part=2", last + 1);
    let part_ready = origin.live().segment_available_at(last).unwrap() + PART * 3;
    let response = get(&origin, &target);
    assert!(Instant::now() >= part_ready);
    assert!(response
        .text()
        .contains(&format!("URI=\"seg-{}.2.m4s\"", last + 1)));
}

#[test]
fn bad_directives_are_400() {
    let origin = origin_with(config());
    let (_, last) = sequence_and_last(&get(&origin, MEDIA).text());
    for query in [
        format!("_HLS_msn={}", last + 100),
        format!("_HLS_msn={}&_HLS_part=0", last + 100),
        "_HLS_part=1".to_string(),
        "_HLS_msn=soon".to_string(),
    ] {
        let response = get(&origin, &format!("{MEDIA}?{query}"));
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
}

#[test]
fn segments_parts_and_init() {
    let origin = origin_with(config());
    let (seq, last) = sequence_and_last(&get(&origin, MEDIA).text());
    let path = format!("/live/s1/r1/seg-{last}.m4s");
    let size = 2500 * 1000 / 8 / 5; // 2500 kbit/s for 200 ms
    let segment = get(&origin, &path);
    assert_eq!(segment.status, 200);
    assert_eq!(segment.body.len(), size);
    assert_eq!(segment.body, expected_body(&path, size));
    assert_eq!(segment.header("content-type"), Some("video/iso.segment"));
    assert_eq!(
        segment.header("cache-control"),
        Some("public, max-age=3600")
    );
    assert!(segment.header("last-modified").is_some());
    let etag = segment.header("etag").expect("etag").to_string();
    let revalidated = request(&origin, "GET", &path, &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(revalidated.status, 304);
    // Parts tile their segment; the DVR keeps segments that left the window.
    let part = get(&origin, &format!("/live/s1/r1/seg-{last}.1.m4s"));
    assert_eq!(part.body, &expected_body(&path, size)[size / 4..size / 2]);
    assert_eq!(
        get(&origin, &format!("/live/s1/r1/seg-{}.m4s", seq - 1)).status,
        200
    );
    let init = get(&origin, "/live/s0/r0/init.mp4");
    assert_eq!(
        (init.status, init.body.len()),
        (200, mock_origin::INIT_SIZE)
    );
    assert_eq!(init.header("content-type"), Some("video/mp4"));
    let head = request(&origin, "HEAD", &path, "");
    assert_eq!(
        head.header("content-length"),
        Some(size.to_string().as_str())
    );
}

#[test]
fn future_segments_are_404_and_the_hinted_part_is_held() {
    let origin = origin_with(config());
    let text = get(&origin, MEDIA).text();
    let (_, last) = sequence_and_last(&text);
    for path in [
        format!("/live/s1/r1/seg-{}.m4s", last + 50),
        format!("/live/s1/r1/seg-{}.0.m4s", last + 50),
        "/live/s1/r1/seg-0.m4s".to_string(), // behind the DVR buffer
    ] {
        let response = get(&origin, &path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.header("cache-control"), Some("public, max-age=1"));
    }
    let hint = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .and_then(|uri| uri.strip_suffix("\""))
        .expect("preload hint");
    let (msn, part) = hint
        .strip_prefix("seg-")
        .and_then(|s| s.strip_suffix(".m4s"))
        .and_then(|s| s.split_once('.'))
        .map(|(m, p)| (m.parse::<u64>().unwrap(), p.parse::<u32>().unwrap()))
        .unwrap();
    let ready = origin.live().segment_available_at(msn - 1).unwrap() + PART * (part + 1);
    let response = get(&origin, &format!("/live/s1/r1/{hint}"));
    assert_eq!(response.status, 200);
    assert!(
        Instant::now() >= ready,
        "hinted part sent before it was complete"
    );
}

#[test]
fn delivery_knobs_apply_to_live_paths() {
    let origin = origin_with(config());
    let (_, last) = sequence_and_last(&get(&origin, MEDIA).text());
    let path = format!("/live/s1/r0/seg-{last}.m4s");
    let size = 800 * 1000 / 8 / 5;
    let started = Instant::now();
    let slow = get(
        &origin,
        &format!("{path}?delay_ms=50&te=chunked&chunk=5000"),
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(slow.header("transfer-encoding"), Some("chunked"));
    assert_eq!(slow.body, expected_body(&path, size));
    assert_eq!(
        origin.hits(&format!("{path}?delay_ms=50&te=chunked&chunk=5000")),
        1
    );
    assert_eq!(origin.path_hits(&path), 1);
    let generic = get(&origin, "/live/ch1/720p/seg-1.m4s?size=10");
    assert_eq!(generic.body, expected_body("/live/ch1/720p/seg-1.m4s", 10));
    assert_eq!(generic.header("cache-control"), Some("public, max-age=60"));
}

#[test]
fn first_byte_delay_and_throughput() {
    let origin = origin_with(LiveConfig {
        renditions: vec![2000], // 50 000 bytes per 200 ms segment
        first_byte_delay: Duration::from_millis(100),
        throughput: Some(200_000),
        ..config()
    });
    let (_, last) = sequence_and_last(&get(&origin, "/live/s0/r0/index.m3u8").text());
    let path = format!("/live/s0/r0/seg-{last}.m4s");
    let started = Instant::now();
    let segment = get(&origin, &path);
    // 100 ms first-byte delay, then 50 000 bytes at 200 000 bytes/s, less
    // one 10 000-byte batch that needs no wait before it.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(segment.body, expected_body(&path, 50_000));
}
