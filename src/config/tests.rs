//! Unit tests of the configuration: defaults, errors naming the key and value, origins,
//! budget relations, stream keys, log keys and source precedence.

use super::*;

#[test]
fn defaults_validate() {
    let config = Config::from_pairs(&[("shards", "2")]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.cache_size, 1 << 30);
    assert_eq!(config.shard_cache_size(), 1 << 29);
    assert_eq!(config.stream_key, StreamKeyRule::Dirname);
    assert_eq!(
        config.strip_query_params,
        vec!["CMCD".to_string(), "_HLS_throughput".to_string()]
    );
}

#[test]
fn errors_name_the_key_and_value() {
    let err = Config::from_pairs(&[("cache_size", "12XB")]).unwrap_err();
    assert_eq!(err.key, "cache_size");
    assert_eq!(err.value, "12XB");
    let text = err.to_string();
    assert!(
        text.contains("cache_size") && text.contains("12XB"),
        "{text}"
    );
    assert_eq!(
        Config::from_pairs(&[("shards", "0")]).unwrap_err().key,
        "shards"
    );
    assert_eq!(
        Config::from_pairs(&[("listen", "nowhere")])
            .unwrap_err()
            .key,
        "listen"
    );
    assert_eq!(
        Config::from_pairs(&[("nonsense", "1")]).unwrap_err().key,
        "nonsense"
    );
}

#[test]
fn origin_urls_are_checked_and_resolved() {
    let config = Config::from_pairs(&[("origin", "http://127.0.0.1:9000/")]).unwrap();
    assert_eq!(config.origin.authority, "127.0.0.1:9000");
    assert_eq!(config.origin.addrs, vec!["127.0.0.1:9000".parse().unwrap()]);
    let default_port = Config::from_pairs(&[("origin", "http://127.0.0.1")]).unwrap();
    assert_eq!(default_port.origin.addrs[0].port(), 80);
    for bad in [
        "ftp://x",
        "127.0.0.1:9000",
        "http://",
        "http://h/path",
        "https://h",
    ] {
        assert_eq!(
            Config::from_pairs(&[("origin", bad)]).unwrap_err().key,
            "origin",
            "{bad}"
        );
    }
}

#[test]
fn budget_relations_are_enforced() {
    let err = Config::from_pairs(&[
        ("cache_size", "8MiB"),
        ("max_object_size", "16MiB"),
        ("shards", "1"),
    ])
    .unwrap_err();
    assert_eq!(err.key, "max_object_size");
    let err = Config::from_pairs(&[("cache_size", "1MiB"), ("shards", "4")]).unwrap_err();
    assert_eq!(err.key, "cache_size");
    let small = Config::from_pairs(&[("cache_size", "256MiB"), ("shards", "8")]).unwrap();
    assert_eq!(
        small.max_object_size,
        8 << 20,
        "the default follows a small budget down"
    );
}

#[test]
fn stream_key_rules_parse() {
    assert_eq!(parse_stream_key("prefix:2"), Ok(StreamKeyRule::Prefix(2)));
    assert!(parse_stream_key("prefix:0").is_err());
    assert!(parse_stream_key("hash").is_err());
}

#[test]
fn log_keys_parse() {
    let config = Config::from_pairs(&[]).unwrap();
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!(config.access_log, None);
    assert_eq!(config.access_log_format, AccessLogFormat::Combined);
    let config = Config::from_pairs(&[
        ("log_level", "DEBUG"),
        ("log_format", "json"),
        ("access_log", "/var/log/livecache/access.log"),
        ("access_log_format", "json"),
    ])
    .unwrap();
    assert_eq!(config.log_level, LogLevel::Debug);
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(
        config.access_log,
        Some(PathBuf::from("/var/log/livecache/access.log"))
    );
    assert_eq!(config.access_log_format, AccessLogFormat::Json);
    let toml = config.to_toml();
    assert!(toml.contains("log_level = \"debug\""), "{toml}");
    assert!(toml.contains("access_log = \"/var/log/livecache/access.log\""));
    for (key, bad) in [
        ("log_level", "verbose"),
        ("log_format", "xml"),
        ("access_log_format", "common"),
    ] {
        assert_eq!(Config::from_pairs(&[(key, bad)]).unwrap_err().key, key);
    }
}

#[test]
fn later_sources_win() {
    let config = Config::from_pairs(&[("shards", "2"), ("shards", "3")]).unwrap();
    assert_eq!(config.shards, 3);
    assert_eq!(config.sources["shards"], Source::FlagOrEnv);
    assert_eq!(config.sources["listen"], Source::Default);
    assert!(config
        .to_toml()
        .contains("shards = 3  # flag or environment"));
}
