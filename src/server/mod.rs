//! The client side of a shard: its accept loop on the shared `SO_REUSEPORT` port, the global
//! connection limit, and the connection tasks. A connection stays on the shard that accepted
//! it for its whole life; what it asks for may be owned elsewhere (see `shard::mesh`).

mod access;
mod body;
mod client;
mod client_out;
mod cmsd;
mod connection;
pub mod drain;
mod forward;
mod pace;
mod partial;
mod pass;
mod priority;
mod purge;
mod respond;
mod respond_body;
mod written_at_release;

use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_lite::future::or;
use glommio::net::{TcpListener, TcpStream};

use crate::metrics::ShardStats;
use crate::shard::Shard;
use client::Connection;
use drain::Drain;

/// Counts open client connections across all shards (one atomic add per accept, not a lock).
pub type ConnectionCount = Arc<AtomicUsize>;

/// Accepts until the drain starts, then waits (up to `shutdown_grace`) for this shard's
/// connections to finish their current response.
pub async fn serve(
    shard: Rc<Shard>,
    listener: TcpListener,
    // Our own socket, shut down on drain; `None` for one systemd passed in, which belongs to
    // the socket unit and must outlive this process (the next instance accepts from it).
    own_listener: Option<RawFd>,
    drain: Rc<Drain>,
    open: ConnectionCount,
) {
    let local_open = Rc::new(std::cell::Cell::new(0usize));
    loop {
        // Checked first, so a failing accept can never keep `or` from seeing the drain.
        if drain.is_draining() {
            stop_listening(own_listener);
            break;
        }
        let accepted = or(async { Some(listener.accept().await) }, async {
            drain.wait().await;
            None
        })
        .await;
        let stream = match accepted {
            None => {
                stop_listening(own_listener);
                break;
            }
            Some(Ok(stream)) => stream,
            Some(Err(_)) => {
                // Out of descriptors or a connection reset before accept: back off briefly
                // instead of spinning.
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= shard.config().max_connections {
            open.fetch_sub(1, Ordering::Relaxed);
            ShardStats::incr(&shard.my_stats().connections_refused);
            glommio::spawn_local(refuse(stream)).detach();
            continue;
        }
        let guard = OpenConnection {
            shard: Rc::clone(&shard),
            open: Arc::clone(&open),
            local: Rc::clone(&local_open),
        };
        guard.note(1);
        let connection = Connection {
            shard: Rc::clone(&shard),
            stream,
            buf: BytesMut::with_capacity(crate::io::CLIENT_BUFFER),
            head_room: connection::FIRST_READ,
            drain: Rc::clone(&drain),
            peer: None,
            tcp: None,
            grant: None,
        };
        glommio::spawn_local(async move {
            let _guard = guard;
            connection.serve().await;
        })
        .detach();
    }
    outlive_connections(&shard, &open).await;
}

/// A shard that accepts nothing (`cross_mesh_for_tests`): it owns streams and serves the
/// mesh until the drain, then waits like the others.
pub async fn serve_peers_only(shard: Rc<Shard>, drain: Rc<Drain>, open: ConnectionCount) {
    drain.wait().await;
    outlive_connections(&shard, &open).await;
}

/// Waits (up to `shutdown_grace`) for every shard's connections, not only ours: their
/// requests may be owned here, and the fetches and replies this shard runs for them must
/// outlive those connections.
async fn outlive_connections(shard: &Rc<Shard>, open: &ConnectionCount) {
    let deadline = Instant::now() + shard.config().shutdown_grace;
    while open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
    let left = open.load(Ordering::Relaxed);
    if left > 0 && shard.id == 0 {
        tracing::warn!(
            connections = left,
            "shutdown_grace ran out with responses still in progress; they are cut"
        );
    }
}

/// Stops a listening socket we own: dropping glommio's pending accept would leave it listening
/// (and in the SO_REUSEPORT group) after close; shutting it down fails that accept and
/// refuses new connections at once.
fn stop_listening(own_listener: Option<RawFd>) {
    if let Some(fd) = own_listener {
        // SAFETY: the descriptor is owned by the listener, alive until `serve` returns.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}

/// Over the limit: a short 503 and a close, costing the others nothing.
async fn refuse(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = respond::write_error(&mut stream, 503, None).await;
}

/// Keeps the connection counts right however a connection task ends.
struct OpenConnection {
    shard: Rc<Shard>,
    open: ConnectionCount,
    local: Rc<std::cell::Cell<usize>>,
}

impl OpenConnection {
    fn note(&self, delta: isize) {
        self.local.set(self.local.get().wrapping_add_signed(delta));
        let stats = self.shard.my_stats();
        stats
            .connections_open
            .store(self.local.get() as u64, Ordering::Relaxed);
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.note(-1);
    }
}
