//! Output paths, checked before anything is sent: writable without truncating an existing file
//! or leaving one behind, and a manifest that would overwrite another run's given a free name.

use std::path::{Path, PathBuf};

use crate::error::LoadError;

/// Checks that `path` can be written, without truncating or leaving a file that was not there.
pub(super) fn check_writable(flag: &str, path: &Path) -> Result<(), LoadError> {
    let bad =
        |e: std::io::Error| LoadError::new(flag, format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(bad)?;
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(bad)?;
    } else {
        std::fs::File::create(path).map_err(bad)?;
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Checks that files can be created in `dir` (or, if it does not exist yet, in the nearest
/// existing folder above it, where it would be created). An existing `dir` is asked with
/// `access(2)`, never with a probe file: that would change the folder, and `snapshots/embedded`
/// is one build.rs watches. Where only an ancestor exists, a probe file there is the honest test
/// (`access` says yes to root even on a filesystem that takes no files).
pub(super) fn check_dir_writable(flag: &str, dir: &Path) -> Result<(), LoadError> {
    let existing = dir
        .ancestors()
        .find(|d| d.exists())
        .unwrap_or(Path::new("."));
    let bad =
        |why: String| LoadError::new(flag, format!("cannot write into {}: {why}", dir.display()));
    if !existing.is_dir() {
        return Err(bad(format!("{} is not a folder", existing.display())));
    }
    if existing == dir {
        writable(existing)
    } else {
        probe(existing)
    }
    .map_err(|e| bad(e.to_string()))
}

#[cfg(unix)]
fn writable(dir: &Path) -> std::io::Result<()> {
    rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn writable(dir: &Path) -> std::io::Result<()> {
    probe(dir)
}

fn probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".nexudus-conformance-check-{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// `runs/staging.json` if it is free (or `force`), else the first free `runs/staging.2.json`,
/// `runs/staging.3.json`, …: a second run the same day keeps the first one's manifest.
pub(super) fn numbered_if_taken(path: &Path, force: bool) -> PathBuf {
    if force || !path.exists() {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}.{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checking_an_output_path_neither_truncates_nor_leaves_a_file() {
        let dir = std::env::temp_dir().join(format!("nxc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let existing = dir.join("existing.xml");
        std::fs::write(&existing, "kept").unwrap();
        check_writable("--junit", &existing).unwrap();
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "kept");
        let fresh = dir.join("fresh.xml");
        check_writable("--junit", &fresh).unwrap();
        assert!(!fresh.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_taken_manifest_path_gets_the_next_free_number_unless_forced() {
        let dir = std::env::temp_dir().join(format!("nxc-numbered-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = dir.join("staging.json");
        assert_eq!(numbered_if_taken(&first, false), first);
        std::fs::write(&first, "{}").unwrap();
        assert_eq!(numbered_if_taken(&first, false), dir.join("staging.2.json"));
        assert_eq!(numbered_if_taken(&first, true), first);
        std::fs::write(dir.join("staging.2.json"), "{}").unwrap();
        assert_eq!(numbered_if_taken(&first, false), dir.join("staging.3.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
