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

/// `docs/contract.md`, compiled in: what the rules cite as `notes §N.M`.
pub const CONTRACT_DOC: &str = include_str!("../docs/contract.md");

/// The part of `docs/contract.md` a citation names: `10` (a section, with its heading), `10.13`
/// (one item), `10.1-2` (items 10.1 to 10.2), or the whole document for an empty one. `None`
/// when it names nothing there.
pub fn contract_section(section: &str) -> Option<String> {
    let section = section.trim().trim_start_matches('§').trim();
    if section.is_empty() {
        return Some(CONTRACT_DOC.to_string());
    }
    let items: Vec<String> = match section.split_once('.') {
        None => {
            let heading = format!("## {section}. ");
            let start = CONTRACT_DOC.find(&heading)?;
            let rest = &CONTRACT_DOC[start..];
            let end = rest[heading.len()..]
                .find("\n## ")
                .map_or(rest.len(), |i| i + heading.len() + 1);
            return Some(rest[..end].trim_end().to_string());
        }
        Some((major, minor)) => match minor.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (from.parse::<u32>().ok()?, to.parse::<u32>().ok()?);
                (from..=to).map(|m| format!("{major}.{m}")).collect()
            }
            None => vec![section.to_string()],
        },
    };
    let found: Vec<String> = items.iter().filter_map(|item| item_text(item)).collect();
    (!found.is_empty()).then(|| found.join("\n"))
}

/// One `- **N.M** …` item of the document, with its continuation lines.
fn item_text(item: &str) -> Option<String> {
    let marker = format!("- **{item}** ");
    let mut lines = CONTRACT_DOC.lines().skip_while(|l| !l.starts_with(&marker));
    let first = lines.next()?;
    let rest = lines.take_while(|l| l.starts_with("  "));
    Some(
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::contract_section;

    #[test]
    fn a_citation_names_a_section_an_item_or_a_range() {
        let section = contract_section("10").unwrap();
        assert!(section.starts_with("## 10. "), "{section}");
        assert!(section.contains("**10.21**") && !section.contains("## 11."));
        let item = contract_section("§10.13").unwrap();
        assert!(item.starts_with("- **10.13** ") && item.contains("RFC 9110 §9.2.1"));
        let range = contract_section("10.6-7").unwrap();
        assert!(range.contains("**10.6**") && range.contains("**10.7**"));
        assert!(!range.contains("**10.8**"));
        assert_eq!(contract_section("10.99"), None);
        assert_eq!(contract_section("99"), None);
        assert!(
            contract_section("")
                .unwrap()
                .starts_with("# The profile-switch contract")
        );
    }
}
