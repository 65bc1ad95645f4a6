//! The deployment examples in `deploy/` (issue "Origin-shield tiers", item 9) are checked by
//! the programs that read them: the edge and shield configurations by `livecache
//! --check-config` (parents, backup origins, names), the HAProxy front end by `haproxy -c`
//! and the nginx one by `nginx -t`. `tools/test-deps.sh` installs haproxy and nginx.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_livecache");

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `livecache --check-config` on `file`, with no `LIVECACHE_*` from the environment.
fn check_config(file: &str) -> String {
    let mut command = Command::new(BIN);
    command
        .arg("--check-config")
        .arg("--config")
        .arg(repo_file(file));
    for (name, _) in std::env::vars() {
        if name.starts_with("LIVECACHE_") {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run livecache --check-config");
    assert!(output.status.success(), "{file}: {}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_edge_and_shield_examples_are_valid_configurations() {
    let edge = check_config("deploy/edge.toml");
    assert!(
        edge.contains("shield-0=10.0.1.10:8080,1,admin=10.0.1.10:9901"),
        "{edge}"
    );
    assert!(edge.contains("shield-2=10.0.1.12:8080,2"), "{edge}");
    assert!(
        edge.contains("http://10.0.2.10:9000, http://10.0.2.11:9000"),
        "{edge}"
    );
    assert!(edge.contains("name = \"edge-fra-1\""), "{edge}");
    let shield = check_config("deploy/shield.toml");
    assert!(shield.contains("name = \"shield-0\""), "{shield}");
}

#[test]
fn the_haproxy_front_end_parses() {
    let output = Command::new("/usr/sbin/haproxy")
        .arg("-c")
        .arg("-f")
        .arg(repo_file("deploy/haproxy.cfg"))
        .output()
        .expect("haproxy is installed (tools/test-deps.sh)");
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn the_nginx_front_end_parses() {
    let dir = std::env::temp_dir().join(format!("livecache-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\n    include {1};\n}}\n",
            dir.display(),
            repo_file("deploy/nginx-front.conf").display()
        ),
    )
    .unwrap();
    let output = Command::new("/usr/sbin/nginx")
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("nginx is installed (tools/test-deps.sh)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", text(&output));
}
