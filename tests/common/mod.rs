//! Shared harness for the black-box tests: a real livecache daemon on 127.0.0.1 (in-process,
//! through the library) in front of a real mock origin, and a small strict HTTP/1.1 client
//! over std sockets that reports whether a response arrived complete or was cut.

#![allow(dead_code, unused_imports)]
// Test threads wait for the daemon with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use livecache::{Config, Running, Shutdown};
pub use mock_origin::{expected_body, MockOrigin};

/// Runs a test body once with one shard and once with four, as every data-path test must.
/// With four, every request crosses the shard mesh (see `Setup::with`).
#[macro_export]
macro_rules! with_shards {
    ($name:ident, |$shards:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn case($shards: usize) $body
            #[test]
            fn one_shard() {
                case(1)
            }
            #[test]
            fn four_shards() {
                case(4)
            }
        }
    };
}

/// A daemon plus the origin behind it; both stop when dropped.
pub struct Setup {
    pub origin: MockOrigin,
    pub addr: SocketAddr,
    running: Option<Running>,
}

impl Setup {
    pub fn new(shards: usize) -> Setup {
        Setup::with(shards, &[])
    }

    /// Starts an origin and a daemon with `extra` configuration over test defaults.
    pub fn with(shards: usize, extra: &[(&str, &str)]) -> Setup {
        let origin = MockOrigin::start("127.0.0.1:0").expect("mock origin starts");
        Setup::in_front_of(origin, shards, extra)
    }

    /// A daemon in front of a live origin of 1 s segments in four 250 ms parts (TD 1 s, so
    /// holds last 3 s), started 5 s ago so segments and parts are listed: what the live-video
    /// tests share.
    pub fn live(shards: usize, extra: &[(&str, &str)]) -> Setup {
        let live = mock_origin::LiveConfig {
            segment_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(250),
            start: Instant::now().checked_sub(Duration::from_secs(5)),
            ..mock_origin::LiveConfig::default()
        };
        let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("mock origin starts");
        Setup::in_front_of(origin, shards, extra)
    }

    /// Starts a daemon in front of `origin` (e.g. one with its own live configuration).
    pub fn in_front_of(origin: MockOrigin, shards: usize, extra: &[(&str, &str)]) -> Setup {
        let url = origin.url();
        let shards = shards.to_string();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("listen", "127.0.0.1:0"),
            ("origin", &url),
            ("shards", &shards),
            ("cache_size", "64MiB"),
        ];
        pairs.extend_from_slice(extra);
        let mut config = Config::from_pairs(&pairs).expect("valid test config");
        // With several shards, every request crosses the mesh: shard 0 alone accepts and the
        // others own every stream, so no test passes only because its key happened to be local.
        config.cross_mesh_for_tests = config.shards > 1;
        let running = livecache::start(config, Shutdown::new()).expect("daemon starts");
        Setup {
            origin,
            addr: running.local_addr,
            running: Some(running),
        }
    }

    pub fn stats(&self) -> livecache::metrics::Totals {
        self.running.as_ref().unwrap().stats.totals()
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// The admin listener's address (the daemon must have been started with `admin`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.running()
            .admin_addr
            .expect("started with an `admin` address")
    }

    pub fn get(&self, target: &str) -> Response {
        get(self.addr, target)
    }

    /// Moves the daemon's clock forward, as if `by` had passed, without sleeping: objects age,
    /// stale windows and holds run out. Wall time (`Date`) and socket timeouts do not move.
    pub fn advance(&self, by: Duration) {
        self.running().clock.advance(by);
    }

    /// Requests the origin received for `target` with this method.
    pub fn origin_count(&self, method: &str, target: &str) -> usize {
        self.origin
            .requests()
            .iter()
            .filter(|r| r.method == method && r.target == target)
            .count()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

/// A response as a client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
    /// When the first body byte arrived, measured from the moment the request was sent.
    pub first_byte: Option<Duration>,
    pub total: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cache_status(&self) -> &str {
        self.header("cache-status").unwrap_or("")
    }
}

/// One GET on a new connection (`Connection: close`).
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n"),
        false,
    )
}

/// Sends raw bytes on a new connection and reads one response.
pub fn request(addr: SocketAddr, raw: &str, head_request: bool) -> Response {
    let mut conn = Conn::open(addr);
    conn.send(raw.as_bytes());
    conn.read_response(head_request).expect("a response")
}

/// A client connection that can carry several requests.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    sent_at: Instant,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to livecache");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
            sent_at: Instant::now(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.sent_at = Instant::now();
        self.stream.write_all(bytes).expect("send request");
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes());
        self.read_response(false).expect("a response")
    }

    /// Reads until the connection closes; returns everything read.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut rest);
        rest
    }

    /// True when the server closed the connection (read returns 0 or a reset).
    pub fn is_closed_by_peer(&mut self) -> bool {
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => return matches!(result, Ok(0) | Err(_)),
            }
        }
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                // Threads in this process get signals (glommio's executors live here too).
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
            }
        }
    }

    /// Reads one response. None if the connection closed before a complete head.
    pub fn read_response(&mut self, head_request: bool) -> Option<Response> {
        let (status, headers, head_len) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect::<Vec<_>>();
                    break (parsed.code.unwrap(), headers, len);
                }
                Ok(httparse::Status::Partial) => {
                    if !self.fill() {
                        return None;
                    }
                }
                Err(e) => panic!(
                    "malformed response from livecache: {e}: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        };
        self.buf.drain(..head_len);
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
            complete: true,
            first_byte: None,
            total: Duration::ZERO,
        };
        let find = |name: &str| response.header(name).map(str::to_string);
        let no_body =
            head_request || status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
        } else if let Some(len) = find("content-length") {
            let len: usize = len.trim().parse().expect("numeric Content-Length");
            while self.buf.len() < len {
                self.note_first_byte(&mut response);
                if !self.fill() {
                    break;
                }
            }
            self.note_first_byte(&mut response);
            let take = len.min(self.buf.len());
            response.body = self.buf.drain(..take).collect();
            response.complete = response.body.len() == len;
        } else if find("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
        {
            response.complete = self.read_chunked(&mut response);
        } else {
            self.note_first_byte(&mut response);
            while self.fill() {
                self.note_first_byte(&mut response);
            }
            response.body = std::mem::take(&mut self.buf);
        }
        response.total = self.sent_at.elapsed();
        Some(response)
    }

    fn note_first_byte(&self, response: &mut Response) {
        if response.first_byte.is_none() && !self.buf.is_empty() {
            response.first_byte = Some(self.sent_at.elapsed());
        }
    }

    fn read_chunked(&mut self, response: &mut Response) -> bool {
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if !self.fill() {
                    return false;
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if !self.fill() {
                    let take = size.min(self.buf.len());
                    response.body.extend(self.buf.drain(..take));
                    return false;
                }
            }
            if size == 0 {
                self.buf.drain(..2);
                return true;
            }
            self.note_first_byte(response);
            response.body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }
}

