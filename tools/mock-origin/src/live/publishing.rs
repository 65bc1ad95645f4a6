//! Runtime publishing controls: pausing, resuming, rewinding and ending the
//! live timeline while the origin runs. This module owns the mapping from a
//! real [`Instant`] to the timeline's elapsed time, which is all the
//! generators ever see, so they stay pure: a control changes only that
//! mapping (plus the `ended` flag that adds `EXT-X-ENDLIST`).
//!
//! While running, `elapsed = (now - start) - shift`; `shift` starts at zero
//! and grows by every pause's length and every rewind's jump. While paused
//! (or for good once ended) the elapsed time is frozen. Resuming sets
//! `shift` so the timeline continues from where it froze (the paused time is
//! skipped, not replayed as a burst); a rewind lowers the elapsed time by
//! whole segments (not below zero), so media sequence numbers regress.
//!
//! The hot path reads three atomics under a sequence counter (a seqlock:
//! odd while a control is writing), so a reader never mixes the fields of
//! two states or a state with an instant older than it. Controls are
//! serialised by a mutex that also keeps the history of stretches (from
//! which [`Publishing::published_at`] works out when content appeared) and
//! backs a condition variable, so holds ([`Publishing::hold`], for blocking
//! playlist requests and hinted parts) wake as soon as a control changes the
//! timeline.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// `frozen` while the timeline runs.
const RUNNING: u64 = u64::MAX;

/// Controls remembered for [`Publishing::published_at`]; before the oldest
/// kept one, publish instants are no longer known.
pub(crate) const HISTORY: usize = 1024;

/// The longest a hold sleeps before re-checking (for the origin stopping).
const SLICE: Duration = Duration::from_millis(50);

/// The timeline as read at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now {
    pub(crate) elapsed: Duration,
    /// Paused or ended: the elapsed time does not advance.
    pub(crate) frozen: bool,
    /// [`crate::MockOrigin::end_stream`] was called.
    pub(crate) ended: bool,
    /// How far the timeline runs behind real time (while frozen: as of the
    /// freeze); moves the DASH `availabilityStartTime` along.
    pub(crate) shift: Duration,
    generation: u64,
}

/// The timeline from one control to the next: from `elapsed` on, running
/// `shift` behind real time, or frozen (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stretch {
    elapsed: Duration,
    shift: Option<Duration>,
}

/// A change of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    Pause,
    Resume,
    /// Back by this much elapsed time.
    Rewind(Duration),
    End,
}

#[derive(Debug)]
pub(crate) struct Publishing {
    start: Instant,
    /// Seqlock counter: odd while a control writes the fields below.
    generation: AtomicU64,
    /// Elapsed nanoseconds while frozen, [`RUNNING`] otherwise.
    frozen: AtomicU64,
    shift: AtomicU64,
    ended: AtomicBool,
    /// Serialises controls; the stretches so far, oldest first.
    history: Mutex<VecDeque<Stretch>>,
    changed: Condvar,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(RUNNING - 1)
}

