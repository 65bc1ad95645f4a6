//! The model of a DASH MPD, limited to what a live edge needs (LIVE.md F4, F7, F12):
//! whether it is live (`@type`), its clock anchors and update cadence
//! (`availabilityStartTime`, `publishTime`, `minimumUpdatePeriod`, `timeShiftBufferDepth`,
//! `suggestedPresentationDelay`, `maxSegmentDuration`, `minBufferTime`), its `UTCTiming`
//! sources, and per Period, AdaptationSet and Representation the identity, bandwidth, codecs
//! and size, with the `SegmentTemplate` and `BaseURL` of each level. Everything else in the
//! document is skipped by `mpd_parse`.
//!
//! A representation's effective `SegmentTemplate` merges its own over its adaptation set's
//! over its period's ([`Representation::segment_template`]).

use std::time::{Duration, SystemTime};

use super::segment_template::{expand_template, SegmentTemplate, TemplateValues};

/// `MPD@type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MpdType {
    /// On demand: the MPD does not change (the default).
    #[default]
    Static,
    /// Live: the MPD is updated, segments appear over time.
    Dynamic,
}

/// A parsed MPD.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mpd {
    /// `@type`.
    pub kind: MpdType,
    /// `@availabilityStartTime`: the anchor of segment availability.
    pub availability_start_time: Option<SystemTime>,
    /// `@publishTime`: when this version was published.
    pub publish_time: Option<SystemTime>,
    /// `@minimumUpdatePeriod`: how often clients re-fetch the MPD.
    pub minimum_update_period: Option<Duration>,
    /// `@timeShiftBufferDepth`: the live window.
    pub time_shift_buffer_depth: Option<Duration>,
    /// `@suggestedPresentationDelay`.
    pub suggested_presentation_delay: Option<Duration>,
    /// `@maxSegmentDuration`.
    pub max_segment_duration: Option<Duration>,
    /// `@minBufferTime`.
    pub min_buffer_time: Option<Duration>,
    /// The first `BaseURL` child.
    pub base_url: Option<String>,
    /// `UTCTiming` elements, in order.
    pub utc_timings: Vec<UtcTiming>,
    /// `Period` elements, in order.
    pub periods: Vec<Period>,
}

/// A `UTCTiming`: where clients read the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtcTiming {
    /// `@schemeIdUri` (`urn:mpeg:dash:utc:http-iso:2014`, ...).
    pub scheme_id_uri: String,
    /// `@value`.
    pub value: Option<String>,
}

/// A `Period`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Period {
    /// `@id`.
    pub id: Option<String>,
    /// `@start` (absent on the first period of a live MPD: 0).
    pub start: Option<Duration>,
    /// `@duration`.
    pub duration: Option<Duration>,
    /// The first `BaseURL` child.
    pub base_url: Option<String>,
    /// Its `SegmentTemplate`.
    pub segment_template: Option<SegmentTemplate>,
    /// Its `AdaptationSet`s, in order.
    pub adaptation_sets: Vec<AdaptationSet>,
}

/// An `AdaptationSet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdaptationSet {
    /// `@id`.
    pub id: Option<String>,
    /// `@contentType` (`video`, `audio`, `text`).
    pub content_type: Option<String>,
    /// `@mimeType`.
    pub mime_type: Option<String>,
    /// `@segmentAlignment` (true, or a group number, means aligned).
    pub segment_alignment: bool,
    /// The first `BaseURL` child.
    pub base_url: Option<String>,
    /// Its `SegmentTemplate`.
    pub segment_template: Option<SegmentTemplate>,
    /// Its `Representation`s, in order.
    pub representations: Vec<Representation>,
}

/// A `Representation`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Representation {
    /// `@id` (required).
    pub id: String,
    /// `@bandwidth` in bits per second (required).
    pub bandwidth: u64,
    /// `@codecs`.
    pub codecs: Option<String>,
    /// `@mimeType` (absent: the adaptation set's).
    pub mime_type: Option<String>,
    /// `@width`.
    pub width: Option<u64>,
    /// `@height`.
    pub height: Option<u64>,
    /// The first `BaseURL` child.
    pub base_url: Option<String>,
    /// Its own `SegmentTemplate`.
    pub segment_template: Option<SegmentTemplate>,
}

impl Mpd {
    /// Whether this is a live MPD (`type="dynamic"`).
    pub fn is_dynamic(&self) -> bool {
        self.kind == MpdType::Dynamic
    }

    /// Every representation with the adaptation set and period that hold it, in order.
    pub fn representations(
        &self,
    ) -> impl Iterator<Item = (&Period, &AdaptationSet, &Representation)> {
        self.periods.iter().flat_map(|p| {
            p.adaptation_sets
                .iter()
                .flat_map(move |a| a.representations.iter().map(move |r| (p, a, r)))
        })
    }
}

impl Representation {
    /// The effective `SegmentTemplate`: this representation's, then its adaptation set's,
    /// then its period's, attribute by attribute. `None` when no level has one.
    pub fn segment_template(
        &self,
        set: &AdaptationSet,
        period: &Period,
    ) -> Option<SegmentTemplate> {
        let empty = SegmentTemplate::default();
        let levels = [
            &self.segment_template,
            &set.segment_template,
            &period.segment_template,
        ];
        if levels.iter().all(|t| t.is_none()) {
            return None;
        }
        let merged = levels.iter().rev().fold(empty, |above, own| match own {
            Some(t) => t.inherit(&above),
            None => above,
        });
        Some(merged)
    }

    /// The media URL of segment `number` (or at `time`, for `$Time$` templates) under the
    /// effective template, as written there (still relative to the BaseURLs).
    pub fn media_url(
        &self,
        template: &SegmentTemplate,
        number: Option<u64>,
        time: Option<u64>,
    ) -> Option<String> {
        expand_template(
            template.media.as_deref()?,
            &self.template_values(number, time),
        )
    }

    /// The initialization URL under the effective template.
    pub fn initialization_url(&self, template: &SegmentTemplate) -> Option<String> {
        expand_template(
            template.initialization.as_deref()?,
            &self.template_values(None, None),
        )
    }

    fn template_values(&self, number: Option<u64>, time: Option<u64>) -> TemplateValues<'_> {
        TemplateValues {
            representation_id: &self.id,
            number,
            time,
            bandwidth: Some(self.bandwidth),
        }
    }
}
