//! Socket reads shared by the client side (`server`) and the upstream side (`origin`): read
//! whatever is available straight onto the end of a `BytesMut`, so parsed heads and body
//! chunks can be split off it without copying.

use std::io;

use bytes::BytesMut;
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;

/// Below this much spare room a read starts a new buffer instead of a sliver of the old one.
const MIN_READ: usize = 4 * 1024;

/// Reads what is available, up to `max` bytes, onto the end of `buf`; returns the count
/// (0 at end of stream). Reads fill the spare capacity of the current allocation before a new
/// one is made: chunks split off a buffer keep its whole allocation alive, so allocating `max`
/// afresh per read would make every small chunk cost `max` bytes.
pub async fn read_some(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
) -> io::Result<usize> {
    let start = buf.len();
    let spare = buf.capacity() - start;
    let want = if spare >= MIN_READ {
        spare.min(max)
    } else {
        max
    };
    buf.resize(start + want, 0);
    let result = stream.read(&mut buf[start..]).await;
    buf.truncate(start + *result.as_ref().unwrap_or(&0));
    result
}
