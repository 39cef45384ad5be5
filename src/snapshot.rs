//! Response snapshots for nightly regression: each case's responses, normalised so that only
//! their shape remains, compared with a stored insta snapshot (`snapshots/<target-label>/<case>.snap`).
//!
//! Normalising replaces every volatile or personal value with a stable placeholder: fixture profile
//! ids by their role (`[target_profile_id]`), other ids by `[id]`, names and emails by `[text]`,
//! tokens by `[token]`, dates by `[date]`; object keys are sorted. Loading the stored snapshots is
//! part of loading (IO before the run); comparing is pure; writing `.snap.new` is the report's job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::case::{Case, Var, Vars};
use crate::check::media_type;
use crate::error::LoadError;
use crate::record::ExchangeRecord;

/// The label of the embedded reference server, whose snapshots ship with the harness.
pub const EMBEDDED_LABEL: &str = "embedded";

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_snapshots.rs"));
}

/// Keys whose (non-empty) string values are personal: shown as `[text]`.
const PERSONAL_KEYS: [&str; 5] = ["FullName", "CompanyName", "Name", "Email", "WebAddress"];

/// The stored snapshots of one target, read at start-up.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    /// `DIR/<label>`, where `.snap.new` files are written.
    pub dir: PathBuf,
    pub label: String,
    /// Case id → stored (normalised) text.
    stored: BTreeMap<String, String>,
}

impl SnapshotStore {
    /// Reads `DIR/<label>/*.snap`; for the embedded label, snapshots compiled into the binary fill
    /// in what the directory does not have.
    ///
    /// # Errors
    /// A snapshot file that exists but cannot be read.
    pub fn load(dir: &Path, label: &str) -> Result<SnapshotStore, LoadError> {
        let dir = dir.join(label);
        let mut stored = BTreeMap::new();
        if label == EMBEDDED_LABEL {
            for (name, text) in embedded::SNAPSHOTS {
                if let Some(case) = name.strip_suffix(".snap") {
                    stored.insert(case.to_string(), normalize_text(body_of(text)));
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let Some(case) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".snap"))
                else {
                    continue;
                };
                let snapshot = insta::Snapshot::from_file(&path).map_err(|e| {
                    LoadError::new(
                        path.display().to_string(),
                        format!("cannot read the snapshot: {e}; delete it or fix it"),
                    )
                })?;
                let text = snapshot
                    .contents()
                    .as_text()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                stored.insert(case.to_string(), normalize_text(&text));
            }
        }
        Ok(SnapshotStore {
            dir,
            label: label.to_string(),
            stored,
        })
    }

    pub fn stored(&self, case: &str) -> Option<&str> {
        self.stored.get(case).map(String::as_str)
    }

    /// Where the stored snapshot of `case` lives (or would live).
    pub fn path(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}.snap"))
    }
}

/// The body of an insta snapshot file: what follows the metadata block.
fn body_of(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n") else {
        return text;
    };
    match rest.find("\n---\n") {
        Some(i) => &rest[i + 5..],
        None => text,
    }
}

/// Trailing spaces off every line, blank lines off both ends.
fn normalize_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_string()
}

/// A label derived from a base URL: its host, and its port when one is given (`127.0.0.1_8080`).
pub fn label_for(base_url: &str) -> String {
    let url = url::Url::parse(base_url).ok();
    let host = match url.as_ref().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Domain(d)) => d,
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => base_url.to_string(),
    };
    // Two servers on one host are two targets: an explicit port is part of the label.
    let label = match url.and_then(|u| u.port()) {
        Some(port) => format!("{host}_{port}"),
        None => host,
    };
    sanitize_label(&label.replace(':', "_"))
}

/// Keeps `[a-z0-9._-]`, so a label is always a safe directory name.
pub fn sanitize_label(label: &str) -> String {
    let s: String = label
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(['.', '-']).to_string();
    if s.is_empty() { "target".into() } else { s }
}

/// Fixture ids by value, for replacing them with their role.
fn roles(vars: &Vars) -> BTreeMap<i64, &'static str> {
    Var::ALL
        .into_iter()
        .filter(|v| v.is_fixture())
        .filter_map(|v| vars.get(v).and_then(Value::as_i64).map(|id| (id, v.name())))
        .collect()
}

