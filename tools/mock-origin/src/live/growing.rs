//! Byte-range parts (`LiveConfig::byterange_parts`): parts named as byte
//! ranges of their segment, and the segment in progress served while it
//! grows. A packager that works this way (RFC 8216bis 4.4.5.3) answers a
//! request for the segment being written with the bytes it has, then sends
//! each part's bytes the moment the part is complete, until the segment is
//! whole; clients ask for the hinted part as an open-ended range
//! (`bytes=S-`, or `S-9007199254740991` as RFC 8673 suggests) and read the
//! parts as they come. The response is chunked: its length is not known
//! when it starts.
//!
//! An LL-DASH packager (`LiveConfig::chunked_dash`) serves its segment in
//! progress the same way, each part one CMAF chunk.
//!
//! The schedule travels in the entity ([`Source::Growing`]) and the writer
//! waits for each step on the live timeline (`wait_published`), so a pause
//! or an end of the stream stops the growth (an ended stream cuts it).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::llhls::PartUris;
use super::{Live, LiveConfig};
use crate::body;
use crate::entity::Entity;
use crate::out::Source;

impl Live {
    /// How rendition `rendition`'s parts are named in its playlist.
    pub(crate) fn part_uris(&self, rendition: usize) -> PartUris {
        if !self.config.byterange_parts {
            return PartUris::Files;
        }
        let kbps = self.config.renditions[rendition];
        PartUris::Ranges {
            segment_size: self.config.segment_size(kbps),
        }
    }

    /// Segment `msn` (relative index `k`) of `rendition` while it is being
    /// written: the complete parts' bytes at once, then each later part's
    /// as it completes. `None` unless parts are byte ranges (or the DASH
    /// side is chunked) and `k` is the segment in progress.
    pub(crate) fn growing_segment(
        &self,
        stream: usize,
        rendition: usize,
        k: u64,
        elapsed: Duration,
    ) -> Option<Entity> {
        let t = self.timeline();
        let grows = self.config.byterange_parts || self.config.chunked_dash;
        if !grows || k != t.edge(elapsed).complete {
            return None;
        }
        let msn = t.first_sequence + k;
        let path = format!(
            "/live/{}/{}/seg-{msn}.m4s",
            LiveConfig::stream_name(stream),
            LiveConfig::rendition_name(rendition)
        );
        let size = self.config.segment_size(self.config.renditions[rendition]);
        let steps = (0..t.parts_per_segment())
            .map(|p| {
                let (offset, len) = t.part_bytes(size, p);
                (offset + len, t.part_end(k, p))
            })
            .collect();
        Some(Entity {
            status: 200,
            source: Source::Growing {
                seed: body::path_seed(&path),
                steps,
            },
            size,
            cache_control: Some("public, max-age=3600".to_string()),
            content_type: "video/iso.segment",
            // Validators name complete content; this is not complete yet.
            etag: None,
            last_modified: None,
        })
    }

    /// Waits until the live timeline reaches `ready` (`true`), or the
    /// stream ends or stops first, or three target durations pass (`false`).
    pub(crate) fn wait_published(&self, ready: Duration, stop: &AtomicBool) -> bool {
        let limit = Instant::now() + self.timeline().hold_limit();
        match self.publishing.hold(ready, limit, stop) {
            Some(now) => now.elapsed >= ready,
            None => false,
        }
    }
}
