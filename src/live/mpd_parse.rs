//! The DASH MPD parser: XML text in, [`Mpd`] or a [`ParseError`] naming the line out. The XML
//! itself is tokenised by `quick-xml` (well-formedness, entities, end-tag matching); this file
//! walks its events and reads the elements and attributes the model holds, by local name (any
//! namespace prefix), skipping every other element with all it contains.
//!
//! Strict for what it reads: the root must be `MPD`; `@type` must be `static` or `dynamic`;
//! durations, dates, numbers and booleans must parse; a `Representation` needs `@id` and
//! `@bandwidth`; an `S` needs `@d` > 0 and `@r` ≥ -1; a `SegmentTemplate` `@timescale` > 0.
//! Attribute duplicate checks are off in the reader (they are quadratic in the attribute
//! count); the first occurrence of a name wins.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::error::{line_at, ErrorKind, ParseError};
use super::iso8601::{parse_date_time, parse_duration};
use super::lines::utf8;
use super::mpd::{AdaptationSet, Mpd, MpdType, Period, Representation, UtcTiming};
use super::segment_template::{SegmentTemplate, SegmentTimeline, TimelineEntry};

/// The levels that can hold a `SegmentTemplate` or a `BaseURL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Mpd,
    Period,
    AdaptationSet,
    Representation,
}

/// What an open element is to the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Level(Level),
    Template(Level),
    Timeline(Level),
    BaseUrl(Level),
    Ignored,
}

/// An element's attributes as (local name, value), unescaped.
struct Attrs<'a> {
    element: &'static str,
    list: Vec<(&'a str, String)>,
}

impl Attrs<'_> {
    fn text(&self, name: &str) -> Option<String> {
        self.list
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    fn read<T>(
        &self,
        name: &'static str,
        what: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ErrorKind> {
        match self.list.iter().find(|(n, _)| *n == name) {
            None => Ok(None),
            Some((_, v)) => parse(v.trim()).map(Some).ok_or(ErrorKind::BadMpdAttribute {
                element: self.element,
                attribute: name,
                what,
            }),
        }
    }

    fn number(&self, name: &'static str) -> Result<Option<u64>, ErrorKind> {
        self.read(name, "an unsigned integer", |v| v.parse().ok())
    }

    fn duration(&self, name: &'static str) -> Result<Option<std::time::Duration>, ErrorKind> {
        self.read(name, "an xs:duration", parse_duration)
    }

    fn date_time(&self, name: &'static str) -> Result<Option<std::time::SystemTime>, ErrorKind> {
        self.read(name, "an xs:dateTime", parse_date_time)
    }

    fn boolean(&self, name: &'static str) -> Result<Option<bool>, ErrorKind> {
        self.read(name, "a boolean", |v| match v {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        })
    }

    fn required<T>(&self, name: &'static str, value: Option<T>) -> Result<T, ErrorKind> {
        value.ok_or(ErrorKind::MissingMpdAttribute {
            element: self.element,
            attribute: name,
        })
    }
}

fn attrs<'a>(element: &'static str, e: &'a BytesStart<'_>) -> Result<Attrs<'a>, ErrorKind> {
    let mut list = Vec::new();
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|err| ErrorKind::Xml(err.to_string()))?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| ErrorKind::Xml(err.to_string()))?;
        list.push((attr.key.local_name().into_inner(), value.into_owned()));
    }
    Ok(Attrs { element, list })
}

impl Mpd {
    /// Parses an MPD.
    pub fn parse(text: &str) -> Result<Mpd, ParseError> {
        let mut walk = Walk::default();
        let mut reader = Reader::from_str(text);
        loop {
            let event = reader.read_event();
            let at = |kind| {
                let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                ParseError::new(line_at(text.as_bytes(), offset), kind)
            };
            let event = event.map_err(|e| at(ErrorKind::Xml(e.to_string())))?;
            match event {
                Event::Eof => break,
                event => walk.event(event).map_err(at)?,
            }
        }
        let end = line_at(text.as_bytes(), text.len());
        match (walk.mpd, walk.stack.is_empty()) {
            (Some(mpd), true) => Ok(mpd),
            (Some(_), false) => Err(ParseError::new(
                end,
                ErrorKind::Xml("an element is not closed".into()),
            )),
            (None, _) => Err(ParseError::new(end, ErrorKind::NotMpd)),
        }
    }

    /// Parses an MPD from bytes, which must be UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mpd, ParseError> {
        Mpd::parse(utf8(bytes)?)
    }
}

#[derive(Default)]
struct Walk {
    mpd: Option<Mpd>,
    stack: Vec<Open>,
    /// The text of the `BaseURL` being read.
    base_url: String,
}

