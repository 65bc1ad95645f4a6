//! The client's side of one response as it is written: a gather write when the socket takes
//! it at once, else waiting for the client within its pace (`client_min_rate`), a piece at a
//! time; and cutting a response so no client can mistake it for complete. A normal response
//! lets the core's urgent ones write first (`priority`).

use std::io;
use std::os::fd::AsRawFd;

use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use super::pace::Pace;
use super::priority::let_urgent_pass;
use crate::io::{send_now, SocketOf};

/// The most a client's waiting allowance grows by at once: what it earns for one piece of a
/// write the socket could not take at once.
const PACE_PIECE: usize = 64 * 1024;

/// The client's side of one response: its socket, and the waiting allowed on it.
pub(super) struct ClientOut<'s> {
    pub stream: &'s mut TcpStream,
    pub pace: Pace,
    /// Written ahead of the core's other responses (`priority`).
    pub urgent: bool,
}

impl ClientOut<'_> {
    /// Writes every part, in order: one gather write when the socket takes it at once (the
    /// common case costs nothing more), else waiting for the client within its pace. A client
    /// too slow for `client_min_rate` gets its response cut.
    pub async fn send(&mut self, parts: &[&[u8]]) -> io::Result<usize> {
        if !self.urgent {
            let_urgent_pass().await;
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let sent = send_now(self.stream, parts)?;
        self.pace.record(std::time::Duration::ZERO, sent as u64);
        // What the socket did not take goes as the client reads it, a piece at a time, each
        // within the waiting the bytes moved so far have earned: a large write must not earn
        // its whole allowance before any of its bytes have moved.
        let mut skip = sent;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            for piece in part[skip..].chunks(PACE_PIECE) {
                // Bytes still queued in the kernel have not reached the client: they earn
                // nothing yet, or a client that never reads would live on its socket buffer.
                let delivered = self.pace.moved().saturating_sub(send_queue(self.stream));
                let credited = delivered + piece.len() as u64;
                let written = self.stream.write_all(piece);
                let paced = self.pace.within(credited, piece.len() as u64, written);
                if let Err(e) = paced.await {
                    if e.kind() == io::ErrorKind::TimedOut {
                        reset_on_close(self.stream);
                    }
                    return Err(e);
                }
            }
            skip = 0;
        }
        Ok(total)
    }
}

/// Bytes written to `stream` that the peer has not acknowledged yet (unsent or in flight).
fn send_queue(stream: &TcpStream) -> u64 {
    let mut queued: libc::c_int = 0;
    // socket2 has no SIOCOUTQ, hence libc.
    // SAFETY: the descriptor is `stream`'s, open while it is borrowed, and TIOCOUTQ (SIOCOUTQ
    // on a socket) writes one c_int, into the live local `queued`.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc == 0 {
        queued.max(0) as u64
    } else {
        0
    }
}

/// Makes the coming close a reset (RST) rather than an orderly end: a close-delimited body
/// (HTTP/1.0 without a length) would otherwise look complete to the client after a cut.
pub(super) fn reset_on_close(stream: &TcpStream) {
    // Best effort: a socket that refuses the option is closed the orderly way.
    let _ = SocketOf(stream)
        .sock()
        .set_linger(Some(std::time::Duration::ZERO));
}
