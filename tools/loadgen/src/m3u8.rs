//! A small, strict parser for HLS media playlists (RFC 8216 and its low-latency
//! extensions), covering only what a player-like viewer needs: `EXTINF`,
//! `EXT-X-MEDIA-SEQUENCE`, `EXT-X-TARGETDURATION`, `EXT-X-PART-INF`, `EXT-X-PART`,
//! `EXT-X-PRELOAD-HINT` and `EXT-X-ENDLIST`. Other tags and comments are skipped.
//!
//! Strict means a playlist a real player would choke on is an error here rather than a
//! guess: no `#EXTM3U` header, no target duration, a media-sequence tag after the first
//! segment, a URI line with no `EXTINF` before it (or an `EXTINF` with no URI after it),
//! a part without `DURATION`/`URI`, a malformed number, or a master playlist.
//!
//! Parts listed before a segment's `EXTINF` belong to that segment; parts after the last
//! segment belong to the segment still being produced, whose media sequence number is
//! [`Playlist::next_msn`].

use std::time::Duration;

/// A parsed media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    /// `EXT-X-TARGETDURATION`.
    pub target_duration: Duration,
    /// `EXT-X-MEDIA-SEQUENCE` (0 when absent): the msn of the first segment.
    pub media_sequence: u64,
    /// `EXT-X-PART-INF:PART-TARGET`, when present.
    pub part_target: Option<Duration>,
    /// Complete segments in order; segment `i` has msn `media_sequence + i`.
    pub segments: Vec<Segment>,
    /// Parts of the segment in progress (msn [`Playlist::next_msn`]).
    pub trailing_parts: Vec<Part>,
    /// `EXT-X-PRELOAD-HINT`, when present.
    pub preload_hint: Option<PreloadHint>,
    /// `EXT-X-ENDLIST` seen: no more segments will come.
    pub ended: bool,
}

/// A complete media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media sequence number.
    pub msn: u64,
    /// `EXTINF` duration.
    pub duration: Duration,
    /// The segment URI as written.
    pub uri: String,
    /// Its parts (`EXT-X-PART` lines before its `EXTINF`), possibly none.
    pub parts: Vec<Part>,
}

/// An `EXT-X-PART`.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// `DURATION`.
    pub duration: Duration,
    /// `URI`.
    pub uri: String,
    /// `INDEPENDENT=YES`.
    pub independent: bool,
}

/// An `EXT-X-PRELOAD-HINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadHint {
    /// `TYPE` (`PART` or `MAP`).
    pub kind: String,
    /// `URI`.
    pub uri: String,
}

