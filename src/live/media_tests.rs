//! Unit tests of the media playlist parser at its boundary: the mock origin's LL-HLS
//! playlists, the HLS draft's examples (§9.1-9.3, 9.10, 9.11) and Apple's delta update, the
//! segment tags, what is kept unread, and every strict rejection with its line.

use std::sync::Arc;
use std::time::Duration;

use super::fixtures::{apple_low_latency, mock_llhls, DRAFT_LOW_LATENCY};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn parse(text: &str) -> MediaPlaylist {
    MediaPlaylist::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_mock_origins_low_latency_playlist() {
    let p = parse(&mock_llhls(102, 2, 1));
    assert_eq!((p.version, p.target_duration), (Some(9), ms(2000)));
    assert!(p.server_control.can_block_reload);
    assert_eq!(p.server_control.part_hold_back, Some(ms(1500)));
    assert_eq!(p.part_target, Some(ms(500)));
    assert_eq!((p.media_sequence, p.first_msn()), (102, 102));
    assert_eq!(
        p.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [102, 103]
    );
    let s = &p.segments[0];
    assert_eq!(
        (s.uri.as_str(), s.duration, s.parts.len()),
        ("seg-102.m4s", ms(2000), 4)
    );
    assert_eq!(
        s.program_date_time.as_deref(),
        Some("2023-11-14T22:13:24.000Z")
    );
    assert_eq!(p.segments[1].program_date_time, None);
    assert!(s.parts[0].independent && !s.parts[1].independent);
    assert_eq!(s.parts[3].uri, "seg-102.3.m4s");
    let map = s.map.as_ref().unwrap();
    assert_eq!(map.uri, "init.mp4");
    assert!(Arc::ptr_eq(map, p.segments[1].map.as_ref().unwrap()));
    assert_eq!(p.maps().len(), 1);
    assert_eq!((p.last_msn(), p.next_msn()), (Some(103), 104));
    assert_eq!(p.trailing_parts.len(), 1);
    assert_eq!(p.parts(104)[0].uri, "seg-104.0.m4s");
    assert_eq!(p.parts(103).len(), 4);
    assert!(p.parts(105).is_empty() && p.parts(101).is_empty());
    assert_eq!(p.hint(HintType::Part).unwrap().uri, "seg-104.1.m4s");
    assert_eq!(p.hint(HintType::Map), None);
    assert_eq!(
        p.rendition_reports,
        [RenditionReport {
            uri: "../r1/index.m3u8".into(),
            last_msn: Some(104),
            last_part: Some(0),
        }]
    );
    assert_eq!(p.duration(), ms(4000));
    assert!(p.is_live() && p.unknown_tags.is_empty());
    // Before the first segment completes: parts only, no EXTINF at all.
    let young = parse(&mock_llhls(0, 0, 2));
    assert!(young.segments.is_empty());
    assert_eq!((young.next_msn(), young.trailing_parts.len()), (0, 2));
}

#[test]
fn draft_simple_live_and_encrypted_playlists() {
    let simple = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-VERSION:3\n#EXTINF:9.009,\n\
         http://media.example.com/first.ts\n#EXTINF:9.009,\nhttp://media.example.com/second.ts\n\
         #EXTINF:3.003,\nhttp://media.example.com/third.ts\n#EXT-X-ENDLIST\n",
    );
    assert!(simple.ended && !simple.is_live());
    assert_eq!(simple.duration(), ms(21_021));
    assert_eq!(simple.segments[2].uri, "http://media.example.com/third.ts");

    let live = parse(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:8\n#EXT-X-MEDIA-SEQUENCE:2680\n\n\
         #EXTINF:7.975,\nhttps://priv.example.com/fileSequence2680.ts\n#EXTINF:7.941,\n\
         https://priv.example.com/fileSequence2681.ts\n#EXTINF:7.975,\n\
         https://priv.example.com/fileSequence2682.ts\n",
    );
    assert_eq!(live.segment(2681).unwrap().duration, ms(7941));
    assert_eq!(live.segment(2682).unwrap().line, 11);
    assert!(live.segment(2679).is_none() && live.segment(2683).is_none());

    let encrypted = parse(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7794\n#EXT-X-TARGETDURATION:15\n\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"https://priv.example.com/key.php?r=52\"\n\n\
         #EXTINF:2.833,\nhttp://media.example.com/fileSequence52-A.ts\n#EXTINF:15.0,\n\
         http://media.example.com/fileSequence52-B.ts\n#EXTINF:13.333,\n\
         http://media.example.com/fileSequence52-C.ts\n\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"https://priv.example.com/key.php?r=53\"\n\n\
         #EXTINF:15.0,\nhttp://media.example.com/fileSequence53-A.ts\n",
    );
    let keys: Vec<_> = encrypted
        .segments
        .iter()
        .map(|s| s.key.clone().unwrap())
        .collect();
    assert!(Arc::ptr_eq(&keys[0], &keys[2]));
    assert_eq!(keys[0].method, "AES-128");
    assert_eq!(
        keys[3].uri.as_deref(),
        Some("https://priv.example.com/key.php?r=53")
    );
    let clear = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nb\n");
    assert!(clear.segments[0].key.is_some() && clear.segments[1].key.is_none());
}

