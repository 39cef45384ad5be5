//! The known-deviations ledger (`--known-deviations PATH`): failures a target is known to have,
//! each with a reason, a link and an expiry date. A listed failure is reported as ignored with
//! its reason; a listed trial that passes, or an expired entry, fails the run — so the list only
//! shrinks.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::LoadError;
use crate::suggest::closest;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    deviations: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    trial: Option<String>,
    rule: Option<String>,
    reason: String,
    link: Option<String>,
    expires: String,
}

/// Which trials an entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Exactly this trial.
    Trial(String),
    /// `case::rule`: the trial of that name, and `case::<step>::rule` in every step.
    Rule { case: String, rule: String },
}

impl Pattern {
    pub fn matches(&self, trial: &str) -> bool {
        match self {
            Pattern::Trial(name) => name == trial,
            Pattern::Rule { case, rule } => {
                let mut parts = trial.split("::");
                let first = parts.next();
                let rest: Vec<&str> = parts.collect();
                first == Some(case.as_str())
                    && rest.last() == Some(&rule.as_str())
                    && (1..=2).contains(&rest.len())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    pub pattern: Pattern,
    pub reason: String,
    pub link: Option<String>,
    pub expires: NaiveDate,
    /// `FILE#/deviations/N`.
    pub origin: String,
}

impl Deviation {
    /// `reason (link), until DATE`.
    pub fn describe(&self) -> String {
        match &self.link {
            Some(link) => format!("{} ({link}), until {}", self.reason, self.expires),
            None => format!("{}, until {}", self.reason, self.expires),
        }
    }

    pub fn expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub file: String,
    pub entries: Vec<Deviation>,
}

impl Ledger {
    /// Reads and checks the ledger; every entry must match at least one trial of the catalog.
    ///
    /// # Errors
    /// Invalid JSON, an unknown field, a bad date, an entry that matches no trial.
    pub fn load(path: &std::path::Path, trials: &[&str]) -> Result<Ledger, LoadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            LoadError::new(&file, format!("cannot read the known-deviations file: {e}"))
        })?;
        let parsed: LedgerFile = crate::error::parse_json(&file, &text)?;
        let mut entries = Vec::with_capacity(parsed.deviations.len());
        for (i, entry) in parsed.deviations.into_iter().enumerate() {
            let at = format!("/deviations/{i}");
            let bad = |field: &str, message: String| {
                LoadError::new(&file, message).at(format!("{at}{field}"))
            };
            let pattern = match (entry.trial, entry.rule) {
                (Some(trial), None) => Pattern::Trial(trial),
                (None, Some(rule)) => match rule.split_once("::") {
                    Some((case, rule)) if !rule.contains("::") => Pattern::Rule {
                        case: case.to_string(),
                        rule: rule.to_string(),
                    },
                    _ => return Err(bad("/rule", format!("`{rule}` is not `case::rule`"))),
                },
                _ => {
                    return Err(bad(
                        "",
                        "give exactly one of `trial` (a trial name) and `rule` (`case::rule`)"
                            .into(),
                    ));
                }
            };
            if entry.reason.trim().is_empty() {
                return Err(bad("/reason", "say why the deviation is accepted".into()));
            }
            let expires = NaiveDate::parse_from_str(&entry.expires, "%Y-%m-%d").map_err(|_| {
                bad(
                    "/expires",
                    format!("`{}` is not a date; write YYYY-MM-DD", entry.expires),
                )
            })?;
            if !trials.iter().any(|t| pattern.matches(t)) {
                let wanted = match &pattern {
                    Pattern::Trial(t) => t.clone(),
                    Pattern::Rule { case, rule } => format!("{case}::{rule}"),
                };
                let mut message = format!("`{wanted}` matches no trial of the catalog");
                if let Some(best) = closest(&wanted, trials.iter().copied()) {
                    message.push_str(&format!("; did you mean `{best}`?"));
                }
                return Err(bad(
                    if entry_is_rule(&pattern) {
                        "/rule"
                    } else {
                        "/trial"
                    },
                    message,
                ));
            }
            entries.push(Deviation {
                pattern,
                reason: entry.reason,
                link: entry.link,
                expires,
                origin: format!("{file}#{at}"),
            });
        }
        Ok(Ledger { file, entries })
    }

    /// The first entry covering `trial`.
    pub fn find(&self, trial: &str) -> Option<&Deviation> {
        self.entries.iter().find(|d| d.pattern.matches(trial))
    }

    pub fn expired(&self, today: NaiveDate) -> Vec<&Deviation> {
        self.entries.iter().filter(|d| d.expired(today)).collect()
    }
}

fn entry_is_rule(pattern: &Pattern) -> bool {
    matches!(pattern, Pattern::Rule { .. })
}

/// Today's date, UTC.
pub fn today() -> NaiveDate {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let rule = Pattern::Rule {
            case: "invalid_coworker_id".into(),
            rule: "not_5xx".into(),
        };
        let cases = [
            ("invalid_coworker_id::not_5xx", true),
            ("invalid_coworker_id::text::not_5xx", true),
            ("invalid_coworker_id::text::not_2xx", false),
            ("other::not_5xx", false),
            ("invalid_coworker_id::a::b::not_5xx", false),
        ];
        for (trial, expected) in cases {
            assert_eq!(rule.matches(trial), expected, "{trial}");
        }
        assert!(Pattern::Trial("a::b".into()).matches("a::b"));
        assert!(!Pattern::Trial("a::b".into()).matches("a::b::c"));
    }

    fn load(text: &str) -> Result<Ledger, LoadError> {
        let path = std::env::temp_dir().join(format!(
            "nxc-dev-{}-{}.json",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        let result = Ledger::load(
            &path,
            &[
                "valid_switch::json_content_type",
                "bad_token::status_is_401",
            ],
        );
        result.map_err(|mut e| {
            e.file = "deviations.json".into();
            e
        })
    }

    #[test]
    fn ledger_errors_name_the_entry() {
        let cases = [
            (
                r#"{"deviations": [{"trial": "valid_switch::json_content_typ", "reason": "r", "expires": "2030-01-01"}]}"#,
                "deviations.json at #/deviations/0/trial: `valid_switch::json_content_typ` matches no trial of the catalog; did you mean `valid_switch::json_content_type`?",
            ),
            (
                r#"{"deviations": [{"trial": "bad_token::status_is_401", "reason": "r", "expires": "31/12/2030"}]}"#,
                "deviations.json at #/deviations/0/expires: `31/12/2030` is not a date; write YYYY-MM-DD",
            ),
            (
                r#"{"deviations": [{"reason": "r", "expires": "2030-01-01"}]}"#,
                "deviations.json at #/deviations/0: give exactly one of `trial` (a trial name) and `rule` (`case::rule`)",
            ),
            (
                r#"{"deviations": [{"trial": "bad_token::status_is_401", "reason": "r", "expires": "2030-01-01", "until": "x"}]}"#,
                "deviations.json:1:101 at #/deviations/0/until: unknown field `until`, expected one of `trial`, `rule`, `reason`, `link`, `expires`",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(load(text).unwrap_err().to_string(), expected);
        }
        let ledger = load(r#"{"deviations": [{"rule": "bad_token::status_is_401", "reason": "legacy", "link": "https://tracker/1", "expires": "2030-01-01"}]}"#).unwrap();
        let d = ledger.find("bad_token::status_is_401").unwrap();
        assert_eq!(d.describe(), "legacy (https://tracker/1), until 2030-01-01");
        assert!(!d.expired(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()));
        assert!(d.expired(NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()));
    }
}