impl Playlist {
    /// Parses a media playlist.
    pub fn parse(text: &str) -> Result<Playlist, String> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        match lines.next() {
            Some((_, "#EXTM3U")) => {}
            _ => return Err("line 1: playlist does not start with #EXTM3U".into()),
        }
        let mut target_duration = None;
        let mut media_sequence = None;
        let mut part_target = None;
        let mut segments: Vec<Segment> = Vec::new();
        let mut parts = Vec::new();
        let mut preload_hint = None;
        let mut ended = false;
        let mut extinf: Option<Duration> = None;
        for (n, line) in lines {
            let err = |what: &str| format!("line {n}: {what}");
            if line.is_empty() {
                continue;
            }
            if !line.starts_with('#') {
                let duration = extinf.take().ok_or_else(|| err("URI without EXTINF"))?;
                let msn = media_sequence.unwrap_or(0) + segments.len() as u64;
                segments.push(Segment {
                    msn,
                    duration,
                    uri: line.to_string(),
                    parts: std::mem::take(&mut parts),
                });
                continue;
            }
            let (tag, value) = line.split_once(':').unwrap_or((line, ""));
            if extinf.is_some() && tag != "#EXT-X-PROGRAM-DATE-TIME" && tag.starts_with("#EXT") {
                // Media-segment tags may sit between EXTINF and its URI; these may not.
                if matches!(
                    tag,
                    "#EXTINF" | "#EXT-X-PART" | "#EXT-X-ENDLIST" | "#EXT-X-PRELOAD-HINT"
                ) {
                    return Err(err("EXTINF without a URI"));
                }
            }
            match tag {
                "#EXT-X-TARGETDURATION" => {
                    let secs: u64 = value.parse().map_err(|_| err("bad EXT-X-TARGETDURATION"))?;
                    target_duration = Some(Duration::from_secs(secs));
                }
                "#EXT-X-MEDIA-SEQUENCE" => {
                    if !segments.is_empty() || extinf.is_some() || !parts.is_empty() {
                        return Err(err("EXT-X-MEDIA-SEQUENCE after the first segment"));
                    }
                    media_sequence =
                        Some(value.parse().map_err(|_| err("bad EXT-X-MEDIA-SEQUENCE"))?);
                }
                "#EXTINF" => {
                    let secs = value.split(',').next().unwrap_or("");
                    extinf = Some(parse_secs(secs).ok_or_else(|| err("bad EXTINF duration"))?);
                }
                "#EXT-X-PART-INF" => {
                    let attrs = attributes(value).map_err(|e| err(&e))?;
                    let t = attr(&attrs, "PART-TARGET").ok_or_else(|| err("no PART-TARGET"))?;
                    part_target = Some(parse_secs(t).ok_or_else(|| err("bad PART-TARGET"))?);
                }
                "#EXT-X-PART" => {
                    let attrs = attributes(value).map_err(|e| err(&e))?;
                    let d = attr(&attrs, "DURATION").ok_or_else(|| err("part without DURATION"))?;
                    let uri = attr(&attrs, "URI").ok_or_else(|| err("part without URI"))?;
                    parts.push(Part {
                        duration: parse_secs(d).ok_or_else(|| err("bad part DURATION"))?,
                        uri: uri.to_string(),
                        independent: attr(&attrs, "INDEPENDENT") == Some("YES"),
                    });
                }
                "#EXT-X-PRELOAD-HINT" => {
                    let attrs = attributes(value).map_err(|e| err(&e))?;
                    let kind = attr(&attrs, "TYPE").ok_or_else(|| err("hint without TYPE"))?;
                    let uri = attr(&attrs, "URI").ok_or_else(|| err("hint without URI"))?;
                    preload_hint = Some(PreloadHint {
                        kind: kind.to_string(),
                        uri: uri.to_string(),
                    });
                }
                "#EXT-X-ENDLIST" => ended = true,
                "#EXT-X-STREAM-INF" | "#EXT-X-I-FRAME-STREAM-INF" => {
                    return Err(err("a master playlist, not a media playlist"));
                }
                _ => {} // other tags and comments
            }
        }
        if extinf.is_some() {
            return Err("EXTINF without a URI at the end".into());
        }
        Ok(Playlist {
            target_duration: target_duration.ok_or("no EXT-X-TARGETDURATION")?,
            media_sequence: media_sequence.unwrap_or(0),
            part_target,
            segments,
            trailing_parts: parts,
            preload_hint,
            ended,
        })
    }

    /// The msn the next complete segment will have (the segment in progress).
    pub fn next_msn(&self) -> u64 {
        self.media_sequence + self.segments.len() as u64
    }

    /// The complete segment `msn`, if listed.
    pub fn segment(&self, msn: u64) -> Option<&Segment> {
        let i = msn.checked_sub(self.media_sequence)?;
        self.segments.get(usize::try_from(i).ok()?)
    }

    /// The listed parts of segment `msn` (complete or in progress).
    pub fn parts(&self, msn: u64) -> &[Part] {
        if msn == self.next_msn() {
            &self.trailing_parts
        } else {
            self.segment(msn).map_or(&[], |s| &s.parts[..])
        }
    }

    /// The media the complete segments cover (trailing parts not included).
    pub fn duration(&self) -> Duration {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// Where a player joins the live stream: the segment at least `holdback` of media before
    /// the end of the playlist (walking back from the newest segment until the segments
    /// walked cover `holdback`), or the first segment when the playlist is shorter.
    /// [`Playlist::next_msn`] for an empty playlist.
    pub fn live_start(&self, holdback: Duration) -> u64 {
        let mut covered = Duration::ZERO;
        for s in self.segments.iter().rev() {
            covered += s.duration;
            if covered >= holdback {
                return s.msn;
            }
        }
        self.segments.first().map_or(self.next_msn(), |s| s.msn)
    }

    /// How far behind the live edge an object is: the media listed after it (later
    /// segments, counting the segment in progress by its listed parts). `part` picks a part
    /// of segment `msn`; `None` means the whole segment.
    pub fn edge_lag(&self, msn: u64, part: Option<usize>) -> Duration {
        let mut lag: Duration = match part {
            Some(p) => self.parts(msn).iter().skip(p + 1).map(|x| x.duration).sum(),
            None => Duration::ZERO,
        };
        for s in &self.segments {
            if s.msn > msn {
                lag += s.duration;
            }
        }
        if self.next_msn() > msn {
            lag += self
                .trailing_parts
                .iter()
                .map(|p| p.duration)
                .sum::<Duration>();
        }
        lag
    }
}

