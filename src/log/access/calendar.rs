//! UTC calendar times for the access log, without a time-zone database: a `SystemTime`
//! broken into date and time of day by Howard Hinnant's days-to-civil algorithm, written as
//! the `combined` format's `25/Nov/2025:13:14:15 +0000` or the JSON format's RFC 3339
//! `2025-11-25T13:14:15.123Z`. Checked against `httpdate` in the tests.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC calendar time: (year, month 1-12, day, hour, minute, second, millisecond).
fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis(),
    )
}

/// `25/Nov/2025:13:14:15 +0000`
pub(super) fn push_clf_time(out: &mut Vec<u8>, time: SystemTime) {
    let (y, mo, d, h, mi, s, _) = civil(time);
    let month = MONTHS[(mo - 1) as usize];
    let _ = write!(out, "{d:02}/{month}/{y}:{h:02}:{mi:02}:{s:02} +0000");
}

/// `2025-11-25T13:14:15.123Z`
pub(super) fn push_iso_time(out: &mut Vec<u8>, time: SystemTime) {
    let (y, mo, d, h, mi, s, ms) = civil(time);
    let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calendar_dates_match_http_dates() {
        for secs in [
            0u64,
            951_782_400,   // 2000-02-29
            1_709_208_000, // 2024-02-29 12:00
            1_735_689_599, // 2024-12-31 23:59:59
            4_102_444_800, // 2100-01-01
        ] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            // "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994:08:49:37 +0000"
            let http = httpdate::fmt_http_date(t);
            let p: Vec<&str> = http.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            let expected = format!("{}/{}/{}:{} +0000", p[1], p[2], p[3], p[4]);
            let mut out = Vec::new();
            push_clf_time(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{secs}");
        }
    }
}
