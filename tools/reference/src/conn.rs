//! One keep-alive connection of the reference server: read what is there, answer every
//! complete request head in the buffer with one `writev` each, and remember where a write
//! that the socket did not take whole stopped.

use std::os::fd::RawFd;

use crate::Objects;

/// Request heads longer than this close the connection.
pub(crate) const HEAD_ROOM: usize = 8 * 1024;
pub(crate) const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

/// What the connection waits for next.
pub enum Progress {
    Reading,
    Writing,
    Closed,
}

/// A response partly written: its head and body and how much of both went.
struct Unsent<'a> {
    head: &'a [u8],
    body: &'a [u8],
    sent: usize,
}

pub struct Conn<'a> {
    fd: RawFd,
    /// Bodies go with `MSG_ZEROCOPY` (`crate::zerocopy`).
    zerocopy: bool,
    buf: Box<[u8; HEAD_ROOM]>,
    filled: usize,
    unsent: Option<Unsent<'a>>,
}

impl<'a> Conn<'a> {
    pub fn new(fd: RawFd, zerocopy: bool) -> Conn<'a> {
        Conn {
            fd,
            zerocopy,
            buf: Box::new([0; HEAD_ROOM]),
            filled: 0,
            unsent: None,
        }
    }

    /// Whether a response waits for the socket to take more.
    pub fn writing(&self) -> bool {
        self.unsent.is_some()
    }

    /// The socket is readable (or writable, while a response is unsent).
    pub fn ready(&mut self, objects: &'a Objects) -> Progress {
        if self.unsent.is_some() {
            match self.write() {
                Progress::Reading => {}
                other => return other,
            }
        } else {
            // SAFETY: reads into the unfilled part of the connection's own buffer.
            let n = unsafe {
                libc::read(
                    self.fd,
                    self.buf[self.filled..].as_mut_ptr().cast(),
                    HEAD_ROOM - self.filled,
                )
            };
            if n == 0 || (n < 0 && !would_block()) {
                return self.close();
            }
            if n < 0 {
                return Progress::Reading;
            }
            self.filled += n as usize;
        }
        self.answer_buffered(objects)
    }

    /// Answers each complete request head in the buffer, in order.
    fn answer_buffered(&mut self, objects: &'a Objects) -> Progress {
        while let Some(end) = head_end(&self.buf[..self.filled]) {
            let (head, body) = match request_path(&self.buf[..end]) {
                Some(path) => objects.get(path).unwrap_or((NOT_FOUND, &[])),
                None => return self.close(),
            };
            self.buf.copy_within(end..self.filled, 0);
            self.filled -= end;
            self.unsent = Some(Unsent {
                head,
                body,
                sent: 0,
            });
            match self.write() {
                Progress::Reading => {}
                other => return other,
            }
        }
        if self.filled == HEAD_ROOM {
            return self.close();
        }
        Progress::Reading
    }

    /// Writes what is left of the unsent response.
    fn write(&mut self) -> Progress {
        let Some(unsent) = self.unsent.as_mut() else {
            return Progress::Reading;
        };
        loop {
            let total = unsent.head.len() + unsent.body.len();
            let (head, body) = if unsent.sent < unsent.head.len() {
                (&unsent.head[unsent.sent..], unsent.body)
            } else {
                (&[][..], &unsent.body[unsent.sent - unsent.head.len()..])
            };
            let iov = [
                libc::iovec {
                    iov_base: head.as_ptr() as *mut _,
                    iov_len: head.len(),
                },
                libc::iovec {
                    iov_base: body.as_ptr() as *mut _,
                    iov_len: body.len(),
                },
            ];
            // SAFETY: both slices outlive the call and never change (the objects are built
            // once): the kernel only reads them, now or, zero-copy, until it reports done.
            let n = unsafe {
                match self.zerocopy {
                    true => crate::zerocopy::send(self.fd, &iov),
                    false => libc::writev(self.fd, iov.as_ptr(), 2),
                }
            };
            if n < 0 {
                return if would_block() {
                    Progress::Writing
                } else {
                    self.close()
                };
            }
            unsent.sent += n as usize;
            if unsent.sent == total {
                self.unsent = None;
                return Progress::Reading;
            }
        }
    }

    fn close(&mut self) -> Progress {
        // SAFETY: the descriptor is this connection's; it is dropped right after.
        unsafe { libc::close(self.fd) };
        Progress::Closed
    }
}

fn would_block() -> bool {
    let e = std::io::Error::last_os_error().raw_os_error();
    e == Some(libc::EAGAIN) || e == Some(libc::EWOULDBLOCK) || e == Some(libc::EINTR)
}

/// Where the first request head in `buf` ends (after its blank line).
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The path of a `GET` or `HEAD` request line, without its query.
pub(crate) fn request_path(head: &[u8]) -> Option<&[u8]> {
    let line = head.split(|&b| b == b'\r').next()?;
    let mut words = line.split(|&b| b == b' ');
    let _method = words.next()?;
    let target = words.next()?;
    Some(target.split(|&b| b == b'?').next().unwrap_or(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_paths() {
        let two = b"GET /ws64/3.bin?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let end = head_end(two).unwrap();
        assert_eq!(&two[end..end + 6], b"GET /b");
        assert_eq!(request_path(&two[..end]), Some(&b"/ws64/3.bin"[..]));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
