//! Herd benchmark: N clients ask for one new object at the same moment; the origin answers
//! after a first-byte delay. Reports origin requests per object and client time-to-first-byte
//! percentiles, next to the same client's floor against a zero-logic server that answers at
//! once with the same body (so the figures read as "over the origin delay, over the floor").
//!
//! Run: `cargo bench --bench herd` (builds and starts `target/release/livecache` itself).
//! Knobs (env): HERD_CLIENTS (500), HERD_SIZE (65536), HERD_DELAY_MS (100), HERD_ROUNDS (5);
//! LIVECACHE=path runs that livecache binary instead of building this tree's (an A/B).
//! The client runs on CPU 0 and the servers on CPU 1 when the machine has two or more.
//!
//! Last results (2-core x86_64 dev VM, 2026-12-06 at 93e9413, defaults): floor TTFB p99 52.8 ms;
//! livecache 1 origin request per object, TTFB p99 33.5 ms over the origin delay, 132 us of CPU
//! per request (README "Measured").

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use mock_origin::MockOrigin;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Opens `clients` connections, then sends one GET on each at once; returns each client's
/// time from its send to the first response byte, after checking the whole body arrived.
fn herd(
    addr: SocketAddr,
    target: String,
    clients: usize,
    body_len: usize,
) -> Vec<(Duration, Duration)> {
    let placement = if cpus() > 1 {
        Placement::Fixed(0)
    } else {
        Placement::Unbound
    };
    LocalExecutorBuilder::new(placement)
        .spawn(move || async move {
            let mut streams = Vec::with_capacity(clients);
            for _ in 0..clients {
                let s = TcpStream::connect_timeout(addr, std::time::Duration::from_secs(5))
                    .await
                    .expect("connect");
                s.set_nodelay(true).unwrap();
                streams.push(s);
            }
            let request =
                Rc::new(format!("GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes());
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|mut s| {
                    let request = Rc::clone(&request);
                    glommio::spawn_local(async move {
                        let sent = Instant::now();
                        s.write_all(&request).await.unwrap();
                        // The head is kept until its end is found; body bytes are only
                        // counted, so a large object needs no buffer of its size.
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut head = Vec::new();
                        let mut body: Option<usize> = None;
                        let mut first = None;
                        loop {
                            let n = s.read(&mut buf).await.expect("read");
                            assert!(n > 0, "server closed early");
                            first.get_or_insert_with(|| sent.elapsed());
                            match body.as_mut() {
                                Some(got) => *got += n,
                                None => {
                                    head.extend_from_slice(&buf[..n]);
                                    let end = head.windows(4).position(|w| w == b"\r\n\r\n");
                                    body = end.map(|end| head.len() - end - 4);
                                }
                            }
                            if body.is_some_and(|got| got >= body_len) {
                                break;
                            }
                        }
                        (first.unwrap(), sent.elapsed())
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(clients);
            for t in tasks {
                out.push(t.await);
            }
            out
        })
        .unwrap()
        .join()
        .unwrap()
}

/// A zero-logic server: one glommio executor writing a fixed response, the same kind of loop
/// livecache runs, with no parsing beyond finding the end of the head.
fn reference_server(body_len: usize) -> (SocketAddr, glommio::ExecutorJoinHandle<()>) {
    let placement = if cpus() > 1 {
        Placement::Fixed(1)
    } else {
        Placement::Unbound
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = LocalExecutorBuilder::new(placement)
        .spawn(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let mut response =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n").into_bytes();
            response.resize(response.len() + body_len, b'x');
            let response = Rc::new(response);
            loop {
                let Ok(mut s) = listener.accept().await else {
                    continue;
                };
                let response = Rc::clone(&response);
                glommio::spawn_local(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = 0;
                    loop {
                        match s.read(&mut buf[got..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got += n,
                        }
                        if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                            got = 0;
                            if s.write_all(&response).await.is_err() {
                                return;
                            }
                        }
                    }
                })
                .detach();
            }
        })
        .unwrap();
    (rx.recv().unwrap(), handle)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
}

fn report(name: &str, pairs: Vec<(Duration, Duration)>, origin_delay: Duration) {
    let mut samples: Vec<Duration> = pairs.iter().map(|p| p.0).collect();
    let mut totals: Vec<Duration> = pairs.iter().map(|p| p.1).collect();
    samples.sort();
    totals.sort();
    let over = |d: Duration| d.saturating_sub(origin_delay).as_secs_f64() * 1000.0;
    println!(
        "{name:<34} first byte: p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms   (over origin delay: p99 {:>6.2} ms)",
        percentile(&samples, 0.50).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        samples.last().unwrap().as_secs_f64() * 1000.0,
        over(percentile(&samples, 0.99)),
    );
    println!(
        "{:<34} whole body: p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        "",
        percentile(&totals, 0.50).as_secs_f64() * 1000.0,
        percentile(&totals, 0.99).as_secs_f64() * 1000.0,
        totals.last().unwrap().as_secs_f64() * 1000.0,
    );
}

fn main() {
    let clients = env("HERD_CLIENTS", 500) as usize;
    let size = env("HERD_SIZE", 65536) as usize;
    let delay = Duration::from_millis(env("HERD_DELAY_MS", 100));
    let rounds = env("HERD_ROUNDS", 5) as usize;
    println!("herd: {clients} clients x {rounds} rounds, {size}-byte object, origin first-byte delay {delay:?}, {} CPUs", cpus());

    // The client's floor: the same herd against a server that answers at once.
    let (reference, _ref_handle) = reference_server(size);
    let mut floor = Vec::new();
    for _ in 0..rounds {
        floor.extend(herd(reference, "/ref".into(), clients, size));
    }
    report("zero-logic reference (floor)", floor, Duration::ZERO);

    let binary = std::env::var("LIVECACHE").unwrap_or_else(|_| {
        let status = Command::new("cargo")
            .args(["build", "--release", "--quiet", "--bin", "livecache"])
            .status()
            .unwrap();
        assert!(status.success());
        "target/release/livecache".into()
    });
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let mut cmd = if cpus() > 1 {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", &binary]);
        c
    } else {
        Command::new(&binary)
    };
    let mut child = cmd
        .args([
            "--listen",
            "127.0.0.1:0",
            "--origin",
            &origin.url(),
            "--shards",
            "1",
            "--cache-size",
            "256MiB",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("livecache started").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let before = cpu_ticks(child.id());
    let mut ttfb = Vec::new();
    for round in 0..rounds {
        let target = format!(
            "/live/herd/{round}/seg.m4s?size={size}&delay_ms={}",
            delay.as_millis()
        );
        ttfb.extend(herd(addr, target.clone(), clients, size));
        println!(
            "  round {round}: origin requests for the object: {}",
            origin.hits(&target)
        );
    }
    let ticks = cpu_ticks(child.id()) - before;
    report("livecache, new object (miss herd)", ttfb, delay);
    let hz = 100.0; // USER_HZ on Linux
    println!(
        "livecache CPU: {:.1} us per request ({} requests)",
        ticks as f64 / hz * 1e6 / (clients * rounds) as f64,
        clients * rounds
    );
    // SAFETY: signalling the child we started, by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
