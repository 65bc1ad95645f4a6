//! The admin listener: `/metrics` counts exactly what clients did, the health and status
//! endpoints answer, `/readyz` turns 503 while draining, and `promtool` accepts the
//! exposition. Figures are recorded just after a response's last byte is written, so each
//! check first waits (bounded) for the scrape to reach the expected totals, then asserts
//! every figure exactly.

mod common;
use common::*;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One sample line of the exposition.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A parsed scrape.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), Vec::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("labels end with }");
                    let labels = body
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {line:?}")),
            };
            samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Scrape { text, samples }
    }

    /// The sum of the samples named `name` that carry all of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// Checks one histogram series: buckets cumulative, `+Inf` equal to `_count`; returns
    /// the count.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let bucket = format!("{name}_bucket");
        let buckets: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == bucket)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .collect();
        assert_eq!(buckets.len(), 15, "{name}{labels:?}: 14 bounds and +Inf");
        assert!(
            buckets.windows(2).all(|w| w[0].value <= w[1].value),
            "{name}{labels:?}: buckets are cumulative"
        );
        let last = buckets.last().unwrap();
        assert!(last.labels.iter().any(|(k, v)| k == "le" && v == "+Inf"));
        let count = self.sum(&format!("{name}_count"), labels);
        assert_eq!(last.value, count, "{name}{labels:?}: +Inf bucket == _count");
        assert!(
            self.samples.iter().any(|s| s.name == format!("{name}_sum")),
            "{name} has a _sum"
        );
        count
    }
}

fn scrape(admin: SocketAddr) -> Scrape {
    let response = get(admin, "/metrics");
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        response.header("content-type")
    );
    Scrape::parse(String::from_utf8(response.body).expect("UTF-8 exposition"))
}

