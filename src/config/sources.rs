//! Where configuration values come from: command-line flags and `LIVECACHE_*` environment
//! variables (through clap, one of each per knob of `knobs::KNOBS`) and the TOML file. Every
//! source yields plain text per key, so one typed parser in `config/mod.rs` validates all of
//! them the same way and names the key in every error. This file does no validation.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};

use super::knobs::{keys, KNOBS};
use super::ConfigError;

/// The raw command line: the configuration file, `--check-config`, and the text given for
/// each key by its flag or, failing that, its environment variable. Nothing is validated here.
#[derive(Debug, Clone)]
pub struct Cli {
    pub config: Option<PathBuf>,
    pub check_config: bool,
    values: BTreeMap<&'static str, String>,
}

impl Cli {
    /// The command line, with one flag and one environment variable per knob.
    pub fn command() -> Command {
        let mut command = Command::new("livecache")
            .version(env!("CARGO_PKG_VERSION"))
            .about("Thread-per-core HTTP/1.1 cache for live video")
            .arg(
                Arg::new("config")
                    .long("config")
                    .env("LIVECACHE_CONFIG")
                    .value_name("FILE")
                    .help("TOML configuration file (keys as the long flags, with `_` for `-`)"),
            )
            .arg(
                Arg::new("check_config")
                    .long("check-config")
                    .action(ArgAction::SetTrue)
                    .help("Validate the configuration, print the effective values and exit"),
            );
        for knob in KNOBS {
            let mut arg = Arg::new(knob.key)
                .long(knob.flag())
                .env(knob.env())
                .value_name("VALUE")
                .help(knob.help);
            if REPEATABLE.contains(&knob.key) {
                arg = arg.action(ArgAction::Append);
            }
            command = command.arg(arg);
        }
        command
    }

    /// The process's own command line and environment; exits with usage on a bad flag.
    pub fn parse() -> Cli {
        Cli::from_matches(&Cli::command().get_matches())
    }

    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Ok(Cli::from_matches(
            &Cli::command().try_get_matches_from(args)?,
        ))
    }

    fn from_matches(matches: &clap::ArgMatches) -> Cli {
        let values = keys()
            .filter_map(|key| {
                let given: Vec<&String> = matches.get_many::<String>(key)?.collect();
                let joined = given.iter().map(|v| v.as_str()).collect::<Vec<_>>();
                Some((key, joined.join(";")))
            })
            .collect();
        Cli {
            config: matches.get_one::<String>("config").map(PathBuf::from),
            check_config: matches.get_flag("check_config"),
            values,
        }
    }

    /// The text given for `key` by a flag or, failing that, its environment variable.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// Keys whose flag may be given several times: the values are joined with `;`.
const REPEATABLE: &[&str] = &["parent", "access"];

/// Where an effective value came from, for `--check-config` and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    FlagOrEnv,
}

/// The TOML file, flattened to text per key. Unknown keys are rejected.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: "config".into(),
        value: path.display().to_string(),
        reason: format!("cannot read the file: {e}"),
    })?;
    parse_file(&text).map_err(|mut e| {
        e.reason = format!("{} (in {})", e.reason, path.display());
        e
    })
}

/// Parses TOML text into text per key; split out from `read_file` for tests.
pub fn parse_file(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        key: "config".into(),
        value: String::new(),
        reason: format!("not valid TOML: {}", e.message()),
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !keys().any(|k| k == key) {
            return Err(ConfigError {
                key: key.clone(),
                value: value.to_string(),
                reason: format!(
                    "unknown key; known keys: {}",
                    keys().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) if key == "parent" => parent_tables(items)?,
            toml::Value::Array(items) if key == "access" => access_tables(items)?,
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        other => parts.push(other.to_string()),
                    }
                }
                parts.join(",")
            }
            other => {
                return Err(ConfigError {
                    key,
                    value: other.to_string(),
                    reason: "expected a string, number or list".into(),
                })
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

/// A list of tables (`[[access]]`, `[[parent]]`) as its key's text: each table written as one
/// entry by `entry` (given the table and a way to name what is wrong), entries joined by `;`;
/// a plain string item is taken as written.
fn tables(
    key: &'static str,
    items: &[toml::Value],
    entry: impl Fn(&toml::Table, &dyn Fn(&str) -> ConfigError) -> Result<String, ConfigError>,
) -> Result<String, ConfigError> {
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let bad = |reason: &str| ConfigError {
            key: key.into(),
            value: item.to_string(),
            reason: reason.into(),
        };
        entries.push(match item {
            toml::Value::String(s) => s.clone(),
            toml::Value::Table(t) => entry(t, &bad)?,
            _ => return Err(bad(&format!("expected [[{key}]] tables or strings"))),
        });
    }
    Ok(entries.join(";"))
}

/// The first key of `table` not in `known`.
fn unknown_key<'a>(table: &'a toml::Table, known: &[&str]) -> Option<&'a String> {
    table.keys().find(|k| !known.contains(&k.as_str()))
}

