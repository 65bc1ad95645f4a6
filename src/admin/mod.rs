//! The admin listener: a tiny HTTP/1.1 server on its own address (`admin`, off by default),
//! never on the public port. One request per connection, answered and closed:
//!
//! - `GET /metrics`: Prometheus text exposition (see `prometheus`);
//! - `GET /healthz`: 200 `ok` while the process runs;
//! - `GET /readyz`: 200 once every shard serves, 503 while starting or draining;
//! - `GET /status`: JSON, per shard and in total, with uptime and versions;
//! - anything else: 404 (405 for another method on a known path).
//!
//! It runs on shard 0's executor, next to that shard's clients, and costs the data path
//! nothing until scraped. Counters are atomics any thread may read. Latency histograms are
//! not: each shard keeps its HDR histograms to itself, unshared and unlocked, and a scrape
//! asks every other shard over the mesh for a clone (`shard::mesh::collect_latency`), then
//! merges them here. Asking on scrape, rather than having every shard publish a snapshot on
//! a timer, keeps the data path free of any shared slot (which would need a lock or an
//! atomic swap), costs nothing between scrapes, and gives exact figures: a scrape right
//! after a response includes it. A shard that does not answer within `LATENCY_PATIENCE` is
//! left out of that scrape (and `livecache_latency_shards_merged` says so) rather than
//! stalling it. With one shard there is no mesh and the local histograms are the whole.

mod prometheus;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::IntoRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::metrics::{Readiness, Stats};
use crate::runtime::StartError;
use crate::shard::{mesh, Shard};
use crate::shutdown::Shutdown;

pub use prometheus::{render, BUCKETS_SECONDS, CONTENT_TYPE};

/// How long a scrape waits for another shard's histograms.
const LATENCY_PATIENCE: Duration = Duration::from_secs(2);
/// Time allowed to send a request head and to take the response.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head read; the admin endpoints take no body.
const MAX_HEAD: usize = 8 * 1024;
/// Admin connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// The bound admin socket, before it is handed to shard 0's executor. Cloneable and `Send`
/// so it can travel to whichever executor turns out to be shard 0.
#[derive(Clone, Debug)]
pub struct AdminListener {
    socket: Arc<std::net::TcpListener>,
    addr: SocketAddr,
}

impl AdminListener {
    /// Binds `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr) -> Result<AdminListener, StartError> {
        let error = |e: io::Error| {
            StartError::Bind(
                addr,
                io::Error::new(e.kind(), format!("admin listener: {e}")),
            )
        };
        let socket = std::net::TcpListener::bind(addr).map_err(error)?;
        let addr = socket.local_addr().map_err(error)?;
        Ok(AdminListener {
            socket: Arc::new(socket),
            addr,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves the admin endpoints on the current executor (shard 0's), until it stops, and marks
/// the process as draining when `shutdown` fires.
pub fn spawn(shard: &Rc<Shard>, listener: AdminListener, shutdown: Shutdown) {
    let stats = Arc::clone(&shard.stats);
    glommio::spawn_local(async move {
        shutdown.wait().await;
        stats.set_draining();
    })
    .detach();
    let fd = match listener.socket.try_clone() {
        Ok(own) => own.into_raw_fd(),
        Err(e) => {
            tracing::error!("admin listener unusable: {e}");
            return;
        }
    };
    drop(listener);
    // SAFETY: `fd` is a listening socket descriptor (a dup of the bound one) owned by nobody else.
    let listener = unsafe { <TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let shard = Rc::clone(shard);
    glommio::spawn_local(async move {
        let active = Rc::new(Cell::new(0usize));
        loop {
            let stream = match listener.accept().await {
                Ok(stream) => stream,
                Err(_) => {
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if active.get() >= MAX_CONNECTIONS {
                continue; // dropped: closed at once
            }
            active.set(active.get() + 1);
            let (shard, active) = (Rc::clone(&shard), Rc::clone(&active));
            glommio::spawn_local(async move {
                let _ = serve(&shard, stream).await;
                active.set(active.get() - 1);
            })
            .detach();
        }
    })
    .detach();
}

/// A response to write: status, content type, body.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
        }
    }
}

/// One admin connection: one request, one response, close.
async fn serve(shard: &Rc<Shard>, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    // One deadline for the whole head: a client dribbling bytes must not hold a slot.
    let head = futures_lite::future::or(read_head(&mut stream), async {
        glommio::timer::sleep(IO_TIMEOUT).await;
        Ok(Head::Closed)
    })
    .await?;
    let (method, path) = match head {
        Head::Request(method, path) => (method, path),
        Head::Closed => return Ok(()),
        Head::Bad => return write(&mut stream, &Answer::text(400, "bad request"), false).await,
    };
    let path = path.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    let known = matches!(path, "/metrics" | "/healthz" | "/readyz" | "/status");
    let answer = if !known {
        Answer::text(404, "not found")
    } else if method != "GET" && !head_only {
        Answer::text(405, "method not allowed")
    } else {
        answer(shard, path).await
    };
    write(&mut stream, &answer, head_only).await
}

enum Head {
    Request(String, String),
    Closed,
    Bad,
}

/// Reads one request head: its method and target.
async fn read_head(stream: &mut TcpStream) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut fields);
        match request.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.unwrap_or("").to_string();
                let path = request.path.unwrap_or("").to_string();
                return Ok(Head::Request(method, path));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            _ => return Ok(Head::Bad),
        }
    }
}

