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

    fn try_lock(&self, user: i64) -> Result<Option<String>, String> {
        let path = self.lock_path(user);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let holder = Lock {
            target: self.target.clone(),
            user,
            pid: std::process::id(),
            started_at: crate::manifest::now_rfc3339(),
        };
        // Twice at most: a dead holder's lock is removed, then taken.
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut file) => {
                    use std::io::Write;
                    let text = serde_json::to_string(&holder).map_err(|e| e.to_string())?;
                    file.write_all(text.as_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    return Ok(None);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let held: Option<Lock> = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok());
                    match held {
                        Some(other) if other.pid != holder.pid && alive(other.pid) => {
                            return Ok(Some(format!(
                                "process {} since {}; its lock is {}",
                                other.pid,
                                other.started_at,
                                path.display()
                            )));
                        }
                        // Ours from before, a dead holder's, or half written: take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Err(format!("{}: cannot take the lock", path.display()))
    }

    fn unlock(&self, user: i64) {
        let path = self.lock_path(user);
        let ours = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Lock>(&t).ok())
            .is_some_and(|l| l.pid == std::process::id());
        if ours {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The lock of one target and user, beside the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Lock {
    target: String,
    user: i64,
    pid: u32,
    started_at: String,
}

impl FileJournal {
    /// `journal.json.lock-<hash of the target>-<user>`.
    fn lock_path(&self, user: i64) -> PathBuf {
        let hash = self.target.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let name = self
            .path
            .file_name()
            .map_or_else(|| "journal".into(), |n| n.to_string_lossy().into_owned());
        self.path
            .with_file_name(format!("{name}.lock-{hash:016x}-{user}"))
    }
}

/// Whether a process with this id runs (one we may not signal counts as running).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        !matches!(
            rustix::process::test_kill_process(pid),
            Err(e) if e == rustix::io::Errno::SRCH
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
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
