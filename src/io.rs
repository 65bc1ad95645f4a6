//! Socket reads shared by the client side (`server`) and the upstream side (`origin`): read
//! whatever is available straight onto the end of a `BytesMut`, so parsed heads and body
//! chunks can be split off it without copying.

use std::io;

use bytes::BytesMut;
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;

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

/// Sends as much of `parts`, in order, as the socket takes at once, in one gather write (a
/// response head and its body leave in one syscall and one packet train instead of two);
/// returns how many bytes went. Never waits.
pub fn send_now(stream: &TcpStream, parts: &[&[u8]]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let iov: Vec<libc::iovec> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    // SAFETY: the iovecs point into `parts`, alive for the call; non-blocking, no SIGPIPE.
    let sent = unsafe {
        libc::sendmsg(
            stream.as_raw_fd(),
            &msg,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if sent < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock => Ok(0),
            _ => Err(e),
        };
    }
    Ok(sent as usize)
}
