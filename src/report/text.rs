//! The texts a person reads about one trial: its failure block (rule, level, statement, origin,
//! expected/actual, the exchange and a `curl` that repeats it) and its one-line message. Pure: the
//! sinks redact what they write.

use crate::check::Finding;
use crate::check::media_type;
use crate::judge::{Advice, Failure, NotJudged, Status, TrialOutcome};
use crate::plan::{Plan, TrialKind};
use crate::record::{ExchangeRecord, curl_for};
use crate::redact::mask_json;

/// How much of a response body a failure shows.
const BODY_EXCERPT: usize = 600;

/// One line for a manifest, a JUnit message or a JSON event: expected vs actual, or the reason.
pub fn short_message(status: &Status) -> String {
    match status {
        Status::Failed(Failure::Violation(f)) => expected_got(f),
        Status::Failed(Failure::Broken(why)) => format!("could not judge: {why}"),
        Status::Failed(Failure::NotRun(why)) => format!("not run: {why}"),
        Status::NotJudged(why) => not_judged_message(why),
        Status::Passed(note) => note.clone().unwrap_or_default(),
    }
}

fn expected_got(f: &Finding) -> String {
    format!("expected {}, got {}", f.expected, f.actual)
}

/// `not judged: <reason>` and what it rests on, as every sink says it.
pub fn not_judged_message(why: &NotJudged) -> String {
    let words = why.reason().words();
    let detail = match why {
        NotJudged::ShouldNotCounted(advice) => return advice_words(advice),
        NotJudged::Deselected => return format!("not judged: {words}"),
        NotJudged::NeedsFixture(d)
        | NotJudged::Interrupted(d)
        | NotJudged::Baseline(d)
        | NotJudged::KnownDeviation(d)
        | NotJudged::Unusable(d) => d,
    };
    format!("not judged: {words}: {detail}")
}

/// A SHOULD rule's advice: `SHOULD rule followed`, `SHOULD rule not followed: expected …`.
pub fn advice_words(advice: &Advice) -> String {
    match advice {
        Advice::Followed(_) => "SHOULD rule followed (not counted)".into(),
        Advice::NotFollowed(f) => format!(
            "SHOULD rule not followed (not counted): {}",
            expected_got(f)
        ),
        Advice::Unknown(why) => format!("SHOULD rule, could not be judged (not counted): {why}"),
    }
}

/// `s` after a count other than one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The line before a failure's unified diff, whose lines follow indented by [`DIFF_INDENT`].
pub const DIFF_HEADING: &str = "diff:";
pub const DIFF_INDENT: &str = "    ";

/// What a `test … ... ignored, …` line says after `ignored, `: the advice, or the reason.
pub fn ignored_word(why: &NotJudged) -> String {
    match why {
        NotJudged::ShouldNotCounted(Advice::Followed(_)) => "SHOULD rule followed".into(),
        NotJudged::ShouldNotCounted(Advice::NotFollowed(f)) => {
            format!("SHOULD rule not followed: {}", expected_got(f))
        }
        NotJudged::ShouldNotCounted(Advice::Unknown(_)) => {
            "SHOULD rule, could not be judged".into()
        }
        // The same for every trial: the verdict line says why.
        NotJudged::Interrupted(_) | NotJudged::Unusable(_) | NotJudged::Deselected => {
            format!("not judged: {}", why.reason().words())
        }
        other => not_judged_message(other),
    }
}

