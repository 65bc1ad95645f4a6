//! Fault injection for the live simulator, as a flaky packager shows it:
//! some responses are 503s, some segment/part bodies are cut by a TCP reset
//! halfway, some stall halfway. This module owns the public [`Faults`]
//! configuration, the deterministic decision sequence and the counters of
//! faults actually injected ([`FaultCounts`]).
//!
//! Every live response draws the next number of one global sequence (in
//! arrival order), so a run with the same seed and the same request order
//! sees the same faults. Draw `n` is `splitmix64(seed + (n + 1) * GAMMA)`
//! mapped to a uniform `u` in `[0, 1)`, and the rates partition that
//! interval: `u < error_rate` is a 503; for a segment or part,
//! `u < error_rate + reset_rate` is a reset and
//! `u < error_rate + reset_rate + stall_rate` a stall. So each rate is
//! exactly the fraction of eligible responses that get that fault, and the
//! three must sum to at most 1.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Faults injected into live-path responses (never into `/__stats` or the
/// query-driven paths). Rates are fractions in `0..=1` summing to at most 1;
/// the default injects nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Fraction of live responses (playlists, MPD, init, segments, parts)
    /// answered `503` with `Cache-Control: no-store`, immediately (a blocking
    /// request is not held first).
    pub error_rate: f64,
    /// Fraction of segment/part responses that send the head and half the
    /// body, then reset the connection.
    pub reset_rate: f64,
    /// Fraction of segment/part responses that pause [`Faults::stall`]
    /// halfway through the body.
    pub stall_rate: f64,
    /// How long a stalled response pauses (default 1 s).
    pub stall: Duration,
    /// Seed of the decision sequence (default 0).
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            reset_rate: 0.0,
            stall_rate: 0.0,
            stall: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// Faults injected so far, per kind (see [`crate::MockOrigin::faults`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Responses replaced by a 503.
    pub errors: u64,
    /// Bodies cut by a reset.
    pub resets: u64,
    /// Bodies paused halfway.
    pub stalls: u64,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Error,
    Reset,
    Stall(Duration),
}

impl Fault {
    /// Value of the `X-Origin-Fault` header that marks the response.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::Error => "error",
            Fault::Reset => "reset",
            Fault::Stall(_) => "stall",
        }
    }
}

/// Tolerance for rates that add up to 1 in decimal but not in binary.
const SUM_SLACK: f64 = 1e-9;