/// `[[access]]` tables (`prefix`, `scheme`, `keys`, optional `param`) as the `access` key's
/// text: `PREFIX=SCHEME,keys=FILE[,param=NAME]` entries.
fn access_tables(items: &[toml::Value]) -> Result<String, ConfigError> {
    tables("access", items, |t, bad| {
        let text = |name: &str| t.get(name).and_then(toml::Value::as_str);
        let need =
            |name: &str| text(name).ok_or_else(|| bad(&format!("an [[access]] needs a `{name}`")));
        let (prefix, scheme, keys) = (need("prefix")?, need("scheme")?, need("keys")?);
        let mut entry = format!("{prefix}={scheme},keys={keys}");
        if let Some(param) = text("param") {
            entry.push_str(&format!(",param={param}"));
        }
        if let Some(unknown) = unknown_key(t, &["prefix", "scheme", "keys", "param"]) {
            return Err(bad(&format!("unknown [[access]] key `{unknown}`")));
        }
        Ok(entry)
    })
}

/// `[[parent]]` tables (`id`, `address`, optional `weight` and `admin`) as the `parent` key's
/// text.
fn parent_tables(items: &[toml::Value]) -> Result<String, ConfigError> {
    tables("parent", items, |t, bad| {
        let text = |name: &str| t.get(name).and_then(toml::Value::as_str);
        let id = text("id").ok_or_else(|| bad("a [[parent]] needs an `id`"))?;
        let address = text("address").ok_or_else(|| bad("a [[parent]] needs an `address`"))?;
        let mut entry = format!("{id}={address}");
        match t.get("weight") {
            Some(toml::Value::Integer(w)) => entry.push_str(&format!(",{w}")),
            Some(_) => return Err(bad("`weight` must be a whole number")),
            None => {}
        }
        if let Some(admin) = text("admin") {
            entry.push_str(&format!(",admin={admin}"));
        }
        if let Some(unknown) = unknown_key(t, &["id", "address", "weight", "admin"]) {
            return Err(bad(&format!("unknown [[parent]] key `{unknown}`")));
        }
        Ok(entry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tables_become_the_access_text() {
        let values = parse_file(
            "[[access]]\nprefix = \"/live/\"\nscheme = \"edgeauth\"\nkeys = \"/k\"\n\n\
             [[access]]\nprefix = \"/vod/\"\nscheme = \"uri_signing\"\nkeys = \"/j\"\nparam = \"sig\"\n",
        )
        .unwrap();
        assert_eq!(
            values["access"],
            "/live/=edgeauth,keys=/k;/vod/=uri_signing,keys=/j,param=sig"
        );
        let bad = parse_file("[[access]]\nprefix = \"/a/\"\nscheme = \"edgeauth\"\n").unwrap_err();
        assert!(bad.reason.contains("keys"), "{bad:?}");
        let odd =
            parse_file("[[access]]\nprefix = \"/a/\"\nscheme = \"x\"\nkeys = \"/k\"\nmode = 1\n");
        assert!(odd.unwrap_err().reason.contains("mode"));
    }

    #[test]
    fn parent_tables_and_repeated_flags_become_one_list() {
        let values = parse_file(
            "[[parent]]\nid = \"s1\"\naddress = \"10.0.0.1:8080\"\nweight = 2\n\n\
             [[parent]]\nid = \"s2\"\naddress = \"10.0.0.2:8080\"\nadmin = \"10.0.0.2:9901\"\n",
        )
        .unwrap();
        assert_eq!(
            values["parent"],
            "s1=10.0.0.1:8080,2;s2=10.0.0.2:8080,admin=10.0.0.2:9901"
        );
        let bad = parse_file("[[parent]]\nid = \"s1\"\n").unwrap_err();
        assert!(bad.reason.contains("address"), "{bad:?}");
        let cli = Cli::try_parse_from([
            "livecache",
            "--parent",
            "s1=10.0.0.1:8080",
            "--parent",
            "s2=10.0.0.2:8080,3",
        ])
        .unwrap();
        assert_eq!(
            cli.value("parent"),
            Some("s1=10.0.0.1:8080;s2=10.0.0.2:8080,3")
        );
    }

    #[test]
    fn file_values_become_text_per_key() {
        let values = parse_file(
            "listen = \"127.0.0.1:1\"\nshards = 3\nstrip_query_params = [\"CMCD\", \"utm\"]\n",
        )
        .unwrap();
        assert_eq!(values["listen"], "127.0.0.1:1");
        assert_eq!(values["shards"], "3");
        assert_eq!(values["strip_query_params"], "CMCD,utm");
    }

    #[test]
    fn unknown_file_keys_are_rejected_by_name() {
        let err = parse_file("cache_sise = \"1GiB\"\n").unwrap_err();
        assert_eq!(err.key, "cache_sise");
        assert!(err.reason.contains("unknown key"));
    }

    #[test]
    fn cli_flags_are_kebab_case_of_keys() {
        let cli =
            Cli::try_parse_from(["livecache", "--cache-size", "2GiB", "--shards", "4"]).unwrap();
        assert_eq!(cli.value("cache_size"), Some("2GiB"));
        assert_eq!(cli.value("shards"), Some("4"));
        assert_eq!(cli.value("listen"), None);
    }
}
