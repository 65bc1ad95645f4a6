//! The README's configuration table is the reference operators read: it must list every knob
//! of `config::KNOBS` with its flag, environment variable and default, and nothing else, so the
//! two cannot drift apart.

use livecache::config::KNOBS;

/// The README's configuration rows: (key, flag, environment variable, default cell).
fn readme_rows() -> Vec<[String; 4]> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a Configuration section")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            [
                cells[0].clone(),
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
            ]
        })
        .collect()
}

#[test]
fn the_readme_lists_every_knob_as_declared() {
    let rows = readme_rows();
    for knob in KNOBS {
        let row = rows
            .iter()
            .find(|r| r[0] == format!("`{}`", knob.key))
            .unwrap_or_else(|| {
                panic!("README's configuration table has no row for `{}`", knob.key)
            });
        assert_eq!(row[1], format!("`--{}`", knob.flag()), "{}", knob.key);
        assert_eq!(row[2], format!("`{}`", knob.env()), "{}", knob.key);
        let default = &row[3];
        let documented = match knob.default {
            "" => default.contains("empty"),
            "auto" if knob.key == "shards" => default.contains("CPUs"),
            "auto" => default.contains("`auto`"),
            value => default.contains(&format!("`{value}`")),
        };
        assert!(
            documented,
            "README gives `{}` the default {default}, but it is {:?}",
            knob.key, knob.default
        );
    }
    for row in &rows {
        assert!(
            KNOBS.iter().any(|k| row[0] == format!("`{}`", k.key)),
            "README documents {} which is no configuration key",
            row[0]
        );
    }
}

#[test]
fn the_readme_names_every_key_a_reload_cannot_change() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let sighup = readme
        .lines()
        .find(|l| l.starts_with("| `SIGHUP` |"))
        .expect("a SIGHUP row in the signals table");
    for knob in KNOBS {
        let named = sighup.contains(&format!("`{}`", knob.key));
        let restart = knob.applies == livecache::config::Applies::Restart;
        assert_eq!(
            named, restart,
            "`{}` needs a restart: {restart}; the README's SIGHUP row says {named}",
            knob.key
        );
    }
}
