//! Figures of the live layer the black-box tests read, summed over every shard: how held
//! playlist reloads were answered, how many are held now, and how many released answers were
//! timed (a Prometheus scrape of the admin listener).

use livecache::metrics::HoldResult;

use super::{get, Setup};

/// Blocking reloads answered with `result`.
pub fn hold_results(setup: &Setup, result: HoldResult) -> u64 {
    let stats = &setup.running().stats;
    stats.shards.iter().map(|s| s.live.results(result)).sum()
}

/// Held answers written by the release that satisfied them (`shard::release_write`).
pub fn written_at_release(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.written_at_release)
}

/// Requests held now.
pub fn holds_active(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.holds_active)
}

/// The value of the first sample in a scrape whose line `matches` (the admin listener must be
/// on: `("admin", "127.0.0.1:0")`).
pub fn sample(setup: &Setup, matches: impl Fn(&str) -> bool) -> Option<u64> {
    let metrics = get(setup.admin_addr(), "/metrics");
    let text = String::from_utf8(metrics.body).unwrap();
    let line = text.lines().find(|l| matches(l));
    line.and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
}

/// Held answers whose release was timed (`livecache_hls_hold_release_seconds_count`): each is
/// counted by the shard that wrote it.
pub fn releases_timed(setup: &Setup) -> u64 {
    sample(setup, |l| {
        l.starts_with("livecache_hls_hold_release_seconds_count")
    })
    .unwrap_or(0)
}

/// A histogram of the scrape as (count, sum): `name` without its `_count`/`_sum` suffix.
pub fn histogram(setup: &Setup, name: &str) -> (u64, f64) {
    let metrics = get(setup.admin_addr(), "/metrics");
    let text = String::from_utf8(metrics.body).unwrap();
    let value = |suffix: &str| -> Option<f64> {
        let series = format!("{name}_{suffix} ");
        let line = text.lines().find(|l| l.starts_with(&series))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    (
        value("count").unwrap_or(0.0) as u64,
        value("sum").unwrap_or(0.0),
    )
}
