//! HTTP dates. This module owns turning Unix seconds into IMF-fixdate
//! (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), the only format an
//! origin should send, and reading the three formats a recipient must accept
//! (IMF-fixdate, RFC 850 and asctime) back, for `If-Modified-Since` and
//! `If-Range`. It is hand-written so the crate needs no date dependency, and
//! it accepts negative offsets because `expires=-10` must be able to produce
//! an already-expired response.

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the Unix epoch, now (negative if the clock is before 1970).
pub(crate) fn now_secs() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// IMF-fixdate for `secs` since the Unix epoch.
pub(crate) fn format(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        MONTHS[month as usize - 1],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Unix seconds for an HTTP-date in any of the three formats of RFC 9110
/// §5.6.7; `None` when it is none of them. The weekday is not checked, and
/// a two-digit RFC 850 year more than 50 years ahead of `now` belongs to the
/// previous century.
pub(crate) fn parse(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    let (day, month, year, time) = if let Some((_, rest)) = text.split_once(", ") {
        let fields: Vec<&str> = rest.split(' ').collect();
        match fields[..] {
            // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
            [day, month, year, time, "GMT"] if year.len() == 4 => (day, month, digits(year)?, time),
            // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`.
            [date, time, "GMT"] => {
                let mut parts = date.split('-');
                let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() || yy.len() != 2 {
                    return None;
                }
                let this_year = civil_from_days(now.div_euclid(86_400)).0;
                let mut year = this_year - this_year.rem_euclid(100) + digits(yy)?;
                if year > this_year + 50 {
                    year -= 100;
                }
                (day, month, year, time)
            }
            _ => return None,
        }
    } else {
        // asctime: `Sun Nov  6 08:49:37 1994` (day padded with a space).
        let fields: Vec<&str> = text.split(' ').filter(|f| !f.is_empty()).collect();
        match fields[..] {
            [weekday, month, day, time, year] if weekday.len() == 3 && year.len() == 4 => {
                (day, month, digits(year)?, time)
            }
            _ => return None,
        }
    };
    let month = MONTHS.iter().position(|&m| m == month)? as u32 + 1;
    let day = u32::try_from(digits(day)?)
        .ok()
        .filter(|d| (1..=31).contains(d))?;
    let mut hms = time.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, s].iter().any(|f| f.len() != 2) {
        return None;
    }
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// A non-empty run of ASCII digits (no sign), at most 4 of them.
fn digits(text: &str) -> Option<i64> {
    let ok = !text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

/// Days since 1970-01-01 for a proleptic Gregorian date; the inverse of
/// [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12); // March-based
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 / xs:dateTime in UTC with milliseconds, for
/// `EXT-X-PROGRAM-DATE-TIME` and DASH `availabilityStartTime`:
/// `2015-01-01T00:00:00.000Z`.
pub(crate) fn iso8601_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        ms.rem_euclid(1000)
    )
}

/// Proleptic Gregorian (year, month 1-12, day 1-31) for days since
/// 1970-01-01; Howard Hinnant's `civil_from_days`, exact for all i64 days
/// that matter here.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(format(1_420_070_400), "Thu, 01 Jan 2015 00:00:00 GMT");
        assert_eq!(format(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 GMT");
    }

    #[test]
    fn iso8601_with_millis() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601_millis(1_420_070_400_000 + 3_723_045),
            "2015-01-01T01:02:03.045Z"
        );
        assert_eq!(iso8601_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(format(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(format(-86_400 * 365), "Wed, 01 Jan 1969 00:00:00 GMT");
    }

    /// Every day from 1970 to 2134 against a naive day-by-day calendar.
    #[test]
    fn matches_a_day_by_day_walk() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut year, mut month, mut day) = (1970i64, 1usize, 1u32);
        for days in 0..60_000i64 {
            let weekday = DAYS[((days + 4) % 7) as usize];
            let want = format!(
                "{weekday}, {day:02} {} {year} 12:34:56 GMT",
                MONTHS[month - 1]
            );
            assert_eq!(format(days * 86_400 + 45_296), want);
            let month_len = match month {
                2 if leap(year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > month_len {
                (day, month) = (1, month + 1);
            }
            if month > 12 {
                (month, year) = (1, year + 1);
            }
        }
    }

    #[test]
    fn parses_all_three_formats() {
        let now = 1_700_000_000; // 2023
        let want = Some(784_111_777);
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT", now), want);
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT", now), want);
        assert_eq!(parse("Sun Nov  6 08:49:37 1994", now), want);
        assert_eq!(parse(" Thu, 01 Jan 1970 00:00:00 GMT ", now), Some(0));
        // A two-digit year more than 50 years ahead is in the past century.
        assert_eq!(
            parse("Tuesday, 01-Jan-30 00:00:00 GMT", now),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse("Sunday, 01-Jan-90 00:00:00 GMT", now),
            Some(631_152_000)
        );
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        let now = 1_700_000_000;
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37",
            "1700000000",
        ] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_inverts_format() {
        for secs in [0, 59, 951_782_400, 1_420_070_400, 4_133_980_799, -86_400] {
            assert_eq!(parse(&format(secs), 0), Some(secs), "{secs}");
        }
        for days in (-1000..60_000).step_by(7) {
            assert_eq!(days_from_civil_roundtrip(days), days);
        }
    }

    fn days_from_civil_roundtrip(days: i64) -> i64 {
        let (y, m, d) = civil_from_days(days);
        days_from_civil(y, m, d)
    }

    #[test]
    fn now_is_recent() {
        assert!(now_secs() > 1_600_000_000);
        assert!(format(now_secs()).ends_with(" GMT"));
        assert_eq!(format(now_secs()).len(), 29);
    }
}
