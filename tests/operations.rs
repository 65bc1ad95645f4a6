//! The daemon's lifecycle as a service manager and an operator see it, through the real
//! binary: sd_notify messages in order on a fake `NOTIFY_SOCKET`, a graceful SIGTERM drain
//! with clients mid-download, SIGHUP reload (applied without dropping connections or the
//! cache; rejected with the old config kept and counted), and socket activation.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_livecache");

struct Daemon {
    child: Child,
    addr: std::net::SocketAddr,
    admin: Option<std::net::SocketAddr>,
}

impl Daemon {
    /// Starts the binary with `args` (plus `env`) and waits for its listening line.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(BIN);
        cmd.args(args).stderr(Stdio::piped()).stdout(Stdio::null());
        for key in livecache::config::keys() {
            cmd.env_remove(format!("LIVECACHE_{}", key.to_ascii_uppercase()));
        }
        cmd.envs(env.iter().copied());
        Daemon::wait_ready(cmd.spawn().expect("spawn livecache"))
    }

    fn wait_ready(mut child: Child) -> Daemon {
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && (addr.is_none() || admin.is_none()) {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
                if addr.is_some() {
                    break;
                }
                continue;
            };
            let field = |marker: &str| {
                line.split(marker)
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next()?.parse().ok())
            };
            addr = addr.or_else(|| field("listening on http://"));
            admin = admin.or_else(|| field("admin on http://"));
        }
        Daemon {
            child,
            addr: addr.expect("livecache started"),
            admin,
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: signalling the child this test started, by its PID.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn metric(&self, name: &str) -> f64 {
        let body = get(self.admin.expect("admin listener"), "/metrics").body;
        let text = String::from_utf8(body).unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("livecache-ops-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn notify_messages_arrive_in_order() {
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let dir = temp_dir("notify");
    let socket_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&socket_path);
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // systemd names the watched process in WATCHDOG_PID; `exec` keeps the shell's PID.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "WATCHDOG_PID=$$ exec {BIN} --listen 127.0.0.1:0 --origin {} --shards 2 --cache-size 64MiB",
            origin.url()
        ))
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "500000")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let daemon = Daemon::wait_ready(cmd.spawn().unwrap());
    let mut seen = Vec::new();
    let next = |want: &str, seen: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            let Ok(n) = manager.recv(&mut buf) else { break };
            let message = String::from_utf8_lossy(&buf[..n]).to_string();
            seen.push(message.clone());
            if message.lines().any(|l| l.starts_with(want)) {
                return message;
            }
        }
        panic!("no {want} (seen: {seen:?})");
    };
    let ready = next("READY=1", &mut seen);
    assert!(
        ready.contains("STATUS="),
        "READY carries a status line: {ready}"
    );
    next("STATUS=", &mut seen);
    next("WATCHDOG=1", &mut seen);
    daemon.signal(libc::SIGHUP);
    let reloading = next("RELOADING=1", &mut seen);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    next("READY=1", &mut seen);
    daemon.signal(libc::SIGTERM);
    next("STOPPING=1", &mut seen);
    let mut daemon = daemon;
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_lets_fifty_downloads_finish_and_refuses_new_connections() {
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let mut daemon = Daemon::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--origin",
            &origin.url(),
            "--shards",
            "2",
            "--cache-size",
            "64MiB",
            "--shutdown-grace",
            "15s",
        ],
        &[],
    );
    let target = "/ops/drain/1/seg.ts?size=300000&pause_after=1000&pause_ms=1500";
    let addr = daemon.addr;
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let target = target.to_string();
            std::thread::spawn(move || get(addr, &target))
        })
        .collect();
    assert!(eventually(Duration::from_secs(10), || origin.hits(target) >= 1));
    std::thread::sleep(Duration::from_millis(300)); // every client is now mid-download
    let stopped_at = Instant::now();
    daemon.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    let refused = match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Err(_) => true,
        Ok(mut late) => {
            use std::io::{Read, Write};
            late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = late.write_all(b"GET /ops/late HTTP/1.1\r\nHost: a\r\n\r\n");
            let mut buf = [0u8; 64];
            matches!(late.read(&mut buf), Ok(0) | Err(_))
        }
    };
    assert!(refused, "new connections are refused while draining");
    let expected = expected_body("/ops/drain/1/seg.ts", 300000);
    for client in clients {
        let r = client.join().unwrap();
        assert!(
            r.complete && r.body == expected,
            "every download in progress completes"
        );
    }
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(15)),
        Some(0),
        "exit 0 within the grace period"
    );
    assert!(stopped_at.elapsed() < Duration::from_secs(15));
}

