//! CMSD on the way out (LIVE.md F6; the values are `http::cmsd`'s): what the connection knows
//! when a request arrives (its `TCP_INFO`, whether the node is under duress, when the request
//! came) and the two header fields it adds to a response head. `CMSD-Static` is added only
//! when the stored head carries none (the origin's own is passed through as it is);
//! `CMSD-Dynamic` always, and it never reaches the store (`shard::stored` drops an origin's).

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::net::TcpStream;

use crate::cache::{CacheStatus, CachedHead};
use crate::http::cmsd::{write_dynamic, write_static, TcpFigures};
use crate::shard::Shard;

/// How long a connection's `TCP_INFO` reading is used before it is taken again.
const TCP_INFO_EVERY: Duration = Duration::from_secs(1);
/// What one response's CMSD is made of, taken when its request arrived.
#[derive(Clone, Copy, Debug)]
pub struct ServerData {
    tcp: Option<TcpFigures>,
    duress: bool,
    received: Instant,
}

impl ServerData {
    /// For a request that arrived on `stream` at `received`; `None` when `cmsd` is off. `tcp`
    /// keeps the connection's last `TCP_INFO` reading, taken again when a second old.
    pub fn of(
        stream: &TcpStream,
        shard: &Shard,
        tcp: &mut Option<(Instant, TcpFigures)>,
        received: Instant,
    ) -> Option<ServerData> {
        let config = shard.config();
        if !config.live.cmsd {
            return None;
        }
        // Duress: the connections near their limit, or the store's in-flight bytes past
        // half of it (both are what a node under load runs out of first).
        let open: u64 = shard
            .stats
            .shards
            .iter()
            .map(|s| s.connections_open.load(Ordering::Relaxed))
            .sum();
        let usage = shard.store_usage();
        let duress = open * 10 >= config.max_connections as u64 * 9
            || usage.inflight_bytes > usage.budget / 2;
        let fresh = tcp.filter(|(at, _)| received.duration_since(*at) < TCP_INFO_EVERY);
        let figures = match fresh {
            Some((_, figures)) => Some(figures),
            None => {
                let figures = tcp_figures(stream);
                *tcp = figures.map(|f| (received, f));
                figures
            }
        };
        Some(ServerData {
            tcp: figures,
            duress,
            received,
        })
    }

    /// Appends the CMSD fields of a response with `head` and `status` from the node `node`.
    pub fn write(&self, out: &mut BytesMut, head: &CachedHead, status: &CacheStatus, node: &str) {
        let elapsed = self.received.elapsed();
        let facts = head.facts();
        if !facts.has_cmsd_static {
            let live = matches!(status.detail, Some("live-state" | "held"));
            let held = (status.detail == Some("held")).then_some(elapsed.as_millis() as u64);
            // Written straight into the head: no value is allocated per response.
            out.extend_from_slice(b"CMSD-Static: ");
            write_static(out, facts.kind, live, held);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"CMSD-Dynamic: ");
        let rd = elapsed.as_millis() as u64;
        write_dynamic(out, node, self.tcp, rd, self.duress);
        out.extend_from_slice(b"\r\n");
    }
}

/// The connection's round-trip time and congestion window, from the kernel.
fn tcp_figures(stream: &TcpStream) -> Option<TcpFigures> {
    // SAFETY: `tcp_info` is a plain C struct of integers: all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`; the descriptor belongs to
    // `stream`, which outlives the call.
    let done = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (done == 0).then_some(TcpFigures {
        rtt_us: info.tcpi_rtt,
        cwnd: info.tcpi_snd_cwnd,
        mss: info.tcpi_snd_mss,
    })
}