fn post(addr: SocketAddr, target: &str) -> Response {
    request(
        addr,
        &format!(
            "POST {target} HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        ),
        false,
    )
}

with_shards!(metrics_count_exactly_what_clients_did, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    let targets: Vec<String> = (0..3)
        .map(|i| format!("/live/metrics-{i}/720p/seg-1.m4s?size={}", 1000 + i))
        .collect();
    let mut body_bytes = 0;
    for target in &targets {
        let r = setup.get(target);
        assert_eq!(r.status, 200);
        assert!(
            r.cache_status().contains("fwd=uri-miss"),
            "{}",
            r.cache_status()
        );
        body_bytes += r.body.len();
    }
    for i in 0..5 {
        let r = setup.get(&targets[i % 3]);
        assert!(r.cache_status().contains("hit"), "{}", r.cache_status());
        body_bytes += r.body.len();
    }
    let passed = post(setup.addr, "/live/metrics-post/data?size=10");
    assert_eq!(passed.status, 200);
    assert!(passed.cache_status().contains("fwd=request"));
    let bad = request(
        setup.addr,
        "GET /live/x HTTP/1.1\r\nConnection: close\r\n\r\n",
        false,
    );
    assert_eq!(bad.status, 400, "HTTP/1.1 without Host");

    let settled = |m: &Scrape| {
        m.sum("livecache_requests_total", &[]) == 9.0
            && m.sum("livecache_response_seconds_count", &[]) == 9.0
            && m.sum("livecache_bad_requests_total", &[]) == 1.0
            && m.sum("livecache_store_objects", &[]) == 3.0
    };
    assert!(
        eventually(Duration::from_secs(10), || settled(&scrape(admin))),
        "figures settle:\n{}",
        scrape(admin).text
    );
    let m = scrape(admin);
    let requests = |labels: &[(&str, &str)]| m.sum("livecache_requests_total", labels);
    assert_eq!(requests(&[("cache", "miss")]), 3.0);
    assert_eq!(requests(&[("cache", "hit")]), 5.0);
    assert_eq!(requests(&[("cache", "pass")]), 1.0);
    assert_eq!(requests(&[("cache", "collapsed")]), 0.0);
    assert_eq!(requests(&[("cache", "error")]), 0.0);
    assert_eq!(
        requests(&[("method", "GET"), ("status", "2xx"), ("cache", "hit")]),
        5.0
    );
    assert_eq!(
        requests(&[("method", "POST"), ("status", "2xx"), ("cache", "pass")]),
        1.0
    );
    assert_eq!(m.sum("livecache_origin_requests_total", &[]), 4.0);
    assert_eq!(m.sum("livecache_origin_errors_total", &[]), 0.0);
    assert_eq!(m.sum("livecache_collapsed_total", &[]), 0.0);
    assert_eq!(
        m.sum("livecache_bad_requests_total", &[("status", "400")]),
        1.0
    );
    assert_eq!(m.sum("livecache_overload_refusals_total", &[]), 0.0);
    assert!(m.sum("livecache_client_bytes_received_total", &[]) > 0.0);
    assert!(m.sum("livecache_client_bytes_sent_total", &[]) >= body_bytes as f64);
    assert_eq!(m.sum("livecache_store_objects", &[]), 3.0);
    assert!(m.sum("livecache_store_bytes", &[]) >= 3000.0);
    // The shards' quotas share the budget; idle ones hand theirs back.
    let quotas = m.sum("livecache_store_budget_bytes", &[]);
    assert!(quotas > 0.0 && quotas <= (64u64 << 20) as f64, "{quotas}");
    assert_eq!(m.sum("livecache_shards", &[]), shards as f64);
    assert_eq!(m.sum("livecache_latency_shards_merged", &[]), shards as f64);
    assert_eq!(m.sum("livecache_config_version", &[]), 1.0);
    assert_eq!(m.sum("livecache_config_reload_failures_total", &[]), 0.0);
    assert_eq!(m.sum("livecache_inflight_fetches", &[]), 0.0);

    // One sample per response in each latency histogram, by cache result.
    for name in [
        "livecache_response_first_byte_seconds",
        "livecache_response_seconds",
    ] {
        assert_eq!(m.histogram(name, &[("cache", "hit")]), 5.0, "{name}");
        assert_eq!(m.histogram(name, &[("cache", "miss")]), 3.0, "{name}");
        assert_eq!(m.histogram(name, &[("cache", "pass")]), 1.0, "{name}");
        assert_eq!(m.histogram(name, &[("cache", "collapsed")]), 0.0, "{name}");
        assert_eq!(m.histogram(name, &[("cache", "error")]), 0.0, "{name}");
    }
    assert_eq!(
        m.histogram("livecache_origin_response_seconds", &[]),
        4.0,
        "one per origin request"
    );

    // Metrics live on the admin port only: the public port proxies `/metrics` upstream.
    let public = setup.get("/metrics");
    assert!(!String::from_utf8_lossy(&public.body).contains("livecache_requests_total"));
});

with_shards!(
    failures_are_counted_by_whose_fault_and_purges_as_local,
    |shards| {
        let setup = Setup::with(
            shards,
            &[("admin", "127.0.0.1:0"), ("purge_allow", "127.0.0.1/32")],
        );
        let admin = setup.admin_addr();
        // The client's fault: a body that can never be complete.
        let bad = request(
            setup.addr,
            "GET /live/f/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
        );
        assert_eq!(bad.status, 400);
        // The upstream's: it stops answering.
        assert_eq!(setup.get("/live/f/down.ts?bad=garbage").status, 502);
        // No failure: a purge livecache answers itself.
        let purged = request(
            setup.addr,
            "PURGE /live/f/down.ts HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n",
            false,
        );
        assert_eq!(purged.status, 200);
        let settled = |m: &Scrape| m.sum("livecache_requests_total", &[]) == 2.0;
        assert!(eventually(Duration::from_secs(10), || settled(&scrape(
            admin
        ))));
        let m = scrape(admin);
        let failures = |labels: &[(&str, &str)]| m.sum("livecache_failures_total", labels);
        assert_eq!(failures(&[("side", "client"), ("kind", "malformed")]), 1.0);
        assert_eq!(failures(&[("side", "upstream"), ("kind", "broken")]), 1.0);
        assert_eq!(failures(&[("side", "local")]), 0.0);
        let requests = |labels: &[(&str, &str)]| m.sum("livecache_requests_total", labels);
        assert_eq!(requests(&[("cache", "local"), ("method", "OTHER")]), 1.0);
        assert_eq!(requests(&[("cache", "error"), ("status", "5xx")]), 1.0);
        assert_eq!(
            m.sum("livecache_bad_requests_total", &[("status", "400")]),
            1.0
        );
    }
);

