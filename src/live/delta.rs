//! Playlist Delta Updates made at the edge (RFC 8216bis §4.4.5.2, §6.2.5.1; LIVE.md F2): the
//! `_HLS_skip=YES` answer generated from the full playlist, so the origin never sees a delta
//! request and every spelling shares one rendition.
//!
//! The segments whose end lies more than `CAN-SKIP-UNTIL` seconds before the end of the last
//! segment are skipped, from the first one on: their URI lines and the tags that describe only
//! them (`EXTINF`, `EXT-X-BYTERANGE`, `EXT-X-PART`, `EXT-X-PROGRAM-DATE-TIME`,
//! `EXT-X-DISCONTINUITY`, `EXT-X-GAP`, `EXT-X-BITRATE`) give way to one
//! `#EXT-X-SKIP:SKIPPED-SEGMENTS=n` where the first of them was. Tags that also apply to the
//! segments after them (`EXT-X-MAP`, `EXT-X-KEY`), date ranges (a `YES` delta keeps them) and
//! tags the parser does not know stay where they were, so the delta means the same for what it
//! lists. The media sequence, discontinuity sequence and every playlist tag are unchanged.
//!
//! Pure text work over a playlist already parsed from the same text.

use std::time::Duration;

use super::media::MediaPlaylist;

/// Tags that describe one media segment alone: dropped with the segment.
const SEGMENT_ONLY: [&str; 7] = [
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-PART",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-DISCONTINUITY",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
];

/// The `_HLS_skip=YES` delta of `text` (whose parse is `playlist`), or `None` when the
/// playlist allows none (no `CAN-SKIP-UNTIL`, ended, already a delta) or nothing is old
/// enough to skip: then the full playlist is the answer.
pub fn delta_update(text: &str, playlist: &MediaPlaylist) -> Option<String> {
    let boundary = playlist.server_control.can_skip_until?;
    if playlist.ended || playlist.skip.is_some() {
        return None;
    }
    let skipped = skippable(playlist, boundary);
    let last_skipped = playlist.segments.get(skipped.checked_sub(1)?)?;
    let mut out = String::with_capacity(text.len());
    let mut skip_written = false;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = line.trim();
        if number <= last_skipped.line && describes_a_segment(trimmed) {
            if !skip_written {
                out.push_str(&format!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n"));
                skip_written = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

/// How many segments, from the first, end more than `boundary` before the playlist's end.
fn skippable(playlist: &MediaPlaylist, boundary: Duration) -> usize {
    let total = playlist.duration();
    let mut end = Duration::ZERO;
    let mut count = 0;
    for segment in &playlist.segments {
        end = end.saturating_add(segment.duration);
        if total.saturating_sub(end) <= boundary {
            break;
        }
        count += 1;
    }
    count
}

/// A URI line, or a tag that describes one segment alone.
fn describes_a_segment(line: &str) -> bool {
    if line.is_empty() {
        return false;
    }
    let Some(tag) = line.strip_prefix('#') else {
        return true;
    };
    let name = tag.split_once(':').map_or(tag, |(name, _)| name);
    SEGMENT_ONLY.contains(&name)
}

#[cfg(test)]
#[path = "delta_tests.rs"]
mod tests;
