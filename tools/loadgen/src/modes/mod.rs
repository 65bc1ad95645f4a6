//! The four load modes and the thread-per-core harness they share: `run_threads`
//! starts one glommio executor per thread (pinned when CPUs are given), hands each a
//! `Worker` whose `Recorder` is plain per-thread state (`Rc<RefCell>`), and merges the
//! threads' [`Stats`] when each sends its own back at the end, so nothing is shared or
//! locked while requests run. Once a second every thread sends its [`Interval`] over a
//! channel and the calling thread prints the merged progress line on stderr.

pub mod live;
pub mod llhls;
pub mod rate;
pub mod urls;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};

use crate::client::{HttpError, Response};
use crate::stats::{Interval, Kind, LiveStats, LlStats, Stats};

/// Settings every mode takes.
#[derive(Clone, Debug)]
pub struct Common {
    /// Executor threads (at least 1).
    pub threads: usize,
    /// CPUs to pin thread `i` to (`cpus[i % len]`); empty leaves threads unpinned.
    pub cpus: Vec<usize>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Print the progress line every second on stderr.
    pub progress: bool,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            threads: 1,
            cpus: Vec::new(),
            timeout: Duration::from_secs(10),
            progress: true,
        }
    }
}

/// Delay between building the executors and the common start instant, so that every
/// thread is up before the first request is due.
const START_DELAY: Duration = Duration::from_millis(50);

/// Per-thread measurement sink, shared by the tasks of one executor.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Rc<RefCell<(Stats, Interval)>>);

impl Recorder {
    /// Records one request's outcome.
    pub(crate) fn record(&self, kind: Kind, result: &Result<Response, HttpError>) {
        let mut inner = self.0.borrow_mut();
        inner.0.record(kind, result);
        inner.1.record(result);
    }

    /// Counts an error that is not a failed request (`bad_playlist`, `bad_uri`).
    pub(crate) fn error(&self, name: &'static str) {
        let mut inner = self.0.borrow_mut();
        *inner.0.errors.entry(name).or_default() += 1;
        inner.1.errors += 1;
    }

    /// Counts scheduled requests dropped unsent (rate mode).
    pub(crate) fn unsent(&self, n: u64) {
        self.0.borrow_mut().0.unsent += n;
    }

    /// Updates the live-mode figures.
    pub(crate) fn live(&self, f: impl FnOnce(&mut LiveStats)) {
        f(self.0.borrow_mut().0.live_mut());
    }

    /// Updates the LL-HLS mode figures.
    pub(crate) fn llhls(&self, f: impl FnOnce(&mut LlStats)) {
        f(self.0.borrow_mut().0.llhls_mut());
    }

    fn take_interval(&self) -> Interval {
        std::mem::take(&mut self.0.borrow_mut().1)
    }

    fn take_stats(&self) -> Stats {
        std::mem::take(&mut self.0.borrow_mut().0)
    }
}

/// What a thread's work gets.
pub(crate) struct Worker {
    /// This thread's index.
    pub(crate) index: usize,
    /// Number of threads.
    pub(crate) threads: usize,
    /// The common start instant (the same on every thread).
    pub(crate) start: Instant,
    /// Per-request timeout.
    pub(crate) timeout: Duration,
    /// Where to record.
    pub(crate) rec: Recorder,
}

enum Msg {
    Tick(u64, Interval),
    /// A thread's stats, and when its work ended.
    Done(Box<Stats>, Instant),
}

/// Sleeps until `at` (returns at once when it has passed).
pub(crate) async fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        glommio::timer::sleep(at - now).await;
    }
}

/// `total` split over `parts` as evenly as possible: the share of part `i`.
pub fn share(total: u64, parts: usize, i: usize) -> u64 {
    let parts = parts as u64;
    total / parts + u64::from((i as u64) < total % parts)
}

