//! The write side of a response. This module owns where body bytes come
//! from ([`Source`]), write batching (the head and small bodies leave in one
//! segment, large bodies in 64 KiB writes), throughput pacing for live
//! responses, and the stoppable sleep every timed step uses.
//!
//! Pacing writes batches of about 50 ms worth of bytes and sleeps after each
//! until the schedule allows the next; the schedule restarts after a pause
//! (`pause_ms=`), so pauses earn no credit, and the limit is an upper bound
//! on the rate that a test can turn into a lower bound on time.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::body;

/// Writes are batched up to this size (and always at a piece boundary).
const WRITE_CHUNK: usize = 64 * 1024;

/// Where body bytes come from.
pub(crate) enum Source {
    /// The deterministic stream for a path seed, starting `offset` bytes in
    /// (a live part is a slice of its segment's stream).
    Pattern { seed: u64, offset: usize },
    /// Fixed bytes (method echo, playlists); past the end, `x` padding for
    /// `bad=long`.
    Bytes(Vec<u8>),
    /// The pattern stream of a segment still being written: `steps` are
    /// (bytes available, from when on the live timeline), in order; the
    /// writer sends each step's bytes once its time has come.
    Growing {
        seed: u64,
        steps: Vec<(usize, std::time::Duration)>,
    },
}

impl Source {
    /// The same bytes, starting `n` bytes in (a byte range).
    pub(crate) fn skip(self, n: usize) -> Source {
        match self {
            Source::Pattern { seed, offset } => Source::Pattern {
                seed,
                offset: offset + n,
            },
            Source::Bytes(bytes) => Source::Bytes(bytes.get(n..).unwrap_or_default().to_vec()),
            // Never cut: a growing body goes out whole (ranges are not applied to it).
            growing @ Source::Growing { .. } => growing,
        }
    }

    pub(crate) fn fill(&self, offset: usize, buf: &mut [u8]) {
        match self {
            Source::Pattern { seed, offset: base } => {
                body::fill(*seed, (base + offset) as u64, buf);
            }
            Source::Growing { seed, .. } => body::fill(*seed, offset as u64, buf),
            Source::Bytes(bytes) => {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = bytes.get(offset + i).copied().unwrap_or(b'x');
                }
            }
        }
    }
}

/// Sleeps `duration` in short slices, returning early once the origin stops,
/// so a dropped origin does not leave threads sleeping for a minute.
pub(crate) fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + duration;
    loop {
        let now = Instant::now();
        if now >= deadline || stop.load(Ordering::SeqCst) {
            return;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// A throughput limit's schedule.
pub(crate) struct Pace<'a> {
    rate: u64,
    batch: usize,
    /// When the next batch may start.
    next: Option<Instant>,
    stop: &'a AtomicBool,
}

impl<'a> Pace<'a> {
    /// `rate` bytes per second (0 is treated as 1).
    pub(crate) fn new(rate: u64, stop: &'a AtomicBool) -> Pace<'a> {
        let rate = rate.max(1);
        let batch = usize::try_from(rate / 20).unwrap_or(WRITE_CHUNK);
        Pace {
            rate,
            batch: batch.clamp(1, WRITE_CHUNK),
            next: None,
            stop,
        }
    }

    /// After `len` bytes were written, begun at `began`: sleep until the
    /// schedule allows more.
    fn after(&mut self, began: Instant, len: usize) {
        let base = self.next.map_or(began, |next| next.max(began));
        let cost = Duration::from_nanos(len as u64 * 1_000_000_000 / self.rate);
        let next = base + cost;
        self.next = Some(next);
        sleep_unless_stopped(next.saturating_duration_since(Instant::now()), self.stop);
    }
}

/// Write batching, optionally paced.
pub(crate) struct Out<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
    pace: Option<Pace<'a>>,
}

impl<'a> Out<'a> {
    pub(crate) fn new(stream: &'a TcpStream, capacity: usize, pace: Option<Pace<'a>>) -> Self {
        Out {
            stream,
            buf: Vec::with_capacity(capacity),
            pace,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn append(&mut self, source: &Source, offset: usize, len: usize) {
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        source.fill(offset, &mut self.buf[start..]);
    }

    /// Appends `len` body bytes from `source` starting at `offset` (writing
    /// them out batch by batch when paced).
    pub(crate) fn push_body(
        &mut self,
        source: &Source,
        mut offset: usize,
        mut len: usize,
    ) -> io::Result<()> {
        while len > 0 {
            let take = match self.pace.as_ref().map(|p| p.batch) {
                Some(batch) => {
                    let take = len.min(batch);
                    let began = Instant::now();
                    self.append(source, offset, take);
                    self.flush()?;
                    if let Some(pace) = &mut self.pace {
                        pace.after(began, take);
                    }
                    take
                }
                None => {
                    if self.buf.len() >= WRITE_CHUNK {
                        self.flush()?;
                    }
                    let take = len.min(WRITE_CHUNK - self.buf.len());
                    self.append(source, offset, take);
                    take
                }
            };
            offset += take;
            len -= take;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let mut stream = self.stream;
        stream.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_fill_at_offsets() {
        let whole = body::expected_body("/seg", 100);
        let seed = body::path_seed("/seg");
        let mut buf = [0u8; 10];
        Source::Pattern { seed, offset: 40 }.fill(5, &mut buf);
        assert_eq!(buf[..], whole[45..55]);
        Source::Bytes(b"abc".to_vec()).fill(1, &mut buf[..4]);
        assert_eq!(&buf[..4], b"bcxx");
        Source::Pattern { seed, offset: 40 }
            .skip(10)
            .fill(0, &mut buf);
        assert_eq!(buf[..], whole[50..60]);
        Source::Bytes(b"abcd".to_vec())
            .skip(2)
            .fill(0, &mut buf[..3]);
        assert_eq!(&buf[..3], b"cdx");
        Source::Bytes(b"ab".to_vec()).skip(5).fill(0, &mut buf[..1]);
        assert_eq!(&buf[..1], b"x");
    }

    #[test]
    fn pace_batches_and_schedule() {
        let stop = AtomicBool::new(false);
        assert_eq!(Pace::new(200_000, &stop).batch, 10_000);
        assert_eq!(Pace::new(1, &stop).batch, 1);
        assert_eq!(Pace::new(u64::MAX, &stop).batch, WRITE_CHUNK);
        let mut pace = Pace::new(1_000_000, &stop);
        let began = Instant::now();
        pace.after(began, 5_000);
        assert!(Instant::now() >= began + Duration::from_millis(5));
        // A late start resets the schedule instead of bursting.
        let late = Instant::now() + Duration::from_millis(1);
        pace.after(late, 0);
        assert_eq!(pace.next, Some(late));
    }
}
