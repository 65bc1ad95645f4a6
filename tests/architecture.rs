//! The module graph points one way, checked over the source itself: no import cycle between
//! top-level modules, none between the files of one module, and the pure layers at the
//! bottom (`http/` imports nothing of ours, `cache/` and `live/` only `http/`). A back-edge is
//! a concept in the wrong room: move the concept rather than relax this test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, as (path relative to `src/` without `.rs`, text before its
/// first `#[cfg(test)]`).
fn sources(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            sources(&path, &format!("{prefix}{name}/"), out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let text = fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.push((format!("{prefix}{stem}"), code.to_string()));
        }
    }
}

/// Identifiers following `needle` (`crate::`, `super::`), including those in a `{...}` group.
fn names_after(code: &str, needle: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices(needle) {
        let rest = &code[at + needle.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let item = item.trim().split("::").next().unwrap_or_default();
                names.push(item.trim().to_string());
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(ident);
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

fn all_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        "",
        &mut files,
    );
    files
}

fn top_level_graph(files: &[(String, String)]) -> Graph {
    let mut graph = Graph::new();
    for (path, code) in files {
        let me = path.split('/').next().unwrap().to_string();
        if me == "lib" || me == "main" {
            continue;
        }
        let deps = graph.entry(me.clone()).or_default();
        for name in names_after(code, "crate::") {
            if name != me {
                deps.insert(name);
            }
        }
    }
    graph
}

/// For module `module`: which file each name re-exported by its `mod.rs` (or `module.rs`)
/// comes from (`pub use file::{A, B}`).
fn reexports(files: &[(String, String)], module: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let root = files
        .iter()
        .find(|(p, _)| *p == format!("{module}/mod") || *p == module);
    if let Some((_, code)) = root {
        for line in code.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("pub use ") else {
                continue;
            };
            let Some((file, items)) = rest.split_once("::") else {
                continue;
            };
            for name in names_after(&format!("x::{items}"), "x::") {
                map.insert(name, file.to_string());
            }
        }
    }
    map
}

fn inner_graph(files: &[(String, String)], module: &str) -> Graph {
    let members: BTreeSet<String> = files
        .iter()
        .filter_map(|(p, _)| p.strip_prefix(&format!("{module}/")))
        .map(|p| p.split('/').next().unwrap().to_string())
        .filter(|p| p != "mod")
        .collect();
    let through = reexports(files, module);
    let mut graph = Graph::new();
    for (path, code) in files {
        let Some(me) = path.strip_prefix(&format!("{module}/")) else {
            continue;
        };
        let me = me.split('/').next().unwrap().to_string();
        if me == "mod" {
            continue;
        }
        let mut names = names_after(code, "super::");
        names.extend(names_after(code, &format!("crate::{module}::")));
        let deps = graph.entry(me.clone()).or_default();
        for name in names {
            let file = through.get(&name).cloned().unwrap_or(name);
            if file != me && members.contains(&file) {
                deps.insert(file);
            }
        }
    }
    graph
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(w: &mut Walk<'g>, v: &'g str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for next in w.graph.get(v).into_iter().flatten() {
            let next = next.as_str();
            if !w.index.contains_key(next) {
                visit(w, next);
                let low = w.low[v].min(w.low[next]);
                w.low.insert(v, low);
            } else if w.stack.contains(&next) {
                let low = w.low[v].min(w.index[next]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(top) = w.stack.pop() {
                component.push(top.to_string());
                if top == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

#[test]
fn top_level_modules_import_one_way() {
    let graph = top_level_graph(&all_sources());
    assert_eq!(cycles(&graph), Vec::<Vec<String>>::new(), "{graph:#?}");
}

#[test]
fn files_of_a_module_import_one_way() {
    let files = all_sources();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(p, _)| p.split_once('/').map(|(m, _)| m.to_string()))
        .collect();
    for module in modules {
        let graph = inner_graph(&files, &module);
        assert_eq!(
            cycles(&graph),
            Vec::<Vec<String>>::new(),
            "{module}/: {graph:#?}"
        );
    }
}

#[test]
fn the_pure_layers_are_at_the_bottom() {
    let graph = top_level_graph(&all_sources());
    let allowed = |module: &str| -> &[&str] {
        match module {
            "http" => &[],
            "cache" | "live" => &["http"],
            _ => unreachable!(),
        }
    };
    for module in ["http", "cache", "live"] {
        for dep in &graph[module] {
            assert!(
                allowed(module).contains(&dep.as_str()),
                "{module}/ imports {dep}: the pure layers import nothing above them"
            );
        }
    }
}

#[test]
fn the_check_sees_a_cycle_when_there_is_one() {
    let graph: Graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after(
            "use crate::{cache::Key, http}; crate::metrics::x",
            "crate::"
        ),
        vec!["cache", "http", "metrics"]
    );
}