impl Walk {
    fn event(&mut self, event: Event<'_>) -> Result<(), ErrorKind> {
        match event {
            Event::Start(e) => {
                let open = self.open(&e)?;
                self.stack.push(open);
            }
            Event::Empty(e) => {
                let open = self.open(&e)?;
                if let Open::BaseUrl(level) = open {
                    self.close_base_url(level);
                }
            }
            Event::End(_) => {
                if let Some(Open::BaseUrl(level)) = self.stack.pop() {
                    self.close_base_url(level);
                }
            }
            Event::Text(t) if self.in_base_url() => self.base_url.push_str(&t.xml10_content()),
            Event::CData(t) if self.in_base_url() => self.base_url.push_str(&t),
            Event::GeneralRef(r) if self.in_base_url() => {
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| ErrorKind::Xml(e.to_string()))?
                {
                    self.base_url.push(c);
                } else {
                    let entity = resolve_predefined_entity(&r)
                        .ok_or_else(|| ErrorKind::Xml(format!("unknown entity &{};", &*r)))?;
                    self.base_url.push_str(entity);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn in_base_url(&self) -> bool {
        matches!(self.stack.last(), Some(Open::BaseUrl(_)))
    }

    /// What a newly opened element is, after recording what it says.
    fn open(&mut self, e: &BytesStart<'_>) -> Result<Open, ErrorKind> {
        let name = e.local_name();
        let name = name.into_inner();
        let Some(&parent) = self.stack.last() else {
            if self.mpd.is_some() || name != "MPD" {
                return Err(ErrorKind::NotMpd);
            }
            self.mpd = Some(mpd(&attrs("MPD", e)?)?);
            return Ok(Open::Level(Level::Mpd));
        };
        let mpd = self.mpd.as_mut().ok_or(ErrorKind::NotMpd)?;
        let open = match (parent, name) {
            (Open::Level(level), "BaseURL") => {
                self.base_url.clear();
                Open::BaseUrl(level)
            }
            (Open::Level(level), "SegmentTemplate") if level != Level::Mpd => {
                *template_slot(mpd, level).ok_or(ErrorKind::NotMpd)? =
                    Some(template(&attrs("SegmentTemplate", e)?)?);
                Open::Template(level)
            }
            (Open::Level(Level::Mpd), "Period") => {
                mpd.periods.push(period(&attrs("Period", e)?)?);
                Open::Level(Level::Period)
            }
            (Open::Level(Level::Mpd), "UTCTiming") => {
                let a = attrs("UTCTiming", e)?;
                let scheme_id_uri = a.required("schemeIdUri", a.text("schemeIdUri"))?;
                mpd.utc_timings.push(UtcTiming {
                    scheme_id_uri,
                    value: a.text("value"),
                });
                Open::Ignored
            }
            (Open::Level(Level::Period), "AdaptationSet") => {
                let set = adaptation_set(&attrs("AdaptationSet", e)?)?;
                mpd.periods
                    .last_mut()
                    .ok_or(ErrorKind::NotMpd)?
                    .adaptation_sets
                    .push(set);
                Open::Level(Level::AdaptationSet)
            }
            (Open::Level(Level::AdaptationSet), "Representation") => {
                let rep = representation(&attrs("Representation", e)?)?;
                let set = mpd
                    .periods
                    .last_mut()
                    .and_then(|p| p.adaptation_sets.last_mut());
                set.ok_or(ErrorKind::NotMpd)?.representations.push(rep);
                Open::Level(Level::Representation)
            }
            (Open::Template(level), "SegmentTimeline") => {
                let slot = template_slot(mpd, level).and_then(|t| t.as_mut());
                slot.ok_or(ErrorKind::NotMpd)?.timeline = Some(SegmentTimeline::default());
                Open::Timeline(level)
            }
            (Open::Timeline(level), "S") => {
                let entry = timeline_entry(&attrs("S", e)?)?;
                let slot = template_slot(mpd, level)
                    .and_then(|t| t.as_mut())
                    .and_then(|t| t.timeline.as_mut());
                slot.ok_or(ErrorKind::NotMpd)?.entries.push(entry);
                Open::Ignored
            }
            _ => Open::Ignored,
        };
        Ok(open)
    }

    fn close_base_url(&mut self, level: Level) {
        let text = std::mem::take(&mut self.base_url).trim().to_string();
        let Some(mpd) = self.mpd.as_mut() else {
            return;
        };
        let slot = match level {
            Level::Mpd => Some(&mut mpd.base_url),
            Level::Period => mpd.periods.last_mut().map(|p| &mut p.base_url),
            Level::AdaptationSet => current_set(mpd).map(|a| &mut a.base_url),
            Level::Representation => current_rep(mpd).map(|r| &mut r.base_url),
        };
        if let Some(slot @ None) = slot {
            *slot = Some(text);
        }
    }
}

fn current_set(mpd: &mut Mpd) -> Option<&mut AdaptationSet> {
    mpd.periods.last_mut()?.adaptation_sets.last_mut()
}

fn current_rep(mpd: &mut Mpd) -> Option<&mut Representation> {
    current_set(mpd)?.representations.last_mut()
}

/// The `SegmentTemplate` slot of the element open at `level`.
fn template_slot(mpd: &mut Mpd, level: Level) -> Option<&mut Option<SegmentTemplate>> {
    match level {
        Level::Mpd => None,
        Level::Period => mpd.periods.last_mut().map(|p| &mut p.segment_template),
        Level::AdaptationSet => current_set(mpd).map(|a| &mut a.segment_template),
        Level::Representation => current_rep(mpd).map(|r| &mut r.segment_template),
    }
}

fn mpd(a: &Attrs<'_>) -> Result<Mpd, ErrorKind> {
    let kind = a.read("type", "static or dynamic", |v| match v {
        "static" => Some(MpdType::Static),
        "dynamic" => Some(MpdType::Dynamic),
        _ => None,
    })?;
    Ok(Mpd {
        kind: kind.unwrap_or_default(),
        availability_start_time: a.date_time("availabilityStartTime")?,
        publish_time: a.date_time("publishTime")?,
        minimum_update_period: a.duration("minimumUpdatePeriod")?,
        time_shift_buffer_depth: a.duration("timeShiftBufferDepth")?,
        suggested_presentation_delay: a.duration("suggestedPresentationDelay")?,
        max_segment_duration: a.duration("maxSegmentDuration")?,
        min_buffer_time: a.duration("minBufferTime")?,
        ..Mpd::default()
    })
}

fn period(a: &Attrs<'_>) -> Result<Period, ErrorKind> {
    Ok(Period {
        id: a.text("id"),
        start: a.duration("start")?,
        duration: a.duration("duration")?,
        ..Period::default()
    })
}

fn adaptation_set(a: &Attrs<'_>) -> Result<AdaptationSet, ErrorKind> {
    // A ConditionalUintType: a boolean or the number of an alignment group.
    let aligned = a.read(
        "segmentAlignment",
        "a boolean or an unsigned integer",
        |v| match v {
            "true" => Some(true),
            "false" => Some(false),
            n => n.parse::<u64>().ok().map(|_| true),
        },
    )?;
    Ok(AdaptationSet {
        id: a.text("id"),
        content_type: a.text("contentType"),
        mime_type: a.text("mimeType"),
        segment_alignment: aligned.unwrap_or(false),
        ..AdaptationSet::default()
    })
}

fn representation(a: &Attrs<'_>) -> Result<Representation, ErrorKind> {
    Ok(Representation {
        id: a.required("id", a.text("id"))?,
        bandwidth: a.required("bandwidth", a.number("bandwidth")?)?,
        codecs: a.text("codecs"),
        mime_type: a.text("mimeType"),
        width: a.number("width")?,
        height: a.number("height")?,
        ..Representation::default()
    })
}

fn template(a: &Attrs<'_>) -> Result<SegmentTemplate, ErrorKind> {
    let ato = a.read(
        "availabilityTimeOffset",
        "a number of seconds",
        |v| match v {
            "INF" => Some(f64::INFINITY),
            v => v.parse::<f64>().ok().filter(|x| x.is_finite()),
        },
    )?;
    Ok(SegmentTemplate {
        media: a.text("media"),
        initialization: a.text("initialization"),
        timescale: a.read("timescale", "an unsigned integer over 0", |v| {
            v.parse().ok().filter(|&t: &u64| t > 0)
        })?,
        duration: a.number("duration")?,
        start_number: a.number("startNumber")?,
        presentation_time_offset: a.number("presentationTimeOffset")?,
        availability_time_offset: ato,
        availability_time_complete: a.boolean("availabilityTimeComplete")?,
        timeline: None,
    })
}

fn timeline_entry(a: &Attrs<'_>) -> Result<TimelineEntry, ErrorKind> {
    let d = a.read("d", "an unsigned integer over 0", |v| {
        v.parse().ok().filter(|&d: &u64| d > 0)
    })?;
    Ok(TimelineEntry {
        t: a.number("t")?,
        d: a.required("d", d)?,
        r: a.read("r", "an integer of -1 or more", |v| {
            v.parse().ok().filter(|&r: &i64| r >= -1)
        })?
        .unwrap_or(0),
    })
}

#[cfg(test)]
#[path = "mpd_tests.rs"]
mod tests;