#[test]
fn sighup_applies_a_valid_config_and_rejects_an_invalid_one() {
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let dir = temp_dir("reload");
    let file = dir.join("livecache.toml");
    let write_config = |max_headers: u32, extra: &str| {
        std::fs::write(
            &file,
            format!(
                "listen = \"127.0.0.1:0\"\norigin = \"{}\"\nshards = 2\ncache_size = \"64MiB\"\nadmin = \"127.0.0.1:0\"\nmax_headers = {max_headers}\n{extra}",
                origin.url()
            ),
        )
        .unwrap()
    };
    write_config(100, "");
    let daemon = Daemon::start(&["--config", file.to_str().unwrap()], &[]);
    let with_headers = |n: usize| {
        let mut raw = "GET /ops/reload/1/seg.ts?size=100 HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n".to_string();
        for i in 0..n {
            raw.push_str(&format!("X-H{i}: v\r\n"));
        }
        raw.push_str("\r\n");
        request(daemon.addr, &raw, false).status
    };
    assert_eq!(with_headers(20), 200);
    let mut kept = Conn::open(daemon.addr);
    assert!(kept
        .get("/ops/reload/1/seg.ts?size=100")
        .cache_status()
        .contains("hit"));
    assert_eq!(daemon.metric("livecache_config_version"), 1.0);

    write_config(10, "");
    daemon.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || daemon
        .metric("livecache_config_version")
        == 2.0));
    assert_eq!(with_headers(20), 431, "the new limit applies");
    let again = kept.get("/ops/reload/1/seg.ts?size=100");
    assert!(
        again.cache_status().contains("hit"),
        "the open connection works and the cache stayed"
    );

    write_config(100, "no_such_key = 1\n");
    daemon.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || daemon
        .metric("livecache_config_reload_failures_total")
        == 1.0));
    assert_eq!(with_headers(20), 431, "the old configuration stays");
    assert_eq!(daemon.metric("livecache_config_version"), 2.0);
    assert_eq!(kept.get("/ops/reload/1/seg.ts?size=100").status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn socket_activation_serves_on_the_passed_socket() {
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let mut cmd = Command::new("sh");
    // `exec` keeps the shell's PID, so LISTEN_PID=$$ names the daemon itself.
    cmd.arg("-c")
        .arg(format!("LISTEN_FDS=1 LISTEN_PID=$$ exec {BIN} --listen 127.0.0.1:1 --origin {} --shards 2 --cache-size 64MiB", origin.url()))
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    // SAFETY: dup2 in the child before exec, to put the listening socket at fd 3.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = Daemon::wait_ready(cmd.spawn().unwrap());
    assert_eq!(
        daemon.addr, addr,
        "it serves the passed socket, not `listen`"
    );
    let target = "/ops/activated/1/seg.ts?size=500";
    assert_eq!(
        get(addr, target).body,
        expected_body("/ops/activated/1/seg.ts", 500)
    );
    assert!(get(addr, target).cache_status().contains("hit"));
    // Streams owned by either shard, whichever shard accepts: both shards accept from one
    // passed socket, and neither may block in accept while requests it owns wait.
    for stream in 0..16 {
        let path = format!("/ops/activated/s{stream}/seg.ts");
        let r = get(addr, &format!("{path}?size=300"));
        assert!(
            r.body == expected_body(&path, 300),
            "stream {stream}: {r:?}"
        );
    }
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    // The socket belongs to the socket unit (here: this test): still listening for the next
    // instance, not shut down by the one that stopped.
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    drop(listener);
}
