//! The connection's side of a held answer written at its release (`shard::release_write`):
//! what the answer's head is made of on this connection (HTTP version, keep-alive, CMSD, this
//! node), taken when the request starts waiting, and the client's socket. The release renders
//! the head as `write_response` would and sends head and body in one non-blocking write; the
//! connection's task, woken after, accounts for it and sends whatever the socket did not take.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use glommio::net::TcpStream;

use super::cmsd::ServerData;
use super::pace::Pace;
use super::respond::{whole_response_head, Exchange};
use crate::config::node::Node;
use crate::http::Version;
use crate::io::send_now_to;
use crate::shard::{Answer, WriteAtRelease, Written};

/// A held request's answer, to be written by its release.
pub(super) struct AtRelease {
    /// The client's socket. The writer lives in the request's held slot only as long as the
    /// request waits there (`held_slot`), that is while the connection's `write_response`
    /// waits for the reply's first step, borrowing the stream: open, and written by nobody
    /// else, for that long.
    socket: RawFd,
    version: Version,
    keep_alive: bool,
    pace: Pace,
    server_data: Option<ServerData>,
    node: Node,
}

impl AtRelease {
    /// The writer of the answer to `exchange` on `stream`, which must be a whole GET
    /// (`Exchange::answers_whole_get`).
    pub(super) fn offer(stream: &TcpStream, exchange: Exchange<'_>) -> Box<dyn WriteAtRelease> {
        Box::new(AtRelease {
            socket: stream.as_raw_fd(),
            version: exchange.version,
            keep_alive: exchange.keep_alive,
            pace: exchange.pace,
            server_data: exchange.server_data,
            node: exchange.node.clone(),
        })
    }

    fn exchange(&self) -> Exchange<'_> {
        Exchange {
            version: self.version,
            head_only: false,
            keep_alive: self.keep_alive,
            conditions: None,
            pace: self.pace,
            server_data: self.server_data,
            node: &self.node,
            urgent: true,
            set_cookie: None,
        }
    }
}

impl WriteAtRelease for AtRelease {
    fn write_now(self: Box<Self>, answer: Answer<'_>) -> Option<Written> {
        let body_len = answer.body.len() as u64;
        let head = whole_response_head(
            answer.head,
            answer.age_secs,
            answer.status,
            body_len,
            self.exchange(),
            answer.heads,
        )?;
        // SAFETY: the descriptor is the request's client's, open while the writer exists (see
        // `socket`); the borrow ends with this call.
        let socket = unsafe { BorrowedFd::borrow_raw(self.socket) };
        // A failed write leaves the answer to its task, which meets the error itself.
        let sent = send_now_to(socket, &[&head, answer.body]).ok()?;
        Some(Written::new(head, answer.body.clone(), sent))
    }
}
