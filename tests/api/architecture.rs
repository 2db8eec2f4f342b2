//! The module boundaries, checked: every top-level module of `src/` imports exactly the
//! modules its row in docs/ARCHITECTURE.md lists under "may depend on", and the imports have
//! no cycle. The table is therefore true by construction: a new `use crate::…` that crosses a
//! boundary fails here until the table says so (and a cycle fails whatever the table says).
//!
//! What counts as an import: any `crate::<module>` path (in `use`, in `crate::{a, b}` groups,
//! or spelt out inline) in the module's files before their `#[cfg(test)]` part; tests may
//! reach across for their fixtures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crate's top-level modules: each folder and file of `src/` but the crate roots.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(root().join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lib.rs" && n != "main.rs")
        .map(|n| n.trim_end_matches(".rs").to_string())
        .collect()
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|x| x == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The identifier at the start of `s` (`[a-z_]+`).
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())).unwrap_or(s.len());
    &s[..end]
}

/// Modules named by `crate::` paths in `text`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b, c::{D, E}}`: the first identifier of each top-level item.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.insert(ident(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest).to_string());
        }
    }
    found
}

/// The code without comment lines: a doc comment that names `crate::x` is not an import.
fn without_comments(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// What each module imports from the others, its tests left out.
fn actual() -> BTreeMap<String, BTreeSet<String>> {
    let all = modules();
    let mut graph = BTreeMap::new();
    for m in &all {
        let dir = root().join("src").join(m);
        let path = if dir.is_dir() { dir } else { root().join("src").join(format!("{m}.rs")) };
        let mut files = Vec::new();
        rust_files(&path, &mut files);
        let mut deps = BTreeSet::new();
        // A module's tests (a `tests.rs` file, or what follows `#[cfg(test)]`) may reach further.
        for f in files.iter().filter(|f| f.file_name().is_none_or(|n| n != "tests.rs")) {
            let text = std::fs::read_to_string(f).unwrap();
            let code = without_comments(text.split("#[cfg(test)]").next().unwrap_or_default());
            deps.extend(imports(&code).into_iter().filter(|d| all.contains(d) && d != m));
        }
        graph.insert(m.clone(), deps);
    }
    graph
}

/// The module table of docs/ARCHITECTURE.md: module -> the modules in backticks in its last
/// column.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let all = modules();
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let backticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|t| t.trim_end_matches('/').trim_end_matches(".rs").to_string())
            .collect()
    };
    let mut table = BTreeMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let (Some(first), Some(last)) = (cells.first(), cells.last()) else { continue };
        let allowed: BTreeSet<String> = backticked(last).into_iter().filter(|d| all.contains(d)).collect();
        for m in backticked(first).into_iter().filter(|m| all.contains(m)) {
            table.insert(m, allowed.clone());
        }
    }
    table
}

#[test]
fn the_parser_reads_every_form_of_import() {
    let text =
        "use crate::db::Db;\nuse crate::{bus::Bus, domain::{a, b}, clock};\nlet x = crate::ledger::query::total(c);";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["bus", "clock", "db", "domain", "ledger"]);
    let documented = "//! Reads `crate::ledger`.\n    /// See crate::audit::verify.\nuse crate::db::Db;";
    let found: Vec<String> = imports(&without_comments(documented)).into_iter().collect();
    assert_eq!(found, ["db"], "comments name modules without importing them");
}

#[test]
fn every_module_imports_exactly_what_architecture_md_says_it_may() {
    let (actual, documented) = (actual(), documented());
    let mut wrong = Vec::new();
    for (m, deps) in &actual {
        match documented.get(m) {
            None => wrong.push(format!("`{m}` has no row in docs/ARCHITECTURE.md's module table")),
            Some(allowed) => {
                let undeclared: Vec<_> = deps.difference(allowed).collect();
                let unused: Vec<_> = allowed.difference(deps).collect();
                if !undeclared.is_empty() {
                    wrong.push(format!("`{m}` imports {undeclared:?}, which its row does not allow"));
                }
                if !unused.is_empty() {
                    wrong.push(format!("`{m}`'s row lists {unused:?}, which it does not import (keep the table true)"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_modules_import_each_other_without_a_cycle() {
    // Kahn's algorithm: peel off modules that import nothing left; what remains is cyclic.
    let mut graph = actual();
    loop {
        let leaves: Vec<String> = graph.iter().filter(|(_, d)| d.is_empty()).map(|(m, _)| m.clone()).collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in &leaves {
            graph.remove(leaf);
        }
        for deps in graph.values_mut() {
            deps.retain(|d| !leaves.contains(d));
        }
    }
    // Every module left imports another one left, so walking from any of them comes round.
    let mut path: Vec<String> = graph.keys().take(1).cloned().collect();
    while let Some(next) = path.last().and_then(|m| graph[m].iter().next()).cloned() {
        if let Some(start) = path.iter().position(|m| *m == next) {
            path.drain(..start);
            path.push(next);
            break;
        }
        path.push(next);
    }
    assert!(graph.is_empty(), "the modules import each other in a cycle: {}", path.join(" -> "));
}
