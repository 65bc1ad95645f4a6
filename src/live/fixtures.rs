//! Playlists the unit tests of `live/` share: the mock origin's LL-HLS layout (generated for
//! any state of the stream, as `tools/mock-origin/src/live/hls.rs` writes it), the
//! low-latency example of the HLS draft (§9.11), and Apple's blocking-reload example with
//! twelve 0.33334 s parts per segment. Test-only.

use std::fmt::Write as _;

/// The mock origin's media playlist (TD 2 s, parts of 0.5 s, 4 per segment): segments
/// `first..first + complete`, each with its parts listed, then `parts` parts of the segment
/// in progress, the preload hint of the next part and a report of rendition `r1`.
pub(crate) fn mock_llhls(first: u64, complete: u64, parts: u64) -> String {
    let mut out = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n\
         #EXT-X-PART-INF:PART-TARGET=0.500\n",
    );
    let _ = write!(
        out,
        "#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n\
         #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z\n"
    );
    let part_lines = |out: &mut String, msn: u64, count: u64| {
        for p in 0..count {
            let independent = if p == 0 { ",INDEPENDENT=YES" } else { "" };
            let _ = writeln!(
                out,
                "#EXT-X-PART:DURATION=0.500,URI=\"seg-{msn}.{p}.m4s\"{independent}"
            );
        }
    };
    for msn in first..first + complete {
        part_lines(&mut out, msn, 4);
        let _ = write!(out, "#EXTINF:2.000,\nseg-{msn}.m4s\n");
    }
    let next = first + complete;
    part_lines(&mut out, next, parts);
    let _ = writeln!(
        out,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-{next}.{parts}.m4s\""
    );
    if complete + parts > 0 {
        let (msn, part) = if parts > 0 {
            (next, parts - 1)
        } else {
            (next - 1, 3)
        };
        let _ = writeln!(
            out,
            "#EXT-X-RENDITION-REPORT:URI=\"../r1/index.m3u8\",LAST-MSN={msn},LAST-PART={part}"
        );
    }
    out
}

/// RFC 8216bis-22 §9.11, "Low-Latency Playlist". The draft elides the lines between the
/// target duration and the first segment ("..."); they are filled in here with a media
/// sequence, server control and part target that fit the rest.
pub(crate) const DRAFT_LOW_LATENCY: &str = r#"#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=6.00012
#EXT-X-PART-INF:PART-TARGET=2.00004
#EXT-X-MEDIA-SEQUENCE:268
#EXTINF:4.00008,
fileSequence268.mp4
#EXTINF:4.00008,
fileSequence269.mp4
#EXTINF:4.00008,
fileSequence270.mp4
#EXT-X-PART:DURATION=2.00004,INDEPENDENT=YES,URI="filePart271.0.mp4"
#EXT-X-PART:DURATION=2.00004,URI="filePart271.1.mp4"
#EXTINF:4.00008,
fileSequence271.mp4
#EXT-X-PART:DURATION=2.00004,INDEPENDENT=YES,URI="filePart272.0.mp4"
#EXT-X-PART:DURATION=0.50001,URI="filePart272.1.mp4"
#EXTINF:2.50005,
fileSequence272.mp4
#EXT-X-DISCONTINUITY
#EXT-X-PART:DURATION=2.00004,INDEPENDENT=YES,URI="midRoll273.0.mp4"
#EXT-X-PART:DURATION=2.00004,URI="midRoll273.1.mp4"
#EXTINF:4.00008,
midRoll273.mp4
#EXT-X-PART:DURATION=2.00004,INDEPENDENT=YES,URI="midRoll274.0.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="midRoll274.1.mp4"
#EXT-X-RENDITION-REPORT:URI="/1M/LL-HLS.m3u8",LAST-MSN=274,LAST-PART=1
"#;

/// Apple's low-latency example, the answer to `_HLS_msn=273&_HLS_part=2`: segments 266-272
/// (parts listed for 271 and 272, twelve of 0.33334 s each, independent every fourth),
/// parts 0-2 of segment 273, a hint of part 3 and two rendition reports. With `skip`, the
/// delta update of it: `EXT-X-SKIP:SKIPPED-SEGMENTS=3` in place of segments 266-268.
pub(crate) fn apple_low_latency(skip: bool) -> String {
    let mut out = String::from(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:9\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=12.0\n\
         #EXT-X-PART-INF:PART-TARGET=0.33334\n#EXT-X-MEDIA-SEQUENCE:266\n",
    );
    let first = if skip {
        out.push_str("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n");
        269
    } else {
        out.push_str(
            "#EXT-X-PROGRAM-DATE-TIME:2019-02-14T02:13:28.106Z\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        );
        266
    };
    let part = |out: &mut String, msn: u64, p: u64| {
        let independent = if p.is_multiple_of(4) {
            ",INDEPENDENT=YES"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "#EXT-X-PART:DURATION=0.33334,URI=\"filePart{msn}.{p}.mp4\"{independent}"
        );
    };
    for msn in first..=272 {
        if msn >= 271 {
            (0..12).for_each(|p| part(&mut out, msn, p));
        }
        let _ = write!(out, "#EXTINF:4.00008,\nfileSequence{msn}.mp4\n");
    }
    (0..3).for_each(|p| part(&mut out, 273, p));
    out.push_str(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"filePart273.3.mp4\"\n\n\
         #EXT-X-RENDITION-REPORT:URI=\"../1M/waitForMSN.php\",LAST-MSN=273,LAST-PART=2\n\
         #EXT-X-RENDITION-REPORT:URI=\"../4M/waitForMSN.php\",LAST-MSN=273,LAST-PART=1\n",
    );
    out
}
