//! The reference binary, both runtimes, over a real socket: pipelined requests each get their
//! object's bytes (distinct per object) or a 404, and a stop signal ends the process.

// A test harness thread, not an executor: it polls a child process with short sleeps.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const SIZE: usize = 3000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The reference process; killed and reaped when dropped, so a failed assertion leaves none.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(runtime: &str, port: u16) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_reference"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--runtime",
            runtime,
        ])
        .args(["--set", &format!("obj:3:{SIZE}")])
        .spawn()
        .expect("reference starts");
    Running(child)
}

/// Waits until the reference takes connections on `port`.
fn connect(port: u16, runtime: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            return stream;
        }
        assert!(
            Instant::now() < deadline,
            "reference --runtime {runtime} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads exactly `n` bytes.
fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    stream.read_exact(&mut out).expect("the whole response");
    out
}

fn expected_body(index: usize) -> Vec<u8> {
    let fill = (index % 251) as u8;
    (0..SIZE).map(|k| fill ^ (k as u8)).collect()
}

fn check(runtime: &str) {
    let port = free_port();
    let mut running = spawn(runtime, port);
    let mut stream = connect(port, runtime);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Two objects and a miss, pipelined in one write, the last split over two writes.
    stream
        .write_all(b"GET /obj/2.bin HTTP/1.1\r\nHost: a\r\n\r\nGET /obj/0.bin?x=1 HTTP/1.1\r\n\r\nGET /nope HT")
        .unwrap();
    stream.write_all(b"TP/1.1\r\n\r\n").unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {SIZE}\r\n\r\n"
    );
    for index in [2, 0] {
        assert_eq!(
            read_n(&mut stream, head.len()),
            head.as_bytes(),
            "{runtime}"
        );
        assert_eq!(read_n(&mut stream, SIZE), expected_body(index), "{runtime}");
    }
    let not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(read_n(&mut stream, not_found.len()), not_found, "{runtime}");
    // SAFETY: a signal to the child this test started (and has not reaped).
    unsafe { libc::kill(running.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "reference --runtime {runtime} ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn epoll_loop_serves_objects_and_stops() {
    check("epoll");
}

#[test]
fn glommio_runtime_serves_objects_and_stops() {
    check("glommio");
}
