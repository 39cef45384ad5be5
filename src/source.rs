//! Where the contract's files come from: compiled into the binary, or a directory on disk.
//!
//! The repository's `schemas/` and `cases/` are embedded by `build.rs`, so an installed binary
//! runs anywhere; `--schemas DIR` and `--cases DIR` replace them.

use std::path::Path;

use crate::error::LoadError;

/// A file's display path (as the user would name it) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

impl SourceFile {
    /// The file name without directories and without the `.json` extension.
    pub fn stem(&self) -> &str {
        let name = self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path);
        name.strip_suffix(".json").unwrap_or(name)
    }

    /// The file name without directories.
    pub fn file_name(&self) -> &str {
        self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path)
    }
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The schemas compiled into the binary.
pub fn embedded_schemas() -> Vec<SourceFile> {
    to_sources(embedded::SCHEMAS)
}

/// The cases compiled into the binary.
pub fn embedded_cases() -> Vec<SourceFile> {
    to_sources(embedded::CASES)
}

fn to_sources(files: &[(&str, &str)]) -> Vec<SourceFile> {
    files
        .iter()
        .map(|(path, text)| SourceFile {
            path: (*path).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

/// Every `*.json` file below `dir` (recursively), sorted by path.
///
/// # Errors
/// When `dir` or a file in it cannot be read.
pub fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<SourceFile>) -> Result<(), LoadError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LoadError::new(&shown, format!("cannot read directory: {e}")))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| LoadError::new(&shown, format!("cannot read directory: {e}")))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let display = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LoadError::new(&display, format!("cannot read file: {e}")))?;
            out.push(SourceFile {
                path: display,
                text,
            });
        }
    }
    Ok(())
}
