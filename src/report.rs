//! Reporting: the only module that knows libtest-mimic and the only one that writes output.
//!
//! It turns a plan and a run's stored verdicts into libtest trials whose closures only return
//! what was already decided (run first, report second), renders failure texts, and passes every
//! line it writes through the run's [`Redactor`].

use std::io::Write as _;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::case::{Credential, Level};
use crate::check::{Finding, Verdict, media_type};
use crate::deviation::Ledger;
use crate::error::LoadError;
use crate::fault_matrix::FaultMatrix;
use crate::plan::{Plan, TrialKind, TrialSpec};
use crate::redact::{Redactor, mask_json};
use crate::run::{ExchangeRecord, RunReport, TrialResult};
use crate::snapshot::{self, Comparison, SnapshotStore};

/// Exit codes, as documented in README.
pub mod exit {
    /// Every selected trial passed.
    pub const OK: u8 = 0;
    /// At least one selected trial failed.
    pub const FAILED: u8 = 101;
    /// Bad input (flags, case or schema files); nothing was sent.
    pub const BAD_INPUT: u8 = 2;
    /// The target could not be used (unreachable, sign-in or discovery failed).
    pub const TARGET_UNUSABLE: u8 = 3;
    /// Interrupted (Ctrl-C / SIGTERM); the account was restored unless a warning says otherwise.
    pub const INTERRUPTED: u8 = 130;
}

/// How much of a response body a failure shows.
const BODY_EXCERPT: usize = 600;

/// Writes to stdout and stderr, redacting every line.
#[derive(Debug, Clone, Default)]
pub struct Output {
    redactor: Redactor,
}

impl Output {
    pub fn new(redactor: Redactor) -> Output {
        Output { redactor }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", self.redactor.redact(text));
    }

    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", self.redactor.redact(text));
    }

    /// Prints a load error (bad input) and returns exit code 2.
    pub fn load_error(&self, e: &LoadError) -> ExitCode {
        self.err(&format!("error: {e}"));
        ExitCode::from(exit::BAD_INPUT)
    }
}

/// Whether a trial of this name and level executes under these libtest arguments: the filter,
/// `--exact`, `--skip`, `--ignored`/`--include-ignored` (SHOULD trials are ignored by default),
/// and `--list` (nothing executes).
pub fn selects(args: &Arguments, name: &str, level: Level) -> bool {
    if args.list {
        return false;
    }
    let probe = Trial::test(name, || Ok(())).with_ignored_flag(level == Level::Should);
    !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
}

/// `--list`: prints the trial names the way libtest does, without running anything.
pub fn list(plan: &Plan, args: &Arguments) -> ExitCode {
    let trials = plan
        .trials
        .iter()
        .map(|t| Trial::test(t.name.clone(), || Ok(())).with_ignored_flag(t.level == Level::Should))
        .collect();
    libtest_mimic::run(args, trials).exit_code()
}

/// Where a run's report goes besides the console.
#[derive(Debug, Clone, Default)]
pub struct EmitOptions {
    /// What the target is, for the preamble (`embedded reference server`, `--base-url`).
    pub label: String,
    /// `--junit PATH`.
    pub junit: Option<std::path::PathBuf>,
    /// The log of a `--spawn`ed implementation, named when the run fails.
    pub spawn_log: Option<std::path::PathBuf>,
    /// Where new and drifted snapshots go.
    pub snapshots: Option<SnapshotWriting>,
    /// `--manifest PATH` and what it records beyond the run itself.
    pub manifest: Option<ManifestInfo>,
    /// `--known-deviations PATH`, loaded.
    pub deviations: Option<Ledger>,
    /// The date expiry is judged against.
    pub today: chrono::NaiveDate,
}

/// What the manifest records besides the trials.
#[derive(Debug, Clone, Default)]
pub struct ManifestInfo {
    pub path: std::path::PathBuf,
    pub contract_hash: String,
    /// The target label (`--target-label`, or derived from the target).
    pub label: String,
    pub started_at: String,
}

