//! The per-run HTML report (`--report-html DIR`, as Hurl's): `DIR/index.html`, one
//! self-contained page — no script, no external asset — with the summary first, then each case:
//! its trials (a failure with the console's text) and every exchange it sent, redacted, with its
//! `curl`. Everything shown is redacted before it is escaped, and the file is written through the
//! redacting `Output`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::RunInfo;
use super::output::Output;
use super::text::{body_text, failure_text, ignored_word};
use crate::case::Level;
use crate::judge::{Judgement, Reason, Status, TrialOutcome, Verdict};
use crate::plan::{Plan, TrialKind};
use crate::record::{ExchangeRecord, curl_for};

/// The page's name inside `--report-html DIR`.
pub const INDEX: &str = "index.html";

/// Writes `DIR/index.html`; returns its path.
///
/// # Errors
/// When the directory cannot be created or the file written.
pub fn write(
    dir: &Path,
    plan: &Plan,
    judgement: &Judgement,
    info: &RunInfo,
    exchanges: &[Arc<ExchangeRecord>],
    output: &Output,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(INDEX);
    let page = render(plan, judgement, info, exchanges, &|s| output.redact(s));
    output.write_file(&path, &page)?;
    Ok(path)
}

/// The page. `redact` is applied to every text taken from the run before it is escaped.
pub fn render(
    plan: &Plan,
    judgement: &Judgement,
    info: &RunInfo,
    exchanges: &[Arc<ExchangeRecord>],
    redact: &dyn Fn(&str) -> String,
) -> String {
    let text = |s: &str| html_escape::encode_text(&redact(s)).into_owned();
    let s = &judgement.summary;
    let mut page = String::new();
    let title = format!("nexudus-conformance — {}", info.target_label);
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        text(&title)
    );
    let (class, badge) = match &judgement.verdict {
        Verdict::Conforms => ("ok", "CONFORMS"),
        Verdict::DoesNotConform => ("failed", "DOES NOT CONFORM"),
        Verdict::NoVerdict(_) => ("none", "NO VERDICT"),
    };
    let _ = writeln!(
        page,
        "<header><h1>{}</h1><p class=\"result {class}\">{badge}</p></header>",
        text(&title),
    );

    // The summary: the verdict in the console's words, the counts by level, what was not judged.
    page.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    for line in super::console::verdict_lines(judgement) {
        let _ = writeln!(page, "<p class=\"verdict\">{}</p>", text(&line));
    }
    page.push_str("<table class=\"counts\">\n");
    page.push_str("<tr><th></th><th>passed</th><th>failed</th><th>not judged</th></tr>\n");
    let not_judged_at = |level: Level| {
        judgement
            .outcomes
            .iter()
            .filter(|o| o.level == level && matches!(o.status, Status::NotJudged(_)))
            .count()
    };
    for (name, level, passed, failed) in [
        ("MUST", Level::Must, s.must_passed, s.must_failed),
        ("SHOULD", Level::Should, s.should_passed, s.should_failed),
    ] {
        let _ = writeln!(
            page,
            "<tr><th>{name}</th><td>{passed}</td><td class=\"{}\">{failed}</td><td>{}</td></tr>",
            if failed > 0 { "failed" } else { "" },
            not_judged_at(level)
        );
    }
    page.push_str(
        "</table>\n<table class=\"reasons\">\n<tr><th>not judged, by reason</th><th></th></tr>\n",
    );
    for reason in Reason::ALL {
        let n = s.not_judged(reason);
        if n > 0 {
            let _ = writeln!(page, "<tr><td>{}</td><td>{n}</td></tr>", reason.words());
        }
    }
    let _ = writeln!(
        page,
        "<tr><th>in all</th><th>{}</th></tr>\n</table>",
        s.not_judged_total()
    );
    page.push_str("<table class=\"run\">\n");
    for (key, value) in [
        ("target", info.base_url.clone()),
        ("kind", info.target_kind.clone()),
        ("label", info.target_label.clone()),
        ("started", info.started_at.clone()),
        ("duration", format!("{:.2} s", s.duration.as_secs_f64())),
        ("exit code", judgement.exit_code.to_string()),
        (
            "harness",
            format!("nexudus-conformance {}", env!("CARGO_PKG_VERSION")),
        ),
        ("contract", info.contract_hash.clone()),
    ] {
        let _ = writeln!(page, "<tr><th>{key}</th><td>{}</td></tr>", text(&value));
    }
    page.push_str("</table>\n</section>\n");

    // Each case: failing ones first, as the console lists failures.
    let groups = by_case(plan, judgement);
    let mut order: Vec<(&String, &Vec<&TrialOutcome>)> = groups.iter().collect();
    order.sort_by_key(|(name, trials)| (!trials.iter().any(|o| o.failed()), (*name).clone()));
    page.push_str("<nav><h2>Cases</h2><ul>\n");
    for (name, trials) in &order {
        let (class, word) = case_word(trials);
        let _ = writeln!(
            page,
            "<li><a href=\"#case-{0}\">{0}</a> <span class=\"{class}\">{1}</span></li>",
            text(name),
            text(&word)
        );
    }
    page.push_str("</ul></nav>\n");
    for (name, trials) in order {
        let failed = trials.iter().any(|o| o.failed());
        let case = plan.cases.iter().find(|c| &c.id == name);
        let _ = writeln!(
            page,
            "<section class=\"case\" id=\"case-{0}\">\n<h2>{0}</h2>",
            text(name)
        );
        if let Some(case) = case {
            let _ = writeln!(
                page,
                "<p class=\"summary\">{}</p>\n<p class=\"origin\">{}</p>",
                text(&case.summary),
                text(&case.file)
            );
        }
        page.push_str(
            "<table class=\"trials\">\n<tr><th>trial</th><th>level</th><th>outcome</th></tr>\n",
        );
        for o in trials {
            let (class, word) = outcome_word(o);
            let _ = writeln!(
                page,
                "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&o.name),
                match o.level {
                    Level::Must => "MUST",
                    Level::Should => "SHOULD",
                },
                text(&word)
            );
            if let Some(failure) = failure_text(plan, o) {
                let _ = writeln!(
                    page,
                    "<tr class=\"{}\"><td colspan=\"3\"><pre>{}</pre></td></tr>",
                    if o.failed() { "failure" } else { "advice-text" },
                    text(&failure)
                );
            }
        }
        page.push_str("</table>\n");
        let sent: Vec<&Arc<ExchangeRecord>> = exchanges
            .iter()
            .filter(|e| {
                e.context
                    .split_once('/')
                    .is_some_and(|(case, _)| case == name.as_str())
            })
            .collect();
        if !sent.is_empty() {
            let _ = writeln!(
                page,
                "<details{}><summary>{} exchange{}</summary>",
                if failed { " open" } else { "" },
                sent.len(),
                if sent.len() == 1 { "" } else { "s" }
            );
            for record in sent {
                page.push_str(&exchange_html(record, &text));
            }
            page.push_str("</details>\n");
        }
        page.push_str("</section>\n");
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// The trials of each case (the harness's own under `restore` and `known_deviations`).
fn by_case<'a>(plan: &Plan, judgement: &'a Judgement) -> BTreeMap<String, Vec<&'a TrialOutcome>> {
    let mut groups: BTreeMap<String, Vec<&TrialOutcome>> = BTreeMap::new();
    for o in &judgement.outcomes {
        if o.status.is_deselected() {
            continue;
        }
        let case = match o.kind {
            TrialKind::Rule { case, .. }
            | TrialKind::Snapshot { case }
            | TrialKind::Invariants { case, .. } => plan
                .cases
                .get(case)
                .map_or_else(|| o.name.clone(), |c| c.id.clone()),
            TrialKind::Restore | TrialKind::Deviations | TrialKind::RunInvariants { .. } => o
                .name
                .split_once("::")
                .map_or_else(|| o.name.clone(), |(case, _)| case.to_string()),
        };
        groups.entry(case).or_default().push(o);
    }
    groups
}