/// Seconds as a non-negative decimal (`6`, `6.006`).
fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Duration::try_from_secs_f64(s.parse().ok()?).ok()
}

/// An attribute list: `NAME=value,NAME="quoted, with commas"`. Quotes are removed.
fn attributes(s: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("bad attribute list {s:?}"))?;
        let name = &rest[..eq];
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("bad attribute name {name:?}"));
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quote in {s:?}"))?;
            value = &quoted[..end];
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = &rest[..end];
            rest = &rest[end..];
        }
        out.push((name, value));
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err(format!("junk after attribute {name} in {s:?}")),
        };
    }
    Ok(out)
}

fn attr<'a>(attrs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
#EXTINF:2.000,\nseg-10.ts\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:2.000,title\nseg-11.ts\n\
# a comment\n#EXTINF:1.5,\nhttp://other/seg-12.ts\n";

    #[test]
    fn live_playlist() {
        let p = Playlist::parse(LIVE).unwrap();
        assert_eq!(p.target_duration, ms(2000));
        assert_eq!(p.media_sequence, 10);
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.segments[2].msn, 12);
        assert_eq!(p.segments[2].duration, ms(1500));
        assert_eq!(p.segments[2].uri, "http://other/seg-12.ts");
        assert_eq!(p.next_msn(), 13);
        assert!(!p.ended && p.part_target.is_none() && p.preload_hint.is_none());
        assert_eq!(p.segment(11).unwrap().uri, "seg-11.ts");
        assert!(p.segment(9).is_none() && p.segment(13).is_none());
    }

    #[test]
    fn live_start_and_lag() {
        let p = Playlist::parse(LIVE).unwrap();
        // 3 target durations = 6 s but the playlist only holds 5.5 s: the first segment.
        assert_eq!(p.live_start(ms(6000)), 10);
        assert_eq!(p.live_start(ms(3500)), 11);
        assert_eq!(p.live_start(ms(1000)), 12);
        assert_eq!(p.edge_lag(12, None), Duration::ZERO);
        assert_eq!(p.edge_lag(10, None), ms(3500));
        let empty =
            Playlist::parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n").unwrap();
        assert_eq!(empty.live_start(ms(6000)), 7);
    }

    /// The mock origin's playlist 8.5 s into a stream (1 s segments, 250 ms parts, window
    /// 6): parts listed for the segments of the last 3 target durations and for the
    /// segment in progress, then a preload hint and rendition reports.
    pub(crate) const MOCK_ORIGIN: &str = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750\n#EXT-X-PART-INF:PART-TARGET=0.250\n\
#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:49:18.912Z\n\
#EXTINF:1.000,\nseg-2.m4s\n#EXTINF:1.000,\nseg-3.m4s\n#EXTINF:1.000,\nseg-4.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-5.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-5.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-5.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-5.3.m4s\"\n\
#EXTINF:1.000,\nseg-5.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-6.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-6.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-6.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-6.3.m4s\"\n\
#EXTINF:1.000,\nseg-6.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-7.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-7.1.m4s\"\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-7.2.m4s\"\n#EXT-X-PART:DURATION=0.250,URI=\"seg-7.3.m4s\"\n\
#EXTINF:1.000,\nseg-7.m4s\n\
#EXT-X-PART:DURATION=0.250,URI=\"seg-8.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.250,URI=\"seg-8.1.m4s\"\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-8.2.m4s\"\n\
#EXT-X-RENDITION-REPORT:URI=\"../r0/index.m3u8\",LAST-MSN=8,LAST-PART=1\n\
#EXT-X-RENDITION-REPORT:URI=\"../r2/index.m3u8\",LAST-MSN=8,LAST-PART=1\n";

    #[test]
    fn live_start_and_lag_with_parts() {
        let p = Playlist::parse(MOCK_ORIGIN).unwrap();
        assert_eq!(
            (p.media_sequence, p.segments.len(), p.next_msn()),
            (2, 6, 8)
        );
        assert_eq!(p.duration(), ms(6000));
        assert_eq!(p.trailing_parts.len(), 2);
        // Three target durations back from the end of the complete segments (seg-7 ends
        // it; the parts of seg-8 in progress do not count): seg-5, seg-6, seg-7 are
        // buffered before playback catches up with the edge.
        assert_eq!(p.live_start(3 * p.target_duration), 5);
        assert_eq!(p.segment(5).unwrap().uri, "seg-5.m4s");
        assert_eq!(p.live_start(ms(3001)), 4);
        assert_eq!(p.live_start(ms(1000)), 7);
        // Lag: all media listed after the object, the parts in progress included, the same
        // way whether a whole segment or a part is asked for.
        assert_eq!(p.edge_lag(5, None), ms(2000 + 500));
        assert_eq!(p.edge_lag(7, None), ms(500));
        assert_eq!(p.edge_lag(7, Some(3)), ms(500));
        assert_eq!(p.edge_lag(7, Some(1)), ms(500 + 500));
        assert_eq!(p.edge_lag(8, Some(0)), ms(250));
        assert_eq!(p.edge_lag(8, Some(1)), Duration::ZERO);
        assert_eq!(p.edge_lag(2, None), ms(5000 + 500));
    }

    #[test]
    fn low_latency_playlist() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.25\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.75\n#EXT-X-MEDIA-SEQUENCE:4\n\
