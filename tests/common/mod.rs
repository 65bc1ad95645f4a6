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

mod client;
pub mod live;
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

    /// As `live`, but with 12 segments listed and a skip boundary of 6 s (delta updates
    /// allowed), started 14 s ago so a delta skips segments.
    pub fn live_deltas(shards: usize, extra: &[(&str, &str)]) -> Setup {
        let live = mock_origin::LiveConfig {
            segment_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(250),
            window: 12,
            can_skip_until: Some(Duration::from_secs(6)),
            start: Instant::now().checked_sub(Duration::from_secs(14)),
            ..mock_origin::LiveConfig::default()
        };
        let origin = MockOrigin::start_with("127.0.0.1:0", live).expect("mock origin starts");
        Setup::in_front_of(origin, shards, extra)
    }

    /// A daemon in front of a classic live packager (no parts, no blocking reloads) of 1 s
    /// segments, started 5 s ago.
    pub fn classic(shards: usize, extra: &[(&str, &str)]) -> Setup {
        let live = mock_origin::LiveConfig {
            segment_duration: Duration::from_secs(1),
            part_duration: Duration::from_secs(1),
            low_latency: false,
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
            ("name", "livecache"),
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

pub use client::{get, request, Conn, Response};

/// The media playlist a `200` response carries (the test fails on anything else).
pub fn playlist(response: &Response) -> livecache::live::MediaPlaylist {
    assert_eq!(response.status, 200, "{response:?}");
    let text = std::str::from_utf8(&response.body).expect("UTF-8");
    livecache::live::MediaPlaylist::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
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
