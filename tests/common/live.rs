//! Figures of the live layer the black-box tests read, summed over every shard: how held
//! playlist reloads were answered, how many are held now, and how many released answers were
//! timed (a Prometheus scrape of the admin listener).

use livecache::metrics::HoldResult;

use std::time::Duration;

use super::{all_at_once, eventually, get, Conn, Setup};

/// Blocking reloads answered with `result`.
pub fn hold_results(setup: &Setup, result: HoldResult) -> u64 {
    let stats = &setup.running().stats;
    stats.shards.iter().map(|s| s.live.results(result)).sum()
}

/// Held answers written by the release that satisfied them (`shard::release_write`).
pub fn written_at_release(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.written_at_release)
}

/// Times a release gate's watchdog forgave a release counted and never taken.
pub fn release_counts_forgiven(setup: &Setup) -> u64 {
    setup
        .running()
        .stats
        .sum(|s| &s.live.release_counts_forgiven)
}

/// Requests held now.
pub fn holds_active(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.holds_active)
}

/// The value of the first sample in a scrape whose line `matches` (the admin listener must be
/// on: `("admin", "127.0.0.1:0")`).
pub fn sample(setup: &Setup, matches: impl Fn(&str) -> bool) -> Option<u64> {
    value(&scrape(setup), matches)
}

/// The admin listener's metrics, as text.
fn scrape(setup: &Setup) -> String {
    String::from_utf8(get(setup.admin_addr(), "/metrics").body).unwrap()
}

/// The value of the first line of `text` that `matches`, read as a `T`.
fn value<T: std::str::FromStr>(text: &str, matches: impl Fn(&str) -> bool) -> Option<T> {
    let line = text.lines().find(|l| matches(l))?;
    line.rsplit(' ').next()?.parse().ok()
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
    let text = scrape(setup);
    let series = |suffix: &str| format!("{name}_{suffix} ");
    let (count, sum) = (series("count"), series("sum"));
    (
        value(&text, |l| l.starts_with(&count)).unwrap_or(0),
        value(&text, |l| l.starts_with(&sum)).unwrap_or(0.0),
    )
}

/// `clients` connections send their request at once (`client`, which also reads the answer);
/// once every one of them is held, `then` runs (the release or the expiry); their results.
pub fn held_at_once<T: Send>(
    setup: &Setup,
    clients: usize,
    client: impl Fn(usize, &mut Conn) -> T + Sync,
    then: impl FnOnce(),
) -> Vec<T> {
    std::thread::scope(|scope| {
        let client = &client;
        let answers = scope.spawn(move || all_at_once(setup.addr, clients, client));
        assert!(eventually(Duration::from_secs(5), || holds_active(setup)
            == clients as u64));
        then();
        answers.join().unwrap()
    })
}