/// The failure block of a failed trial, or of a SHOULD rule not followed (advice) (unredacted;
/// `None` for any other outcome).
pub fn failure_text(plan: &Plan, outcome: &TrialOutcome) -> Option<String> {
    let advice;
    let failure = match &outcome.status {
        Status::Failed(failure) => failure,
        Status::NotJudged(NotJudged::ShouldNotCounted(Advice::NotFollowed(f))) => {
            advice = Failure::Violation(f.clone());
            &advice
        }
        _ => return None,
    };
    let mut lines = Vec::new();
    lines.push(format!("rule:      {} [{}]", outcome.name, outcome.level));
    match outcome.kind {
        TrialKind::Rule { case, step, rule } => {
            let rule = &plan.cases[case].steps[step].rules[rule];
            lines.push(format!("enforces:  {}", rule.cite));
            if let Some(see) = rule.cite.see() {
                lines.push(format!("see:       {see}"));
            }
            lines.push(format!("origin:    {}", rule.origin));
        }
        TrialKind::Restore => {
            lines.push(
                "enforces:  the run leaves the account as it found it (harness guarantee)".into(),
            );
        }
        TrialKind::Deviations => {
            lines.push("enforces:  the known-deviations list only shrinks: no entry outlives its expiry date".into());
        }
        TrialKind::Invariants { case, level } => {
            lines.push(format!(
                "enforces:  the {level} invariants, on every profile list `{}` led to and every response it got (each breached rule is cited below)",
                plan.cases[case].id
            ));
            lines.push(format!("origin:    {}", plan.cases[case].file));
        }
        TrialKind::RunInvariants { level } => {
            lines.push(format!(
                "enforces:  the {level} invariants of every response, on the run's own requests (discovery, the checks of the cases run together, the final restore)"
            ));
        }
        TrialKind::Snapshot { case } => {
            lines.push(
                "enforces:  the responses keep the shape of the stored snapshot (nightly regression; SHOULD unless --deny-drift)"
                    .into(),
            );
            lines.push(format!("origin:    {}", plan.cases[case].file));
        }
    }
    match failure {
        Failure::Violation(f) => {
            lines.push(format!("expected:  {}", f.expected));
            lines.push(format!("actual:    {}", f.actual));
            for d in outcome.notes.iter().chain(&f.details) {
                lines.push(format!("  - {d}"));
            }
            if let Some(diff) = &f.diff {
                lines.push(DIFF_HEADING.into());
                lines.extend(diff.lines().map(|l| format!("{DIFF_INDENT}{l}")));
            }
        }
        Failure::Broken(why) => lines.push(format!("could not judge: {why}")),
        Failure::NotRun(why) => lines.push(format!("not run:   {why}")),
    }
    if let Some(record) = &outcome.exchange {
        lines.extend(exchange_lines(record));
    }
    Some(lines.join("\n"))
}

fn exchange_lines(record: &ExchangeRecord) -> Vec<String> {
    let ex = &record.exchange;
    let mut lines = vec![format!(
        "request:   {} {} (credential: {}, step {})",
        ex.method,
        ex.url,
        record.credential.name(),
        record.context
    )];
    match &ex.outcome {
        Ok(response) => {
            let content_type = response.header("content-type").map_or("none", media_type);
            lines.push(format!(
                "response:  {} (content-type: {}, {} bytes, {} ms)",
                response.status,
                content_type,
                response.body.len(),
                ex.elapsed.as_millis()
            ));
            if let Some(location) = response.header("location") {
                lines.push(format!(
                    "location:  {location} (redirects are not followed)"
                ));
            }
            if !response.body.is_empty() {
                lines.push(format!("body:      {}", body_excerpt(&response.body)));
            }
        }
        Err(e) => lines.push(format!(
            "response:  none ({e}) after {} ms",
            ex.elapsed.as_millis()
        )),
    }
    if ex.retries > 0 {
        lines.push(format!(
            "throttled: {} answer(s) with Retry-After were waited out and retried",
            ex.retries
        ));
    }
    lines.push(format!("reproduce: {}", curl_for(record)));
    lines
}

/// The whole body for a report that shows it in full: JSON pretty-printed with secrets masked by
/// key, other text as it is; non-UTF-8 bytes as hex. Bodies over 64 KiB are cut.
pub fn body_text(body: &[u8]) -> String {
    const LIMIT: usize = 64 * 1024;
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&mask_json(&value)).unwrap_or_default(),
        Err(_) => match std::str::from_utf8(&body[..body.len().min(LIMIT)]) {
            Ok(text) if body.len() > LIMIT => format!("{text}… ({} bytes in all)", body.len()),
            Ok(text) => text.to_string(),
            Err(_) => body_excerpt(body),
        },
    }
}

/// The body, secrets masked by key, shortened; non-UTF-8 bytes shown as such.
fn body_excerpt(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => mask_json(&value).to_string(),
        Err(_) => match std::str::from_utf8(body) {
            Ok(text) => text.to_string(),
            Err(_) => {
                let hex: Vec<String> = body.iter().take(32).map(|b| format!("{b:02x}")).collect();
                let more = if body.len() > 32 { " …" } else { "" };
                return format!("not UTF-8, {} bytes: {}{more}", body.len(), hex.join(" "));
            }
        },
    };
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > BODY_EXCERPT {
        let cut: String = text.chars().take(BODY_EXCERPT).collect();
        format!("{cut}… ({} bytes in all)", body.len())
    } else {
        text
    }
}