/// Replaces role ids that stand alone (not inside a longer number) in `text`.
fn replace_ids(text: &str, roles: &BTreeMap<i64, &'static str>) -> String {
    let mut out = text.to_string();
    for (id, role) in roles {
        let needle = id.to_string();
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&needle) {
            let before = rest[..i].chars().last();
            let after = rest[i + needle.len()..].chars().next();
            let standalone = !before.is_some_and(|c| c.is_ascii_digit() || c == '-')
                && !after.is_some_and(|c| c.is_ascii_digit());
            result.push_str(&rest[..i]);
            if standalone {
                result.push_str(&format!("[{role}]"));
            } else {
                result.push_str(&needle);
            }
            rest = &rest[i + needle.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// The value with placeholders for volatile and personal values, keys sorted.
pub fn normalize_value(
    value: &Value,
    key: Option<&str>,
    roles: &BTreeMap<i64, &'static str>,
) -> Value {
    let id_key = key.is_some_and(|k| k.ends_with("Id"));
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(k, v)| (k, normalize_value(v, Some(k), roles)))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| normalize_value(v, key, roles))
                .collect(),
        ),
        Value::Number(n) => match n.as_i64() {
            Some(id) if roles.contains_key(&id) => Value::String(format!("[{}]", roles[&id])),
            Some(_) if id_key => Value::String("[id]".into()),
            _ => value.clone(),
        },
        Value::String(s) => {
            if key.is_some_and(crate::redact::is_secret_key) && !s.is_empty() {
                Value::String("[token]".into())
            } else if let Some(role) = s.trim().parse::<i64>().ok().and_then(|id| roles.get(&id)) {
                Value::String(format!("[{role} as string]"))
            } else if id_key && s.trim().parse::<i64>().is_ok() {
                Value::String("[id as string]".into())
            } else if key.is_some_and(|k| PERSONAL_KEYS.contains(&k)) && !s.is_empty() {
                Value::String("[text]".into())
            } else if looks_like_date(s) {
                Value::String("[date]".into())
            } else {
                Value::String(replace_ids(s, roles))
            }
        }
        _ => value.clone(),
    }
}

/// The normalised text of a case's responses: one block per step, in order.
pub fn normalize_case(case: &Case, exchanges: &[Option<&ExchangeRecord>], vars: &Vars) -> String {
    let roles = roles(vars);
    let mut blocks = Vec::new();
    for (step, record) in case.steps.iter().zip(exchanges) {
        let mut lines = vec![format!("## {}", step.name)];
        let Some(record) = record else {
            lines.push("not run".into());
            blocks.push(lines.join("\n"));
            continue;
        };
        let ex = &record.exchange;
        let path = url::Url::parse(&ex.url)
            .map(|u| u[url::Position::BeforePath..].to_string())
            .unwrap_or_else(|_| ex.url.clone());
        lines.push(format!(
            "request: {} {} (credential: {})",
            ex.method,
            replace_ids(&path, &roles),
            record.credential.name()
        ));
        match &ex.outcome {
            Err(e) => lines.push(format!("error: {e}")),
            Ok(response) => {
                lines.push(format!("status: {}", response.status));
                if let Some(ct) = response.header("content-type") {
                    lines.push(format!(
                        "content-type: {}",
                        media_type(ct).to_ascii_lowercase()
                    ));
                }
                if response.body.iter().all(u8::is_ascii_whitespace) {
                    lines.push("body: (empty)".into());
                } else {
                    match serde_json::from_slice::<Value>(&response.body) {
                        Ok(body) => {
                            let normalized = normalize_value(&body, None, &roles);
                            lines.push("body:".into());
                            lines.push(
                                serde_json::to_string_pretty(&normalized).unwrap_or_default(),
                            );
                        }
                        Err(_) => {
                            lines.push(format!("body: (not JSON, {} bytes)", response.body.len()))
                        }
                    }
                }
            }
        }
        blocks.push(lines.join("\n"));
    }
    normalize_text(&blocks.join("\n\n"))
}

/// How a case's responses compare with its stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// No snapshot is stored yet.
    New,
    Drift {
        /// A unified diff, stored → actual.
        diff: String,
        /// JSON paths (array indexes as `*`) present now but not in the stored snapshot.
        new_fields: Vec<String>,
        /// `step: status` pairs whose status the stored snapshot does not have for that step.
        new_statuses: Vec<String>,
    },
}

pub fn compare(stored: Option<&str>, actual: &str) -> Comparison {
    let Some(stored) = stored else {
        return Comparison::New;
    };
    if stored == actual {
        return Comparison::Same;
    }
    let (old_text, new_text) = (format!("{stored}\n"), format!("{actual}\n"));
    let diff = similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header("stored", "actual")
        .to_string();
    let (old, new) = (facts(stored), facts(actual));
    let new_fields = new.fields.difference(&old.fields).cloned().collect();
    let new_statuses = new.statuses.difference(&old.statuses).cloned().collect();
    Comparison::Drift {
        diff,
        new_fields,
        new_statuses,
    }
}

/// Field paths and step statuses of a normalised snapshot text.
#[derive(Default)]
struct Facts {
    fields: BTreeSet<String>,
    statuses: BTreeSet<String>,
}

fn facts(text: &str) -> Facts {
    let mut facts = Facts::default();
    for block in text.split("\n## ").map(|b| b.trim_start_matches("## ")) {
        let step = block.lines().next().unwrap_or_default();
        if let Some(status) = block.lines().find_map(|l| l.strip_prefix("status: ")) {
            facts.statuses.insert(format!("{step}: {status}"));
        }
        if let Some(i) = block.find("\nbody:\n")
            && let Ok(body) = serde_json::from_str::<Value>(&block[i + 7..])
        {
            collect_paths(&body, "", &mut facts.fields);
        }
    }
    facts
}

