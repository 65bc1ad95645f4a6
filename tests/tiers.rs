//! Tiers of livecache (issue "Origin-shield tiers", items 1 and 5): each node names itself
//! (`name`) in `Cache-Status`, `Via` and `CDN-Loop`, so an edge in front of a shield answers
//! with both caches' entries in RFC 9211 order (the one nearest the origin first), the origin
//! sees every tier a request passed, and a request that comes back to a node that already
//! passed it on is answered 508 there, without another upstream request.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{eventually, get_with, Conn, MockOrigin, Setup};
use livecache::metrics::upstreams::UpstreamCounters;

/// A loopback port that refuses connections for as long as the returned socket lives: bound,
/// never listening, so no other test's listener can take it meanwhile (a port bound and let
/// go could be).
fn refusing_port() -> (u16, socket2::Socket) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any.into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (port, socket)
}

/// A loopback port free now (bound and let go), for a node that must know its own address
/// before it starts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The values of every field called `name`, in order.
fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

with_shards!(an_edge_in_front_of_a_shield_shows_both_tiers, |shards| {
    let shield = Setup::with(shards, &[("name", "shield-1")]);
    let shield_url = format!("http://{}", shield.addr);
    let edge = Setup::with(shards, &[("name", "edge-1"), ("origin", &shield_url)]);
    let target = "/tiers/s0/a.bin?size=100";
    let first = edge.get(target);
    assert_eq!(first.status, 200);
    let statuses = values(&first.headers, "cache-status");
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(
        statuses[0].starts_with("shield-1; fwd=uri-miss"),
        "{statuses:?}"
    );
    assert!(
        statuses[1].starts_with("edge-1; fwd=uri-miss"),
        "{statuses:?}"
    );
    assert_eq!(
        values(&first.headers, "via"),
        ["1.1 shield-1", "1.1 edge-1"]
    );
    // The origin saw both tiers, the edge first.
    let sent = &shield.origin.requests()[0];
    assert_eq!(values(&sent.headers, "via"), ["1.1 edge-1", "1.1 shield-1"]);
    assert_eq!(values(&sent.headers, "cdn-loop"), ["edge-1", "shield-1"]);
    // Stored at both tiers: the edge answers alone, with the shield's entry as it was.
    let again = edge.get(target);
    assert!(again.cache_status().starts_with("shield-1; fwd=uri-miss"));
    assert_eq!(shield.origin.total(), 1);
    let edge_entry = values(&again.headers, "cache-status")[1];
    assert!(edge_entry.starts_with("edge-1; hit"), "{edge_entry}");
});

