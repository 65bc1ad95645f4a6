//! Configuration reload without a restart. The control plane (the signal thread) validates a
//! new configuration and publishes it here; each shard notices the new version at its next
//! request boundary (one relaxed atomic load per request) and swaps its own copy, so no
//! connection is dropped and no cache entry is lost. Publishing takes a lock, reading the
//! version does not: the lock is touched only on reload and by shards adopting it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::{Applies, Config, KNOBS};

#[allow(clippy::disallowed_types)] // control plane: locked on reload only, never per request
type Slot = std::sync::Mutex<Arc<Config>>;

struct Inner {
    version: AtomicU64,
    current: Slot,
}

/// The configuration in force, shared by every shard and the control plane.
#[derive(Clone)]
pub struct ConfigSource(Arc<Inner>);

/// Why a new configuration was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

impl ConfigSource {
    #[allow(clippy::disallowed_types)] // see `Slot`
    pub fn new(config: Config) -> ConfigSource {
        ConfigSource(Arc::new(Inner {
            version: AtomicU64::new(1),
            current: std::sync::Mutex::new(Arc::new(config)),
        }))
    }

    /// The version in force: 1 at start, one more per applied reload.
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.0.current.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies `next` if it differs from the running configuration only in keys that can
    /// change while running; returns the new version.
    pub fn publish(&self, mut next: Config) -> Result<u64, Rejected> {
        let mut current = self.0.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = needs_restart(&current, &next) {
            return Err(Rejected(format!(
                "`{key}` cannot change without a restart; the running configuration stays"
            )));
        }
        // Not a knob: which shard owns what is fixed for the life of the process.
        next.cross_mesh_for_tests = current.cross_mesh_for_tests;
        *current = Arc::new(next);
        Ok(self.0.version.fetch_add(1, Ordering::AcqRel) + 1)
    }
}

/// The first key whose change needs a restart (`Applies::Restart` in `knobs::KNOBS`):
/// listeners, threads and queues are made once, and a stream or key rule change would orphan
/// the whole cache.
fn needs_restart(old: &Config, new: &Config) -> Option<&'static str> {
    KNOBS
        .iter()
        .filter(|knob| knob.applies == Applies::Restart)
        .find(|knob| old.rendered(knob.key) != new.rendered(knob.key))
        .map(|knob| knob.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_bump_the_version_and_swap_the_config() {
        let source = ConfigSource::new(Config::from_pairs(&[("shards", "2")]).unwrap());
        assert_eq!(source.version(), 1);
        let next = Config::from_pairs(&[("shards", "2"), ("max_headers", "50")]).unwrap();
        assert_eq!(source.publish(next), Ok(2));
        assert_eq!(source.current().max_headers, 50);
    }

    #[test]
    fn keys_fixed_at_start_are_refused() {
        let source = ConfigSource::new(Config::from_pairs(&[("shards", "2")]).unwrap());
        let err = source
            .publish(Config::from_pairs(&[("shards", "3")]).unwrap())
            .unwrap_err();
        assert!(err.0.contains("shards"));
        assert_eq!(source.version(), 1);
        assert_eq!(source.current().shards, 2);
    }
}
