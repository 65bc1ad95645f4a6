//! The effective configuration as text: each key's value rendered the way the TOML file would
//! write it, for `--check-config` (in the order of `knobs::KNOBS`, each annotated with where
//! its value came from) and for comparing two configurations key by key at a reload.

use super::knobs::KNOBS;
use super::units;
use super::{AccessLogFormat, Config, LogFormat, Source, StreamKeyRule};

impl Config {
    /// The value of `key` as TOML text; `None` for an unknown key.
    pub fn rendered(&self, key: &str) -> Option<String> {
        self.rendered_values()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The effective configuration as TOML, each key annotated with where its value came from.
    pub fn to_toml(&self) -> String {
        let values = self.rendered_values();
        let mut out = String::new();
        for knob in KNOBS {
            let value = values
                .iter()
                .find(|(k, _)| *k == knob.key)
                .map(|(_, v)| v.as_str())
                .unwrap_or("\"\"");
            let source = match self.sources.get(knob.key) {
                Some(Source::File) => "file",
                Some(Source::FlagOrEnv) => "flag or environment",
                _ => "default",
            };
            out.push_str(&format!("{} = {value}  # {source}\n", knob.key));
        }
        out
    }

    fn rendered_values(&self) -> Vec<(&'static str, String)> {
        let values: Vec<(&'static str, String)> = vec![
            ("listen", quote(&self.listen.to_string())),
            (
                "origin",
                quote(
                    &std::iter::once(&self.origin)
                        .chain(&self.backup_origins)
                        .map(|o| o.url.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ),
            ("origin_failover", quote(self.origin_failover.label())),
            ("name", quote(self.node.name())),
            ("parent", quote(&super::parents::render(&self.parents))),
            (
                "go_direct",
                quote(if self.go_direct { "on" } else { "off" }),
            ),
            (
                "parent_probe_interval",
                quote(&units::format_duration(self.parent_probe_interval)),
            ),
            (
                "parent_probe_timeout",
                quote(&units::format_duration(self.parent_probe_timeout)),
            ),
            ("shards", self.shards.to_string()),
            ("cache_size", quote(&units::format_size(self.cache_size))),
            (
                "max_object_size",
                quote(&units::format_size(self.max_object_size)),
            ),
            ("max_connections", self.max_connections.to_string()),
            (
                "client_header_timeout",
                quote(&units::format_duration(self.client_header_timeout)),
            ),
            (
                "client_idle_timeout",
                quote(&units::format_duration(self.client_idle_timeout)),
            ),
            (
                "upstream_connect_timeout",
                quote(&units::format_duration(self.upstream_connect_timeout)),
            ),
            (
                "upstream_first_byte_timeout",
                quote(&units::format_duration(self.upstream_first_byte_timeout)),
            ),
            (
                "upstream_between_bytes_timeout",
                quote(&units::format_duration(self.upstream_between_bytes_timeout)),
            ),
            ("upstream_max_idle", self.upstream_max_idle.to_string()),
            (
                "max_request_head",
                quote(&units::format_size(self.max_request_head as u64)),
            ),
            ("max_headers", self.max_headers.to_string()),
            ("max_uri", quote(&units::format_size(self.max_uri as u64))),
            (
                "max_request_body",
                quote(&units::format_size(self.max_request_body)),
            ),
            (
                "request_body_memory",
                quote(&units::format_size(self.request_body_memory)),
            ),
            (
                "pass_through_memory",
                quote(&units::format_size(self.pass_through_memory)),
            ),
            (
                "client_min_rate",
                quote(&units::format_size(self.client_min_rate)),
            ),
            (
                "stream_key",
                quote(&match self.stream_key {
                    StreamKeyRule::Dirname => "dirname".to_string(),
                    StreamKeyRule::Prefix(n) => format!("prefix:{n}"),
                }),
            ),
            (
                "strip_query_params",
                format!(
                    "[{}]",
                    self.strip_query_params
                        .iter()
                        .map(|s| quote(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            ("mesh_queue", self.mesh_queue.to_string()),
            (
                "uncacheable_hold",
                quote(&units::format_duration(self.uncacheable_hold)),
            ),
            (
                "admin",
                quote(&self.admin.map(|a| a.to_string()).unwrap_or_default()),
            ),
            (
                "shutdown_grace",
                quote(&units::format_duration(self.shutdown_grace)),
            ),
            ("log_level", quote(self.log_level.as_str())),
            (
                "log_format",
                quote(match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }),
            ),
            (
                "access_log",
                quote(
                    &self
                        .access_log
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ),
            ),
            (
                "access_log_format",
                quote(match self.access_log_format {
                    AccessLogFormat::Combined => "combined",
                    AccessLogFormat::Json => "json",
                }),
            ),
        ];
        let mut values = values;
        values.extend(self.caching.toml_values());
        values.extend(self.forwarding.toml_values());
        values.extend(self.live.toml_values());
        values.extend(self.access.toml_values());
        values
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_knob_renders() {
        let config = Config::from_pairs(&[]).unwrap();
        for knob in KNOBS {
            assert!(
                config.rendered(knob.key).is_some(),
                "{} has no rendering",
                knob.key
            );
        }
        assert_eq!(config.rendered("cache_size").as_deref(), Some("\"1GiB\""));
    }
}