/// Runs `work` on `common.threads` executors from a common start instant; returns the
/// merged stats and the wall time from the start until the last thread finished.
pub(crate) fn run_threads<F, Fut>(common: &Common, work: F) -> Result<(Stats, Duration), String>
where
    F: Fn(Worker) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let threads = common.threads;
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let start = Instant::now() + START_DELAY;
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        let placement = match common.cpus.get(index % common.cpus.len().max(1)) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let work = work.clone();
        let tx = tx.clone();
        let timeout = common.timeout;
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("loadgen-{index}"))
            .io_memory(64 * 1024)
            .spawn(move || async move {
                let rec = Recorder::default();
                let ticker_rec = rec.clone();
                let ticker_tx = tx.clone();
                glommio::spawn_local(async move {
                    for tick in 1.. {
                        sleep_until(start + Duration::from_secs(tick)).await;
                        let iv = ticker_rec.take_interval();
                        if ticker_tx.send(Msg::Tick(tick, iv)).is_err() {
                            return;
                        }
                    }
                })
                .detach();
                sleep_until(start).await;
                work(Worker {
                    index,
                    threads,
                    start,
                    timeout,
                    rec: rec.clone(),
                })
                .await;
                let _ = tx.send(Msg::Done(Box::new(rec.take_stats()), Instant::now()));
            })
            .map_err(|e| format!("cannot start executor {index}: {e}"))?;
        handles.push(handle);
    }
    drop(tx);

    let mut merged = Stats::default();
    let mut finished: Vec<Instant> = Vec::with_capacity(threads);
    let mut ticks: BTreeMap<u64, (usize, Interval)> = BTreeMap::new();
    let mut printed = 0;
    while finished.len() < threads {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Tick(t, _)) if t <= printed => {} // that second is already out
            Ok(Msg::Tick(t, iv)) => {
                let entry = ticks.entry(t).or_default();
                entry.0 += 1;
                entry.1.merge(&iv);
            }
            Ok(Msg::Done(stats, at)) => {
                finished.push(at);
                merged.merge(&stats);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        flush_ticks(
            &mut ticks,
            &finished,
            &mut printed,
            start,
            threads,
            common.progress,
        );
    }
    for (i, h) in handles.into_iter().enumerate() {
        h.join().map_err(|e| format!("executor {i} failed: {e}"))?;
    }
    if finished.len() < threads {
        return Err("an executor ended without reporting".into());
    }
    let last = finished.iter().max().copied().unwrap_or(start);
    Ok((merged, last.saturating_duration_since(start)))
}

/// Prints (on stderr, when `progress`) the merged seconds that are ready. Second `t` is
/// printed once every thread still working at its end reported it (threads that finished
/// earlier, idle ones included, send no more ticks), or half a second late while some
/// thread is still working (a stuck thread should not freeze the display). When all have
/// finished, a second not every expected thread reported is the partial end of the run
/// and is dropped.
fn flush_ticks(
    ticks: &mut BTreeMap<u64, (usize, Interval)>,
    finished: &[Instant],
    printed: &mut u64,
    start: Instant,
    threads: usize,
    progress: bool,
) {
    let now = Instant::now();
    let all_done = finished.len() == threads;
    while let Some(entry) = ticks.first_entry() {
        let t = *entry.key();
        let due = start + Duration::from_secs(t);
        let expected = threads - finished.iter().filter(|f| **f < due).count();
        let complete = entry.get().0 >= expected;
        let late = now >= due + Duration::from_millis(500);
        if !complete && !all_done && !late {
            break;
        }
        let (_, iv) = entry.remove();
        if complete || !all_done {
            *printed = t;
            if progress {
                eprintln!("{}", iv.progress_line(t));
            }
        }
    }
}

/// Parses `10s`, `500ms`, `2m`, `1.5s`, `250us` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 10s, 500ms or 2m"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use us, ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("10d").is_err());
    }

    #[test]
    fn shares() {
        let s: Vec<u64> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(s, vec![4, 3, 3]);
        assert_eq!((0..4).map(|i| share(2, 4, i)).sum::<u64>(), 2);
    }
}
