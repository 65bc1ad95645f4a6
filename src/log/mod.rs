//! Diagnostics: the `tracing` subscriber that writes the daemon's events to stderr, and the
//! helpers that keep noisy events affordable. `text` is one line per event (no colours off a
//! terminal); when stderr is the journal's stream (`JOURNAL_STREAM`) lines carry no timestamp,
//! since journald stamps each itself, and start with a `<N>` syslog priority that journald
//! turns into the entry's PRIORITY. `json` is one object per line (`timestamp`, `level`,
//! `message`, the event's fields, `target`). The level changes on reload through a `reload`
//! handle; the format is fixed at start. This module installs the subscriber and owns no data
//! path; the access log, which is data-path output, lives in `access`.

pub mod access;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer, Registry};

use crate::config::{LogFormat, LogLevel};
use crate::origin::UpstreamError;

/// The installed subscriber's level switch, for reloads.
pub struct Logging {
    level: reload::Handle<LevelFilter, Registry>,
}

impl Logging {
    /// Applies a reloaded `log_level` to every thread at once.
    pub fn set_level(&self, level: LogLevel) {
        if let Err(e) = self.level.reload(level_filter(level)) {
            tracing::warn!("cannot change the log level: {e}");
        }
    }
}

/// Installs the process-wide subscriber writing to stderr. Fails if one is already installed.
pub fn init(format: LogFormat, level: LogLevel) -> Result<Logging, String> {
    let (filter, handle) = reload::Layer::new(level_filter(level));
    let output = match format {
        LogFormat::Text if stderr_is_journal() => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(JournalLine)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(colours_wanted())
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(Logging { level: handle })
}

/// A line for journald: `<6>INFO message key=value ...`. The leading syslog priority (`<3>`
/// error ... `<7>` debug and trace) is stripped by journald and stored as the entry's
/// PRIORITY, so `journalctl -p warning` works; journald adds the time itself.
struct JournalLine;

impl<S, N> FormatEvent<S, N> for JournalLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        write!(writer, "<{}>{level} ", syslog_priority(level))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn syslog_priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// Colours only for a person at a terminal who has not asked for none (`NO_COLOR`).
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether stderr is connected to the journal: systemd sets `JOURNAL_STREAM=DEV:INODE` for
/// the stream it gave the service, and a process whose stderr was redirected elsewhere
/// inherits the variable, so the device and inode are compared as systemd recommends.
fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    // SAFETY: fstat on fd 2 writes into the zeroed struct we pass and reads nothing else.
    let stat = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        (libc::fstat(2, &mut stat) == 0).then_some(stat)
    };
    stat.is_some_and(|s| names_stream(&value.to_string_lossy(), s.st_dev, s.st_ino))
}

/// Whether a `JOURNAL_STREAM` value (`DEV:INODE`, decimal) names this device and inode.
fn names_stream(value: &str, dev: u64, ino: u64) -> bool {
    value
        .split_once(':')
        .and_then(|(d, i)| Some((d.trim().parse::<u64>().ok()?, i.trim().parse::<u64>().ok()?)))
        == Some((dev, ino))
}

/// Lets one event through per interval and counts the ones held back meanwhile.
#[derive(Debug)]
pub struct RateLimit {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    pub const fn new(interval: Duration) -> RateLimit {
        RateLimit {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(events held back since the last one let through)` when an event may go now.
    pub fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// At most one upstream warning per shard in this interval; the rest go out at debug.
pub const UPSTREAM_WARN_EVERY: Duration = Duration::from_secs(10);

/// Reports a failed upstream exchange: each one at debug, and at most one warning per shard
/// every 10 s (saying how many were held back), so an origin outage under full load costs a
/// few lines, not one per request.
pub fn upstream_failure(
    shard: usize,
    warnings: &mut RateLimit,
    target: &[u8],
    error: &UpstreamError,
) {
    let target = String::from_utf8_lossy(target);
    let passed = warnings.check(Instant::now());
    match passed {
        Some(suppressed) => tracing::warn!(
            shard,
            uri = %target,
            suppressed,
            "upstream failure: {error}"
        ),
        None => tracing::debug!(shard, uri = %target, "upstream failure: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_lets_one_through_per_interval_and_counts_the_rest() {
        let mut limit = RateLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limit.check(t0), Some(0));
        for i in 1..=5 {
            assert_eq!(limit.check(t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(limit.check(t0 + Duration::from_secs(10)), Some(5));
        assert_eq!(limit.check(t0 + Duration::from_secs(11)), None);
        assert_eq!(limit.check(t0 + Duration::from_secs(25)), Some(1));
    }

    #[test]
    fn journal_stream_must_name_this_device_and_inode() {
        assert!(names_stream("64769:1234", 64769, 1234));
        assert!(!names_stream("64769:1234", 64769, 1235));
        assert!(!names_stream("garbage", 1, 2));
        assert!(!names_stream("", 0, 0));
    }

    #[test]
    fn journal_priorities_follow_syslog() {
        assert_eq!(syslog_priority(tracing::Level::ERROR), 3);
        assert_eq!(syslog_priority(tracing::Level::WARN), 4);
        assert_eq!(syslog_priority(tracing::Level::INFO), 6);
        assert_eq!(syslog_priority(tracing::Level::TRACE), 7);
    }

    #[test]
    fn levels_map_to_filters() {
        assert_eq!(level_filter(LogLevel::Warn), LevelFilter::WARN);
        assert_eq!(level_filter(LogLevel::Trace), LevelFilter::TRACE);
    }
}
