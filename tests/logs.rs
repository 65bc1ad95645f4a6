//! Logs as an operator reads them. The access log (daemon in-process): one line per response
//! with the right status, cache result and target, and a reopen after a rename (logrotate)
//! sends new lines to a new file. The binary's stderr: `--log-format json` is one JSON object
//! per line; `text` under journald has priorities and no timestamps; a SIGHUP that changes
//! `log_level` takes effect without a restart.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_livecache");

fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("logs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// (status, cache result, target) of a `combined` line:
/// `IP - - [time] "GET /t HTTP/1.1" 200 123 "ref" "ua" cache=hit upstream_ms=- ...`.
fn fields(line: &str) -> (u16, String, String) {
    let quoted: Vec<&str> = line.split('"').collect();
    let target = quoted[1].split(' ').nth(1).unwrap_or("-").to_string();
    let status = quoted[2]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cache = field(line, "cache").to_string();
    (status, cache, target)
}

/// The value of `name=` on a `combined` line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(&format!(" {name}="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

fn sorted(mut v: Vec<(u16, String, String)>) -> Vec<(u16, String, String)> {
    v.sort();
    v
}

with_shards!(access_log_has_one_line_per_response_and_reopens, |shards| {
    let dir = scratch(&format!("access-{shards}"));
    let path = dir.join("access.log");
    let setup = Setup::with(shards, &[("access_log", path.to_str().unwrap())]);
    let mut expected = Vec::new();
    for i in 0..6 {
        let target = format!("/logs/{shards}/ch{i}/seg.ts?size=1000");
        let miss = setup.get(&target);
        assert_eq!(miss.status, 200);
        assert!(miss.cache_status().contains("fwd=uri-miss"));
        expected.push((200, "miss".to_string(), target.clone()));
        let hit = setup.get(&target);
        assert!(hit.cache_status().contains("hit"), "{}", hit.cache_status());
        expected.push((200, "hit".to_string(), target));
    }
    let missing = format!("/logs/{shards}/gone/seg.ts?status=404");
    assert_eq!(setup.get(&missing).status, 404);
    expected.push((404, "miss".to_string(), missing));
    let posted = format!("/logs/{shards}/upload");
    let pass = request(
        setup.addr,
        &format!(
            "POST {posted} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 3\r\n\
             Connection: close\r\n\r\nabc"
        ),
        false,
    );
    assert_eq!(pass.status, 200);
    expected.push((200, "pass".to_string(), posted));
    let agent = format!("/logs/{shards}/agent/seg.ts?size=10");
    let with_agent = request(
        setup.addr,
        &format!(
            "GET {agent} HTTP/1.1\r\nHost: test.local\r\nUser-Agent: test-agent/1.0\r\n\
             Referer: http://player.test/\r\nConnection: close\r\n\r\n"
        ),
        false,
    );
    assert_eq!(with_agent.status, 200);
    expected.push((200, "miss".to_string(), agent.clone()));

    let n = expected.len();
    assert!(
        eventually(Duration::from_secs(10), || lines(&path).len() >= n),
        "{} of {n} lines: {:?}",
        lines(&path).len(),
        lines(&path)
    );
    let logged = lines(&path);
    assert_eq!(logged.len(), n, "{logged:#?}");
    assert_eq!(
        sorted(logged.iter().map(|l| fields(l)).collect()),
        sorted(expected),
        "{logged:#?}"
    );
    for line in &logged {
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        let shard: usize = field(line, "shard").parse().unwrap();
        assert!(shard < shards, "{line}");
        let upstream = field(line, "upstream_ms");
        if field(line, "cache") == "hit" {
            assert_eq!(upstream, "-", "{line}");
        } else {
            assert!(upstream.parse::<f64>().is_ok(), "{line}");
        }
        assert!(field(line, "total_ms").parse::<f64>().is_ok(), "{line}");
    }
    let agent_line = logged.iter().find(|l| l.contains(&agent)).unwrap();
    assert!(
        agent_line.contains("\"http://player.test/\" \"test-agent/1.0\""),
        "{agent_line}"
    );

    // logrotate: rename the file, ask for a reopen, and new lines go to a new file.
    let rotated = dir.join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    setup.running().reopen_access_logs();
    let fresh = format!("/logs/{shards}/after/seg.ts?size=100");
    assert_eq!(setup.get(&fresh).status, 200);
    assert!(setup.get(&fresh).cache_status().contains("hit"));
    let again = format!("/logs/{shards}/ch0/seg.ts?size=1000");
    assert!(setup.get(&again).cache_status().contains("hit"));
    assert!(
        eventually(Duration::from_secs(10), || lines(&path).len() >= 3),
        "new file: {:?}",
        lines(&path)
    );
    assert_eq!(
        sorted(lines(&path).iter().map(|l| fields(l)).collect()),
        sorted(vec![
            (200, "miss".into(), fresh.clone()),
            (200, "hit".into(), fresh),
            (200, "hit".into(), again),
        ])
    );
    assert_eq!(lines(&rotated).len(), n, "the rotated file keeps its lines");
    drop(setup);
    let _ = std::fs::remove_dir_all(&dir);
});

with_shards!(json_access_log_lines_parse, |shards| {
    let dir = scratch(&format!("access-json-{shards}"));
    let path = dir.join("access.json");
    let setup = Setup::with(
        shards,
        &[
            ("access_log", path.to_str().unwrap()),
            ("access_log_format", "json"),
        ],
    );
    let target = format!("/logs/json/{shards}/seg.ts?size=100&q=%22x%22");
    setup.get(&target);
    setup.get(&target);
    assert!(eventually(Duration::from_secs(10), || lines(&path).len() >= 2));
    let mut caches = Vec::new();
    for line in lines(&path) {
        let v: serde_json::Value = serde_json::from_str(&line).expect(&line);
        assert_eq!(v["target"], target.as_str());
        assert_eq!(v["status"], 200);
        assert_eq!(v["method"], "GET");
        assert!(v["total_ms"].is_number());
        caches.push(v["cache"].as_str().unwrap().to_string());
    }
    caches.sort();
    assert_eq!(caches, ["hit", "miss"]);
    drop(setup);
    let _ = std::fs::remove_dir_all(&dir);
});

/// The binary, killed by PID if a test ends early.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Daemon {
    fn command(args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).stdout(Stdio::null());
        for key in livecache::config::keys() {
            cmd.env_remove(format!("LIVECACHE_{}", key.to_ascii_uppercase()));
        }
        cmd.env_remove("LIVECACHE_CONFIG")
            .env_remove("JOURNAL_STREAM");
        cmd
    }

    fn signal(&self, signal: i32) {
        // SAFETY: signalling the child this test started, by its PID.
        unsafe { libc::kill(self.0.id() as i32, signal) };
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// stderr lines of a child, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Reads lines into `seen` until one satisfies `want`; panics after 20 s.
fn read_until(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push(line.clone());
            if want(&line) {
                return line;
            }
        }
    }
    panic!("not seen on stderr; got {seen:#?}");
}

