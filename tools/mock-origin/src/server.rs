//! The network side of the origin. This module owns the accept loop, one
//! thread per connection, the per-connection request loop (keep-alive), the
//! `/__stats` endpoint, recording requests, and how a connection ends
//! (close, or a TCP reset for `fail_after=`).
//!
//! Paths of the live simulator get their response from [`Live`]; every
//! other path gets the query-driven one.
//!
//! Threads instead of async keep the origin independent of the runtime under
//! test and make "sleep, then write" scenarios trivial. Connection threads are
//! detached; stopping closes the listener and shuts down every open
//! connection, so a dropped origin looks like a dead origin to the cache.
//! Refusing connections ([`crate::MockOrigin::refuse_connections`]) does the
//! same without stopping: the accept loop exits on its `refusing` flag
//! (dropping, and so closing, the listener), open connections are shut down,
//! and a later accept loop serves a listener bound again to the same
//! address.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::behavior::{split_target, Behavior};
use crate::conditional;
use crate::entity::{self, Entity};
use crate::live::Control;
use crate::live::{Fault, Live};
use crate::request::{read_request, ReadError, Reader, Request};
use crate::response::{self, After, Ctx};
use crate::stats::{RecordedRequest, Stats};

/// Path of the statistics endpoint (any query); never counted or logged.
pub const STATS_PATH: &str = "/__stats";
/// `POST` here with `?pause` or `?resume` applies the publishing control to the live
/// timeline, for a test that runs the origin as a process; never counted or logged.
pub const PUBLISHING_PATH: &str = "/__publishing";

/// State shared by the accept thread, connection threads and `MockOrigin`.
pub(crate) struct Shared {
    pub(crate) stats: Stats,
    pub(crate) stop: AtomicBool,
    /// Set while [`crate::MockOrigin::refuse_connections`] is in effect.
    refusing: AtomicBool,
    pub(crate) live: Live,
    next_conn: AtomicU64,
    /// Clones of open connections, so `stop` can shut them down.
    conns: Mutex<HashMap<u64, TcpStream>>,
}

impl Shared {
    pub(crate) fn new(live: Live) -> Shared {
        Shared {
            stats: Stats::default(),
            stop: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            live,
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        }
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Flags the accept loop to exit and shuts down every open connection.
    /// The flag is set before the sweep and `register` checks it after
    /// inserting, so no connection accepted concurrently escapes.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.close_connections();
    }

    /// Makes the accept loop exit (and drop its listener) at the next
    /// connection it accepts, which it closes unanswered; `false` lets a new
    /// accept loop serve.
    pub(crate) fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Shuts down every open connection (the threads then see EOF or a
    /// failed write and end), so a client's next request on one fails.
    pub(crate) fn close_connections(&self) {
        for stream in self.conns().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn register(&self, id: u64, stream: &TcpStream) {
        if let Ok(clone) = stream.try_clone() {
            self.conns().insert(id, clone);
        }
        if self.stopped() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn unregister(&self, id: u64) {
        self.conns().remove(&id);
    }
}

/// Binds nothing itself: runs the accept loop for `listener` on a thread.
pub(crate) fn spawn_accept(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("mock-origin-accept".into())
        .spawn(move || accept_loop(listener, shared))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped() || shared.refusing.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(stream) => stream,
            // EMFILE and friends: back off instead of spinning.
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        shared.register(id, &stream);
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("mock-origin-conn-{id}"))
            .spawn(move || connection(&for_thread, id, stream));
        if spawned.is_err() {
            shared.unregister(id);
        }
    }
}

fn connection(shared: &Shared, id: u64, stream: TcpStream) {
    if let After::Reset = serve(shared, id, &stream) {
        abort(&stream);
    }
    // Drop the registry's clone first: the socket only closes (or resets)
    // when the last descriptor goes.
    shared.unregister(id);
    drop(stream);
}

/// Serves requests until the peer closes, a response ends the connection, or
/// the origin stops.
fn serve(shared: &Shared, id: u64, stream: &TcpStream) -> After {
    let mut reader = Reader::new(stream);
    loop {
        if shared.stopped() {
            return After::Close;
        }
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Closed) => return After::Close,
            Err(ReadError::Bad(status)) => {
                let _ = response::write_simple(
                    stream,
                    status,
                    "text/plain",
                    b"bad request\n",
                    false,
                    true,
                );
                return After::Close;
            }
        };
        match handle(shared, id, stream, &request) {
            Ok(After::KeepAlive) => {}
            Ok(other) => return other,
            Err(_) => return After::Close,
        }
    }
}

