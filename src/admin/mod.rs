//! The admin listener: a tiny HTTP/1.1 server on its own address (`admin`, off by default),
//! never on the public port. One request per connection, answered and closed:
//!
//! - `GET /metrics`: Prometheus text exposition (see `prometheus`);
//! - `GET /healthz`: 200 `ok` while the process runs;
//! - `GET /readyz`: 200 once every shard serves, 503 while starting or draining;
//! - `GET /status`: JSON, per shard and in total, with uptime and versions;
//! - `POST /purge?prefix=/live/ch1/[&host=example.com]`: removes every stored object whose
//!   path starts with the prefix (on any host, or on `host` only);
//! - `POST /purge?stream=example.com/live/ch1/720p`: removes every stored object of that
//!   stream (its key by the configured `stream_key` rule, host included);
//! - anything else: 404 (405, with `Allow`, for another method on a known path).
//!
//! A purge answers `{"purged":N,"shards":S}`: stored objects removed, and shards that answered
//! within `PURGE_PATIENCE` (all of them but a stuck one). Every shard is asked at once over the
//! mesh (`shard::broadcast::purge_everywhere`); fetches in flight in the scope are detached, so
//! they finish for their readers but are not stored. Query values are percent-decoded once
//! and then compared with paths as requested, so a path that was sent percent-encoded is
//! purged by encoding it once more. A single URL is purged with the `PURGE` method on the
//! public port instead (see `server::purge`).
//!
//! It runs on shard 0's executor, next to that shard's clients, and costs the data path
//! nothing until scraped. Counters are atomics any thread may read. Latency histograms are
//! not: each shard keeps its HDR histograms to itself, unshared and unlocked, and a scrape
//! asks every other shard over the mesh for a clone (`shard::broadcast::collect_latency`), then
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

use crate::cache::CacheKey;
use crate::cache::PurgeScope;
use crate::config::StreamKeyRule;
use crate::http::percent::percent_decode;
use crate::metrics::{Readiness, Stats};
use crate::shard::broadcast;
use crate::shard::Shard;
use crate::shutdown::Shutdown;
use crate::startup::StartError;

pub use prometheus::{render, BUCKETS_SECONDS, CONTENT_TYPE};

/// How long a scrape waits for another shard's histograms.
const LATENCY_PATIENCE: Duration = Duration::from_secs(2);
/// How long a purge waits for every shard's count. A purge walks a shard's whole store, so
/// it gets longer than a scrape.
const PURGE_PATIENCE: Duration = Duration::from_secs(5);
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

/// A response to write: status, content type, body, and one more field (a 405's `Allow`, a
/// 401's `WWW-Authenticate`).
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    field: Option<(&'static str, &'static str)>,
}

impl Answer {
    fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
            field: None,
        }
    }

    fn json(body: String) -> Answer {
        Answer {
            status: 200,
            content_type: "application/json",
            body: body.into_bytes(),
            field: None,
        }
    }

    fn not_allowed(allow: &'static str) -> Answer {
        Answer {
            field: Some(("Allow", allow)),
            ..Answer::text(405, "method not allowed")
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
    let (method, target, authorization) = match head {
        Head::Request(method, target, authorization) => (method, target, authorization),
        Head::Closed => return Ok(()),
        Head::Bad => return write(&mut stream, &Answer::text(400, "bad request"), false).await,
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let head_only = method == "HEAD";
    // Purges and the status page may ask for the admin token; metrics and health stay open.
    let guarded = matches!(path, "/purge" | "/status");
    let answer = match (path, method.as_str()) {
        _ if guarded && !shard.config().access.admits(authorization.as_deref()) => Answer {
            field: Some(("WWW-Authenticate", "Bearer")),
            ..Answer::text(
                401,
                "the admin token is required: Authorization: Bearer TOKEN",
            )
        },
        ("/purge", "POST") => purge(shard, query).await,
        ("/purge", _) => Answer::not_allowed("POST"),
        ("/metrics" | "/healthz" | "/readyz" | "/status", "GET" | "HEAD") => {
            answer(shard, path).await
        }
        ("/metrics" | "/healthz" | "/readyz" | "/status", _) => Answer::not_allowed("GET, HEAD"),
        _ => Answer::text(404, "not found"),
    };
    write(&mut stream, &answer, head_only).await
}

enum Head {
    /// Method, target and the `Authorization` field's value.
    Request(String, String, Option<Vec<u8>>),
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
                let authorization = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .map(|h| h.value.to_vec());
                return Ok(Head::Request(method, path, authorization));
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
            let (latency, merged) = broadcast::collect_latency(shard, LATENCY_PATIENCE).await;
            Answer {
                status: 200,
                content_type: CONTENT_TYPE,
                body: render(stats, &latency, merged).into_bytes(),
                field: None,
            }
        }
        "/healthz" => Answer::text(200, "ok"),
        "/readyz" => match stats.readiness() {
            Readiness::Serving => Answer::text(200, "ready"),
            other => Answer::text(503, other.label()),
        },
        "/status" => Answer::json(status_json(stats)),
        _ => Answer::text(404, "not found"),
    }
}

