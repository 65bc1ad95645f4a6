//! The two ISO 8601 forms a DASH MPD uses, as XML Schema spells them: `xs:duration`
//! (`PT2S`, `PT0.5S`, `PT1M30S`, `P1DT12H`) as a [`Duration`], and `xs:dateTime`
//! (`2023-11-14T22:13:20.000Z`, `...+01:00`, or without a zone, read as UTC) as a
//! [`SystemTime`]. Also good for `EXT-X-PROGRAM-DATE-TIME` values.
//!
//! Durations: only the seconds may have a fraction; a year counts 365 days and a month 30
//! (dash.js's reading: xs:duration leaves them open, and live MPDs do not use them);
//! negative durations are refused. Every number is checked for overflow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::attributes::{decimal_integer, decimal_seconds};

const DAY: u64 = 86_400;

/// An `xs:duration` without sign: `P[nY][nM][nD][T[nH][nM][n[.n]S]]`, at least one part.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None if !rest.is_empty() => (rest, None),
        None => return None,
    };
    let date = parts(date, &[('Y', 365 * DAY), ('M', 30 * DAY), ('D', DAY)])?;
    let time = match time {
        Some(t) => parts(t, &[('H', 3600), ('M', 60), ('S', 1)])?,
        None => Duration::ZERO,
    };
    date.checked_add(time)
}

/// `<number><designator>` pairs in the order of `units` (each at most once); only the `S`
/// number may have a fraction.
fn parts(mut text: &str, units: &[(char, u64)]) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut next = 0;
    while !text.is_empty() {
        let end = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, rest) = text.split_at(end);
        let designator = rest.chars().next()?;
        let at = next + units[next..].iter().position(|(c, _)| *c == designator)?;
        let seconds = units[at].1;
        let value = if designator == 'S' && seconds == 1 {
            decimal_seconds(number)?
        } else {
            Duration::from_secs(decimal_integer(number)?.checked_mul(seconds)?)
        };
        total = total.checked_add(value)?;
        next = at + 1;
        text = &rest[designator.len_utf8()..];
    }
    Some(total)
}

/// An `xs:dateTime`: `YYYY-MM-DDThh:mm:ss[.f][Z|+hh:mm|-hh:mm]` (no zone: UTC).
pub fn parse_date_time(text: &str) -> Option<SystemTime> {
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = number(ymd.next()?, 4, 9)?.try_into().ok()?;
    let month = number(ymd.next()?, 2, 2)?;
    let day = number(ymd.next()?, 2, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (clock, offset) = split_zone(time)?;
    let mut hms = clock.splitn(3, ':');
    let hour = number(hms.next()?, 2, 2)?;
    let minute = number(hms.next()?, 2, 2)?;
    let seconds_text = hms.next()?;
    if seconds_text.split('.').next()?.len() != 2 || seconds_text.ends_with('.') {
        return None;
    }
    let seconds = decimal_seconds(seconds_text)?;
    if hour > 23 || minute > 59 || seconds >= Duration::from_secs(61) {
        return None;
    }
    let whole = days_from_civil(year, month, day) * DAY as i64
        + (hour * 3600 + minute * 60) as i64
        + seconds.as_secs() as i64
        - offset;
    let fraction = Duration::from_nanos(u64::from(seconds.subsec_nanos()));
    let at = if whole >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(whole as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(whole.unsigned_abs()))?
    };
    at.checked_add(fraction)
}

/// The clock part and the zone's offset east of UTC in seconds.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    let Some(at) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let (clock, zone) = time.split_at(at);
    let (hours, minutes) = zone[1..].split_once(':')?;
    let (hours, minutes) = (number(hours, 2, 2)?, number(minutes, 2, 2)?);
    if hours > 14 || minutes > 59 {
        return None;
    }
    let offset = (hours * 3600 + minutes * 60) as i64;
    Some((
        clock,
        if zone.starts_with('-') {
            -offset
        } else {
            offset
        },
    ))
}

/// A number of `min..=max` digits.
fn number(text: &str, min: usize, max: usize) -> Option<u64> {
    if text.len() < min || text.len() > max {
        return None;
    }
    decimal_integer(text)
}

fn days_in_month(year: i64, month: u64) -> u64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT2S"), Some(ms(2000)));
        assert_eq!(parse_duration("PT0.5S"), Some(ms(500)));
        assert_eq!(parse_duration("PT12.25S"), Some(ms(12_250)));
        assert_eq!(parse_duration("PT0S"), Some(Duration::ZERO));
        assert_eq!(parse_duration("PT1.5S"), Some(ms(1500)));
        assert_eq!(parse_duration("PT1M30S"), Some(ms(90_000)));
        assert_eq!(parse_duration("PT1H"), Some(ms(3_600_000)));
        assert_eq!(parse_duration("P1DT2H"), Some(ms((86_400 + 7200) * 1000)));
        assert_eq!(parse_duration("P1D"), Some(ms(86_400_000)));
        assert_eq!(
            parse_duration("P1Y2M"),
            Some(Duration::from_secs((365 + 60) * DAY))
        );
        assert_eq!(
            parse_duration("PT0.000001S"),
            Some(Duration::from_micros(1))
        );
        for bad in [
            "",
            "P",
            "PT",
            "1S",
            "PT1.5M",
            "PTS",
            "PT1S2M",
            "P1DT",
            "-PT1S",
            "PT1S1S",
            "PT1",
            "P1H",
            "PT1HS",
            "PT 1S",
            "pt1s",
            "P1MT1M1M",
            "P99999999999999999999D",
            "P999999999999Y",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn date_times() {
        let at = |secs: u64, millis: u64| Some(UNIX_EPOCH + Duration::from_secs(secs) + ms(millis));
        assert_eq!(
            parse_date_time("2023-11-14T22:13:20.000Z"),
            at(1_700_000_000, 0)
        );
        assert_eq!(
            parse_date_time("2023-11-14T22:13:24.5Z"),
            at(1_700_000_004, 500)
        );
        assert_eq!(parse_date_time("2023-11-14T22:13:20"), at(1_700_000_000, 0));
        assert_eq!(
            parse_date_time("2023-11-14T23:13:20+01:00"),
            at(1_700_000_000, 0)
        );
        assert_eq!(
            parse_date_time("2023-11-14T21:43:20-00:30"),
            at(1_700_000_000, 0)
        );
        assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), at(0, 0));
        assert_eq!(
            parse_date_time("2024-02-29T00:00:00Z"),
            at(1_709_164_800, 0)
        );
        assert_eq!(
            parse_date_time("2019-02-14T02:13:36.106Z"),
            at(1_550_110_416, 106)
        );
        assert_eq!(
            parse_date_time("1969-12-31T23:59:59Z"),
            UNIX_EPOCH.checked_sub(Duration::from_secs(1))
        );
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14 22:13:20Z",
            "2023-13-14T22:13:20Z",
            "2023-02-29T00:00:00Z",
            "2023-11-31T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:60:00Z",
            "2023-11-14T22:13:2Z",
            "2023-11-14T22:13:20+1:00",
            "2023-11-14T22:13:20+15:00",
            "23-11-14T22:13:20Z",
            "2023-1-14T22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13Z",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad:?}");
        }
    }
}
