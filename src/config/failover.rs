//! How a stream whose live playlist stops advancing on one origin moves to the next
//! (`origin_failover`; LIVE.md F9, issue "Origin-shield tiers", item 4). The two modes differ in
//! what the packagers behind `origin` share:
//!
//! - `aligned` (redundant pipelines of one packager): the same media sequence numbers name the
//!   same URIs everywhere, so a stream moves as soon as its playlist is stale (1.5 target
//!   durations without a segment) or refused, a backup's version must pass every successor
//!   check, and a segment the primary answers 404 for is asked of the next origin.
//! - `independent` (packagers that number and name their segments each their own way): a
//!   stream moves only after its playlist has not advanced for three target durations, and
//!   the first version from another origin is taken when its media sequence is no lower than
//!   the one served (a sequence number may then name another URI, and the sequence may jump
//!   forward); a 404 is an answer, not a reason to ask elsewhere.

/// See the module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailoverMode {
    #[default]
    Aligned,
    Independent,
}

impl FailoverMode {
    pub fn label(self) -> &'static str {
        match self {
            FailoverMode::Aligned => "aligned",
            FailoverMode::Independent => "independent",
        }
    }
}

/// Parses `origin_failover`.
pub fn parse_failover_mode(text: &str) -> Result<FailoverMode, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "aligned" => Ok(FailoverMode::Aligned),
        "independent" => Ok(FailoverMode::Independent),
        _ => Err("expected `aligned` or `independent`".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_parse_and_render_back() {
        for mode in [FailoverMode::Aligned, FailoverMode::Independent] {
            assert_eq!(parse_failover_mode(mode.label()), Ok(mode));
        }
        assert_eq!(
            parse_failover_mode(" Independent "),
            Ok(FailoverMode::Independent)
        );
        assert!(parse_failover_mode("both").is_err());
    }
}
