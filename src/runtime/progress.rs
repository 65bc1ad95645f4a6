//! Start-up progress of each shard, so a start that does not finish in time says which step
//! waited: an executor that never got CPU time, or executors waiting for the others to join
//! the mesh. Written by the executors, read by the thread that started them.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Where one shard's start-up got to, so a start that times out says which step waited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum StartStep {
    /// The executor thread is made but its first task has not run yet.
    Created = 0,
    /// Its first task runs: it waits for every other shard to join the mesh.
    Running = 1,
    /// It joined the mesh and is setting up its state and listener.
    Meshed = 2,
}

pub(super) struct StartProgress(Vec<AtomicU8>);

impl StartProgress {
    pub(super) fn new(shards: usize) -> Arc<StartProgress> {
        Arc::new(StartProgress(
            (0..shards)
                .map(|_| AtomicU8::new(StartStep::Created as u8))
                .collect(),
        ))
    }

    pub(super) fn reached(&self, shard: usize, step: StartStep) {
        self.0[shard].store(step as u8, Ordering::Release);
    }

    /// Which executors never ran, and which waited on the mesh (for the others to run).
    pub(super) fn describe(&self) -> String {
        let at = |step: StartStep| -> Vec<String> {
            (0..self.0.len())
                .filter(|&i| self.0[i].load(Ordering::Acquire) == step as u8)
                .map(|i| i.to_string())
                .collect()
        };
        let (created, running) = (at(StartStep::Created), at(StartStep::Running));
        let mut parts = Vec::new();
        if !created.is_empty() {
            parts.push(format!(
                "executors [{}] were created but never got CPU time to run (is the machine \
                 overloaded, or are their CPUs reserved?)",
                created.join(", ")
            ));
        }
        if !running.is_empty() {
            parts.push(format!(
                "executors [{}] waited for the others to join the shard mesh",
                running.join(", ")
            ));
        }
        if parts.is_empty() {
            parts.push("every executor joined the mesh, but one did not begin to accept".into());
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_that_times_out_names_the_step_that_waited() {
        let progress = StartProgress::new(4);
        progress.reached(0, StartStep::Meshed);
        progress.reached(1, StartStep::Running);
        progress.reached(3, StartStep::Running);
        let text = progress.describe();
        assert!(
            text.contains("executors [2] were created but never got CPU time"),
            "{text}"
        );
        assert!(
            text.contains("executors [1, 3] waited for the others"),
            "{text}"
        );
    }
}
