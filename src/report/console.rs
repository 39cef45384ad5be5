//! The console sink: libtest's output formats (pretty, terse, json), its `--list`, and the
//! preamble and warnings on stderr. libtest-mimic parses the flags and owns the selection
//! semantics (filter, `--exact`, `--skip`, `--ignored`); the printing is ours, because libtest-
//! mimic's printer times its own loop (a 14 s run printed `finished in 0.00s`) and wraps failure
//! texts as `Error: "…"` in JSON. The lines a CI parser reads — `test NAME ... ok`, the
//! `test result:` line — are byte for byte libtest's.

use std::io::Write;

use anstyle::{AnsiColor, Color, Style};
use libtest_mimic::{Arguments, ColorSetting, FormatSetting, Trial};
use serde_json::json;

use super::RunInfo;
use super::output::Output;
use super::text::{DIFF_HEADING, DIFF_INDENT, failure_text, ignored_word, plural, short_message};
use crate::case::Level;
use crate::judge::{Failure, Judgement, NotJudged, Reason, Status, TrialOutcome, Verdict};
use crate::plan::{Plan, Selection};
use crate::record::RunReport;

/// What libtest's flags make of a trial of this name and level: SHOULD trials are `#[ignore]`d.
pub fn selection(args: &Arguments, name: &str, level: Level) -> Selection {
    let probe = Trial::test(name, || Ok(())).with_ignored_flag(level == Level::Should);
    if args.is_filtered_out(&probe) {
        Selection::FilteredOut
    } else if args.is_ignored(&probe) {
        Selection::Ignored
    } else {
        Selection::Run
    }
}