async fn answer(shard: &Rc<Shard>, path: &str) -> Answer {
    let stats = &shard.stats;
    match path {
        "/metrics" => {
            let (latency, merged) = mesh::collect_latency(shard, LATENCY_PATIENCE).await;
            Answer {
                status: 200,
                content_type: CONTENT_TYPE,
                body: render(stats, &latency, merged).into_bytes(),
            }
        }
        "/healthz" => Answer::text(200, "ok"),
        "/readyz" => match stats.readiness() {
            Readiness::Serving => Answer::text(200, "ready"),
            other => Answer::text(503, other.label()),
        },
        "/status" => Answer {
            status: 200,
            content_type: "application/json",
            body: status_json(stats).into_bytes(),
        },
        _ => Answer::text(404, "not found"),
    }
}

/// The `/status` document.
pub fn status_json(stats: &Stats) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let shards: Vec<serde_json::Value> = stats
        .shards
        .iter()
        .enumerate()
        .map(|(id, s)| {
            serde_json::json!({
                "shard": id,
                "requests": s.requests.load(Relaxed),
                "hits": s.hits.load(Relaxed),
                "misses": s.misses.load(Relaxed),
                "collapsed": s.collapsed.load(Relaxed),
                "origin_requests": s.origin_requests.load(Relaxed),
                "connections": s.connections_open.load(Relaxed),
                "store": {
                    "bytes": s.store_bytes.load(Relaxed),
                    "inflight_bytes": s.store_inflight_bytes.load(Relaxed),
                    "objects": s.store_objects.load(Relaxed),
                    "budget": s.store_budget.load(Relaxed),
                },
                "evictions": s.store_evictions.load(Relaxed),
            })
        })
        .collect();
    let t = stats.totals();
    let document = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": stats.uptime().as_secs(),
        "config_version": stats.config_version.load(Relaxed),
        "ready": stats.readiness().label(),
        "shards": shards,
        "totals": {
            "requests": t.requests,
            "hits": t.hits,
            "misses": t.misses,
            "collapsed": t.collapsed,
            "origin_requests": t.origin_requests,
            "connections": t.connections_open,
            "store": {
                "bytes": t.store_bytes,
                "objects": t.store_objects,
                "budget": t.store_budget,
            },
            "evictions": t.store_evictions,
        },
    });
    let mut text = document.to_string();
    text.push('\n');
    text
}

async fn write(stream: &mut TcpStream, answer: &Answer, head_only: bool) -> io::Result<()> {
    let reason = crate::http::encode::status_reason(answer.status);
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        answer.status,
        answer.content_type,
        answer.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&answer.body);
    }
    stream.write_all(&out).await?;
    stream.close().await
}
