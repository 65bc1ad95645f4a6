//! Socket reads shared by the client side (`server`) and the upstream side (`origin`): read
//! whatever is available straight onto the end of a `BytesMut`, so parsed heads and body
//! chunks can be split off it without copying. Also the way to a stream's socket for what
//! glommio does not offer (socket options, flagged sends and peeks), through `socket2`.

use std::io;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use bytes::BytesMut;
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;
use socket2::SockRef;

/// A client connection's first buffer: the spare room many small request heads are read
/// into before a new allocation is needed.
pub const CLIENT_BUFFER: usize = 4 * 1024;
/// The first read of a request head: players' heads are a few hundred bytes, and every read
/// zero-fills its room first. The room comes out of the buffer's spare capacity, so one
/// `CLIENT_BUFFER` allocation serves many small heads; a 4 KiB room every time made each
/// request allocate a new buffer and zero all of it (16% of a hit's instructions under
/// callgrind). A client whose heads are larger (cookies, long signed-URL tokens) gets 4 KiB
/// first reads after its first such head, so its heads keep taking one read.
pub const FIRST_HEAD_READ: usize = 1024;
/// Parts of one gather write kept on the stack (more go through a `Vec`).
const STACK_PARTS: usize = 8;
/// Below this much spare room a read starts a new buffer instead of a sliver of the old one.
const MIN_READ: usize = 4 * 1024;

/// Makes room for one read of up to `max` bytes at the end of `buf` and returns where the
/// room starts; the caller reads into `buf[start..]` and truncates to what it got. The spare
/// capacity of the current allocation is used before a new one is made: chunks split off a
/// buffer keep its whole allocation alive, so allocating `max` afresh per read would make every
/// small chunk cost `max` bytes. Pure, so benchmarks feed bytes exactly as the sockets do.
pub fn read_room(buf: &mut BytesMut, max: usize) -> usize {
    let start = buf.len();
    let spare = buf.capacity() - start;
    let want = if spare >= MIN_READ {
        spare.min(max)
    } else {
        max
    };
    buf.resize(start + want, 0);
    start
}

/// Reads what is available, up to `max` bytes, onto the end of `buf`; returns the count
/// (0 at end of stream).
pub async fn read_some(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
) -> io::Result<usize> {
    let start = read_room(buf, max);
    let result = stream.read(&mut buf[start..]).await;
    buf.truncate(start + *result.as_ref().unwrap_or(&0));
    result
}

/// A glommio stream's socket, for `socket2` calls: `SocketOf(stream).sock()`. glommio's
/// `TcpStream` implements `AsRawFd` but not the `AsFd` that `SockRef` asks for.
pub struct SocketOf<'a>(pub &'a TcpStream);

impl SocketOf<'_> {
    /// The socket, borrowed: socket2 never closes it.
    pub fn sock(&self) -> SockRef<'_> {
        SockRef::from(self)
    }
}

impl AsFd for SocketOf<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is the borrowed stream's, and a stream closes it only when
        // dropped or consumed, neither of which can happen while `self.0` borrows it; the
        // returned borrow lives no longer than `self`.
        unsafe { BorrowedFd::borrow_raw(self.0.as_raw_fd()) }
    }
}

/// Sends as much of `parts`, in order, as the socket takes at once, in one gather write (a
/// response head and its body leave in one syscall and one packet train instead of two);
/// returns how many bytes went. Never waits (`MSG_DONTWAIT`), and a closed peer is an error,
/// not a SIGPIPE (`MSG_NOSIGNAL`).
pub fn send_now(stream: &TcpStream, parts: &[&[u8]]) -> io::Result<usize> {
    send_now_to(SocketOf(stream).as_fd(), parts)
}

/// `send_now` on a socket known by its descriptor (an answer written at its release, away
/// from the task that owns the stream: `server::written_at_release`).
pub fn send_now_to(socket: BorrowedFd<'_>, parts: &[&[u8]]) -> io::Result<usize> {
    // A response is a head and a chunk or a few: their slices stay on the stack.
    let mut on_stack = [IoSlice::new(&[]); STACK_PARTS];
    let on_heap: Vec<IoSlice<'_>>;
    let nonempty = parts.iter().filter(|p| !p.is_empty());
    let slices: &[IoSlice<'_>] = if parts.len() <= STACK_PARTS {
        let mut n = 0;
        for part in nonempty {
            on_stack[n] = IoSlice::new(part);
            n += 1;
        }
        &on_stack[..n]
    } else {
        on_heap = nonempty.map(|p| IoSlice::new(p)).collect();
        &on_heap
    };
    let sent = SockRef::from(&socket)
        .send_vectored_with_flags(slices, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    match sent {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        other => other,
    }
}