#[test]
fn draft_date_ranges_carrying_scte35() {
    let p = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:5\n\
         #EXT-X-DATERANGE:ID=\"splice-6FFFFFF0\",START-DATE=\"2014-03-05T11:15:00Z\",PLANNED-DURATION=59.993,SCTE35-OUT=0xFC002F000000000000FF0\n\
         #EXTINF:10,\na.ts\n#EXTINF:10,\nb.ts\n\
         #EXT-X-DATERANGE:ID=\"splice-6FFFFFF0\",DURATION=59.993,SCTE35-IN=0xFC002A0000\n#EXTINF:10,\nc.ts\n",
    );
    let d = &p.date_ranges;
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].id.as_str(), d[0].msn, d[0].line),
        ("splice-6FFFFFF0", 5, 4)
    );
    assert_eq!(d[0].start_date.as_deref(), Some("2014-03-05T11:15:00Z"));
    assert_eq!((d[1].msn, d[1].start_date.as_deref()), (7, None));
    assert_eq!(
        d[1].attributes,
        "ID=\"splice-6FFFFFF0\",DURATION=59.993,SCTE35-IN=0xFC002A0000"
    );
}

#[test]
fn draft_low_latency_playlist() {
    let p = parse(DRAFT_LOW_LATENCY);
    assert_eq!(
        p.segments.iter().map(|s| s.msn).collect::<Vec<_>>(),
        [268, 269, 270, 271, 272, 273]
    );
    assert!(
        p.segments[0].parts.is_empty(),
        "parts removed from earlier segments"
    );
    let ad = p.segment(273).unwrap();
    assert!(ad.discontinuity && !p.segment(272).unwrap().discontinuity);
    assert_eq!(
        ad.parts.iter().map(|x| x.uri.as_str()).collect::<Vec<_>>(),
        ["midRoll273.0.mp4", "midRoll273.1.mp4"]
    );
    assert_eq!(
        p.segment(272).unwrap().parts[1].duration,
        Duration::from_nanos(500_010_000)
    );
    assert_eq!(
        p.segment(272).unwrap().duration,
        Duration::from_nanos(2_500_050_000)
    );
    assert_eq!((p.next_msn(), p.trailing_parts.len()), (274, 1));
    assert_eq!(p.hint(HintType::Part).unwrap().uri, "midRoll274.1.mp4");
    assert_eq!(p.rendition_reports[0].last_msn, Some(274));
}

#[test]
fn apple_delta_update_skips_segments() {
    let full = parse(&apple_low_latency(false));
    let delta = parse(&apple_low_latency(true));
    assert_eq!(full.server_control.can_skip_until, Some(ms(12_000)));
    assert_eq!((delta.media_sequence, delta.first_msn()), (266, 269));
    assert_eq!(delta.skip.as_ref().map(|s| s.skipped_segments), Some(3));
    assert_eq!(delta.segments[0].uri, "fileSequence269.mp4");
    assert_eq!(delta.segment(269).unwrap().msn, 269);
    assert!(delta.segment(268).is_none());
    assert_eq!((delta.next_msn(), full.next_msn()), (273, 273));
    let newest = |p: &MediaPlaylist| {
        p.segments
            .last()
            .map(|s| (s.msn, s.uri.clone(), s.parts.clone()))
    };
    assert_eq!(newest(&delta), newest(&full));
}

