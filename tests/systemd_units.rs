//! The systemd integration files in `systemd/` and `tools/install.sh`, checked without a
//! running systemd:
//!
//! - `systemd-analyze verify` accepts `livecache.service` and `livecache.socket` (on a copy
//!   whose `ExecStart=`/`ExecReload=` name this build's binary, since verify requires every
//!   command to exist). Where `systemd-analyze` is missing, the test fails and says to run
//!   tools/test-deps.sh, which installs it.
//! - The io_uring system calls survive the unit's `SystemCallFilter=`: on Debian 12's systemd
//!   252 they are in `@system-service` (through `@aio`); the unit names them as well.
//! - The example `systemd/livecache.toml` passes `livecache --check-config`, and every key
//!   that `--check-config` prints appears in it, so the example documents every key the
//!   daemon has at test time (keys are read from the binary, not listed here).
//! - The service unit has the notify type, the validating reload, the resource limits and the
//!   hardening lines the daemon is written for; the socket and the example agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use livecache::config::units::parse_duration;

const BIN: &str = env!("CARGO_BIN_EXE_livecache");
const INSTALLED_BIN: &str = "/usr/local/bin/livecache";
const CONFIG_PATH: &str = "/etc/livecache/livecache.toml";
const IO_URING: [&str; 3] = ["io_uring_setup", "io_uring_enter", "io_uring_register"];

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A unit file's settings as (section, key, value), in file order, without comments.
fn settings(unit: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a unit setting: {line:?}"));
        out.push((section.clone(), key.trim().into(), value.trim().into()));
    }
    out
}

/// Every value of `key` in `section`, in file order.
fn values(unit: &str, section: &str, key: &str) -> Vec<String> {
    settings(unit)
        .into_iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v)
        .collect()
}

/// The single value of `key` in `section`.
fn value(unit: &str, section: &str, key: &str) -> String {
    let found = values(unit, section, key);
    assert_eq!(found.len(), 1, "[{section}] {key}= set {found:?} times");
    found[0].clone()
}

fn has_systemd_analyze() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fails, saying how to get it, when `systemd-analyze` is missing: tools/test-deps.sh (run by
/// tools/test.sh and .ci/run) installs it; a test never installs anything itself.
fn require_systemd_analyze() {
    assert!(
        has_systemd_analyze(),
        "systemd-analyze is missing: run tools/test-deps.sh (Debian's systemd package), or the \
         whole suite with tools/test.sh"
    );
}

/// A fresh scratch directory for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("systemd-units-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `systemd-analyze verify` on unit files: `--man=no` because `Documentation=` need not
/// have a man page here, `--recursive-errors=no` so that only these units are judged (not
/// whatever the host's own units say), with a fallback for a systemd without that option.
fn verify(units: &[&Path]) -> Output {
    let run = |extra: &[&str]| {
        Command::new("systemd-analyze")
            .arg("verify")
            .arg("--man=no")
            .args(extra)
            .args(units)
            .env("SYSTEMD_LOG_LEVEL", "info")
            .env("SYSTEMD_LOG_COLOR", "0")
            .env("SYSTEMD_PAGER", "")
            .output()
            .expect("run systemd-analyze verify")
    };
    let output = run(&["--recursive-errors=no"]);
    if text(&output).contains("recursive-errors") {
        return run(&[]);
    }
    output
}

/// Lines of verify's output that report a problem.
fn complaints(output: &Output) -> Vec<String> {
    const MARKS: [&str; 7] = [
        "error",
        "unknown",
        "ignoring",
        "failed",
        "not executable",
        "invalid",
        "missing",
    ];
    text(output)
        .lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            MARKS.iter().any(|mark| lower.contains(mark))
        })
        .map(str::to_string)
        .collect()
}

