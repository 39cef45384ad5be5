//! Embeds `schemas/` and `cases/` into the binary, so that an installed binary carries its contract.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let mut code = String::new();
    for (name, dir) in [("SCHEMAS", "schemas"), ("CASES", "cases")] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut files = Vec::new();
        collect(&base, &mut files);
        files.sort();
        let _ = writeln!(code, "pub static {name}: &[(&str, &str)] = &[");
        for file in files {
            println!("cargo:rerun-if-changed={}", file.display());
            let rel = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let _ = writeln!(
                code,
                "    ({rel:?}, include_str!({:?})),",
                file.display().to_string()
            );
        }
        let _ = writeln!(code, "];");
    }
    // The embedded reference server's response snapshots, so an installed binary can check them.
    let snapshots = root.join("snapshots").join("embedded");
    println!("cargo:rerun-if-changed={}", snapshots.display());
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "snap"))
                .collect()
        })
        .unwrap_or_default();
    snaps.sort();
    let mut snap_code = String::from("pub static SNAPSHOTS: &[(&str, &str)] = &[\n");
    for file in snaps {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            snap_code,
            "    ({name:?}, include_str!({:?})),",
            file.display().to_string()
        );
    }
    snap_code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    if let Err(e) = std::fs::write(out.join("embedded_snapshots.rs"), snap_code) {
        println!("cargo:warning=cannot write embedded_snapshots.rs: {e}");
        std::process::exit(1);
    }
    if let Err(e) = std::fs::write(out.join("embedded.rs"), code) {
        println!("cargo:warning=cannot write embedded.rs: {e}");
        std::process::exit(1);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // rerun when files are added to a subfolder too
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}
