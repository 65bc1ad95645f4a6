//! Human-friendly units for configuration values: byte sizes (`64KiB`, `1GiB`, `1.5M`) and
//! durations (`500ms`, `10s`, `2m`). Pure parsing and formatting; knows nothing of keys or
//! where a value came from, so callers attach the key name to any error.

use std::time::Duration;

/// Parses a byte size. Binary (`KiB`, `MiB`, `GiB`, `TiB`) and the short forms (`K`, `M`, `G`, `T`,
/// `KB`, `MB`, `GB`, `TB`) are all powers of 1024, as operators of nginx and Varnish expect; a bare
/// number is bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(
            "expected a number followed by an optional unit such as KiB, MiB or GiB".into(),
        );
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err("size is too large".into());
    }
    Ok(bytes as u64)
}

/// Parses a duration: `ms`, `s`, `m`, `h` suffixes; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| "expected a number followed by ms, s, m or h".to_string())?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| "duration out of range".to_string())
}

/// Formats a size the way `parse_size` reads it back, using the largest exact binary unit.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{name}", bytes >> shift);
        }
    }
    format!("{bytes}B")
}

/// Formats a duration the way `parse_duration` reads it back.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_and_short_units() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("512 M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("4096"), Ok(4096));
    }

    #[test]
    fn sizes_reject_unknown_units_and_garbage() {
        assert!(parse_size("12XB").unwrap_err().contains("XB") || parse_size("12XB").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_accept_common_suffixes() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for bytes in [1u64 << 30, 3 << 20, 1000, 64 << 10] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
        for d in [Duration::from_millis(250), Duration::from_secs(60)] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