/// Known deviations: a listed failure becomes ignored with its reason; a listed pass fails; an
/// expired entry keeps its failure and fails `known_deviations::none_expired`.
fn apply_deviations(
    plan: &Plan,
    report: &mut RunReport,
    ledger: &Ledger,
    today: chrono::NaiveDate,
) {
    for (spec, result) in plan.trials.iter().zip(report.results.iter_mut()) {
        let (Some(deviation), Some(result)) = (ledger.find(&spec.name), result.as_mut()) else {
            continue;
        };
        let expired = deviation.expired(today);
        let verdict = std::mem::replace(&mut result.verdict, Verdict::Pass(None));
        result.verdict = match verdict {
            v if v.is_failure() && !expired => Verdict::KnownDeviation(deviation.describe()),
            Verdict::Violation(mut finding) if expired => {
                finding.details.insert(
                    0,
                    format!(
                        "the known deviation {} expired on {}: fix the target or extend the entry",
                        deviation.origin, deviation.expires
                    ),
                );
                Verdict::Violation(finding)
            }
            Verdict::Pass(_) => Verdict::Violation(Finding {
                expected: format!(
                    "a failure, as the known deviation {} says ({})",
                    deviation.origin, deviation.reason
                ),
                actual: "the trial passes".into(),
                details: vec!["remove the entry: the known-deviations list only shrinks".into()],
            }),
            other => other,
        };
    }
    let index = plan.trial_index();
    if let Some(&ti) = index.get(&TrialKind::Deviations)
        && plan.trials[ti].selected
    {
        let expired = ledger.expired(today);
        let verdict = if expired.is_empty() {
            Verdict::Pass(None)
        } else {
            Verdict::Violation(Finding {
                expected: format!("no expired entry in {} (today is {today})", ledger.file),
                actual: format!("{} expired", expired.len()),
                details: expired
                    .iter()
                    .map(|d| format!("{}: {} — expired {}", d.origin, d.reason, d.expires))
                    .collect(),
            })
        };
        report.results[ti] = Some(TrialResult {
            verdict,
            exchange: None,
            duration: std::time::Duration::ZERO,
        });
    }
}

/// What happens to a snapshot that is new or drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotWrite {
    /// Write `<case>.snap.new` for `cargo insta review`.
    New,
    /// Overwrite `<case>.snap`: the drift is accepted and the trial passes.
    Accept,
    /// Write nothing (CI).
    Nothing,
}

/// The snapshot store of a run and what to do with differences.
#[derive(Debug, Clone)]
pub struct SnapshotWriting {
    pub store: SnapshotStore,
    pub write: SnapshotWrite,
}

/// Writes new or drifted snapshots as asked, removes stale `.snap.new` files of matching ones,
/// and says what it did in the snapshot trials' texts (accepted ones pass).
fn write_snapshots(
    plan: &Plan,
    report: &mut RunReport,
    writing: &SnapshotWriting,
    output: &Output,
) {
    let index = plan.trial_index();
    for record in &report.snapshots {
        let case = &plan.cases[record.case];
        let stored = writing.store.path(&case.id);
        let pending = stored.with_extension("snap.new");
        let Some(ti) = index.get(&TrialKind::Snapshot { case: record.case }) else {
            continue;
        };
        if record.comparison == Comparison::Same {
            let _ = std::fs::remove_file(&pending);
            continue;
        }
        let text =
            output
                .redactor()
                .redact(&snapshot::file_text(&case.file, &case.id, &record.text));
        let write = |path: &std::path::Path| {
            std::fs::create_dir_all(&writing.store.dir).and_then(|()| std::fs::write(path, &text))
        };
        let note = match writing.write {
            SnapshotWrite::Nothing => format!(
                "stored snapshot: {}; nothing written (--update-snapshots no, or CI)",
                stored.display()
            ),
            SnapshotWrite::New => match write(&pending) {
                Ok(()) => format!(
                    "written to {} — review with `cargo insta review`, or accept with --update-snapshots always",
                    pending.display()
                ),
                Err(e) => format!("could not write {}: {e}", pending.display()),
            },
            SnapshotWrite::Accept => match write(&stored) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&pending);
                    if let Some(result) = report.results[*ti].as_mut() {
                        result.verdict =
                            Verdict::Pass(Some(format!("accepted into {}", stored.display())));
                    }
                    continue;
                }
                Err(e) => format!("could not write {}: {e}", stored.display()),
            },
        };
        if let Some(Verdict::Violation(finding)) =
            report.results[*ti].as_mut().map(|r| &mut r.verdict)
        {
            finding.details.insert(0, note);
        }
    }
}