fn handle(shared: &Shared, id: u64, stream: &TcpStream, request: &Request) -> io::Result<After> {
    let keep_alive = request.keep_alive();
    let (path, query) = split_target(&request.target);
    let head = request.method == "HEAD";
    if path == STATS_PATH && (head || request.method == "GET") {
        let json = shared.stats.to_json(shared.live.faults.counts());
        response::write_simple(
            stream,
            200,
            "application/json",
            json.as_bytes(),
            head,
            !keep_alive,
        )?;
        return Ok(if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        });
    }
    if path == PUBLISHING_PATH && request.method == "POST" {
        let control = match query {
            "pause" => Some(Control::Pause),
            "resume" => Some(Control::Resume),
            _ => None,
        };
        let status = match control {
            Some(control) => {
                shared.live.publishing.apply(control);
                200
            }
            None => 400,
        };
        response::write_simple(stream, status, "text/plain", b"", false, !keep_alive)?;
        return Ok(if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        });
    }
    let request_count = shared.stats.record(RecordedRequest {
        method: request.method.clone(),
        target: request.target.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        connection: id,
    });
    if let Some((blocking, skip)) = shared.live.media_playlist(path, query) {
        shared.stats.count_playlist(blocking, skip);
    }
    let mut b = Behavior::from_query(query);
    // From request N+1 of `after=N` on, the `then_*` knobs rewrite `b`; a
    // `then_status` answers every path, live ones included, with a failure.
    let switched = b.switch(request_count);
    let failing = switched && b.failing();
    // The live simulator decides body and headers for its own paths (after
    // any hold); the delivery knobs in `b` apply to both kinds alike.
    let live = match !failing && (head || request.method == "GET") {
        true => shared.live.entity(path, query, &b, &shared.stop),
        false => None,
    };
    let mut throughput = None;
    let mut stall = None;
    let entity = match live {
        Some((mut entity, fault)) => {
            if let (true, Some(tag), Some(_)) = (switched, &b.then.etag, &entity.etag) {
                entity.etag = Some(entity::quote_etag(tag));
            }
            b.delay += shared.live.config.first_byte_delay;
            throughput = shared.live.config.throughput;
            inject(shared, request, &entity, fault, &mut b, &mut stall);
            entity
        }
        None if failing => entity::failure(&b),
        None => entity::entity_for(request, path, &b),
    };
    // `fail_after` cuts whole bodies only, like a drawn reset: the `206` that completes what
    // a cut left is the origin recovering.
    if !conditional::sends_whole_body(request, &entity, b.ranges) {
        b.fail_after = None;
    }
    let ctx = Ctx {
        conn_id: id,
        request_count,
        keep_alive,
        http10: request.minor == 0,
        stop: &shared.stop,
        throughput,
        stall,
        wait_published: &|ready| shared.live.wait_published(ready, &shared.stop),
    };
    response::respond(stream, request, entity, &b, &ctx)
}

/// Applies a live response's drawn fault: an error is already in `entity`;
/// a reset cuts the body at half (as `fail_after=` does) and a stall pauses
/// there, but only when a 200 body goes out undamaged by `bad=`. Applied
/// faults are counted and marked with `X-Origin-Fault`.
fn inject(
    shared: &Shared,
    request: &Request,
    entity: &Entity,
    fault: Option<Fault>,
    b: &mut Behavior,
    stall: &mut Option<Duration>,
) {
    let Some(fault) = fault else { return };
    let body_goes_out = b.bad.is_none() && conditional::sends_whole_body(request, entity, b.ranges);
    match fault {
        Fault::Error => {}
        _ if !body_goes_out => return,
        Fault::Reset => {
            let half = entity.size / 2;
            b.fail_after = Some(b.fail_after.map_or(half, |limit| limit.min(half)));
            shared.live.faults.count(fault);
        }
        Fault::Stall(pause) => {
            *stall = Some(pause);
            shared.live.faults.count(fault);
        }
    }
    b.headers
        .push(("X-Origin-Fault".to_string(), fault.name().to_string()));
}

/// Makes the coming close a TCP reset (RST) rather than a FIN, after giving
/// the bytes already written a chance to reach the peer: SO_LINGER(0)
/// discards unsent data, and the test wants exactly `fail_after` bytes.
fn abort(stream: &TcpStream) {
    wait_until_sent(stream);
    set_linger_zero(stream);
}

#[cfg(target_os = "linux")]
fn wait_until_sent(stream: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let mut pending: libc::c_int = 0;
        // SAFETY: the descriptor is open for the lifetime of `stream`, and
        // TIOCOUTQ (unsent + unacknowledged bytes) writes a single c_int.
        let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut pending) };
        if rc != 0 || pending <= 0 || std::time::Instant::now() >= deadline {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(not(target_os = "linux"))]
fn wait_until_sent(_stream: &TcpStream) {
    thread::sleep(Duration::from_millis(50));
}

#[cfg(unix)]
fn set_linger_zero(stream: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid descriptor; the option value points at a live `linger`
    // of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(not(unix))]
fn set_linger_zero(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Both);
}
