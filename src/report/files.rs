//! The file sink for what the judgement decided to write (new, drifted and accepted snapshots),
//! redacted like every other output.

use super::output::Output;
use crate::judge::FileAction;

/// Carries out the actions; returns one message per action that failed.
pub fn apply(actions: &[FileAction], output: &Output) -> Vec<String> {
    let mut failures = Vec::new();
    for action in actions {
        match action {
            FileAction::Write { path, text } => {
                if let Err(e) = output.write_file(path, text) {
                    failures.push(format!("cannot write {}: {e}", path.display()));
                }
            }
            FileAction::Remove { path } => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    failures.push(format!("cannot remove {}: {e}", path.display()));
                }
                _ => {}
            },
        }
    }
    failures
}
