//! Unit tests of the multivariant parser: the mock origin's master playlist, the HLS draft's
//! examples (§9.4-9.7, 9.12, with the continuation lines joined), and malformed input.

use super::*;
use crate::live::Resolution;

fn parse(text: &str) -> MultivariantPlaylist {
    MultivariantPlaylist::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_mock_origins_master_playlist() {
    let p = parse(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-STREAM-INF:BANDWIDTH=880000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001f\"\nr0/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=2750000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS=\"avc1.64001f\"\nr1/index.m3u8\n",
    );
    assert_eq!((p.version, p.independent_segments), (Some(9), true));
    let v = &p.variants[1];
    assert_eq!(
        (v.bandwidth, v.average_bandwidth),
        (2_750_000, Some(2_500_000))
    );
    assert_eq!(
        v.resolution,
        Some(Resolution {
            width: 1280,
            height: 720
        })
    );
    assert_eq!(
        (v.codecs.as_deref(), v.uri.as_str(), v.line),
        (Some("avc1.64001f"), "r1/index.m3u8", 6)
    );
    assert_eq!(
        p.media_playlist_uris().collect::<Vec<_>>(),
        ["r0/index.m3u8", "r1/index.m3u8"]
    );
}

#[test]
fn draft_variants_and_i_frames() {
    let p = parse(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000\nlow/audio-video.m3u8\n\
         #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"low/iframe.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=2560000\nmid/audio-video.m3u8\n\
         #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=150000,URI=\"mid/iframe.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS=\"mp4a.40.5\"\naudio-only.m3u8\n",
    );
    assert_eq!(p.variants.len(), 3);
    assert_eq!(p.i_frame_streams[1].uri, "mid/iframe.m3u8");
    assert_eq!(p.i_frame_streams[0].bandwidth, 86_000);
    assert_eq!(
        p.media_playlist_uris().collect::<Vec<_>>(),
        [
            "low/audio-video.m3u8",
            "mid/audio-video.m3u8",
            "audio-only.m3u8",
            "low/iframe.m3u8",
            "mid/iframe.m3u8"
        ]
    );
}

#[test]
fn draft_alternative_audio_and_video() {
    let p = parse(
        "#EXTM3U\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"English\",DEFAULT=YES,AUTOSELECT=YES,LANGUAGE=\"en\",URI=\"main/english-audio.m3u8\"\n\
         #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Deutsch\",DEFAULT=NO,AUTOSELECT=YES,LANGUAGE=\"de\",URI=\"main/german-audio.m3u8\"\n\
         #EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"low\",NAME=\"Centerfield\",DEFAULT=NO,URI=\"low/centerfield/audio-video.m3u8\"\n\
         #EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC1\",INSTREAM-ID=\"CC1\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS=\"...\",AUDIO=\"aac\",VIDEO=\"low\",FRAME-RATE=29.97\nlow/video-only.m3u8\n",
    );
    let r = &p.renditions;
    assert_eq!(r.len(), 4);
    assert_eq!(
        (r[0].kind, r[0].default, r[0].autoselect),
        (MediaType::Audio, true, true)
    );
    assert_eq!(
        (r[1].name.as_str(), r[1].language.as_deref(), r[1].default),
        ("Deutsch", Some("de"), false)
    );
    assert_eq!(
        (r[2].kind, r[2].group_id.as_str()),
        (MediaType::Video, "low")
    );
    assert_eq!(
        (r[3].kind, r[3].uri.as_deref()),
        (MediaType::ClosedCaptions, None)
    );
    let v = &p.variants[0];
    assert_eq!(
        (
            v.audio.as_deref(),
            v.video.as_deref(),
            v.subtitles.as_deref()
        ),
        (Some("aac"), Some("low"), None)
    );
    assert_eq!(v.frame_rate, Some(29.97));
    assert_eq!(p.media_playlist_uris().count(), 4);
}

#[test]
fn draft_content_steering_and_unread_tags() {
    let p = parse(
        "#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"/steering?video=00012\",PATHWAY-ID=\"CDN-A\"\n\
         #EXT-X-SESSION-DATA:DATA-ID=\"com.example.lyrics\",URI=\"lyrics.json\"\n#EXT-X-DEFINE:NAME=\"x\",VALUE=\"y\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1280000,AUDIO=\"A\",PATHWAY-ID=\"CDN-A\",STABLE-VARIANT-ID=\"Video-128\"\n128/video.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1280000,AUDIO=\"B\",PATHWAY-ID=\"CDN-B\",STABLE-VARIANT-ID=\"Video-128\"\n\
         https://backup.example.com/videos/video12/128/video.m3u8\n",
    );
    let steering = p.content_steering.as_ref().unwrap();
    assert_eq!(
        (steering.server_uri.as_str(), steering.pathway_id.as_deref()),
        ("/steering?video=00012", Some("CDN-A"))
    );
    assert_eq!(p.variants[1].pathway_id.as_deref(), Some("CDN-B"));
    let unread: Vec<_> = p.unknown_tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(unread, ["EXT-X-SESSION-DATA", "EXT-X-DEFINE"]);
    assert_eq!(parse("#EXTM3U\n"), MultivariantPlaylist::default());
}

#[test]
fn malformed_multivariant_playlists() {
    let bad = [
        (
            "#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
            "line 1: playlist does not start with #EXTM3U",
        ),
        ("#EXTM3U\na.m3u8\n", "line 2: URI without EXT-X-STREAM-INF"),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
            "line 2: EXT-X-STREAM-INF without a URI",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb\n",
            "line 2: EXT-X-STREAM-INF without a URI",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:AVERAGE-BANDWIDTH=1\na\n",
            "line 2: EXT-X-STREAM-INF without BANDWIDTH",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=big\na\n",
            "attribute RESOLUTION is not a decimal-resolution",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=-30\na\n",
            "attribute FRAME-RATE",
        ),
        (
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"x\"\n",
            "line 2: EXT-X-MEDIA without GROUP-ID",
        ),
        (
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=HOLOGRAM,GROUP-ID=\"g\",NAME=\"x\"\n",
            "bad EXT-X-MEDIA",
        ),
        (
            "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n",
            "EXT-X-I-FRAME-STREAM-INF without URI",
        ),
        (
            "#EXTM3U\n#EXT-X-CONTENT-STEERING:PATHWAY-ID=\"A\"\n",
            "EXT-X-CONTENT-STEERING without SERVER-URI",
        ),
        (
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-VERSION:7\n",
            "line 3: EXT-X-VERSION appears twice",
        ),
        (
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na\n#EXTINF:2,\n",
            "line 4: EXTINF: a media playlist, not a multivariant playlist",
        ),
    ];
    for (text, want) in bad {
        let e = MultivariantPlaylist::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    assert!(MultivariantPlaylist::from_bytes(b"#EXTM3U\n\xc3").is_err());
}
