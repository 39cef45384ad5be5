//! The journal: a small file in the user's state folder (or `--journal PATH`) that records, while
//! a run may have the account switched, the target, the user and the original default profile.
//! A run killed before its restore (SIGKILL, a lost CI machine) leaves it behind, and the next run
//! against that target and user puts the recorded default back first. Written by rename, so a
//! reader never sees half a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run::Journal;

#[derive(Debug, Default, Serialize, Deserialize)]
struct JournalFile {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    target: String,
    user: i64,
    original: i64,
    started_at: String,
    pid: u32,
}

/// The journal of one target, kept in a file.
pub struct FileJournal {
    path: PathBuf,
    target: String,
}

impl FileJournal {
    pub fn new(path: PathBuf, target: &str) -> FileJournal {
        FileJournal {
            path,
            target: target.trim_end_matches('/').to_string(),
        }
    }

    /// `$XDG_STATE_HOME/nexudus-conformance/journal.json`, else under `~/.local/state`.
    pub fn default_path() -> Option<PathBuf> {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| Path::new(&h).join(".local").join("state"))
            })?;
        Some(state.join("nexudus-conformance").join("journal.json"))
    }

    fn read(&self) -> JournalFile {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn write(&self, file: &JournalFile) -> Result<(), String> {
        if file.entries.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, text + "\n").map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

impl Journal for FileJournal {
    fn recorded(&self, user: i64) -> Option<i64> {
        self.read()
            .entries
            .iter()
            .find(|e| e.target == self.target && e.user == user)
            .map(|e| e.original)
    }

    fn begin(&self, user: i64, original: i64) -> Result<(), String> {
        let mut file = self.read();
        file.entries
            .retain(|e| !(e.target == self.target && e.user == user));
        file.entries.push(Entry {
            target: self.target.clone(),
            user,
            original,
            started_at: crate::manifest::now_rfc3339(),
            pid: std::process::id(),
        });
        self.write(&file)
    }

    fn end(&self, user: i64) {
        let mut file = self.read();
        let before = file.entries.len();
        file.entries
            .retain(|e| !(e.target == self.target && e.user == user));
        if file.entries.len() != before {
            let _ = self.write(&file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_kept_per_target_and_user_until_it_ends() {
        let path = std::env::temp_dir().join(format!("nxc-journal-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let a = FileJournal::new(path.clone(), "http://a.example/");
        let b = FileJournal::new(path.clone(), "http://b.example");
        a.begin(7001, 1101).unwrap();
        b.begin(7001, 2201).unwrap();
        assert_eq!(a.recorded(7001), Some(1101));
        assert_eq!(b.recorded(7001), Some(2201));
        assert_eq!(a.recorded(7002), None);
        a.end(7001);
        assert_eq!(a.recorded(7001), None);
        assert_eq!(b.recorded(7001), Some(2201));
        b.end(7001);
        assert!(!path.exists(), "an empty journal leaves no file");
    }
}
