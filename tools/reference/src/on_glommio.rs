//! `reference --runtime glommio`: the same zero-logic server on livecache's runtime and socket
//! layer, to split what a hit costs between the runtime and livecache's own logic. A glommio
//! executor built as a livecache shard's is (its ring depth and I/O memory), one task per
//! connection with a shard's first buffer, `livecache::io::read_some` for request heads (a
//! shard's first read, `FIRST_HEAD_READ`), and `livecache::io::send_now` for one gather write
//! of head and body, the rest through glommio when the socket does not take it all, and a
//! read timeout on every read (a server must bound a client's silence; a shard sets one
//! before each read, which glommio arms with the read). No parsing beyond the request line,
//! no lookup beyond a hash map, no clock, no metrics, no drain: whatever this costs per
//! request over the epoll loop is the runtime's floor, and whatever livecache costs over this
//! is its own logic or its other uses of the runtime.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::AsyncWriteExt;
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use livecache::io::{read_some, send_now, CLIENT_BUFFER, FIRST_HEAD_READ};
use livecache::runtime::IO_MEMORY;

use crate::conn::{head_end, request_path, HEAD_ROOM, NOT_FOUND};
use crate::Objects;

/// How long a client may stay silent (`client_idle_timeout`'s order of magnitude).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The pause after a failed accept (out of descriptors, say), so it does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Serves `objects` on `listen` until killed; returns only if the executor cannot start.
pub fn serve(listen: SocketAddr, objects: Objects) -> io::Result<()> {
    watch_stop_signals();
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .name("reference")
        .io_memory(IO_MEMORY)
        .ring_depth(livecache::startup::ring_depth())
        .spawn(move || async move {
            let listener = TcpListener::bind(listen).unwrap_or_else(|e| {
                eprintln!("reference: listen on {listen}: {e}");
                std::process::exit(1);
            });
            crate::report_listening(listener.local_addr());
            let objects = Rc::new(objects);
            glommio::spawn_local(exit_when_stopped()).detach();
            loop {
                let Ok(stream) = listener.accept().await else {
                    glommio::timer::sleep(ACCEPT_RETRY).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                glommio::spawn_local(connection(stream, Rc::clone(&objects))).detach();
            }
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
    executor
        .join()
        .map_err(|_| io::Error::other("the executor panicked"))
}

/// Set when SIGTERM or SIGINT arrives.
static STOP: AtomicBool = AtomicBool::new(false);
/// How often the executor looks at `STOP`.
const STOP_CHECK: Duration = Duration::from_millis(100);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// SIGTERM and SIGINT set `STOP`, and the executor exits when it sees it (`exit_when_stopped`):
/// under valgrind the default action of a signal does not end this process (its executor
/// thread waits in io_uring_enter), so callgrind (`benches/hit_instructions.sh`) would never
/// write its counts.
fn watch_stop_signals() {
    let handler = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

/// Exits the process once `STOP` is set, looking every `STOP_CHECK` (a livecache shard wakes
/// as often for its heartbeat).
async fn exit_when_stopped() {
    while !STOP.load(Ordering::Relaxed) {
        glommio::timer::sleep(STOP_CHECK).await;
    }
    std::process::exit(0);
}

/// One keep-alive connection: answers each complete head in order, reads when none is left.
async fn connection(mut stream: TcpStream, objects: Rc<Objects>) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(CLIENT_BUFFER);
    loop {
        while let Some(end) = head_end(&buf) {
            let head = buf.split_to(end);
            let Some(path) = request_path(&head) else {
                return Ok(());
            };
            let (response_head, body) = objects.get(path).unwrap_or((NOT_FOUND, &[]));
            send_all(&mut stream, &[response_head, body]).await?;
        }
        if buf.len() >= HEAD_ROOM || read_some(&mut stream, &mut buf, FIRST_HEAD_READ).await? == 0 {
            return Ok(());
        }
    }
}

/// One gather write of every part; what the socket did not take goes through glommio.
async fn send_all(stream: &mut TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    let mut skip = send_now(stream, parts)?;
    for part in parts {
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        stream.write_all(&part[skip..]).await?;
        skip = 0;
    }
    Ok(())
}
