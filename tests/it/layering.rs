//! A tidy test (in matklad's sense): the modules form layers, and every `crate::` path in a
//! module's files points to a module below it. A new module must be placed in [`LAYERS`]; an
//! edge that points up (a cycle in the making) fails here with the file and the line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The modules of `src/`, lowest first. ARCHITECTURE.md shows the same order.
const LAYERS: &[&str] = &[
    "suggest",
    "error",
    "exit",
    "source",
    "http",
    "redact",
    "server",
    "api",
    "contract",
    "case",
    "deviation",
    "manifest",
    "matrix",
    "check",
    "plan",
    "probe",
    "record",
    "snapshot",
    "run",
    "signin",
    "spawn",
    "judge",
    "report",
    "cli",
    "app",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: `src/run/steps.rs` → `run`, `src/plan.rs` → `plan`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The modules named by `crate::…` paths on a line, including `crate::{a, b::c}` groups.
fn referenced(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(group[..end].split(',').map(|item| ident(item.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        seen.insert(module.clone());
        let Some(own) = rank(&module) else {
            problems.push(format!(
                "{}: module `{module}` is not in LAYERS; place it",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in referenced(line) {
                if used == module {
                    continue;
                }
                let ok = match rank(&used) {
                    // The reference server stands alone: it could be its own crate.
                    Some(_) if module == "server" => false,
                    Some(r) => r < own,
                    None => false,
                };
                if !ok {
                    problems.push(format!(
                        "{}:{}: `{module}` uses `crate::{used}`, which is not below it",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    let listed: BTreeSet<String> = LAYERS.iter().map(ToString::to_string).collect();
    for gone in listed.difference(&seen) {
        problems.push(format!("LAYERS names `{gone}`, which has no file in src/"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reference_checks_itself() {
    assert_eq!(
        referenced("use crate::plan::{Plan, TrialKind};"),
        vec!["plan"]
    );
    assert_eq!(
        referenced("use crate::{api, case::Level}; let x = crate::exit::OK;"),
        vec!["api", "case", "exit"]
    );
    assert!(referenced("use super::steps;").is_empty());
}

/// The siblings a file names through `super::` (`super::steps`, `super::{batch, session}`): the
/// files of the same folder, not the items of its `mod.rs`.
fn super_siblings(text: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find("super::") {
            rest = &rest[i + "super::".len()..];
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(ident)
                    .collect(),
                None => vec![ident(rest)],
            };
            out.extend(names.into_iter().filter(|n| siblings.contains(n)));
        }
    }
    out
}

#[test]
fn no_two_files_of_a_folder_use_each_other() {
    // Within a module folder the files form layers too: a file that names a sibling through
    // `super::` is above it, and no chain of such uses comes back to where it started.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
        let siblings: BTreeSet<String> = files
            .iter()
            .map(|p| stem(p))
            .filter(|s| s != "mod" && s != "tests")
            .collect();
        let uses: std::collections::BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .filter(|p| siblings.contains(&stem(p)))
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                (stem(p), super_siblings(&text, &siblings))
            })
            .collect();
        // Depth-first search for a cycle from each file.
        fn cycle(
            from: &str,
            uses: &std::collections::BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| p == from) {
                let mut c = path[i..].to_vec();
                c.push(from.to_string());
                return Some(c);
            }
            path.push(from.to_string());
            for next in uses.get(from).into_iter().flatten() {
                if let Some(c) = cycle(next, uses, path) {
                    return Some(c);
                }
            }
            path.pop();
            None
        }
        for file in uses.keys() {
            if let Some(c) = cycle(file, &uses, &mut Vec::new()) {
                let shown = format!("{}: {}", dir.display(), c.join(" → "));
                if !problems.contains(&shown) {
                    problems.push(shown);
                }
                break;
            }
        }
    }
    assert!(problems.is_empty(), "import circles: {problems:#?}");
}

#[test]
fn no_source_file_is_over_600_lines() {
    // ARCHITECTURE.md says so; tests and the fault table's model are data, and live in tests/.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:#?}");
}