/// The system calls in a `SystemCallFilter=` group, nested groups expanded, as this host's
/// systemd defines them.
fn syscall_group(group: &str) -> BTreeSet<String> {
    let output = Command::new("systemd-analyze")
        .args(["syscall-filter", group])
        .env("SYSTEMD_PAGER", "")
        .output()
        .expect("run systemd-analyze syscall-filter");
    assert!(
        output.status.success(),
        "systemd-analyze syscall-filter {group}:\n{}",
        text(&output)
    );
    let mut calls = BTreeSet::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        // The group's own name starts the listing unindented; its members are indented.
        if !line.starts_with(char::is_whitespace) {
            continue;
        }
        let item = line.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            calls.extend(syscall_group(item));
        } else {
            calls.insert(item.to_string());
        }
    }
    calls
}

/// Copies of both units into `dir`, with the commands pointed at files that exist here.
fn units_for_verify(dir: &Path) -> (PathBuf, PathBuf) {
    let mut service = read("systemd/livecache.service");
    assert!(service.contains(INSTALLED_BIN));
    service = service.replace(INSTALLED_BIN, BIN);
    if !Path::new("/bin/kill").exists() {
        // procps is not in every container image; real hosts have it.
        let kill = dir.join("kill");
        std::fs::write(&kill, "#!/bin/sh\nexec kill \"$@\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kill, std::fs::Permissions::from_mode(0o755)).unwrap();
        println!("note: /bin/kill is missing here; verifying with a stand-in");
        service = service.replace("/bin/kill", kill.to_str().unwrap());
    }
    let service_path = dir.join("livecache.service");
    let socket_path = dir.join("livecache.socket");
    std::fs::write(&service_path, service).unwrap();
    std::fs::write(&socket_path, read("systemd/livecache.socket")).unwrap();
    (service_path, socket_path)
}

#[test]
fn systemd_analyze_verify_accepts_both_units() {
    require_systemd_analyze();
    let dir = scratch("verify");
    let (service, socket) = units_for_verify(&dir);

    let output = verify(&[&service, &socket]);
    let problems = complaints(&output);
    assert!(
        output.status.success() && problems.is_empty(),
        "systemd-analyze verify rejected the units (exit {:?}):\n{}",
        output.status.code(),
        text(&output)
    );

    // The check can fail: a misspelt key and a missing binary are both reported.
    let broken = dir.join("broken").join("livecache.service");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    let text_ok = std::fs::read_to_string(&service).unwrap();
    let misspelt = text_ok.replacen("Type=notify", "Typ=notify", 1);
    std::fs::write(&broken, &misspelt).unwrap();
    let output = verify(&[&broken]);
    assert!(
        text(&output).contains("Unknown key") && !complaints(&output).is_empty(),
        "verify did not notice a misspelt key:\n{}",
        text(&output)
    );
    std::fs::write(&broken, text_ok.replace(BIN, "/nonexistent/livecache")).unwrap();
    let output = verify(&[&broken]);
    assert!(
        !output.status.success(),
        "verify did not notice a missing binary:\n{}",
        text(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn system_call_filter_lets_io_uring_through() {
    require_systemd_analyze();
    let unit = read("systemd/livecache.service");
    let filters = values(&unit, "Service", "SystemCallFilter");
    let (denied, allowed): (Vec<&String>, Vec<&String>) =
        filters.iter().partition(|f| f.starts_with('~'));
    let mut allow = BTreeSet::new();
    for item in allowed.iter().flat_map(|f| f.split_whitespace()) {
        if item.starts_with('@') {
            allow.extend(syscall_group(item));
        } else {
            allow.insert(item.to_string());
        }
    }
    let mut deny = BTreeSet::new();
    for item in denied
        .iter()
        .flat_map(|f| f.trim_start_matches('~').split_whitespace())
    {
        if item.starts_with('@') {
            deny.extend(syscall_group(item));
        } else {
            deny.insert(item.to_string());
        }
    }
    let service_group = syscall_group("@system-service");
    for call in IO_URING {
        println!(
            "{call}: in @system-service on this systemd: {}",
            service_group.contains(call)
        );
    }
    // What the daemon calls (strace of start-up, a request and a drain) plus sd_notify.
    let needed = IO_URING.iter().copied().chain([
        "mmap",
        "munmap",
        "mprotect",
        "madvise",
        "membarrier",
        "sched_getaffinity",
        "sched_setaffinity",
        "prlimit64",
        "eventfd2",
        "socket",
        "bind",
        "listen",
        "accept",
        "connect",
        "setsockopt",
        "sendmsg",
        "sendto",
        "clone3",
        "futex",
        "rt_sigaction",
        "rt_sigprocmask",
        "sigaltstack",
        "openat",
        "statx",
    ]);
    for call in needed {
        assert!(
            allow.contains(call) && !deny.contains(call),
            "SystemCallFilter= {filters:?} blocks {call}"
        );
    }
}

#[test]
fn example_config_passes_check_config_and_documents_every_key() {
    let example = repo_file("systemd/livecache.toml");
    let mut command = Command::new(BIN);
    command.arg("--check-config").arg("--config").arg(&example);
    for (name, _) in std::env::vars() {
        if name.starts_with("LIVECACHE_") {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run livecache --check-config");
    assert!(
        output.status.success(),
        "livecache --check-config --config systemd/livecache.toml failed (exit {:?}):\n{}",
        output.status.code(),
        text(&output)
    );
    let printed = String::from_utf8(output.stdout).unwrap();

    // `key = value  # source`, one line per key.
    let mut effective = Vec::new();
    for line in printed.lines().filter(|l| !l.trim().is_empty()) {
        let (key, rest) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("unexpected --check-config line {line:?}"));
        let (value, source) = rest
            .rsplit_once("  # ")
            .unwrap_or_else(|| panic!("no source on --check-config line {line:?}"));
        effective.push((
            key.trim().to_string(),
            value.to_string(),
            source.to_string(),
        ));
    }
    assert!(
        effective.len() >= 20,
        "--check-config printed only:\n{printed}"
    );

    // Keys the example sets (`key = ...`) and keys it documents commented out (`# key = ...`).
    let example_text = read("systemd/livecache.toml");
    let mut set = BTreeSet::new();
    let mut mentioned = BTreeSet::new();
    for line in example_text.lines().map(str::trim) {
        let (commented, body) = match line.strip_prefix('#') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        let Some((key, _)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        mentioned.insert(key.to_string());
        if !commented {
            set.insert(key.to_string());
        }
    }

    let missing: Vec<&str> = effective
        .iter()
        .map(|(key, _, _)| key.as_str())
        .filter(|key| !mentioned.contains(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "systemd/livecache.toml does not document {missing:?}; add each with its meaning, unit \
         and default"
    );
    for (key, value, source) in &effective {
        assert_eq!(
            source == "file",
            set.contains(key),
            "{key} = {value} comes from {source}, but the example {} it",
            if set.contains(key) {
                "sets"
            } else {
                "does not set"
            }
        );
    }
    let get = |key: &str| {
        effective
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.clone())
            .unwrap_or_else(|| panic!("--check-config printed no {key}"))
    };
    assert_eq!(get("listen"), "\"0.0.0.0:8080\"");
    assert_eq!(get("origin"), "\"http://127.0.0.1:9000\"");
}

#[test]
fn check_config_rejects_a_bad_file_with_exit_2() {
    // ExecReload= relies on a failing check, RestartPreventExitStatus=2 on its code.
    let dir = scratch("bad-config");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "cache_sise = \"1GiB\"\n").unwrap();
    let output = Command::new(BIN)
        .arg("--check-config")
        .arg("--config")
        .arg(&bad)
        .env_remove("LIVECACHE_CONFIG")
        .output()
        .expect("run livecache --check-config");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("cache_sise"), "{}", text(&output));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn service_unit_has_notify_reload_limits_and_hardening() {
    let unit = read("systemd/livecache.service");
    let service = |key: &str| value(&unit, "Service", key);

    assert_eq!(service("Type"), "notify");
    assert_eq!(service("NotifyAccess"), "main");
    assert_eq!(
        service("ExecStart"),
        format!("{INSTALLED_BIN} --config {CONFIG_PATH}")
    );
    assert!(
        !service("WatchdogSec").is_empty(),
        "the daemon sends WATCHDOG=1"
    );

    // Reload validates first and signals only if that passed: two ExecReload= lines run in
    // order, and a failing first one stops the second.
    let reload = values(&unit, "Service", "ExecReload");
    let check = reload
        .iter()
        .position(|c| c == &format!("{INSTALLED_BIN} --check-config --config {CONFIG_PATH}"))
        .unwrap_or_else(|| panic!("no validating ExecReload= in {reload:?}"));
    let hup = reload
        .iter()
        .position(|c| c == "/bin/kill -HUP $MAINPID")
        .unwrap_or_else(|| panic!("no ExecReload=/bin/kill -HUP $MAINPID in {reload:?}"));
    assert!(check < hup, "ExecReload= sends SIGHUP before validating");
    assert!(
        reload.iter().all(|c| !c.starts_with('-')),
        "a failed check must fail the reload"
    );

    // The drain must fit in the stop timeout.
    let stop = parse_duration(&service("TimeoutStopSec")).unwrap();
    let grace = read("systemd/livecache.toml")
        .lines()
        .find_map(|l| l.trim().strip_prefix("shutdown_grace = "))
        .map(|v| parse_duration(v.trim_matches('"')).unwrap())
        .unwrap_or(std::time::Duration::from_secs(30));
    assert!(
        stop > grace,
        "TimeoutStopSec {stop:?} must exceed shutdown_grace {grace:?}"
    );

    for (key, expected) in [
        ("LimitMEMLOCK", "64M"),
        ("LimitNOFILE", "1048576"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "2"),
        ("DynamicUser", "yes"),
        ("ConfigurationDirectory", "livecache"),
        ("LogsDirectory", "livecache"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallArchitectures", "native"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("LockPersonality", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(service(key), expected, "[Service] {key}=");
    }
    let filters = values(&unit, "Service", "SystemCallFilter");
    assert!(
        filters.iter().any(|f| f == "@system-service"),
        "SystemCallFilter=@system-service missing: {filters:?}"
    );
    for call in IO_URING {
        assert!(
            filters
                .iter()
                .filter(|f| !f.starts_with('~'))
                .any(|f| f.split_whitespace().any(|c| c == call)),
            "SystemCallFilter= does not name {call}"
        );
    }
    // How to allow ports below 1024 is documented next to the empty bounding set.
    assert!(unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    assert!(
        !unit.contains("SIGUSR1"),
        "SIGUSR1 is glommio's stall detector"
    );
    assert_eq!(
        value(&unit, "Install", "WantedBy"),
        "multi-user.target",
        "[Install]"
    );
}

#[test]
fn socket_unit_matches_the_service_and_the_example() {
    let socket = read("systemd/livecache.socket");
    let listen = value(&socket, "Socket", "ListenStream");
    assert_eq!(listen, "0.0.0.0:8080");
    assert_eq!(value(&socket, "Socket", "ReusePort"), "no");
    assert_eq!(value(&socket, "Socket", "Service"), "livecache.service");
    assert_eq!(value(&socket, "Install", "WantedBy"), "sockets.target");
    let example_listen = read("systemd/livecache.toml")
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = ").map(str::to_string))
        .expect("the example sets listen");
    assert_eq!(example_listen.trim_matches('"'), listen);
    // The service runs with or without the socket: it must not require it.
    let service = read("systemd/livecache.service");
    for key in ["Requires", "BindsTo", "Requisite"] {
        assert!(
            values(&service, "Unit", key)
                .iter()
                .all(|v| !v.contains("livecache.socket")),
            "livecache.service {key}= the socket"
        );
    }
}

#[test]
fn install_script_is_valid_bash_and_starts_nothing() {
    let script = repo_file("tools/install.sh");
    let output = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash -n");
    assert!(output.status.success(), "{}", text(&output));
    let body = read("tools/install.sh");
    for line in body.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        for verb in ["start", "restart", "enable"] {
            assert!(
                !line.starts_with(&format!("systemctl {verb}")),
                "install.sh must not run `systemctl {verb}`: {line}"
            );
        }
    }
    assert!(body.contains("build --release -p livecache"));
    assert!(body.contains("systemctl daemon-reload"));
}