with_shards!(a_request_that_loops_back_is_answered_508, |shards| {
    // A node configured as its own parent: the request it sends upstream comes back to it.
    let port = free_port();
    let own = format!("127.0.0.1:{port}");
    let own_url = format!("http://{own}");
    let node = Setup::with(
        shards,
        &[("name", "edge-1"), ("listen", &own), ("origin", &own_url)],
    );
    let looped = node.get("/tiers/s1/a.bin?size=10");
    assert_eq!(looped.status, 508);
    assert_eq!(node.origin.total(), 0);
    // Named anywhere in the list, in any case: refused at once.
    let told = get_with(
        node.addr,
        "/tiers/s1/b.bin",
        &[("CDN-Loop", "other-cdn; v=1, EDGE-1")],
    );
    assert_eq!(told.status, 508);
    // A looped request's body is never read as a request: the connection closes.
    let mut conn = Conn::open(node.addr);
    let smuggled = "GET /tiers/s1/smuggled.bin HTTP/1.1\r\nHost: test.local\r\n\r\n";
    conn.send(
        format!(
            "POST /tiers/s1/c HTTP/1.1\r\nHost: test.local\r\nCDN-Loop: edge-1\r\n\
             Content-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        )
        .as_bytes(),
    );
    let rest = String::from_utf8_lossy(&conn.read_to_close()).into_owned();
    assert!(rest.starts_with("HTTP/1.1 508 Loop Detected"), "{rest}");
    assert_eq!(rest.matches("HTTP/1.1").count(), 1, "{rest}");
    assert_eq!(node.origin.total(), 0);
    // Counted when each exchange is finished, just after its answer left.
    let counted = eventually(Duration::from_secs(5), || node.stats().bad_requests == 3);
    assert!(counted, "{} loops counted", node.stats().bad_requests);
});

/// The shield (`shield-a` or `shield-b`) whose entry comes first in a response's
/// `Cache-Status`.
fn shield_of(response: &common::Response) -> String {
    values(&response.headers, "cache-status")[0]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Two shields, and `parent` text naming them (`a`, `b`) in the given order.
fn shields(shards: usize) -> (Setup, Setup) {
    (
        Setup::with(shards, &[("name", "shield-a")]),
        Setup::with(shards, &[("name", "shield-b")]),
    )
}

with_shards!(
    every_edge_sends_a_stream_to_the_same_shield_and_fails_over,
    |shards| {
        let (a, b) = shields(shards);
        let list = format!("a={};b={}", a.addr, b.addr);
        let reversed = format!("b={};a={}", b.addr, a.addr);
        let edge1 = Setup::with(shards, &[("name", "edge-1"), ("parent", &list)]);
        let edge2 = Setup::with(shards, &[("name", "edge-2"), ("parent", &reversed)]);
        let streams = 24;
        let mut chosen = Vec::new();
        for i in 0..streams {
            let target = format!("/tiers/p{i}/seg.bin?size=100");
            let one = edge1.get(&target);
            let two = edge2.get(&target);
            assert_eq!((one.status, two.status), (200, 200));
            // Whatever order an edge lists its parents in: one shield per stream, one fetch.
            assert_eq!(shield_of(&one), shield_of(&two), "{target}");
            chosen.push(shield_of(&one));
        }
        let on_a = chosen.iter().filter(|s| *s == "shield-a").count();
        assert!(
            on_a > 0 && on_a < streams,
            "{on_a} of {streams} streams on shield-a"
        );
        assert_eq!(a.origin.total() + b.origin.total(), streams as u64);
        // shield-a dies: its streams move to shield-b, and no viewer sees an error.
        let a_streams: Vec<usize> = (0..streams).filter(|&i| chosen[i] == "shield-a").collect();
        drop(a);
        for &i in &a_streams {
            let moved = edge1.get(&format!("/tiers/p{i}/next.bin?size=100"));
            assert_eq!(moved.status, 200);
            assert_eq!(shield_of(&moved), "shield-b");
        }
        // Each request failed over until its shard had seen three failures; then shield-a was
        // passed over (ejected) and its streams went to shield-b at once.
        let parents = edge1.running().stats.upstreams.all();
        let (_, a_counters) = parents.iter().find(|(id, _)| id == "a").unwrap();
        let failovers = UpstreamCounters::get(&a_counters.failovers);
        assert!(
            failovers >= 1 && failovers <= a_streams.len() as u64,
            "{failovers}"
        );
        let ejected = UpstreamCounters::get(&a_counters.down_on) > 0;
        assert!(ejected || failovers == a_streams.len() as u64);
        // The other streams never moved.
        for i in (0..streams).filter(|i| !a_streams.contains(i)) {
            let stayed = edge1.get(&format!("/tiers/p{i}/next.bin?size=100"));
            assert_eq!(shield_of(&stayed), "shield-b");
        }
    }
);

with_shards!(
    with_every_parent_down_only_go_direct_reaches_the_origin,
    |shards| {
        let ((a, _a_held), (b, _b_held)) = (refusing_port(), refusing_port());
        let gone = format!("a=127.0.0.1:{a};b=127.0.0.1:{b}");
        let stuck = Setup::with(shards, &[("parent", &gone)]);
        assert_eq!(stuck.get("/tiers/d0/a.bin?size=10").status, 502);
        assert_eq!(stuck.origin.total(), 0);
        let direct = Setup::with(shards, &[("parent", &gone), ("go_direct", "on")]);
        let answered = direct.get("/tiers/d0/a.bin?size=10");
        assert_eq!(answered.status, 200);
        assert_eq!(direct.origin.total(), 1);
    }
);

with_shards!(a_draining_parent_is_passed_over_before_it_stops, |shards| {
    // shield-a starts draining (as on SIGTERM): its /readyz says 503 while it still serves,
    // the probes mark it down, and its streams go to shield-b without a failed try.
    let a = Setup::with(shards, &[("name", "shield-a"), ("admin", "127.0.0.1:0")]);
    let b = Setup::with(shards, &[("name", "shield-b")]);
    let parents = format!("a={},1,admin={};b={}", a.addr, a.admin_addr(), b.addr);
    let edge = Setup::with(
        shards,
        &[
            ("name", "edge-1"),
            ("parent", &parents),
            ("parent_probe_interval", "50ms"),
            ("parent_probe_timeout", "200ms"),
        ],
    );
    let stats = &edge.running().stats;
    let a_counters = || {
        let all = stats.upstreams.all();
        let found = all.iter().find(|(id, _)| id == "a").map(|(_, c)| c.clone());
        found.expect("parent a is known")
    };
    let stream = (0..64)
        .find(|i| shield_of(&edge.get(&format!("/tiers/q{i}/a.bin?size=10"))) == "shield-a")
        .expect("some stream goes to shield-a");
    assert!(a_counters().is_up());
    a.running().stats.set_draining();
    assert!(eventually(Duration::from_secs(5), || !a_counters().is_up()));
    let moved = edge.get(&format!("/tiers/q{stream}/b.bin?size=10"));
    assert_eq!(shield_of(&moved), "shield-b");
    assert_eq!(UpstreamCounters::get(&a_counters().failovers), 0);
    assert_eq!(a.origin.path_hits(&format!("/tiers/q{stream}/b.bin")), 0);
});

with_shards!(backup_origins_answer_while_the_primary_fails, |shards| {
    // `origin` as a list: the primary first. A refused connection or a 5xx moves the request
    // to the backup; three such failures in a row rest the primary for 60 s (moved on the
    // clock), then it is asked first again.
    let primary = MockOrigin::start("127.0.0.1:0").expect("primary starts");
    let backup = MockOrigin::start("127.0.0.1:0").expect("backup starts");
    let list = format!("{}, {}", primary.url(), backup.url());
    let edge = Setup::in_front_of(primary, shards, &[("origin", &list)]);
    let primary = &edge.origin;
    primary.refuse_connections().unwrap();
    for object in ["a0", "a1", "a2"] {
        let target = format!("/tiers/o0/{object}.bin?size=10");
        assert_eq!(edge.get(&target).status, 200);
        assert_eq!(backup.hits(&target), 1);
    }
    primary.accept_connections().unwrap();
    // Resting: the next request goes straight to the backup.
    assert_eq!(edge.get("/tiers/o0/b.bin?size=10").status, 200);
    assert_eq!(
        (primary.total(), backup.path_hits("/tiers/o0/b.bin")),
        (0, 1)
    );
    // 60 s later the primary is first again; a 5xx from it moves the request on.
    edge.advance(Duration::from_secs(61));
    assert_eq!(edge.get("/tiers/o0/c.bin?size=10").status, 200);
    assert_eq!(primary.path_hits("/tiers/o0/c.bin"), 1);
    edge.advance(Duration::from_secs(61));
    let failing = "/tiers/o0/d.bin?size=10&status=503&cc=no-store";
    let answered = edge.get(failing);
    assert_eq!(
        answered.status, 503,
        "both answer 503 here: the backup's answer is the one"
    );
    assert_eq!((primary.hits(failing), backup.hits(failing)), (1, 1));
    let stats = &edge.running().stats;
    let all = stats.upstreams.all();
    let (_, counters) = all
        .iter()
        .find(|(id, _)| {
            id.starts_with("origin:") && id.ends_with(&primary.addr().port().to_string())
        })
        .expect("the primary is counted");
    assert_eq!(UpstreamCounters::get(&counters.failovers), 4);
    // One answer from the primary counted in its response-time histogram (c.bin; its 503 for
    // d.bin was a failure that moved the request on).
    let timed: u64 = counters
        .response_buckets
        .iter()
        .map(UpstreamCounters::get)
        .sum();
    assert_eq!(timed, 1);
});

with_shards!(
    a_reload_moves_only_the_streams_an_added_parent_gains,
    |shards| {
        let (a, b) = shields(shards);
        let c = Setup::with(shards, &[("name", "shield-c")]);
        let edge = Setup::with(
            shards,
            &[
                ("name", "edge-1"),
                ("parent", &format!("a={};b={}", a.addr, b.addr)),
            ],
        );
        let owners = |object: &str| -> Vec<String> {
            (0..32)
                .map(|i| shield_of(&edge.get(&format!("/tiers/r{i}/{object}?size=10"))))
                .collect()
        };
        let before = owners("a.bin");
        // A reload adds shield-c: rendezvous hashing moves to it only the streams it now wins.
        let running = edge.running();
        let mut next = (*running.config.current()).clone();
        let three = format!("a={};b={};c={}", a.addr, b.addr, c.addr);
        next.parents = livecache::config::parents::parse_parents(&three, next.listen).unwrap();
        running
            .config
            .publish(next)
            .expect("parents change at a reload");
        let adopted = eventually(Duration::from_secs(5), || {
            running
                .stats
                .config_version
                .load(std::sync::atomic::Ordering::Relaxed)
                == 2
        });
        assert!(adopted, "every shard runs the new parents");
        let after = owners("b.bin");
        let moved: Vec<usize> = (0..32).filter(|&i| before[i] != after[i]).collect();
        assert!(!moved.is_empty(), "shield-c got some streams: {after:?}");
        for &i in &moved {
            assert_eq!(
                after[i], "shield-c",
                "stream r{i} moved elsewhere: {before:?} {after:?}"
            );
        }
    }
);

/// A parent that answers its first connection with garbage, closes its second without a
/// byte, and then answers `hello` (cacheable) to each; it stops after `connections`.
fn broken_then_good_parent(connections: usize) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = std::thread::spawn(move || {
        for n in 0..connections {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut request = [0u8; 4096];
            let _ = conn.read(&mut request);
            let answer: &[u8] = match n {
                0 => b"SURPRISE \x00\x01 not http\r\n\r\n",
                1 => b"",
                _ => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nhello",
            };
            let _ = conn.write_all(answer);
        }
    });
    (port, serving)
}

with_shards!(
    a_parent_that_answers_garbage_or_closes_fails_the_request_and_poisons_nothing,
    |shards| {
        let (port, serving) = broken_then_good_parent(3);
        let parent = format!("bad=127.0.0.1:{port}");
        let edge = Setup::with(shards, &[("parent", &parent)]);
        let target = "/tiers/g0/a.bin";
        // Garbage, then a close without a byte: each fails its request, nothing is kept.
        assert_eq!(edge.get(target).status, 502);
        assert_eq!(edge.get(target).status, 502);
        let stats = &edge.running().stats;
        let all = stats.upstreams.all();
        let (_, bad) = all.iter().find(|(id, _)| id == "bad").expect("counted");
        let errors = UpstreamCounters::get(&bad.errors_before_response)
            + UpstreamCounters::get(&bad.errors_during_response);
        assert_eq!(errors, 2);
        // The parent recovers: its answer is the one stored and served, not the garbage.
        let good = edge.get(target);
        assert_eq!((good.status, good.body.as_slice()), (200, &b"hello"[..]));
        let hit = edge.get(target);
        assert_eq!((hit.status, hit.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(edge.origin.total(), 0);
        serving.join().unwrap();
    }
);