/// `POST /purge`: removes the scope the query names on every shard; 400 for a query that
/// names none, or two.
async fn purge(shard: &Rc<Shard>, query: &str) -> Answer {
    let scope = match purge_scope(query, shard.config().stream_key) {
        Ok(scope) => scope,
        Err(reason) => return Answer::text(400, reason),
    };
    let (purged, answered) =
        broadcast::purge_everywhere(shard, scope.clone(), PURGE_PATIENCE).await;
    let shards = shard.config().shards;
    if answered < shards {
        tracing::warn!(
            ?scope,
            purged,
            answered,
            shards,
            "admin purge: some shards did not answer in time; they may still purge"
        );
    } else {
        tracing::info!(?scope, purged, "admin purge");
    }
    Answer::json(format!("{{\"purged\":{purged},\"shards\":{answered}}}\n"))
}

/// Reads an admin purge query: exactly one of `prefix=` (a path starting with `/`, optionally
/// with `host=`) or `stream=` (`host/path`, as `StreamKey` spells it). Values are
/// percent-decoded; hosts are normalised as keys are (lower case, no `:80`). Unknown or
/// repeated parameters are refused: a typo must not widen or retarget a purge.
fn purge_scope(query: &str, rule: StreamKeyRule) -> Result<PurgeScope, &'static str> {
    let (mut prefix, mut stream, mut host) = (None, None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "prefix" => &mut prefix,
            "stream" => &mut stream,
            "host" => &mut host,
            _ => return Err("unknown parameter: use prefix= (with optional host=) or stream="),
        };
        let value = percent_decode(value.as_bytes()).ok_or("malformed percent-encoding")?;
        if slot.replace(value).is_some() {
            return Err("a parameter is given twice");
        }
    }
    let normal_host = |host: &[u8]| CacheKey::new(host, b"/", &[]).host().clone();
    match (prefix, stream) {
        (Some(_), Some(_)) => Err("give prefix= or stream=, not both"),
        (None, None) => Err("give prefix=/path/ or stream=host/path"),
        (Some(prefix), None) if !prefix.starts_with(b"/") => Err("prefix must start with /"),
        (Some(prefix), None) => Ok(PurgeScope::PathPrefix {
            host: match host {
                Some(host) if host.is_empty() => return Err("host= is empty"),
                Some(host) => Some(normal_host(&host)),
                None => None,
            },
            prefix: prefix.into(),
        }),
        (None, Some(_)) if host.is_some() => {
            Err("host= goes with prefix=; a stream names its host")
        }
        (None, Some(stream)) if stream.is_empty() => Err("stream= is empty"),
        (None, Some(stream)) => {
            let split = stream
                .iter()
                .position(|&b| b == b'/')
                .unwrap_or(stream.len());
            let mut normal = normal_host(&stream[..split]).to_vec();
            normal.extend_from_slice(&stream[split..]);
            Ok(PurgeScope::Stream {
                stream: normal.into(),
                rule,
            })
        }
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
    let allow = answer
        .field
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(query: &str) -> Result<PurgeScope, &'static str> {
        purge_scope(query, StreamKeyRule::Dirname)
    }

    #[test]
    fn a_prefix_is_decoded_and_its_host_normalised() {
        assert_eq!(
            scope("prefix=%2Flive%2Fch1%2F&host=Example.COM:80"),
            Ok(PurgeScope::PathPrefix {
                host: Some("example.com".into()),
                prefix: "/live/ch1/".into(),
            })
        );
        assert_eq!(
            scope("prefix=/a+b/"),
            Ok(PurgeScope::PathPrefix {
                host: None,
                prefix: "/a+b/".into(),
            })
        );
    }

    #[test]
    fn a_stream_keeps_its_path_and_normalises_its_host() {
        assert_eq!(
            scope("stream=Example.com/live/ch1/720p"),
            Ok(PurgeScope::Stream {
                stream: "example.com/live/ch1/720p".into(),
                rule: StreamKeyRule::Dirname,
            })
        );
    }

    #[test]
    fn unclear_queries_are_refused() {
        for query in [
            "",
            "prefix=/a/&stream=h/a",
            "prefx=/a/",
            "prefix=/a/&prefix=/b/",
            "prefix=live/",
            "prefix=/a%2",
            "prefix=/a%zz",
            "stream=",
            "stream=h/a&host=h",
            "prefix=/a/&host=",
        ] {
            assert!(scope(query).is_err(), "{query:?} was accepted");
        }
    }

    #[test]
    fn scopes_match_the_keys_they_name() {
        let key = CacheKey::new(b"example.com", b"/live/ch1/720p/seg-1.m4s?x=1", &[]);
        let other_host = CacheKey::new(b"other.net", b"/live/ch1/720p/seg-1.m4s", &[]);
        let other_stream = CacheKey::new(b"example.com", b"/live/ch10/720p/seg-1.m4s", &[]);
        let prefix = scope("prefix=/live/ch1/").unwrap();
        assert!(prefix.matches(&key) && prefix.matches(&other_host));
        assert!(!prefix.matches(&other_stream));
        let on_host = scope("prefix=/live/&host=EXAMPLE.com").unwrap();
        assert!(on_host.matches(&key) && on_host.matches(&other_stream));
        assert!(!on_host.matches(&other_host));
        let stream = scope("stream=example.com/live/ch1/720p").unwrap();
        assert!(stream.matches(&key));
        assert!(!stream.matches(&other_host) && !stream.matches(&other_stream));
    }
}