with_shards!(health_ready_status_and_not_found, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    assert_ne!(admin, setup.addr);
    let target = "/live/status/1/seg-1.m4s?size=100";
    setup.get(target);
    assert!(setup.get(target).cache_status().contains("hit"));

    let health = get(admin, "/healthz");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    let ready = get(admin, "/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(get(admin, "/nothing-here").status, 404);
    assert_eq!(get(admin, "/").status, 404);
    assert_eq!(post(admin, "/metrics").status, 405);

    let status = get(admin, "/status");
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&status.body).expect("JSON");
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["config_version"], 1);
    assert_eq!(doc["ready"], "serving");
    assert!(doc["uptime_seconds"].is_u64());
    let per_shard = doc["shards"].as_array().expect("a shards array");
    assert_eq!(per_shard.len(), shards);
    for (id, shard) in per_shard.iter().enumerate() {
        assert_eq!(shard["shard"], id);
        for key in [
            "requests",
            "hits",
            "misses",
            "collapsed",
            "connections",
            "evictions",
        ] {
            assert!(shard[key].is_u64(), "shard {id} has {key}");
        }
        for key in ["bytes", "objects", "budget"] {
            assert!(shard["store"][key].is_u64(), "shard {id} has store.{key}");
        }
    }
    let sum = |key: &str| -> u64 { per_shard.iter().map(|s| s[key].as_u64().unwrap_or(0)).sum() };
    assert_eq!(sum("hits"), 1);
    assert_eq!(sum("misses"), 1);
    assert_eq!(doc["totals"]["hits"], 1);
    assert_eq!(doc["totals"]["store"]["objects"], 1);
});

with_shards!(readyz_is_503_while_draining, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    assert_eq!(get(admin, "/readyz").status, 200);
    // A slow response in progress keeps every shard draining (not stopped) for a while.
    let target = "/live/drain/1/seg-1.m4s?size=100&delay_ms=2500";
    let addr = setup.addr;
    let slow = std::thread::spawn(move || get(addr, target));
    assert!(
        eventually(Duration::from_secs(10), || setup
            .origin_count("GET", target)
            == 1),
        "the slow request reached the origin"
    );
    setup.running().shutdown.trigger();
    let ready = get(admin, "/readyz");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body, b"draining\n");
    assert_eq!(get(admin, "/healthz").status, 200, "alive while draining");
    let response = slow.join().expect("client thread");
    assert_eq!(response.status, 200);
    assert!(response.complete, "the response in progress finishes");
});

/// `promtool`; fails, saying how to get it, when it is missing: tools/test-deps.sh (run by
/// tools/test.sh and .ci/run) installs it; a test never installs anything itself.
fn promtool() -> &'static str {
    let works = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "promtool is missing: run tools/test-deps.sh (Debian's prometheus package), or the whole \
         suite with tools/test.sh"
    );
    "promtool"
}

with_shards!(promtool_accepts_the_exposition, |shards| {
    let setup = Setup::with(shards, &[("admin", "127.0.0.1:0")]);
    let admin = setup.admin_addr();
    // Some traffic of every kind, so every family has labelled samples.
    let target = "/live/promtool/1/seg-1.m4s?size=2000";
    setup.get(target);
    setup.get(target);
    post(setup.addr, "/live/promtool/post?size=3");
    request(setup.addr, "GARBAGE\r\n\r\n", false);
    setup.get("/live/promtool/1/missing?status=404");
    let body = get(admin, "/metrics").body;
    let promtool = promtool();
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&body)
        .expect("feed promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- exposition ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&body)
    );
});
