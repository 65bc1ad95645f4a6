//! Common Media Server Data (issue "Live video II", item 5; LIVE.md F6, T6.2, T6.3): the
//! origin's `CMSD-Static` is passed through and stored, and synthesised where it sent none;
//! every response gets one `CMSD-Dynamic` member with `etp` and `rtt` from `TCP_INFO` and
//! `rd`, plus `du` while the node is under duress; an origin's `CMSD-Dynamic` is never stored;
//! a held blocking reload says how long it was held (`ht`); `cmsd = off` adds nothing.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{eventually, get, playlist, Setup};

const RENDITION: &str = "/live/s0/r0/index.m3u8";

/// The value of parameter `name` in a CMSD-Dynamic member (`;name=value`).
fn parameter(member: &str, name: &str) -> Option<u64> {
    member
        .split(';')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
}

with_shards!(responses_carry_static_and_dynamic_server_data, |shards| {
    let setup = Setup::with(shards, &[]);
    let plain = "/cmsd/a/seg-1.m4s?size=1000&hdr=Content-Type:video/mp4";
    let first = setup.get(plain);
    assert_eq!(first.header("cmsd-static"), Some("ot=v"));
    let dynamic = first.header("cmsd-dynamic").expect("a CMSD-Dynamic member");
    assert!(dynamic.starts_with("\"livecache\";"), "{dynamic}");
    assert!(
        parameter(dynamic, "etp").is_some_and(|etp| etp > 0),
        "{dynamic}"
    );
    assert!(parameter(dynamic, "rtt").is_some(), "{dynamic}");
    assert!(parameter(dynamic, "rd").is_some(), "{dynamic}");
    assert!(!dynamic.contains(";du"), "{dynamic}");
    // The origin's own: its static one stays (stored with the object), its dynamic one is
    // about its own delivery and never reaches a later viewer.
    let described = "/cmsd/a/seg-2.m4s?size=1000&hdr=CMSD-Static:ot%3Dv%2Cst%3Dl\
                     &hdr=CMSD-Dynamic:%22origin%22%3Brd%3D7";
    setup.get(described);
    let hit = setup.get(described);
    assert!(hit.cache_status().contains("hit"));
    assert_eq!(hit.header("cmsd-static"), Some("ot=v,st=l"));
    let dynamic = hit.header("cmsd-dynamic").unwrap();
    assert!(!dynamic.contains("origin"), "{dynamic}");
});

with_shards!(a_held_reload_says_how_long_it_was_held, |shards| {
    let setup = Setup::live(shards, &[]);
    let state = playlist(&setup.get(&format!("{RENDITION}?_HLS_msn=0")));
    let next = state.next_part().expect("parts are listed");
    let target = format!("{RENDITION}?_HLS_msn={}&_HLS_part={}", next.msn, next.part);
    // The packager pauses: the reload is held until it resumes, 300 ms later at least.
    setup.origin.pause_publishing();
    let asked = Instant::now();
    let addr = setup.addr;
    let held = std::thread::spawn(move || get(addr, &target));
    let holds = || common::live::holds_active(&setup);
    assert!(eventually(Duration::from_secs(5), || holds() == 1));
    std::thread::sleep(Duration::from_millis(300));
    setup.origin.resume_publishing();
    let held = held.join().unwrap();
    let waited = asked.elapsed().as_millis() as u64;
    assert_eq!(held.status, 200);
    assert!(
        held.cache_status().contains("held"),
        "{}",
        held.cache_status()
    );
    let fields = held.header("cmsd-static").expect("CMSD-Static");
    assert!(fields.starts_with("ot=m,sf=h,st=l,ht="), "{fields}");
    let ht: u64 = fields.rsplit("ht=").next().unwrap().parse().unwrap();
    // The hold as the server saw it: at least the pause, at most what the client waited.
    assert!((300..=waited).contains(&ht), "ht={ht}, waited {waited} ms");
});

with_shards!(a_node_near_its_connection_limit_says_so, |shards| {
    let setup = Setup::with(shards, &[("max_connections", "10")]);
    let target = "/cmsd/b/seg.m4s?size=10";
    assert!(!setup
        .get(target)
        .header("cmsd-dynamic")
        .unwrap()
        .contains(";du"));
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(setup.addr).unwrap())
        .collect();
    let busy = eventually(Duration::from_secs(5), || {
        setup
            .get(target)
            .header("cmsd-dynamic")
            .unwrap()
            .contains(";du")
    });
    assert!(busy, "du while 9 of 10 connections are open");
    drop(idle);
    let calm = eventually(Duration::from_secs(5), || {
        !setup
            .get(target)
            .header("cmsd-dynamic")
            .unwrap()
            .contains(";du")
    });
    assert!(calm, "no du once they closed");
});

with_shards!(off_adds_nothing, |shards| {
    let setup = Setup::with(shards, &[("cmsd", "off")]);
    let response = setup.get("/cmsd/c/seg.m4s?size=10");
    assert_eq!(response.status, 200);
    assert!(response.header("cmsd-static").is_none());
    assert!(response.header("cmsd-dynamic").is_none());
});