#[test]
fn byte_ranges_gaps_and_discontinuity_sequence() {
    let p = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-DISCONTINUITY-SEQUENCE:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"main.mp4\",BYTERANGE=\"720@0\"\n\
         #EXT-X-BYTERANGE:1000@720\n#EXTINF:4,first\nmain.mp4\n#EXT-X-GAP\n#EXT-X-BYTERANGE:1000\n#EXTINF:4,\nmain.mp4\n\
         #EXT-X-PART:DURATION=1,URI=\"main.mp4\",BYTERANGE=\"500@2720\",INDEPENDENT=YES\n\
         #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"main.mp4\",BYTERANGE-START=3220\n",
    );
    assert_eq!(
        (p.discontinuity_sequence, p.playlist_type),
        (7, Some(PlaylistType::Event))
    );
    assert!(p.independent_segments && p.is_live());
    let map = p.segments[0].map.as_ref().unwrap();
    assert_eq!(
        map.byte_range,
        Some(ByteRange {
            length: 720,
            offset: Some(0)
        })
    );
    assert_eq!(
        p.segments[0].byte_range,
        Some(ByteRange {
            length: 1000,
            offset: Some(720)
        })
    );
    assert_eq!(p.segments[0].title, "first");
    assert_eq!(
        p.segments[1].byte_range,
        Some(ByteRange {
            length: 1000,
            offset: None
        })
    );
    assert!(p.segments[1].gap && !p.segments[0].gap);
    assert_eq!(
        p.trailing_parts[0].byte_range,
        Some(ByteRange {
            length: 500,
            offset: Some(2720)
        })
    );
    let hint = p.hint(HintType::Part).unwrap();
    assert_eq!(
        (hint.byte_range_start, hint.byte_range_length),
        (3220, None)
    );
}

#[test]
fn unknown_tags_and_comments_are_kept_or_skipped() {
    let p = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-START:TIME-OFFSET=-12\n# comment\n\
         #EXT-X-CUE-OUT:30\n#EXTINF:6,\na.ts\n#EXT-X-FUTURE\n#EXT-X-BITRATE:800\n\
         #EXT-X-PRELOAD-HINT:TYPE=SOMETHING,URI=\"x\"\n",
    );
    let names: Vec<_> = p
        .unknown_tags
        .iter()
        .map(|t| (t.line, t.name.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (3, "EXT-X-START", "TIME-OFFSET=-12"),
            (5, "EXT-X-CUE-OUT", "30"),
            (8, "EXT-X-FUTURE", ""),
            (9, "EXT-X-BITRATE", "800")
        ]
    );
    assert!(p.preload_hints.is_empty());
}

#[test]
fn loadgens_playlists() {
    let p = parse(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
         #EXTINF:2.000,\nseg-10.ts\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:2.000,title\nseg-11.ts\n\
         # a comment\n#EXTINF:1.5,\nhttp://other/seg-12.ts\n",
    );
    assert_eq!(
        (p.media_sequence, p.segments.len(), p.next_msn()),
        (10, 3, 13)
    );
    assert_eq!(p.segments[2].duration, ms(1500));
    assert_eq!(p.segment(11).unwrap().title, "title");
    assert!(!p.ended && p.part_target.is_none() && p.preload_hints.is_empty());
    let crlf =
        parse("#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXTINF:4,\r\na.ts\r\n#EXT-X-ENDLIST\r\n");
    assert!(crlf.ended);
    let absurd = parse(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:18446744073709551615,\na\n\
         #EXTINF:18446744073709551615,\nb\n",
    );
    assert_eq!(
        absurd.duration(),
        Duration::MAX,
        "saturates, does not panic"
    );
    assert_eq!(
        (
            crlf.media_sequence,
            crlf.segments[0].msn,
            crlf.segments[0].uri.as_str()
        ),
        (0, 0, "a.ts")
    );
}

#[test]
fn dispatch_by_kind_and_bytes() {
    let text = mock_llhls(0, 1, 0);
    assert!(matches!(Playlist::parse(&text), Ok(Playlist::Media(_))));
    assert_eq!(
        MediaPlaylist::from_bytes(text.as_bytes()),
        MediaPlaylist::parse(&text)
    );
    let e = MediaPlaylist::from_bytes(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n\xffa.ts\n")
        .unwrap_err();
    assert_eq!((e.line, e.kind), (4, ErrorKind::NotUtf8));
    let multi = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n";
    assert!(matches!(
        Playlist::parse(multi),
        Ok(Playlist::Multivariant(_))
    ));
    assert!(matches!(
        Playlist::from_bytes(b"\xfe"),
        Err(ParseError {
            line: 1,
            kind: ErrorKind::NotUtf8
        })
    ));
}
