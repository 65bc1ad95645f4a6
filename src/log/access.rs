//! The access log: one line per response, in the Apache/nginx `combined` form plus the
//! cache's own fields, or as one JSON object per line. Off unless `access_log` names a file.
//!
//! Each shard formats its lines into its own buffer (no lock, no cross-shard traffic on the
//! data path) and writes the buffer to its own descriptor of the file, opened with `O_APPEND`,
//! in one `write` when the buffer passes 64 KiB and otherwise once a second (a timer task on
//! the shard calls `ShardLog::flush`). A buffer always ends at a line boundary, so every write
//! carries whole lines. The writes are blocking `std::fs::File` writes from the shard thread:
//! small (about 64 KiB at most) and into the page cache, never per request.
//!
//! Assumption: shards never interleave inside each other's lines. `O_APPEND` makes each
//! `write` land at the end of the file, and on Linux a regular-file `write` holds the inode
//! lock for its whole length on the usual local filesystems (ext4, xfs, btrfs, tmpfs), so one
//! shard's buffer is never split by another's. POSIX promises that only for pipes (up to
//! `PIPE_BUF`); on network filesystems (NFS) appends from several descriptors may interleave.
//! A short write (disk full) can leave a partial line; its buffer is dropped, not retried.
//!
//! Rotation: `Reopen::request` (SIGUSR2 in the binary, `Running::reopen_access_logs` in the
//! library) bumps a generation; each shard, at its next flush (within a second, or sooner if
//! its buffer fills), reopens the path and then writes what it holds, so every line recorded
//! after the request lands in the new file and nothing is lost. A reload that changes
//! `access_log` writes what is buffered to the old file and opens the new path at once. This
//! module does no request handling: `server::connection` makes one `record` call per
//! response. What a line says and its two formats live in `entry` (its times in
//! `calendar`), the buffer of whole lines in `buffer`; this file owns the file, its
//! rotation and each shard's writer.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RateLimit;
use crate::config::{AccessLogFormat, Config};

mod buffer;
mod calendar;
mod entry;
pub use buffer::LineBuffer;
pub use entry::{format_combined, format_json, Entry, RequestLine};

/// A shard writes its buffer out once it holds this much.
pub const FLUSH_BYTES: usize = 64 * 1024;
/// ... and at least this often (the shard's flush task).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// At most one warning per shard in this interval about a file that cannot be written.
const TROUBLE_WARN_EVERY: Duration = Duration::from_secs(60);

/// Asks every shard to reopen its access log (after logrotate renamed it). Cloned into the
/// signal thread and every shard; a request is one atomic add.
#[derive(Clone, Debug, Default)]
pub struct Reopen(Arc<AtomicU64>);

impl Reopen {
    pub fn new() -> Reopen {
        Reopen::default()
    }