/// Polls `condition` for up to `limit`; for waiting on background work, never for timing.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// The raw text of a `method` request for `target` with extra header `fields`, on a connection
/// that stays open unless `fields` says otherwise.
pub fn request_text(method: &str, target: &str, fields: &[(&str, &str)]) -> String {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: test.local\r\n");
    for (name, value) in fields {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw
}

/// One GET with extra header `fields` on a new connection.
pub fn get_with(addr: SocketAddr, target: &str, fields: &[(&str, &str)]) -> Response {
    request(addr, &request_text("GET", target, fields), false)
}

/// Sends one `method` request with extra header `fields` on an open connection and reads
/// its response (a HEAD's without a body).
pub fn send_with(conn: &mut Conn, method: &str, target: &str, fields: &[(&str, &str)]) -> Response {
    conn.send(request_text(method, target, fields).as_bytes());
    conn.read_response(method == "HEAD").expect("a response")
}

/// The `ttl=` parameter of a response's `Cache-Status`, when it has one.
pub fn cache_status_ttl(response: &Response) -> Option<i64> {
    response
        .cache_status()
        .split(';')
        .map(str::trim)
        .find_map(|param| param.strip_prefix("ttl="))
        .map(|ttl| ttl.parse().expect("numeric Cache-Status ttl"))
}

/// `n` clients that each GET `target` on their own connection at the same moment; their
/// responses in client order.
pub fn concurrent_gets(addr: SocketAddr, target: &str, n: usize) -> Vec<Response> {
    all_at_once(addr, n, |_, conn| {
        send_with(conn, "GET", target, &[("Connection", "close")])
    })
}

/// Runs `client(i, conn)` for `i` in `0..n`, each on its own thread and connection, released
/// together once all are connected; returns the results in `i` order.
pub fn all_at_once<T: Send>(
    addr: SocketAddr,
    n: usize,
    client: impl Fn(usize, &mut Conn) -> T + Sync,
) -> Vec<T> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, client) = (&barrier, &client);
                scope.spawn(move || {
                    let mut conn = Conn::open(addr);
                    barrier.wait();
                    client(i, &mut conn)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The requests the origin received for `target` with this method, in arrival order.
pub fn origin_requests_for(
    setup: &Setup,
    method: &str,
    target: &str,
) -> Vec<mock_origin::RecordedRequest> {
    setup
        .origin
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.target == target)
        .collect()
}

/// Whether `r`'s `Cache-Status` gives no reason not to store it (no `detail`) and it went
/// upstream. `stored` itself is said only when the body was complete as the head went out,
/// which depends on timing; a test that needs the object stored asks again for a hit.
pub fn storable(r: &Response) -> bool {
    let status = r.cache_status();
    status.contains("fwd=") && !status.contains("detail=")
}

/// GETs `target` until a response is stored. A 1 s lifetime is used up when the response
/// crosses a wall-clock second on its way (`Date` has 1 s resolution, so its apparent age
/// is then at least 1 s: "stale-on-arrival", correctly). Then the origin's counters are reset
/// (its `after=N` switches count from zero again) and it is asked again, at most 3 times.
pub fn warm_stored(setup: &Setup, target: &str) -> Response {
    for _ in 0..3 {
        let before = setup.stats().store_objects;
        let r = setup.get(target);
        if storable(&r) {
            // Stored by the leader right after the body completes: wait for it, not a clock.
            let stored = eventually(Duration::from_secs(5), || {
                setup.stats().store_objects > before
            });
            assert!(
                stored,
                "{target} was storable but not stored: {}",
                r.cache_status()
            );
            return r;
        }
        assert!(
            r.cache_status().contains("detail=stale-on-arrival"),
            "not stored: {}",
            r.cache_status()
        );
        setup.origin.reset();
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{target} was stale on arrival three times");
}

/// How often `guard` fired, all shards together.
pub fn fired(setup: &Setup, guard: livecache::metrics::Guard) -> u64 {
    let stats = &setup.running().stats;
    stats.shards.iter().map(|s| s.guards.fired(guard)).sum()
}

/// A guard gauge summed over all shards.
pub fn gauge(setup: &Setup, f: impl Fn(&livecache::metrics::Guards) -> u64) -> u64 {
    setup
        .running()
        .stats
        .shards
        .iter()
        .map(|s| f(&s.guards))
        .sum()
}

/// A connection with a tiny receive buffer, so what it does not read stays in livecache.
pub fn stingy_connection(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).unwrap();
    stream
}