impl Faults {
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        let rates = [self.error_rate, self.reset_rate, self.stall_rate];
        if !rates.iter().all(|r| (0.0..=1.0).contains(r)) {
            Err("fault rates must be between 0 and 1")
        } else if rates.iter().sum::<f64>() > 1.0 + SUM_SLACK {
            Err("error, reset and stall rates must sum to at most 1")
        } else {
            Ok(())
        }
    }

    /// Whether any fault can be injected at all.
    fn active(&self) -> bool {
        self.error_rate > 0.0 || self.reset_rate > 0.0 || self.stall_rate > 0.0
    }

    /// The fault for draw `n` of the sequence; `media` says whether the
    /// response is a segment or part (the only ones reset or stalled).
    pub(crate) fn decide(&self, n: u64, media: bool) -> Option<Fault> {
        let u = uniform(self.seed, n);
        let reset = self.error_rate + self.reset_rate;
        if u < self.error_rate {
            Some(Fault::Error)
        } else if !media {
            None
        } else if u < reset {
            Some(Fault::Reset)
        } else if u < reset + self.stall_rate {
            Some(Fault::Stall(self.stall))
        } else {
            None
        }
    }
}

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64 (Steele, Lea, Flood 2014): a well-mixed 64-bit value for any
/// input, so consecutive draws are independent-looking.
fn splitmix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draw `n` of the sequence for `seed`, uniform in `[0, 1)` (53 bits).
fn uniform(seed: u64, n: u64) -> f64 {
    let x = splitmix64(seed.wrapping_add(n.wrapping_add(1).wrapping_mul(GAMMA)));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The sequence position, the counters of injected faults, and the switch
/// that fails every segment and part ([`crate::MockOrigin::fail_media`]).
#[derive(Debug, Default)]
pub(crate) struct Injector {
    media_down: AtomicBool,
    next: AtomicU64,
    errors: AtomicU64,
    resets: AtomicU64,
    stalls: AtomicU64,
}

impl Injector {
    /// The fault `config` gives the next live response (drawn only when
    /// faults are configured, so a fault-free origin does no extra work); an
    /// error for every segment or part while media is down.
    pub(crate) fn draw(&self, config: &Faults, media: bool) -> Option<Fault> {
        if media && self.media_down.load(Ordering::Relaxed) {
            return Some(Fault::Error);
        }
        if !config.active() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        config.decide(n, media)
    }

    /// Counts `fault` as injected.
    pub(crate) fn count(&self, fault: Fault) {
        let counter = match fault {
            Fault::Error => &self.errors,
            Fault::Reset => &self.resets,
            Fault::Stall(_) => &self.stalls,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Fails every segment and part response with a 503 (`true`) until
    /// called with `false`.
    pub(crate) fn set_media_down(&self, down: bool) {
        self.media_down.store(down, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> FaultCounts {
        FaultCounts {
            errors: self.errors.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            stalls: self.stalls.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the counters (the sequence goes on).
    pub(crate) fn reset_counts(&self) {
        for counter in [&self.errors, &self.resets, &self.stalls] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(error_rate: f64, reset_rate: f64, stall_rate: f64, seed: u64) -> Faults {
        Faults {
            error_rate,
            reset_rate,
            stall_rate,
            stall: Duration::from_millis(7),
            seed,
        }
    }

    fn sequence(f: &Faults, media: bool, n: u64) -> Vec<Option<Fault>> {
        (0..n).map(|i| f.decide(i, media)).collect()
    }

    #[test]
    fn sequence_is_fixed_by_the_seed() {
        let f = faults(0.2, 0.2, 0.2, 42);
        assert_eq!(sequence(&f, true, 500), sequence(&f, true, 500));
        let other = faults(0.2, 0.2, 0.2, 43);
        assert_ne!(sequence(&f, true, 500), sequence(&other, true, 500));
        // Pinned values: the sequence must not drift between versions.
        let u: Vec<f64> = (0..3).map(|n| uniform(0, n)).collect();
        assert!(u.iter().all(|u| (0.0..1.0).contains(u)));
        assert_eq!(splitmix64(GAMMA), 0xe220_a839_7b1d_cdaf);
        // The injector walks the same sequence, one draw per response.
        let injector = Injector::default();
        let drawn: Vec<_> = (0..500).map(|_| injector.draw(&f, true)).collect();
        assert_eq!(drawn, sequence(&f, true, 500));
    }

    #[test]
    fn rates_are_fractions_of_eligible_responses() {
        let n = 100_000;
        let f = faults(0.1, 0.2, 0.3, 7);
        let media = sequence(&f, true, n);
        let share = |want: fn(&Option<Fault>) -> bool| {
            media.iter().filter(|d| want(d)).count() as f64 / n as f64
        };
        for (got, want) in [
            (share(|d| *d == Some(Fault::Error)), 0.1),
            (share(|d| *d == Some(Fault::Reset)), 0.2),
            (share(|d| matches!(d, Some(Fault::Stall(_)))), 0.3),
            (share(Option::is_none), 0.4),
        ] {
            assert!((got - want).abs() < 0.01, "{got} vs {want}");
        }
        assert!(media.contains(&Some(Fault::Stall(Duration::from_millis(7)))));
        // Playlists only ever get errors, at the same draws.
        let playlists = sequence(&f, false, n);
        for (p, m) in playlists.iter().zip(&media) {
            assert_eq!(*p, m.filter(|&d| d == Fault::Error));
        }
    }

    #[test]
    fn extreme_rates() {
        let none = Faults::default();
        assert!(sequence(&none, true, 1000).iter().all(Option::is_none));
        assert!(!none.active() && none.validate().is_ok());
        let all_errors = faults(1.0, 0.0, 0.0, 1);
        assert!(sequence(&all_errors, false, 1000)
            .iter()
            .all(|d| *d == Some(Fault::Error)));
        let all_resets = faults(0.0, 1.0, 0.0, 1);
        assert!(sequence(&all_resets, true, 1000)
            .iter()
            .all(|d| *d == Some(Fault::Reset)));
        assert!(sequence(&all_resets, false, 1000)
            .iter()
            .all(Option::is_none));
        assert!(faults(0.1, 0.3, 0.6, 0).validate().is_ok());
    }

    #[test]
    fn invalid_rates_are_rejected() {
        for bad in [
            faults(-0.1, 0.0, 0.0, 0),
            faults(0.0, 1.5, 0.0, 0),
            faults(0.0, 0.0, f64::NAN, 0),
            faults(0.5, 0.5, 0.1, 0),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counters() {
        let injector = Injector::default();
        assert_eq!(injector.draw(&Faults::default(), true), None);
        assert_eq!(injector.next.load(Ordering::Relaxed), 0, "no draw");
        injector.count(Fault::Error);
        injector.count(Fault::Stall(Duration::ZERO));
        injector.count(Fault::Stall(Duration::ZERO));
        assert_eq!(
            injector.counts(),
            FaultCounts {
                errors: 1,
                resets: 0,
                stalls: 2
            }
        );
        injector.reset_counts();
        assert_eq!(injector.counts(), FaultCounts::default());
        assert_eq!(Fault::Reset.name(), "reset");
    }
}