    /// Every shard reopens its file at its next flush, within `FLUSH_EVERY`.
    pub fn request(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Opens (creating it if needed) the file the way every shard will: append-only, `0640`.
pub fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// One shard's access log: its buffer and its own descriptor of the file.
pub struct ShardLog {
    on: Cell<bool>,
    writer: RefCell<Writer>,
}

struct Writer {
    shard: usize,
    path: Option<PathBuf>,
    format: AccessLogFormat,
    file: Option<File>,
    /// The reopen generation this shard's file was opened at.
    generation: u64,
    reopen: Reopen,
    lines: LineBuffer,
    trouble: RateLimit,
}

impl ShardLog {
    /// The log of shard `shard` as `config` sets it, opening the file if it is on.
    pub fn new(shard: usize, config: &Config, reopen: Reopen) -> ShardLog {
        let log = ShardLog {
            on: Cell::new(false),
            writer: RefCell::new(Writer {
                shard,
                path: None,
                format: config.access_log_format,
                file: None,
                generation: reopen.generation(),
                reopen,
                lines: LineBuffer::new(FLUSH_BYTES),
                trouble: RateLimit::new(TROUBLE_WARN_EVERY),
            }),
        };
        log.configure(config);
        log
    }

    /// Whether responses are logged; one `Cell` read, so a disabled log costs nothing more.
    pub fn is_on(&self) -> bool {
        self.on.get()
    }

    /// Formats one line into the buffer; writes the buffer out if it is full.
    pub fn record(&self, entry: &Entry) {
        if !self.is_on() {
            return;
        }
        let mut writer = self.writer.borrow_mut();
        let format = writer.format;
        let full = writer.lines.push_line(|out| match format {
            AccessLogFormat::Combined => format_combined(entry, out),
            AccessLogFormat::Json => format_json(entry, out),
        });
        if full {
            writer.flush();
        }
    }

    /// Reopens the file if that was requested since it was opened, then writes out what is
    /// buffered. Run every `FLUSH_EVERY` by the shard's flush task, and at stop.
    pub fn flush(&self) {
        self.writer.borrow_mut().flush();
    }

    /// Applies a (reloaded) configuration: the format from the next line on; a changed path
    /// gets what is buffered written to the old file, then the new one opened.
    pub fn configure(&self, config: &Config) {
        let mut writer = self.writer.borrow_mut();
        writer.format = config.access_log_format;
        if writer.path != config.access_log {
            writer.write_out();
            writer.path = config.access_log.clone();
            writer.open();
            self.on.set(writer.path.is_some());
        }
    }
}

impl Writer {
    fn flush(&mut self) {
        let generation = self.reopen.generation();
        if generation != self.generation {
            self.generation = generation;
            if self.path.is_some() {
                self.open();
            }
        }
        self.write_out();
    }

    /// (Re)opens the path, closing the descriptor held before; none when the log is off.
    fn open(&mut self) {
        self.file = None;
        let Some(path) = &self.path else {
            return;
        };
        match open(path) {
            Ok(file) => {
                tracing::debug!(shard = self.shard, path = %path.display(), "access log opened");
                self.file = Some(file);
            }
            Err(e) => {
                let message = format!("cannot open the access log {}: {e}", path.display());
                self.warn(&message, 0);
            }
        }
    }

    fn write_out(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        if self.file.is_none() {
            self.open();
        }
        let result = match self.file.as_mut() {
            Some(file) => self.lines.write_to(file),
            None => {
                let dropped = self.lines.discard();
                self.warn("the access log is not open", dropped);
                return;
            }
        };
        if let Err((e, dropped)) = result {
            let path = self.path.as_deref().unwrap_or(Path::new("")).display();
            let message = format!("writing the access log {path} failed: {e}");
            self.warn(&message, dropped);
            // A descriptor that failed is not trusted again: the next flush reopens the path.
            self.file = None;
        }
    }

    fn warn(&mut self, message: &str, dropped: usize) {
        let shard = self.shard;
        match self.trouble.check(Instant::now()) {
            Some(suppressed) => {
                tracing::warn!(shard, dropped, suppressed, "{message}")
            }
            None => tracing::debug!(shard, dropped, "{message}"),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::entry::tests::entry;
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("livecache-access-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn config_with(path: &Path, format: &str) -> Config {
        Config::from_pairs(&[
            ("shards", "1"),
            ("access_log", path.to_str().unwrap()),
            ("access_log_format", format),
        ])
        .unwrap()
    }

    #[test]
    fn shard_log_flushes_reopens_and_follows_reloads() {
        let dir = scratch("shard");
        let path = dir.join("access.log");
        let reopen = Reopen::new();
        let log = ShardLog::new(0, &config_with(&path, "combined"), reopen.clone());
        assert!(log.is_on());
        let e = entry(b"/one", None);
        log.record(&e);
        log.record(&e);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        log.flush();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);

        // logrotate: rename, then ask for a reopen; the next flush reopens, then writes.
        let rotated = dir.join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.record(&entry(b"/before-reopen", None));
        reopen.request();
        log.record(&entry(b"/after-reopen", None));
        log.flush();
        log.flush();
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(old.lines().count(), 2, "{old}");
        assert_eq!(new.lines().count(), 2, "{new}");
        assert!(new.contains("/before-reopen") && new.contains("/after-reopen"));

        // A reload to another path and format; then off.
        let other = dir.join("other.log");
        log.record(&entry(b"/last-before-reload", None));
        log.configure(&config_with(&other, "json"));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("/last-before-reload"));
        log.record(&entry(b"/json", None));
        log.flush();
        let json = std::fs::read_to_string(&other).unwrap();
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["target"], "/json");
        log.configure(&Config::from_pairs(&[("shards", "1")]).unwrap());
        assert!(!log.is_on());
        log.record(&entry(b"/ignored", None));
        log.flush();
        assert_eq!(std::fs::read_to_string(&other).unwrap(), json);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn buffered_lines_are_written_when_the_log_is_dropped() {
        let dir = scratch("drop");
        let path = dir.join("access.log");
        let log = ShardLog::new(2, &config_with(&path, "combined"), Reopen::new());
        log.record(&entry(b"/x", None));
        drop(log);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with(" shard=3 cmcd=-\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