/// The class and words of an outcome, as the console says it.
fn outcome_word(o: &TrialOutcome) -> (&'static str, String) {
    match &o.status {
        Status::Passed(_) => ("ok", "passed".into()),
        Status::Failed(_) => ("failed", "FAILED".into()),
        Status::NotJudged(why) if o.status.not_followed().is_some() => {
            ("advice", ignored_word(why))
        }
        Status::NotJudged(why) => ("ignored", ignored_word(why)),
    }
}

/// A case's word in the index: `2 failed`, `ok` (something passed, nothing failed), or `not
/// judged` when none of its trials was judged — never `ok`.
fn case_word(trials: &[&TrialOutcome]) -> (&'static str, String) {
    let failed = trials.iter().filter(|o| o.failed()).count();
    let passed = trials
        .iter()
        .filter(|o| matches!(o.status, Status::Passed(_)))
        .count();
    let advice = trials
        .iter()
        .filter(|o| o.status.not_followed().is_some())
        .count();
    if failed > 0 {
        ("failed", format!("{failed} failed"))
    } else if passed == 0 {
        ("ignored", "not judged".into())
    } else if advice > 0 {
        ("advice", format!("ok, {advice} SHOULD not followed"))
    } else {
        ("ok", "ok".into())
    }
}

fn exchange_html(record: &ExchangeRecord, text: &dyn Fn(&str) -> String) -> String {
    let ex = &record.exchange;
    let mut out = String::from("<div class=\"exchange\">\n");
    let _ = writeln!(
        out,
        "<p class=\"request\"><b>{} {}</b> <span class=\"meta\">credential: {}, {}</span></p>",
        text(ex.method),
        text(&ex.url),
        text(record.credential.name()),
        text(&record.context)
    );
    match &ex.outcome {
        Ok(response) => {
            let _ = writeln!(
                out,
                "<p class=\"response\">{} <span class=\"meta\">{}, {} bytes, {} ms</span></p>",
                response.status,
                text(response.header("content-type").unwrap_or("no content type")),
                response.body.len(),
                ex.elapsed.as_millis()
            );
            if !response.body.is_empty() {
                let _ = writeln!(out, "<pre>{}</pre>", text(&body_text(&response.body)));
            }
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"response failed\">no response: {}</p>",
                text(&e.to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "<pre class=\"curl\">{}</pre>\n</div>",
        text(&curl_for(record))
    );
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#1f2328;background:#fff}
header{display:flex;align-items:center;gap:1rem;border-bottom:1px solid #d0d7de}
h1{font-size:1.4rem;margin:.6rem 0}
h2{font-size:1.15rem;margin:1.4rem 0 .4rem}
.result{font-weight:700;padding:.15rem .6rem;border-radius:4px;color:#fff}
.result.ok{background:#1a7f37}.result.failed{background:#cf222e}.result.none{background:#9a6700}
.verdict{margin:.2rem 0}
span.advice,tr.advice td:nth-child(3){color:#9a6700}
tr.advice-text pre{border-left:3px solid #d4a72c}
span.ignored{color:#6e7781}
table{border-collapse:collapse;margin:.4rem 0}
th,td{text-align:left;padding:.2rem .7rem;border-bottom:1px solid #eaeef2;vertical-align:top}
table.counts td{text-align:right;min-width:4rem}
td.failed,span.failed,tr.failed td:nth-child(3){color:#cf222e;font-weight:600}
span.ok,tr.ok td:nth-child(3){color:#1a7f37}
tr.ignored td{color:#6e7781}
table.trials{width:100%}
pre{background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;padding:.5rem .7rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;margin:.3rem 0}
tr.failure pre{border-left:3px solid #cf222e}
pre.curl{background:#fff}
nav ul{columns:3;padding-left:1.2rem}
.case{border-top:1px solid #d0d7de;margin-top:1rem}
.summary{margin:.2rem 0}.origin,.meta{color:#6e7781;font-size:.9em}
.exchange{border-left:3px solid #d0d7de;padding-left:.7rem;margin:.6rem 0}
.exchange p{margin:.2rem 0}
details summary{cursor:pointer;color:#0969da}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_needs_nothing_from_outside() {
        assert!(!STYLE.contains("url("));
        assert!(!STYLE.contains("@import"));
    }
}