/// Prints the report of a run in libtest format (and JUnit, if asked) and returns the exit code.
pub fn emit(
    plan: &Plan,
    report: RunReport,
    args: &Arguments,
    output: &Output,
    options: &EmitOptions,
) -> ExitCode {
    let mut redactor = output.redactor().clone();
    for record in &report.exchanges {
        if let Ok(response) = &record.exchange.outcome
            && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body)
        {
            redactor.add_from_json(&body);
        }
    }
    let output = Output::new(redactor);
    let spawn_note = || {
        if let Some(log) = &options.spawn_log {
            output.err(&format!(
                "the implementation's output is in {}",
                log.display()
            ));
        }
    };
    let manifest_failed = |outcomes: &[TrialOutcome], report: &RunReport, code: u8| {
        if let Some(info) = &options.manifest
            && let Err(e) = write_manifest(info, outcomes, report, code, &output)
        {
            output.err(&format!(
                "error: cannot write --manifest {}: {e}",
                info.path.display()
            ));
            return true;
        }
        false
    };

    if report.interrupted && report.unusable.is_some() {
        output.err("interrupted before the account was read: nothing was changed");
        spawn_note();
        return ExitCode::from(exit::INTERRUPTED);
    }
    if let Some(reason) = &report.unusable {
        output.err(&format!(
            "error: target {} is unusable: {reason}",
            report.base_url
        ));
        spawn_note();
        manifest_failed(
            &TrialOutcome::all(plan, &report, args, &output),
            &report,
            exit::TARGET_UNUSABLE,
        );
        return ExitCode::from(exit::TARGET_UNUSABLE);
    }
    let quiet = args.quiet || matches!(args.format, Some(libtest_mimic::FormatSetting::Json));
    if !quiet {
        let fixtures: Vec<String> = report
            .fixtures
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        output.err(&format!("target: {} ({})", report.base_url, options.label));
        if !fixtures.is_empty() {
            output.err(&format!("fixtures: {}", fixtures.join(", ")));
        }
    }
    let mut report = report;
    if let Some(writing) = &options.snapshots {
        write_snapshots(plan, &mut report, writing, &output);
    }
    if let Some(ledger) = &options.deviations {
        apply_deviations(plan, &mut report, ledger, options.today);
    }
    let outcomes = TrialOutcome::all(plan, &report, args, &output);
    if let Some(path) = &options.junit
        && let Err(e) = write_junit(path, &outcomes, &report, options, &output)
    {
        output.err(&format!(
            "error: cannot write --junit {}: {e}",
            path.display()
        ));
        return ExitCode::from(exit::BAD_INPUT);
    }
    let any_failed = outcomes
        .iter()
        .any(|o| o.verdict.as_ref().is_some_and(Verdict::is_failure));
    let code = if report.interrupted {
        exit::INTERRUPTED
    } else if any_failed {
        exit::FAILED
    } else {
        exit::OK
    };
    if manifest_failed(&outcomes, &report, code) {
        return ExitCode::from(exit::BAD_INPUT);
    }
    let restore_failed = outcomes.iter().any(|o| {
        o.kind == TrialKind::Restore
            && matches!(o.verdict, Some(Verdict::Violation(_) | Verdict::Broken(_)))
    });
    let trials: Vec<Trial> = outcomes
        .into_iter()
        .map(|o| {
            let ignored = o.level == Level::Should;
            let (verdict, text) = (o.verdict, o.text);
            Trial::ignorable_test(o.name, move || match (verdict, text) {
                (Some(Verdict::Pass(_)), _) => Ok(Completion::Completed),
                (Some(Verdict::Skipped(reason)), _) => Ok(Completion::ignored_with(reason)),
                (Some(Verdict::KnownDeviation(reason)), _) => Ok(Completion::ignored_with(
                    format!("known deviation: {reason}"),
                )),
                (Some(_), Some(text)) => Err(Failed::from(text)),
                // Not executed by the run although libtest runs it: only possible if the plan's
                // selection and libtest's disagree, which `selects` rules out.
                _ => Err(Failed::from(
                    "harness error: this trial was selected but not run",
                )),
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    // Trials only return stored verdicts, so one thread costs nothing and keeps the order stable;
    // `--test-threads` has already set how many cases ran at once.
    let mut libtest_args = args.clone();
    libtest_args.test_threads = Some(1);
    let conclusion = libtest_mimic::run(&libtest_args, trials);
    if restore_failed {
        output.err(
            "WARNING: the account was NOT left as it was found: its original default profile could not be \
             restored. See restore::original_default_restored above for the command that restores it by hand.",
        );
    }
    if let Some(why) = &report.stopped {
        output.err(&format!(
            "stopped early: {why}; the remaining steps were not run"
        ));
    }
    if conclusion.has_failed() {
        spawn_note();
    }
    if report.interrupted {
        ExitCode::from(exit::INTERRUPTED)
    } else {
        conclusion.exit_code()
    }
}

/// One line for a manifest or a JUnit message: expected vs actual, or the reason.
fn short_message(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Violation(f) => format!("expected {}, got {}", f.expected, f.actual),
        Verdict::Broken(why) => format!("could not judge: {why}"),
        Verdict::NotRun(why) => format!("not run: {why}"),
        Verdict::Skipped(why) => why.clone(),
        Verdict::KnownDeviation(why) => format!("known deviation: {why}"),
        Verdict::Pass(note) => note.clone().unwrap_or_default(),
    }
}

/// Writes the run manifest (`schemas/manifest.schema.json`), redacted.
fn write_manifest(
    info: &ManifestInfo,
    outcomes: &[TrialOutcome],
    report: &RunReport,
    exit_code: u8,
    output: &Output,
) -> std::io::Result<()> {
    use crate::manifest::{FailureKind, Manifest, ManifestTarget, ManifestTrial, Outcome, Summary};
    let mut summary = Summary::default();
    let trials = outcomes
        .iter()
        .map(|o| {
            let (outcome, failure, message) = match (&o.verdict, o.filtered_out) {
                (_, true) => (Outcome::FilteredOut, None, None),
                (None, false) => match &report.unusable {
                    Some(why) if o.level == Level::Must || o.selected => (
                        Outcome::Failed,
                        Some(FailureKind::NotRun),
                        Some(format!("target unusable: {why}")),
                    ),
                    _ => (Outcome::Ignored, None, None),
                },
                (Some(v), false) => {
                    let message = Some(short_message(v)).filter(|m| !m.is_empty());
                    match v {
                        Verdict::Pass(_) => (Outcome::Passed, None, None),
                        Verdict::Skipped(_) => (Outcome::Skipped, None, message),
                        Verdict::KnownDeviation(_) => (Outcome::KnownDeviation, None, message),
                        Verdict::Violation(_) => {
                            (Outcome::Failed, Some(FailureKind::Violation), message)
                        }
                        Verdict::Broken(_) => (Outcome::Failed, Some(FailureKind::Broken), message),
                        Verdict::NotRun(_) => (Outcome::Failed, Some(FailureKind::NotRun), message),
                    }
                }
            };
            match outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Failed => summary.failed += 1,
                Outcome::Ignored => summary.ignored += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::KnownDeviation => summary.known_deviations += 1,
                Outcome::FilteredOut => summary.filtered_out += 1,
            }
            ManifestTrial {
                name: o.name.clone(),
                case: o.name.split("::").next().unwrap_or_default().to_string(),
                level: match o.level {
                    Level::Must => "must".into(),
                    Level::Should => "should".into(),
                },
                outcome,
                failure,
                duration_ms: u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
                message: message.map(|m| output.redactor().redact(&m)),
            }
        })
        .collect();
    let manifest = Manifest {
        format: crate::manifest::FORMAT.into(),
        harness_version: env!("CARGO_PKG_VERSION").into(),
        contract_hash: info.contract_hash.clone(),
        target: ManifestTarget {
            base_url: report.base_url.clone(),
            label: info.label.clone(),
        },
        started_at: info.started_at.clone(),
        duration_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        exit_code,
        summary,
        trials,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(&info.path, output.redactor().redact(&text) + "\n")
}

/// One trial as both the console and JUnit report it.
struct TrialOutcome {
    name: String,
    kind: TrialKind,
    level: Level,
    /// `None` when the trial did not execute (filtered out, or an ignored SHOULD rule).
    verdict: Option<Verdict>,
    /// The redacted failure text, for failing verdicts.
    text: Option<String>,
    duration: std::time::Duration,
    /// Whether libtest's filter leaves it out of the report entirely.
    filtered_out: bool,
    /// Whether the plan selected it to execute.
    selected: bool,
}

impl TrialOutcome {
    /// One outcome per trial of the plan, in plan order.
    fn all(
        plan: &Plan,
        report: &RunReport,
        args: &Arguments,
        output: &Output,
    ) -> Vec<TrialOutcome> {
        plan.trials
            .iter()
            .zip(&report.results)
            .map(|(spec, result)| TrialOutcome::new(plan, spec, result.as_ref(), args, output))
            .collect()
    }
    fn new(
        plan: &Plan,
        spec: &TrialSpec,
        result: Option<&TrialResult>,
        args: &Arguments,
        output: &Output,
    ) -> TrialOutcome {
        let probe = Trial::test(spec.name.clone(), || Ok(()))
            .with_ignored_flag(spec.level == Level::Should);
        TrialOutcome {
            name: spec.name.clone(),
            kind: spec.kind,
            level: spec.level,
            verdict: result.map(|r| r.verdict.clone()),
            text: result.filter(|r| r.verdict.is_failure()).map(|r| {
                trial_text(
                    plan,
                    spec.kind,
                    &spec.name,
                    spec.level,
                    &r.verdict,
                    r.exchange.as_deref(),
                    output,
                )
            }),
            duration: result.map(|r| r.duration).unwrap_or_default(),
            filtered_out: args.is_filtered_out(&probe),
            selected: spec.selected,
        }
    }
}

/// Writes the JUnit XML report: one testcase per trial (classname = case, name = the rest of the
/// trial name), failures and errors with the console's text, the target and harness version as
/// properties. Everything passes through the redactor.
fn write_junit(
    path: &std::path::Path,
    outcomes: &[TrialOutcome],
    report: &RunReport,
    options: &EmitOptions,
    output: &Output,
) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let redact = |s: &str| output.redactor().redact(s);
    let mut suite = TestSuite::new("nexudus-conformance");
    suite.add_property(Property::new("target", redact(&report.base_url)));
    suite.add_property(Property::new("target_label", redact(&options.label)));
    suite.add_property(Property::new("harness_version", env!("CARGO_PKG_VERSION")));
    suite.set_time(report.elapsed);
    for o in outcomes.iter().filter(|o| !o.filtered_out) {
        let (classname, short) = o.name.split_once("::").unwrap_or(("", o.name.as_str()));
        let status = match &o.verdict {
            None => {
                let mut s = TestCaseStatus::skipped();
                s.set_message("SHOULD rule, ignored (run with --include-ignored)");
                s
            }
            Some(Verdict::Pass(_)) => TestCaseStatus::success(),
            Some(Verdict::Skipped(reason)) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(redact(reason));
                s
            }
            Some(Verdict::KnownDeviation(reason)) => {
                let mut s = TestCaseStatus::skipped();
                s.set_type("known deviation");
                s.set_message(redact(&format!("known deviation: {reason}")));
                s
            }
            Some(verdict) => {
                let (kind, ty) = match verdict {
                    Verdict::Violation(_) => (NonSuccessKind::Failure, "violation"),
                    Verdict::Broken(_) => (NonSuccessKind::Error, "broken"),
                    _ => (NonSuccessKind::Error, "not run"),
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_type(ty);
                s.set_message(redact(&short_message(verdict)));
                if let Some(text) = &o.text {
                    s.set_description(text.as_str());
                }
                s
            }
        };
        let mut case = TestCase::new(short, status);
        case.set_classname(classname);
        case.set_time(o.duration);
        suite.add_test_case(case);
    }
    let mut junit = Report::new("nexudus-conformance");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    let xml = junit.to_string().map_err(std::io::Error::other)?;
    std::fs::write(path, redact(&xml))
}

/// The failure text of a trial, redacted.
fn trial_text(
    plan: &Plan,
    kind: TrialKind,
    name: &str,
    level: Level,
    verdict: &Verdict,
    exchange: Option<&ExchangeRecord>,
    output: &Output,
) -> String {
    let mut lines = Vec::new();
    lines.push(format!("rule:      {name} [{level}]"));
    match kind {
        TrialKind::Rule { case, step, rule } => {
            let rule = &plan.cases[case].steps[step].rules[rule];
            lines.push(format!("enforces:  {}", rule.cite));
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
        TrialKind::Snapshot { case } => {
            lines.push(
                "enforces:  the responses keep the shape of the stored snapshot (nightly regression; SHOULD unless --deny-drift)"
                    .into(),
            );
            lines.push(format!("origin:    {}", plan.cases[case].file));
        }
    }
    match verdict {
        Verdict::Violation(f) => {
            lines.push(format!("expected:  {}", f.expected));
            lines.push(format!("actual:    {}", f.actual));
            for d in &f.details {
                lines.push(format!("  - {d}"));
            }
        }
        Verdict::Broken(why) => lines.push(format!("could not judge: {why}")),
        Verdict::NotRun(why) => lines.push(format!("not run:   {why}")),
        Verdict::Pass(_) | Verdict::Skipped(_) | Verdict::KnownDeviation(_) => {}
    }
    if let Some(record) = exchange {
        lines.extend(exchange_lines(record));
    }
    output.redactor().redact(&lines.join("\n"))
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
            let content_type = response.header("content-type").unwrap_or("none");
            lines.push(format!(
                "response:  {} (content-type: {}, {} bytes, {} ms)",
                response.status,
                if content_type == "none" {
                    "none"
                } else {
                    media_type(content_type)
                },
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
    lines.push(format!("reproduce: {}", curl(record)));
    lines
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

/// A `curl` command that repeats the request, with tokens as environment variables.
pub fn curl(record: &ExchangeRecord) -> String {
    let ex = &record.exchange;
    let mut parts = vec!["curl -sS -i".to_string()];
    if ex.method != "GET" {
        parts.push(format!("-X {}", ex.method));
    }
    let header = match record.credential {
        Credential::Primary => Some("\"Authorization: Bearer $NEXUDUS_TOKEN\"".to_string()),
        Credential::Foreign => Some("\"Authorization: Bearer $NEXUDUS_FOREIGN_TOKEN\"".to_string()),
        Credential::Expired => Some("\"Authorization: Bearer $NEXUDUS_EXPIRED_TOKEN\"".to_string()),
        Credential::MalformedNoScheme => Some("\"Authorization: $NEXUDUS_TOKEN\"".to_string()),
        Credential::None => None,
        Credential::Invalid => Some("'Authorization: Bearer nxc-invalid-0000'".to_string()),
        Credential::MalformedEmptyBearer => Some("'Authorization: Bearer'".to_string()),
        Credential::MalformedBasic => Some(format!(
            "'Authorization: {}'",
            Credential::MALFORMED_BASIC_HEADER
        )),
    };
    if let Some(h) = header {
        parts.push(format!("-H {h}"));
    }
    if ex.method == "PUT" || ex.method == "POST" {
        parts.push("-H 'Content-Length: 0'".into());
    }
    parts.push(format!("'{}'", ex.url.replace('\'', "'\\''")));
    parts.join(" ")
}

/// `rules`: the catalog, one block per rule, with the faults that kill it.
pub fn print_rules(plan: &Plan, matrix: &FaultMatrix, output: &Output) {
    let kills = matrix.by_trial();
    let mut lines = Vec::new();
    let (mut musts, mut shoulds, mut unkilled_musts) = (0, 0, Vec::new());
    for case in &plan.cases {
        lines.push(format!("{} — {}", case.id, case.summary));
        if !case.fixtures.is_empty() {
            let names: Vec<String> = case.fixtures.iter().map(ToString::to_string).collect();
            lines.push(format!("  needs: {}", names.join(", ")));
        }
        for (si, ri, name) in crate::plan::trial_names(case) {
            let rule = &case.steps[si].rules[ri];
            match rule.level {
                Level::Must => musts += 1,
                Level::Should => shoulds += 1,
            }
            lines.push(format!("  {name} [{}]", rule.level));
            lines.push(format!("      {}", rule.cite));
            let killers: Vec<&str> = kills
                .get(name.as_str())
                .map(|f| f.iter().map(|f| f.name()).collect())
                .unwrap_or_default();
            if killers.is_empty() {
                if rule.level == Level::Must {
                    unkilled_musts.push(name.clone());
                }
                lines.push("      killed by: no fault of the reference server".into());
            } else {
                lines.push(format!("      killed by: {}", killers.join(", ")));
            }
        }
        lines.push(String::new());
    }
    lines.push(format!(
        "{} cases, {} rules ({musts} MUST, {shoulds} SHOULD), plus {}",
        plan.cases.len(),
        musts + shoulds,
        crate::plan::RESTORE_TRIAL
    ));
    lines.push(format!(
        "{} faults; {} of {musts} MUST rules are killed by at least one",
        matrix.by_fault.len() + matrix.unusable.len(),
        musts - unkilled_musts.len()
    ));
    for (fault, reason) in &matrix.unusable {
        lines.push(format!("fault {fault} makes the target unusable: {reason}"));
    }
    if !matrix.baseline.is_empty() {
        lines.push(format!(
            "warning: the faithful reference server fails {}",
            matrix.baseline.join(", ")
        ));
    }
    output.out(&lines.join("\n"));
}
