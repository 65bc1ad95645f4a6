//! Socket reads shared by the client side (`server`) and the upstream side (`origin`): read
//! whatever is available straight onto the end of a `BytesMut`, so parsed heads and body
//! chunks can be split off it without copying.

use std::io;

use bytes::BytesMut;
use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;

/// Reads what is available, up to `max` bytes, onto the end of `buf`; returns the count
/// (0 at end of stream).
pub async fn read_some(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + max, 0);
    let result = stream.read(&mut buf[start..]).await;
    buf.truncate(start + *result.as_ref().unwrap_or(&0));
    result
}