#EXTINF:1.0,\ns4.m4s\n\
#EXT-X-PART:DURATION=0.25,URI=\"s5.p0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.25,URI=\"s5.p1.m4s\"\n\
#EXT-X-PART:DURATION=0.25,URI=\"s5.p2.m4s\"\n#EXT-X-PART:DURATION=0.25,URI=\"s5.p3.m4s\"\n#EXTINF:1.0,\ns5.m4s\n\
#EXT-X-PART:DURATION=0.25,URI=\"s6.p0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s6.p1.m4s\"\n";
        let p = Playlist::parse(text).unwrap();
        assert_eq!(p.part_target, Some(ms(250)));
        assert_eq!(p.segments[0].parts.len(), 0);
        assert_eq!(p.segments[1].parts.len(), 4);
        assert!(p.segments[1].parts[0].independent && !p.segments[1].parts[1].independent);
        assert_eq!(p.parts(5)[3].uri, "s5.p3.m4s");
        assert_eq!(p.parts(6).len(), 1);
        assert_eq!(p.parts(6)[0].uri, "s6.p0.m4s");
        assert!(p.parts(7).is_empty());
        assert_eq!(
            p.preload_hint,
            Some(PreloadHint {
                kind: "PART".into(),
                uri: "s6.p1.m4s".into()
            })
        );
        assert_eq!(p.next_msn(), 6);
        assert_eq!(p.edge_lag(5, Some(1)), ms(500 + 250));
        assert_eq!(p.edge_lag(6, Some(0)), Duration::ZERO);
        assert_eq!(p.edge_lag(4, None), ms(1250));
    }

    #[test]
    fn endlist_and_defaults() {
        let p = Playlist::parse(
            "#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXTINF:4,\r\na.ts\r\n#EXT-X-ENDLIST\r\n",
        )
        .unwrap();
        assert!(p.ended);
        assert_eq!(p.media_sequence, 0);
        assert_eq!(p.segments[0].msn, 0);
    }

    #[test]
    fn quoted_attributes_with_commas() {
        let a = attributes("A=1,URI=\"x,y.m4s\",B=NO").unwrap();
        assert_eq!(a, vec![("A", "1"), ("URI", "x,y.m4s"), ("B", "NO")]);
        assert!(attributes("URI=\"x").is_err());
        assert!(attributes("URI=\"x\"junk").is_err());
        assert!(attributes("lower=1").is_err());
    }

    #[test]
    fn strict_errors() {
        let bad = [
            ("#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n", "EXTM3U"),
            ("#EXTM3U\n#EXTINF:2,\na.ts\n", "TARGETDURATION"),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n",
                "URI without EXTINF",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n",
                "EXTINF without a URI",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXTINF:2,\na.ts\n",
                "EXTINF without a URI",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:x,\na.ts\n",
                "bad EXTINF",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n",
                "bad EXT-X-TARGETDURATION",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n",
                "after the first",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=0.5\n",
                "without URI",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:URI=\"a\"\n",
                "without DURATION",
            ),
            (
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PRELOAD-HINT:URI=\"a\"\n",
                "without TYPE",
            ),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nr1/index.m3u8\n",
                "master",
            ),
        ];
        for (text, want) in bad {
            let e = Playlist::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