/// Prints a judged run: the trials in libtest's format on stdout (or `--logfile`), the warnings
/// on stderr.
///
/// # Errors
/// When `--logfile` cannot be written.
pub fn print(
    plan: &Plan,
    report: &RunReport,
    judgement: &Judgement,
    info: &RunInfo,
    args: &Arguments,
    output: &Output,
) -> std::io::Result<()> {
    let spawn_note = || {
        if let Some(log) = &info.spawn_log {
            output.err(&format!(
                "the implementation's output is in {}",
                log.display()
            ));
        }
    };
    if report.interrupted && report.unusable.is_some() {
        output.err("interrupted before the account was read: nothing was changed");
        spawn_note();
        return Ok(());
    }
    if let Some(reason) = &report.unusable {
        output.err(&format!(
            "error: target {} is unusable: {reason}",
            report.base_url
        ));
        spawn_note();
        return Ok(());
    }
    let format = if args.quiet {
        FormatSetting::Terse
    } else {
        args.format.unwrap_or(FormatSetting::Pretty)
    };
    // Rendered with colours; the stream strips them where `--color` and the terminal say so.
    let text = output.redact(&render(plan, judgement, format, true));
    let setting = args.color.unwrap_or(ColorSetting::Auto);
    let mut out: Box<dyn Write> = match &args.logfile {
        Some(path) => {
            let file = std::fs::File::create(path)?;
            match setting {
                ColorSetting::Always => Box::new(anstream::AutoStream::always(file)),
                _ => Box::new(anstream::AutoStream::never(file)),
            }
        }
        None => {
            let choice = match setting {
                ColorSetting::Auto => anstream::ColorChoice::Auto,
                ColorSetting::Always => anstream::ColorChoice::Always,
                ColorSetting::Never => anstream::ColorChoice::Never,
            };
            Box::new(anstream::AutoStream::new(std::io::stdout(), choice))
        }
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure (as ripgrep does).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    if judgement.restore_failed {
        output.err(
            "WARNING: the account was NOT left as it was found: its original default profile could not be \
             restored. See restore::original_default_restored above for the command that restores it by hand.",
        );
    }
    if let Verdict::NoVerdict(why) = &judgement.verdict
        && !report.interrupted
    {
        output.err(&format!(
            "error: target {} gives no conformance verdict: {why}",
            report.base_url
        ));
    }
    if judgement.summary.must_not_judged > 0 && !matches!(judgement.verdict, Verdict::NoVerdict(_))
    {
        output.err(&format!(
            "note: {} MUST trial{} not judged against this target, so the trials that passed do \
             not cover {}: {}",
            judgement.summary.must_not_judged,
            if judgement.summary.must_not_judged == 1 {
                " was"
            } else {
                "s were"
            },
            if judgement.summary.must_not_judged == 1 {
                "it"
            } else {
                "them"
            },
            not_judged_reasons(judgement)
        ));
    }
    if let Some(why) = &report.stopped {
        // How far it got.
        let s = &judgement.summary;
        let requests = report.exchanges.len();
        output.err(&format!(
            "stopped early: {why} after {requests} request{}; {} trial{} passed and {} failed before the stop, {} {} not judged (interrupted)",
            plural(requests),
            s.passed,
            plural(s.passed),
            s.failed,
            s.not_judged(Reason::Interrupted),
            if s.not_judged(Reason::Interrupted) == 1 { "was" } else { "were" },
        ));
    }
    if let Some(n) = report.slowed_to {
        output.err(&format!(
            "note: the target throttled requests (409/429 with Retry-After); the run slowed down to {n} request{} in flight at a time, and came back up as answers allowed",
            if n == 1 { "" } else { "s" }
        ));
    }
    if judgement.summary.failed > 0 {
        spawn_note();
    }
    Ok(())
}

/// Why MUST trials were not judged, grouped: `needs a fixture: needs foreign_profile_id: … (20)`.
fn not_judged_reasons(judgement: &Judgement) -> String {
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for o in judgement.outcomes.iter().filter(|o| o.level == Level::Must) {
        let reason = match &o.status {
            Status::NotJudged(
                why @ (NotJudged::NeedsFixture(_)
                | NotJudged::Interrupted(_)
                | NotJudged::Unusable(_)),
            ) => super::text::not_judged_message(why)
                .trim_start_matches("not judged: ")
                .to_string(),
            _ => continue,
        };
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((reason, 1)),
        }
    }
    reasons
        .iter()
        .map(|(r, n)| format!("{r} ({n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report of a judged run in one of libtest's formats (unredacted). With `color`, the
/// outcome words carry ANSI colours as libtest's do.
pub fn render(plan: &Plan, judgement: &Judgement, format: FormatSetting, color: bool) -> String {
    let shown: Vec<&TrialOutcome> = judgement
        .outcomes
        .iter()
        .filter(|o| !o.status.is_deselected())
        .collect();
    let mut text = Text {
        buf: String::new(),
        color,
    };
    match format {
        FormatSetting::Json => json_lines(&mut text, plan, &shown, judgement),
        FormatSetting::Pretty | FormatSetting::Terse => {
            text_lines(&mut text, plan, &shown, judgement, format);
        }
    }
    text.buf
}

/// A report being written.
struct Text {
    buf: String,
    color: bool,
}

impl Text {
    fn write(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    fn line(&mut self, text: &str) {
        self.buf.push_str(text);
        self.buf.push('\n');
    }

    fn styled(&self, text: &str, color: AnsiColor) -> String {
        if self.color {
            let style = Style::new().fg_color(Some(Color::Ansi(color)));
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// `ok`, `FAILED` or `ignored, <reason>` (as libtest prints `#[ignore = "reason"]`), coloured
/// as libtest does.
fn outcome_word(sink: &Text, o: &TrialOutcome) -> String {
    match &o.status {
        Status::Passed(_) => sink.styled("ok", AnsiColor::Green),
        Status::Failed(_) => sink.styled("FAILED", AnsiColor::Red),
        // One line, that stands out from the followed ones: what was breached, the full text
        // under "SHOULD rules not followed" below.
        Status::NotJudged(_) if o.status.not_followed().is_some() => sink.styled(
            &format!(
                "ignored, SHOULD rule not followed: {}",
                not_followed_brief(o)
            ),
            AnsiColor::Magenta,
        ),
        Status::NotJudged(why) => sink.styled(
            &format!("ignored, {}", ignored_word(why)),
            AnsiColor::Yellow,
        ),
    }
}

/// What a SHOULD trial not followed found, short: the invariants it found breached, or what the
/// response had.
fn not_followed_brief(o: &TrialOutcome) -> String {
    let breached = crate::record::breached_rules(&o.notes);
    if !breached.is_empty() {
        return breached.join(", ");
    }
    let actual = o.status.not_followed().map_or("", |f| f.actual.as_str());
    const SHORT: usize = 80;
    if actual.chars().count() > SHORT {
        format!("got {}…", actual.chars().take(SHORT).collect::<String>())
    } else {
        format!("got {actual}")
    }
}

/// The lines after libtest's `test result:`, the same words every sink uses: the verdict (led
/// by the MUST rules), the advice of the SHOULD rules, and what was not judged.
pub fn verdict_lines(judgement: &Judgement) -> Vec<String> {
    let s = &judgement.summary;
    let mut lines = Vec::new();
    let must = format!("MUST {} passed, {} failed", s.must_passed, s.must_failed);
    let should = if judgement.should_counted {
        format!(
            "; SHOULD (counted) {} passed, {} failed",
            s.should_passed, s.should_failed
        )
    } else {
        String::new()
    };
    lines.push(match &judgement.verdict {
        Verdict::Conforms => format!("verdict: conforms: every MUST rule judged holds ({must}{should})"),
        Verdict::DoesNotConform if s.must_failed > 0 => format!(
            "verdict: does not conform: {} MUST trial{} failed ({must}{should})",
            s.must_failed,
            plural(s.must_failed)
        ),
        Verdict::DoesNotConform => format!(
            "verdict: fails when SHOULD rules count: every MUST rule judged holds, but {} counted SHOULD trial{} failed ({must}{should})",
            s.should_failed,
            plural(s.should_failed)
        ),
        Verdict::NoVerdict(why) => format!("verdict: no verdict: {why} ({must}{should})"),
    });
    let advised = s.advice_followed + s.advice_not_followed.len();
    if advised > 0 {
        lines.push(if s.advice_not_followed.is_empty() {
            format!(
                "advice: every SHOULD rule judged is followed ({advised}; not counted, --include-ignored counts them)"
            )
        } else {
            format!(
                "advice: {} SHOULD rule{} not followed (not counted, --include-ignored counts them): {}",
                s.should_rules_not_followed.len(),
                plural(s.should_rules_not_followed.len()),
                s.should_rules_not_followed
                    .iter()
                    .map(|(rule, n)| format!("{rule} ({n} trial{})", plural(*n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    lines.push(format!("not judged: {}", s.not_judged_words()));
    lines
}

/// A failure block with its unified diff coloured as `git diff` colours one (on a terminal).
fn coloured_diff(sink: &Text, text: &str) -> String {
    if !sink.color {
        return text.to_string();
    }
    let mut in_diff = false;
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line == DIFF_HEADING {
            in_diff = true;
            out.push(line.to_string());
            continue;
        }
        let Some(diff_line) = line.strip_prefix(DIFF_INDENT).filter(|_| in_diff) else {
            in_diff = false;
            out.push(line.to_string());
            continue;
        };
        let color = if diff_line.starts_with("+++") || diff_line.starts_with("---") {
            None
        } else if diff_line.starts_with('+') {
            Some(AnsiColor::Green)
        } else if diff_line.starts_with('-') {
            Some(AnsiColor::Red)
        } else if diff_line.starts_with("@@") {
            Some(AnsiColor::Cyan)
        } else {
            None
        };
        out.push(match color {
            Some(color) => format!("{DIFF_INDENT}{}", sink.styled(diff_line, color)),
            None => line.to_string(),
        });
    }
    out.join("\n")
}

fn text_lines(
    sink: &mut Text,
    plan: &Plan,
    shown: &[&TrialOutcome],
    judgement: &Judgement,
    format: FormatSetting,
) {
    let width = shown
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(0);
    sink.line("");
    sink.line(&format!(
        "running {} test{}",
        shown.len(),
        if shown.len() == 1 { "" } else { "s" }
    ));
    for o in shown {
        if format == FormatSetting::Terse {
            let (c, color) = match &o.status {
                Status::Passed(_) => (".", AnsiColor::Green),
                Status::Failed(_) => ("F", AnsiColor::Red),
                _ => ("i", AnsiColor::Yellow),
            };
            let c = sink.styled(c, color);
            sink.write(&c);
        } else {
            let word = outcome_word(sink, o);
            sink.line(&format!("test {:<width$} ... {word}", o.name));
        }
    }
    let failed: Vec<&&TrialOutcome> = shown.iter().filter(|o| o.failed()).collect();
    if !failed.is_empty() {
        sink.line("");
        sink.line("failures:");
        sink.line("");
        for o in &failed {
            sink.line(&format!("---- {} ----", o.name));
            if let Some(text) = failure_text(plan, o) {
                let text = coloured_diff(sink, &text);
                sink.line(&text);
            }
            sink.line("");
        }
        sink.line("");
        sink.line("failures:");
        for o in &failed {
            sink.line(&format!("    {}", o.name));
        }
    }
    let advice: Vec<&&TrialOutcome> = shown
        .iter()
        .filter(|o| o.status.not_followed().is_some())
        .collect();
    if !advice.is_empty() {
        sink.line("");
        sink.line(
            "SHOULD rules not followed (advice, not counted; --include-ignored counts them):",
        );
        sink.line("");
        for o in &advice {
            sink.line(&format!("---- {} ----", o.name));
            if let Some(text) = failure_text(plan, o) {
                let text = coloured_diff(sink, &text);
                sink.line(&text);
            }
            sink.line("");
        }
    }
    let s = &judgement.summary;
    // The word follows the exit code: stdout and the exit code never disagree.
    let result = if judgement.exit_code == crate::exit::OK {
        sink.styled("ok", AnsiColor::Green)
    } else {
        sink.styled("FAILED", AnsiColor::Red)
    };
    sink.line("");
    sink.line(&format!(
        "test result: {result}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s",
        s.passed,
        s.failed,
        s.ignored(),
        s.filtered_out(),
        s.duration.as_secs_f64()
    ));
    for (i, line) in verdict_lines(judgement).into_iter().enumerate() {
        let color = match (&judgement.verdict, i) {
            (Verdict::Conforms, 0) => Some(AnsiColor::Green),
            (Verdict::DoesNotConform, 0) => Some(AnsiColor::Red),
            (Verdict::NoVerdict(_), 0) => Some(AnsiColor::Yellow),
            _ => None,
        };
        let line = match color {
            Some(c) => sink.styled(&line, c),
            None => line,
        };
        sink.line(&line);
    }
    sink.line("");
}

/// libtest's JSON events, each trial's carrying its level, its time and its clean text.
fn json_lines(sink: &mut Text, plan: &Plan, shown: &[&TrialOutcome], judgement: &Judgement) {
    sink.line(&json!({"type": "suite", "event": "started", "test_count": shown.len()}).to_string());
    for o in shown {
        sink.line(&json!({"type": "test", "event": "started", "name": o.name}).to_string());
        let mut event = json!({
            "type": "test",
            "name": o.name,
            "event": match o.status {
                Status::Passed(_) => "ok",
                Status::Failed(_) => "failed",
                Status::NotJudged(_) => "ignored",
            },
            "level": match o.level {
                Level::Must => "must",
                Level::Should => "should",
            },
            "exec_time": o.duration.as_secs_f64(),
        });
        let message = short_message(&o.status);
        match &o.status {
            Status::Failed(failure) => {
                event["failure"] = json!(match failure {
                    Failure::Violation(_) => "violation",
                    Failure::Broken(_) => "broken",
                    Failure::NotRun(_) => "not_run",
                });
                event["message"] = json!(message);
                if let Some(text) = failure_text(plan, o) {
                    event["stdout"] = json!(text + "\n");
                }
            }
            Status::NotJudged(why) => {
                event["reason"] = json!(message);
                event["not_judged"] = json!(why.reason().key());
                if let NotJudged::ShouldNotCounted(advice) = why {
                    event["advice"] = json!(match advice {
                        crate::judge::Advice::Followed(_) => "followed",
                        crate::judge::Advice::NotFollowed(_) => "not_followed",
                        crate::judge::Advice::Unknown(_) => "unknown",
                    });
                    if let Some(text) = failure_text(plan, o) {
                        event["stdout"] = json!(text + "\n");
                    }
                }
            }
            Status::Passed(Some(_)) => event["note"] = json!(message),
            Status::Passed(None) => {}
        }
        sink.line(&event.to_string());
    }
    let s = &judgement.summary;
    let not_judged: serde_json::Map<String, serde_json::Value> = Reason::ALL
        .iter()
        .map(|r| (r.key().to_string(), json!(s.not_judged(*r))))
        .collect();
    sink.line(
        &json!({
            "type": "suite",
            "event": if judgement.exit_code == crate::exit::OK { "ok" } else { "failed" },
            "passed": s.passed,
            "failed": s.failed,
            "ignored": s.ignored(),
            "measured": 0,
            "filtered_out": s.filtered_out(),
            "verdict": judgement.verdict.key(),
            "verdict_text": verdict_lines(judgement).join("\n"),
            "must_passed": s.must_passed,
            "must_failed": s.must_failed,
            "should_passed": s.should_passed,
            "should_failed": s.should_failed,
            "must_not_judged": s.must_not_judged,
            "not_judged": s.not_judged_total(),
            "not_judged_by_reason": not_judged,
            "should_not_followed": s.advice_not_followed,
            "exec_time": s.duration.as_secs_f64(),
        })
        .to_string(),
    );
}