fn address_in(text: &str) -> SocketAddr {
    text.split("listening on http://")
        .nth(1)
        .unwrap()
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn message(v: &serde_json::Value) -> &str {
    v["message"]
        .as_str()
        .or_else(|| v["fields"]["message"].as_str())
        .unwrap_or_else(|| panic!("no message in {v}"))
}

#[test]
fn json_log_format_writes_one_object_per_stderr_line() {
    let mut cmd = Daemon::command(&[
        "--listen",
        "127.0.0.1:0",
        "--origin",
        "http://127.0.0.1:1",
        "--shards",
        "1",
        "--log-format",
        "json",
    ]);
    let mut daemon = Daemon(cmd.stderr(Stdio::piped()).spawn().expect("spawn livecache"));
    let rx = stderr_lines(&mut daemon.0);
    let mut seen = Vec::new();
    let listening = read_until(&rx, &mut seen, |l| l.contains("listening on http://"));
    let addr = address_in(&listening);
    // The origin refuses: one warning, with the target as a field.
    assert_eq!(get(addr, "/json/refused/seg.ts").status, 502);
    read_until(&rx, &mut seen, |l| l.contains("upstream failure"));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        seen.push(line);
    }
    for line in &seen {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        assert!(v["level"].is_string(), "no level: {line}");
        message(&v);
        assert!(!line.contains('\x1b'), "no colours: {line}");
    }
    let parsed: Vec<serde_json::Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warning = parsed
        .iter()
        .find(|v| message(v).contains("upstream failure"))
        .unwrap();
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["uri"], "/json/refused/seg.ts", "{warning}");
    assert_eq!(warning["shard"], 0, "{warning}");
    assert!(parsed.iter().any(|v| message(v) == "stopped"), "{seen:#?}");
}

#[test]
fn text_under_journald_has_priorities_and_no_timestamps() {
    let dir = scratch("journal");
    let log = dir.join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = Daemon::command(&[
        "--listen",
        "127.0.0.1:0",
        "--origin",
        "http://127.0.0.1:1",
        "--shards",
        "1",
    ]);
    cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(file);
    let mut daemon = Daemon(cmd.spawn().expect("spawn livecache"));
    assert!(eventually(Duration::from_secs(20), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("listening on http://")
    }));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("<6>INFO listening on http://127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.lines().all(|l| l.starts_with('<')), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_changes_the_log_level_without_a_restart() {
    let dir = scratch("level");
    let config = dir.join("livecache.toml");
    let write = |level: &str| {
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\norigin = \"http://127.0.0.1:1\"\nshards = 1\n\
                 cache_size = \"64MiB\"\nlog_level = \"{level}\"\n"
            ),
        )
        .unwrap()
    };
    write("info");
    let mut cmd = Daemon::command(&["--config", config.to_str().unwrap()]);
    let mut daemon = Daemon(cmd.stderr(Stdio::piped()).spawn().expect("spawn livecache"));
    let rx = stderr_lines(&mut daemon.0);
    let mut seen = Vec::new();
    let addr = address_in(&read_until(&rx, &mut seen, |l| {
        l.contains("listening on http://")
    }));
    assert!(!seen[0].contains('\x1b'), "no colours off a terminal");
    // The first failure warns; the next ones within 10 s go out at debug, hidden at info.
    let first = Instant::now();
    assert_eq!(get(addr, "/level/1/seg.ts").status, 502);
    read_until(&rx, &mut seen, |l| {
        l.contains("WARN") && l.contains("/level/1/seg.ts")
    });
    assert_eq!(get(addr, "/level/2/seg.ts").status, 502);
    write("debug");
    daemon.signal(libc::SIGHUP);
    read_until(&rx, &mut seen, |l| l.contains("configuration reloaded"));
    assert_eq!(get(addr, "/level/3/seg.ts").status, 502);
    let third = read_until(&rx, &mut seen, |l| l.contains("/level/3/seg.ts"));
    // (Past the 10 s window it is the next warning instead, which proves nothing either way.)
    if first.elapsed() < Duration::from_secs(9) {
        assert!(third.contains("DEBUG"), "{third}");
    }
    assert!(
        !seen.iter().any(|l| l.contains("/level/2/seg.ts")),
        "debug was off before the reload: {seen:#?}"
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
