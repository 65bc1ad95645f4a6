//! The buffer of formatted access-log lines one shard holds between writes: whole lines
//! only, a size past which it asks to be written out, and one `write_all` that empties it
//! whatever the outcome (lines a failed write could not place are dropped and counted, so
//! memory stays bounded). Knows nothing of files or formats.

use std::io::{self, Write};

/// Formatted lines waiting to be written: whole lines only, written out in one `write_all`.
#[derive(Debug)]
pub struct LineBuffer {
    bytes: Vec<u8>,
    lines: usize,
    limit: usize,
}

impl LineBuffer {
    /// A buffer that asks to be flushed once it holds `limit` bytes.
    pub fn new(limit: usize) -> LineBuffer {
        LineBuffer {
            bytes: Vec::new(),
            lines: 0,
            limit,
        }
    }

    /// Appends one line written by `format` (which must end it with `\n`); true when the
    /// buffer is due to be written out.
    pub fn push_line(&mut self, format: impl FnOnce(&mut Vec<u8>)) -> bool {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(self.limit + 1024);
        }
        format(&mut self.bytes);
        debug_assert_eq!(self.bytes.last(), Some(&b'\n'));
        self.lines += 1;
        self.bytes.len() >= self.limit
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes every buffered line to `out` at once and empties the buffer, whatever the
    /// outcome: on an error the lines are dropped (memory stays bounded) and counted.
    /// Ok: the lines written.
    pub fn write_to(&mut self, out: &mut impl Write) -> Result<usize, (io::Error, usize)> {
        let result = out.write_all(&self.bytes);
        let lines = self.discard();
        result.map(|()| lines).map_err(|e| (e, lines))
    }

    /// Drops every buffered line; returns how many there were.
    pub fn discard(&mut self) -> usize {
        self.bytes.clear();
        std::mem::take(&mut self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each `write` call it gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn buffer_asks_for_a_flush_past_its_limit_and_writes_whole_lines_at_once() {
        let mut buffer = LineBuffer::new(100);
        let line = |out: &mut Vec<u8>| {
            out.extend_from_slice(&[b'x'; 29]);
            out.push(b'\n');
        };
        assert!(!buffer.push_line(line));
        assert!(!buffer.push_line(line));
        assert!(!buffer.push_line(line));
        assert!(buffer.push_line(line), "120 bytes >= 100");
        assert_eq!(buffer.lines(), 4);
        let mut out = Writes::default();
        assert_eq!(buffer.write_to(&mut out).unwrap(), 4);
        assert_eq!(out.0.len(), 1, "one write");
        assert_eq!(out.0[0].len(), 120);
        assert!(out.0[0].ends_with(b"\n"));
        assert!(buffer.is_empty() && buffer.lines() == 0);
        assert_eq!(buffer.write_to(&mut out).unwrap(), 0);
    }

    #[test]
    fn a_failed_write_drops_the_lines_and_counts_them() {
        let mut buffer = LineBuffer::new(1 << 20);
        for _ in 0..3 {
            buffer.push_line(|out| out.extend_from_slice(b"line\n"));
        }
        let (e, dropped) = buffer.write_to(&mut Broken).unwrap_err();
        assert_eq!(dropped, 3);
        assert!(e.to_string().contains("disk on fire"));
        assert!(buffer.is_empty());
    }
}