impl Publishing {
    /// A running timeline whose elapsed time is zero at `start`.
    pub(crate) fn new(start: Instant) -> Publishing {
        let first = Stretch {
            elapsed: Duration::ZERO,
            shift: Some(Duration::ZERO),
        };
        Publishing {
            start,
            generation: AtomicU64::new(0),
            frozen: AtomicU64::new(RUNNING),
            shift: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            history: Mutex::new(VecDeque::from([first])),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Stretch>> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The timeline now.
    pub(crate) fn now(&self) -> Now {
        self.read(None)
    }

    /// The timeline at `at` (the current state applied to that instant);
    /// `None` reads the clock inside the seqlock, so a control that froze
    /// the timeline before the read is always seen.
    pub(crate) fn read(&self, at: Option<Instant>) -> Now {
        loop {
            let generation = self.generation.load(SeqCst);
            if generation % 2 == 1 {
                thread::yield_now();
                continue;
            }
            let frozen = self.frozen.load(SeqCst);
            let shift = Duration::from_nanos(self.shift.load(SeqCst));
            let ended = self.ended.load(SeqCst);
            let now = at.unwrap_or_else(Instant::now);
            if self.generation.load(SeqCst) != generation {
                continue;
            }
            let elapsed = match frozen {
                RUNNING => now
                    .saturating_duration_since(self.start)
                    .saturating_sub(shift),
                frozen => Duration::from_nanos(frozen),
            };
            return Now {
                elapsed,
                frozen: frozen != RUNNING,
                ended,
                shift,
                generation,
            };
        }
    }

    /// Applies `control` now.
    pub(crate) fn apply(&self, control: Control) {
        self.apply_at(control, None);
    }

    /// Applies `control` at `at` (`None`: now). Once ended, nothing changes
    /// the timeline any more; pausing while paused and resuming while
    /// running do nothing.
    pub(crate) fn apply_at(&self, control: Control, at: Option<Instant>) {
        let mut history = self.lock();
        if self.ended.load(SeqCst) {
            return;
        }
        self.generation.fetch_add(1, SeqCst);
        let now = at.unwrap_or_else(Instant::now);
        let real = now.saturating_duration_since(self.start);
        let shift = Duration::from_nanos(self.shift.load(SeqCst));
        let (elapsed, running) = match self.frozen.load(SeqCst) {
            RUNNING => (real.saturating_sub(shift), true),
            frozen => (Duration::from_nanos(frozen), false),
        };
        let freeze = |to: Duration| Stretch {
            elapsed: to,
            shift: None,
        };
        let stretch = match control {
            Control::Pause | Control::End if running => Some(freeze(elapsed)),
            Control::Resume if !running => Some(Stretch {
                elapsed,
                shift: Some(real.saturating_sub(elapsed)),
            }),
            Control::Rewind(by) => {
                let to = elapsed.saturating_sub(by);
                Some(match running {
                    true => Stretch {
                        elapsed: to,
                        shift: Some(real.saturating_sub(to)),
                    },
                    false => freeze(to),
                })
            }
            _ => None,
        };
        if let Some(stretch) = stretch {
            match stretch.shift {
                Some(shift) => {
                    self.shift.store(nanos(shift), SeqCst);
                    self.frozen.store(RUNNING, SeqCst);
                }
                None => self.frozen.store(nanos(stretch.elapsed), SeqCst),
            }
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(stretch);
        }
        if control == Control::End {
            self.ended.store(true, SeqCst);
        }
        self.generation.fetch_add(1, SeqCst);
        drop(history);
        self.changed.notify_all();
    }

    /// Waits until the timeline reaches `ready_at` or the stream ends, and
    /// returns the timeline then; `None` once `limit` passes first (or the
    /// origin stops). Sleeps until the instant the timeline promises, waking
    /// early for a control, and re-reads the timeline on every wake-up, so a
    /// pause, resume, rewind or end during the wait counts.
    pub(crate) fn hold(
        &self,
        ready_at: Duration,
        limit: Instant,
        stop: &AtomicBool,
    ) -> Option<Now> {
        loop {
            let now = self.now();
            if now.ended || now.elapsed >= ready_at {
                return Some(now);
            }
            if Instant::now() >= limit || stop.load(SeqCst) {
                return None;
            }
            let ready = self.instant_at(&now, ready_at);
            self.wait(&now, ready.map_or(limit, |at| at.min(limit)));
        }
    }

    /// The real instant the timeline reaches `elapsed` if it keeps running
    /// as it does at `now` (`None` while frozen).
    fn instant_at(&self, now: &Now, elapsed: Duration) -> Option<Instant> {
        match now.frozen {
            true => None,
            false => self.start.checked_add(now.shift)?.checked_add(elapsed),
        }
    }

    /// Sleeps until `deadline`, until a control changes the timeline after
    /// `seen` was read, or for at most 50 ms (so callers notice a stop).
    fn wait(&self, seen: &Now, deadline: Instant) {
        let history = self.lock();
        if self.generation.load(SeqCst) != seen.generation {
            return;
        }
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(SLICE);
        if !wait.is_zero() {
            drop(self.changed.wait_timeout(history, wait));
        }
    }

    /// The real instant the timeline last reached `elapsed` (content ending
    /// there appeared then), or `None` if it has not reached it now. Walking
    /// back from the newest stretch, the first one starting below `elapsed`
    /// is where it was crossed: every later one starts at or above it, so it
    /// stayed published since.
    pub(crate) fn published_at(&self, elapsed: Duration, at: Option<Instant>) -> Option<Instant> {
        let history = self.lock();
        if self.read(at).elapsed < elapsed {
            return None;
        }
        history
            .iter()
            .rev()
            .find(|s| s.elapsed < elapsed)
            .and_then(|s| self.start.checked_add(s.shift?)?.checked_add(elapsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A timeline started at `t0`, read and controlled at `t0 + ms`.
    struct Fixture {
        p: Publishing,
        t0: Instant,
    }

    impl Fixture {
        fn new() -> Fixture {
            let t0 = Instant::now();
            Fixture {
                p: Publishing::new(t0),
                t0,
            }
        }
        fn at(&self, t: u64) -> Option<Instant> {
            Some(self.t0 + ms(t))
        }
        fn elapsed(&self, t: u64) -> Duration {
            self.p.read(self.at(t)).elapsed
        }
        fn control(&self, control: Control, t: u64) {
            self.p.apply_at(control, self.at(t));
        }
        fn published(&self, e: u64, t: u64) -> Option<Duration> {
            let at = self.p.published_at(ms(e), self.at(t))?;
            Some(at - self.t0)
        }
    }

    #[test]
    fn pause_and_resume_skip_the_paused_time() {
        let f = Fixture::new();
        assert_eq!(f.elapsed(700), ms(700));
        f.control(Control::Pause, 1000);
        f.control(Control::Pause, 1200); // no-op
        assert_eq!(f.elapsed(1000), ms(1000));
        assert_eq!(f.elapsed(1500), ms(1000));
        let paused = f.p.read(f.at(1500));
        assert!(paused.frozen && !paused.ended);
        assert_eq!(f.p.instant_at(&paused, ms(1100)), None);
        f.control(Control::Resume, 1600);
        f.control(Control::Resume, 1700); // no-op
        assert_eq!(f.elapsed(1600), ms(1000));
        assert_eq!(f.elapsed(2100), ms(1500));
        let running = f.p.read(f.at(2100));
        assert_eq!(running.shift, ms(600));
        assert_eq!(f.p.instant_at(&running, ms(1500)), f.at(2100));
    }

    #[test]
    fn rewind_jumps_back_and_runs_on() {
        let f = Fixture::new();
        f.control(Control::Rewind(ms(2000)), 5000);
        assert_eq!(f.elapsed(5000), ms(3000));
        assert_eq!(f.elapsed(5400), ms(3400));
        // While paused, a rewind moves the frozen point.
        f.control(Control::Pause, 6000);
        f.control(Control::Rewind(ms(1000)), 6500);
        assert_eq!(f.elapsed(7000), ms(3000));
        f.control(Control::Resume, 8000);
        assert_eq!(f.elapsed(8250), ms(3250));
        // Never below zero.
        f.control(Control::Rewind(ms(60_000)), 9000);
        assert_eq!(f.elapsed(9000), Duration::ZERO);
        assert_eq!(f.elapsed(9100), ms(100));
    }

    #[test]
    fn end_freezes_for_good() {
        let f = Fixture::new();
        f.control(Control::End, 1000);
        for control in [Control::Resume, Control::Rewind(ms(500)), Control::Pause] {
            f.control(control, 1200);
        }
        let now = f.p.read(f.at(5000));
        assert_eq!((now.elapsed, now.frozen, now.ended), (ms(1000), true, true));
        // Ending while paused keeps the paused point.
        let g = Fixture::new();
        g.control(Control::Pause, 300);
        g.control(Control::End, 900);
        assert_eq!(g.elapsed(2000), ms(300));
    }

    #[test]
    fn published_at_follows_pauses_and_rewinds() {
        let f = Fixture::new();
        assert_eq!(f.published(500, 400), None);
        assert_eq!(f.published(500, 500), Some(ms(500)));
        f.control(Control::Pause, 1000);
        assert_eq!(f.published(1000, 3000), Some(ms(1000)));
        assert_eq!(f.published(1250, 3000), None);
        f.control(Control::Resume, 3000); // shift 2 s
        assert_eq!(f.published(1250, 3250), Some(ms(3250)));
        assert_eq!(f.published(500, 3250), Some(ms(500)));
        // At 4000 (elapsed 2000) back to 1000: 1500 appears again at 4500,
        // 750 was never withdrawn, 1000 stayed published.
        f.control(Control::Rewind(ms(1000)), 4000);
        assert_eq!(f.published(1750, 4500), None);
        assert_eq!(f.published(1500, 4500), Some(ms(4500)));
        assert_eq!(f.published(1000, 4500), Some(ms(1000)));
        assert_eq!(f.published(750, 4500), Some(ms(750)));
        assert_eq!(f.published(1250, 4500), Some(ms(4250)));
    }

    #[test]
    fn history_is_bounded() {
        let f = Fixture::new();
        for i in 0..(HISTORY as u64 + 10) {
            f.control(Control::Pause, 2 * i);
            f.control(Control::Resume, 2 * i + 1);
        }
        assert_eq!(f.p.lock().len(), HISTORY);
        let t = 2 * (HISTORY as u64 + 10);
        assert_eq!(f.elapsed(t + 5), ms(HISTORY as u64 + 15));
    }

    #[test]
    fn a_control_wakes_a_waiter() {
        let p = std::sync::Arc::new(Publishing::new(Instant::now()));
        p.apply(Control::Pause);
        let seen = p.now();
        let waiter = {
            let p = std::sync::Arc::clone(&p);
            thread::spawn(move || {
                let started = Instant::now();
                p.wait(&seen, started + Duration::from_secs(10));
                started.elapsed()
            })
        };
        thread::sleep(ms(5));
        p.apply(Control::End);
        assert!(waiter.join().unwrap() < ms(50));
        assert!(p.now().ended);
        p.wait(&seen, Instant::now() + Duration::from_secs(10)); // returns at once
    }
}