fn collect_paths(value: &Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}/{k}");
                out.insert(here.clone());
                collect_paths(v, &here, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_paths(v, &format!("{at}/*"), out);
            }
        }
        _ => {}
    }
}

/// Renames every pending snapshot (`DIR/<label>/*.snap.new`) to its stored name; the paths it
/// stored, sorted. No cargo-insta needed.
///
/// # Errors
/// The label has no directory under `dir`, or a file cannot be renamed.
pub fn accept_pending(dir: &Path, label: &str) -> Result<Vec<PathBuf>, LoadError> {
    let dir = dir.join(sanitize_label(label));
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        LoadError::new(
            dir.display().to_string(),
            format!(
                "cannot read the snapshots of target `{label}` ({e}); pass the directory a run \
                 wrote them to with --snapshots DIR"
            ),
        )
    })?;
    let mut pending: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
        .collect();
    pending.sort();
    let mut accepted = Vec::with_capacity(pending.len());
    for path in pending {
        let stored = path.with_extension("");
        std::fs::rename(&path, &stored).map_err(|e| {
            LoadError::new(
                path.display().to_string(),
                format!("cannot accept it as {} ({e})", stored.display()),
            )
        })?;
        accepted.push(stored);
    }
    Ok(accepted)
}

/// A snapshot file in insta's format, for `cargo insta review`.
pub fn file_text(source: &str, case: &str, contents: &str) -> String {
    format!("---\nsource: {source}\nexpression: {case} responses\n---\n{contents}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roles() -> BTreeMap<i64, &'static str> {
        BTreeMap::from([(1101, "original_profile_id"), (1102, "target_profile_id")])
    }

    #[test]
    fn normalising_hides_what_varies() {
        let body = json!({
            "User": {"Id": 7001, "FullName": "Ada", "Email": "a@b.c", "AccessToken": "secret-token", "Active": true},
            "Profiles": [{"Id": 1102, "CompanyName": "", "VirtualOfficeContractId": 88001, "UpdatedOn": "2026-11-27T08:00:00"},
                         {"Id": "1101", "Note": "switched from 1101 to 11010"}],
            "Status": 404,
        });
        let normalized = normalize_value(&body, None, &roles());
        assert_eq!(
            normalized,
            json!({
                "Profiles": [{"CompanyName": "", "Id": "[target_profile_id]", "UpdatedOn": "[date]", "VirtualOfficeContractId": "[id]"},
                             {"Id": "[original_profile_id as string]", "Note": "switched from [original_profile_id] to 11010"}],
                "Status": 404,
                "User": {"AccessToken": "[token]", "Active": true, "Email": "[text]", "FullName": "[text]", "Id": "[id]"},
            })
        );
        // keys come out sorted
        let keys: Vec<&String> = normalized.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Profiles", "Status", "User"]);
    }

    #[test]
    fn labels() {
        let cases = [
            (
                "https://Space.spaces.nexudus.com",
                "space.spaces.nexudus.com",
            ),
            ("http://127.0.0.1:41234/base", "127.0.0.1_41234"),
            (
                "https://space.spaces.nexudus.com:443",
                "space.spaces.nexudus.com",
            ),
            ("http://[::1]:8080", "__1_8080"),
            ("weird label/..", "weird-label"),
        ];
        for (input, expected) in cases {
            let got = if input.contains("://") {
                label_for(input)
            } else {
                sanitize_label(input)
            };
            assert_eq!(got, expected, "{input}");
        }
    }

    #[test]
    fn drift_lists_new_fields_and_statuses() {
        let stored = "## a\nstatus: 200\nbody:\n{\n  \"A\": 1\n}\n\n## b\nstatus: 404";
        let actual = "## a\nstatus: 200\nbody:\n{\n  \"A\": 1,\n  \"B\": [\n    {\n      \"C\": 2\n    }\n  ]\n}\n\n## b\nstatus: 500";
        match compare(Some(stored), actual) {
            Comparison::Drift {
                diff,
                new_fields,
                new_statuses,
            } => {
                assert_eq!(new_fields, vec!["/B", "/B/*/C"]);
                assert_eq!(new_statuses, vec!["b: 500"]);
                assert!(diff.contains("-status: 404\n+status: 500"), "{diff}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(compare(Some(stored), stored), Comparison::Same);
        assert_eq!(compare(None, stored), Comparison::New);
    }

    #[test]
    fn snapshot_files_round_trip_through_insta() {
        let dir = std::env::temp_dir().join(format!("nxc-snap-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lbl")).unwrap();
        std::fs::write(
            dir.join("lbl/case_a.snap"),
            file_text("cases/case_a.json", "case_a", "## s\nstatus: 200"),
        )
        .unwrap();
        let store = SnapshotStore::load(&dir, "lbl").unwrap();
        assert_eq!(store.stored("case_a"), Some("## s\nstatus: 200"));
        assert_eq!(store.stored("other"), None);
    }
}
