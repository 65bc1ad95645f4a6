//! The live parsers against what the mock origin really serves (no livecache in between):
//! `/live/s0/master.m3u8`, every rendition's `index.m3u8` (plain and blocking) and
//! `/live/s0/manifest.mpd` parse, agree with each other, and name resources that exist.
//! The mock's stream is started 9 s in the past, so segments and parts are already listed.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use common::{get, MockOrigin};
use livecache::live::{
    playlist_kind, MediaPlaylist, Mpd, MultivariantPlaylist, Playlist, PlaylistKind, Readiness,
};
use mock_origin::LiveConfig;

fn origin() -> MockOrigin {
    let live = LiveConfig {
        start: Instant::now().checked_sub(Duration::from_secs(9)),
        ..LiveConfig::default()
    };
    MockOrigin::start_with("127.0.0.1:0", live).expect("mock origin starts")
}

fn text(addr: SocketAddr, target: &str) -> String {
    let response = get(addr, target);
    assert_eq!(response.status, 200, "{target}");
    String::from_utf8(response.body).expect("UTF-8")
}

fn media(addr: SocketAddr, target: &str) -> MediaPlaylist {
    let body = text(addr, target);
    MediaPlaylist::parse(&body).unwrap_or_else(|e| panic!("{target}: {e}\n{body}"))
}

#[test]
fn the_master_playlist_names_every_rendition() {
    let origin = origin();
    let body = text(origin.addr(), "/live/s0/master.m3u8");
    assert_eq!(playlist_kind(&body), Ok(PlaylistKind::Multivariant));
    let master = MultivariantPlaylist::parse(&body).unwrap();
    assert!(master.independent_segments);
    let bandwidths: Vec<_> = master.variants.iter().map(|v| v.bandwidth).collect();
    assert_eq!(bandwidths, [880_000, 2_750_000, 5_500_000]);
    for (i, uri) in master.media_playlist_uris().enumerate() {
        assert_eq!(uri, format!("r{i}/index.m3u8"));
        let rendition = media(origin.addr(), &format!("/live/s0/{uri}"));
        assert!(!rendition.segments.is_empty());
    }
    assert!(matches!(
        Playlist::parse(&body),
        Ok(Playlist::Multivariant(_))
    ));
}

#[test]
fn media_playlists_parse_and_blocking_answers_satisfy_their_request() {
    let origin = origin();
    let addr = origin.addr();
    let target = "/live/s0/r0/index.m3u8";
    let pl = media(addr, target);
    assert_eq!(pl.target_duration, Duration::from_secs(2));
    assert_eq!(pl.part_target, Some(Duration::from_millis(500)));
    assert!(pl.server_control.can_block_reload && pl.is_live());
    assert_eq!(pl.parts_per_segment(), Some(4));
    assert_eq!(pl.advance_part_limit(), Some(6));
    let msns: Vec<u64> = pl.segments.iter().map(|s| s.msn).collect();
    assert_eq!(msns, (pl.first_msn()..pl.next_msn()).collect::<Vec<_>>());
    for s in &pl.segments {
        assert_eq!(s.uri, format!("seg-{}.m4s", s.msn));
        assert_eq!(s.map.as_ref().map(|m| m.uri.as_str()), Some("init.mp4"));
    }
    let hint = pl.preload_hints.first().expect("a preload hint");
    let next = pl.next_part().expect("parts are listed");
    assert_eq!(hint.uri, format!("seg-{}.{}.m4s", next.msn, next.part));
    assert_eq!(pl.rendition_reports.len(), 2);
    let last = pl.last_part().unwrap();
    assert_eq!(
        pl.readiness(last.msn, Some(last.part)),
        Readiness::Satisfied
    );
    assert_eq!(pl.readiness(next.msn, Some(next.part)), Readiness::Pending);

    // The origin holds a request for the next part until it exists: its answer has it.
    let blocking = format!("{target}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
    let answer = media(addr, &blocking);
    assert!(answer.satisfies(next.msn, Some(next.part)), "{blocking}");
    assert_eq!(
        answer.readiness(next.msn, Some(next.part)),
        Readiness::Satisfied
    );
    // Far ahead: both the origin and the model say so.
    let far = answer.next_msn() + 5;
    assert_eq!(answer.readiness(far, None), Readiness::TooFar);
    assert_eq!(get(addr, &format!("{target}?_HLS_msn={far}")).status, 400);
    // Every part and segment it lists is there.
    let newest = answer.segments.last().unwrap();
    assert_eq!(
        get(addr, &format!("/live/s0/r0/{}", newest.uri)).status,
        200
    );
    for part in &answer.trailing_parts {
        assert_eq!(get(addr, &format!("/live/s0/r0/{}", part.uri)).status, 200);
    }
}

#[test]
fn the_mpd_agrees_with_the_hls_playlists() {
    let origin = origin();
    let addr = origin.addr();
    let before = media(addr, "/live/s0/r1/index.m3u8");
    let body = text(addr, "/live/s0/manifest.mpd");
    let mpd = Mpd::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let now = SystemTime::now();
    let after = media(addr, "/live/s0/r1/index.m3u8");
    assert!(mpd.is_dynamic());
    assert_eq!(mpd.minimum_update_period, Some(Duration::from_secs(2)));
    assert_eq!(mpd.time_shift_buffer_depth, Some(Duration::from_secs(12)));
    let reps: Vec<_> = mpd.representations().collect();
    assert_eq!(reps.len(), 3);
    let (period, set, rep) = reps[1];
    assert_eq!((rep.id.as_str(), rep.bandwidth), ("r1", 2_500_000));
    let template = rep.segment_template(set, period).unwrap();
    let ast = mpd.availability_start_time.unwrap();
    let start = period.start.unwrap_or_default();
    let latest = template
        .latest_number_at(ast, start, now)
        .expect("segments are out");
    // The MPD's clock arithmetic lands on the newest segment the HLS playlists list.
    let (low, high) = (before.last_msn().unwrap(), after.last_msn().unwrap());
    assert!(
        (low..=high + 1).contains(&latest),
        "{latest} not in {low}..={high}"
    );
    let url = rep.media_url(&template, Some(high), None).unwrap();
    assert_eq!(url, format!("r1/seg-{high}.m4s"));
    assert_eq!(get(addr, &format!("/live/s0/{url}")).status, 200);
    let init = rep.initialization_url(&template).unwrap();
    assert_eq!(get(addr, &format!("/live/s0/{init}")).status, 200);
}
