//! The `livecache` binary as an operator runs it: configuration precedence (defaults < file <
//! environment < flags), errors that name the key and value, start-up as an unprivileged user
//! under the default 8 MiB locked-memory limit, a clear refusal below glommio's minimum, and
//! a clean exit on SIGTERM.

// Test threads pace clients and wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_livecache");

fn check_config(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--check-config").args(args);
    for key in livecache::config::keys() {
        cmd.env_remove(format!("LIVECACHE_{}", key.to_ascii_uppercase()));
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run livecache")
}

#[test]
fn precedence_is_defaults_file_env_flags() {
    let dir = std::env::temp_dir().join(format!("livecache-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("livecache.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7001\"\nshards = 3\ncache_size = \"512MiB\"\nmax_headers = 50\n",
    )
    .unwrap();
    let out = check_config(
        &["--config", file.to_str().unwrap(), "--cache-size", "256MiB"],
        &[
            ("LIVECACHE_SHARDS", "2"),
            ("LIVECACHE_CACHE_SIZE", "128MiB"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("listen = \"127.0.0.1:7001\"  # file"),
        "{text}"
    );
    assert!(
        text.contains("shards = 2  # flag or environment"),
        "env beats file: {text}"
    );
    assert!(
        text.contains("cache_size = \"256MiB\""),
        "flag beats env: {text}"
    );
    assert!(text.contains("max_headers = 50  # file"));
    assert!(text.contains("client_idle_timeout = \"60s\"  # default"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_name_the_key_and_the_value() {
    let out = check_config(&["--cache-size", "12XB"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cache_size") && err.contains("12XB"), "{err}");

    let dir = std::env::temp_dir().join(format!("livecache-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "cache_sise = \"1GiB\"\n").unwrap();
    let out = check_config(&["--config", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cache_sise"));
    let _ = std::fs::remove_dir_all(&dir);

    let out = check_config(&["--origin", "ftp://x"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("origin"));
}

#[test]
fn check_config_refuses_a_forwarded_field_outside_the_key() {
    let out = check_config(&["--forward-fields", "Accept, X-Forwarded-Host"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("forward_fields") && err.contains("x-forwarded-host"),
        "{err}"
    );
    let out = check_config(&["--forward-fields", "Accept, X-Forwarded-Host:safe"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("forward_fields = \"accept, x-forwarded-host:safe\""),
        "{text}"
    );
}

#[test]
fn check_config_refuses_forwarding_an_access_tokens_field() {
    let keys = std::env::temp_dir().join(format!("lc-cli-keys-{}", std::process::id()));
    std::fs::write(&keys, format!("{}\n", "07".repeat(32))).unwrap();
    let route = format!("/g/=edgeauth,keys={},param=Authorization", keys.display());
    let forward = ["--forward-fields", "Accept, Authorization:safe"];
    let out = check_config(&[&["--access", &route][..], &forward[..]].concat(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("forward_fields") && err.contains("access token"),
        "{err}"
    );
    let out = check_config(&["--access", &route], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(keys).ok();
}

/// Starts the binary through `sh -c` (for ulimit and setpriv) and returns it with its address.
fn spawn(shell: &str) -> (Child, Option<String>, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(shell)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            std::thread::spawn(move || for _ in lines {});
            return (child, Some(addr), log);
        }
    }
    (child, None, log)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn starts_as_nobody_under_the_default_memlock_limit_and_stops_on_sigterm() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to switch to an unprivileged user");
        return;
    }
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let shell = format!(
        "ulimit -l 8192 && exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- {BIN} \
         --listen 127.0.0.1:0 --origin {} --shards 4 --cache-size 64MiB",
        origin.url()
    );
    let (mut child, addr, log) = spawn(&shell);
    let addr = addr.unwrap_or_else(|| panic!("did not start: {log}"));
    let target = "/live/nobody/1/seg.ts?size=1000";
    let first = get(addr.parse().unwrap(), target);
    assert_eq!(first.status, 200);
    assert!(get(addr.parse().unwrap(), target)
        .cache_status()
        .contains("hit"));
    // SAFETY: signalling the child we started, by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_with_limit(&mut child, Duration::from_secs(15));
    assert_eq!(status, Some(0), "clean exit on SIGTERM");
}

#[test]
fn refuses_to_start_below_the_memlock_minimum_with_advice() {
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let (mut child, addr, log) = spawn(&format!(
        "ulimit -l 128 && exec {BIN} --listen 127.0.0.1:0 --origin {}",
        origin.url()
    ));
    assert!(addr.is_none(), "must not start");
    assert!(
        log.contains("RLIMIT_MEMLOCK") && log.contains("LimitMEMLOCK"),
        "{log}"
    );
    assert_eq!(
        wait_with_limit(&mut child, Duration::from_secs(10)),
        Some(1)
    );
}

#[test]
fn refuses_an_address_already_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let origin = MockOrigin::start("127.0.0.1:0").unwrap();
    let (mut child, addr, log) = spawn(&format!(
        "exec {BIN} --listen 127.0.0.1:{port} --origin {} --shards 1",
        origin.url()
    ));
    assert!(addr.is_none());
    assert!(log.contains("already in use"), "{log}");
    assert_eq!(
        wait_with_limit(&mut child, Duration::from_secs(10)),
        Some(1)
    );
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}
