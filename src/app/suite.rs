//! The suite: load → plan → (`--list` stops here) → resolve the target → run → judge → report.
//! Each stage hands the next plain data; this function only wires them and picks the exit code
//! the judgement decided (made worse only by an output file that could not be written).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::signals::{self, Signals};
use super::{load_contract, runtime, target};
use crate::case::{Fixture, Var};
use crate::cli::{Config, TargetConfig};
use crate::deviation::Ledger;
use crate::error::LoadError;
use crate::exit;
use crate::judge::{self, Judgement, Policy, SnapshotPolicy};
use crate::plan::{self, Plan, PlanOptions, RunShape};
use crate::record::RunReport;
use crate::report::{self, Output, Progress, RunInfo};
use crate::run;
use crate::snapshot::SnapshotStore;

/// Runs the suite as configured; returns the process exit code.
pub fn suite(config: &Config, output: &Output) -> ExitCode {
    let (plan, files) = match prepare(config) {
        Ok(prepared) => prepared,
        Err(e) => return output.load_error(&e),
    };
    if config.libtest.list {
        report::list(&plan, &config.libtest, output);
        // The process ends here: freeing the loaded contract piece by piece would only delay it.
        std::mem::forget((plan, files));
        return ExitCode::from(exit::OK);
    }
    // What only a run needs: the stored snapshots, the ledger, the contract's hash.
    let policy = match policy(config, &plan) {
        Ok(policy) => policy,
        Err(e) => return output.load_error(&e),
    };
    let contract_hash = crate::manifest::contract_hash(&files.iter().collect::<Vec<_>>());
    if let Err(e) = something_runs(&plan, &config.libtest) {
        return output.load_error(&e);
    }
    if let Err(e) = core_cases_configured(&plan, config) {
        return output.load_error(&e);
    }
    let started_at = crate::manifest::now_rfc3339();
    let runtime = match runtime(output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let ran = runtime.block_on(run_target(config, &plan, output));
    drop(runtime);
    let (report, kind) = match ran {
        Ok(ran) => ran,
        Err(message) => {
            // Nothing was run: the target could not be set up. The report files still say so.
            output.err(&format!("error: {message}"));
            let report = RunReport {
                base_url: config.base_url(),
                results: vec![None; plan.trials.len()],
                unusable: Some(message),
                ..RunReport::default()
            };
            let info = run_info(config, &report, "unusable", contract_hash, started_at);
            let judgement = judge::judge(&plan, &report, &policy);
            return ExitCode::from(write_files(
                config, &plan, &judgement, &info, &report, output,
            ));
        }
    };
    output.learn_from_exchanges(&report.exchanges);
    let info = run_info(config, &report, kind, contract_hash, started_at);
    let judgement = judge::judge(&plan, &report, &policy);
    let mut failures = report::apply_files(&judgement.files, output);
    if let Err(e) = report::print(&plan, &report, &judgement, &info, &config.libtest, output) {
        failures.push(format!("cannot write the report: {e}"));
    }
    let code = write_files(config, &plan, &judgement, &info, &report, output);
    if failures.is_empty() {
        ExitCode::from(code)
    } else {
        for failure in &failures {
            output.err(&format!("error: {failure}"));
        }
        ExitCode::from(worse(code, exit::OUTPUT_FAILED))
    }
}

/// An output failure makes a finished run's code 4, but never hides an interruption or an
/// unusable target.
fn worse(code: u8, output_failed: u8) -> u8 {
    match code {
        exit::OK | exit::FAILED => output_failed,
        other => other,
    }
}

/// Writes JUnit and the manifest — on every path, an unusable target included — and returns the
/// exit code, made 4 if one of them could not be written.
fn write_files(
    config: &Config,
    plan: &Plan,
    judgement: &Judgement,
    info: &RunInfo,
    report: &RunReport,
    output: &Output,
) -> u8 {
    let mut code = judgement.exit_code;
    if let Some(dir) = &config.report_html {
        match report::write_html(dir, plan, judgement, info, &report.exchanges, output) {
            Ok(path) => output.err(&format!("HTML report: {}", path.display())),
            Err(e) => {
                output.err(&format!(
                    "error: cannot write --report-html {}: {e}",
                    dir.display()
                ));
                code = worse(code, exit::OUTPUT_FAILED);
            }
        }
    }
    if let Some(path) = &config.junit
        && let Err(e) = report::write_junit(path, plan, judgement, info, output)
    {
        output.err(&format!(
            "error: cannot write --junit {}: {e}",
            path.display()
        ));
        code = worse(code, exit::OUTPUT_FAILED);
    }
    if let Some(path) = &config.manifest {
        match report::write_manifest(path, judgement, info, judgement.exit_code, output) {
            Err(e) => {
                output.err(&format!(
                    "error: cannot write --manifest {}: {e}",
                    path.display()
                ));
                code = worse(code, exit::OUTPUT_FAILED);
            }
            Ok(()) => {
                if let Some(taken) = &config.manifest_taken {
                    output.err(&format!(
                        "manifest: {} ({} holds an earlier run's; --force overwrites it)",
                        path.display(),
                        taken.display()
                    ));
                }
            }
        }
    }
    code
}

fn run_info(
    config: &Config,
    report: &RunReport,
    kind: &str,
    contract_hash: String,
    started_at: String,
) -> RunInfo {
    RunInfo {
        base_url: report.base_url.clone(),
        target_kind: kind.to_string(),
        target_label: config.target_label.clone(),
        contract_hash,
        started_at,
        spawn_log: config.spawn_log().map(std::path::Path::to_path_buf),
    }
}

/// A selection that runs no trial is bad input, not a green run (as nextest's `--no-tests=fail`):
/// a misspelt filter would otherwise pass with `0 passed`. So is a `--skip` that matches no trial:
/// a misspelt one would silently run what it meant to leave out.
fn something_runs(plan: &Plan, args: &libtest_mimic::Arguments) -> Result<(), LoadError> {
    for skip in &args.skip {
        let matches = |name: &str| {
            if args.exact {
                name == skip
            } else {
                name.contains(skip.as_str())
            }
        };
        if !plan.trials.iter().any(|t| matches(&t.name)) {
            let mut message =
                format!("`--skip {skip}` matches no trial; `--list` shows every trial name");
            let names = plan.trials.iter().flat_map(|t| {
                [
                    t.name.as_str(),
                    t.name.split("::").next().unwrap_or_default(),
                ]
            });
            if let Some(best) = crate::suggest::closest(skip.trim_end_matches(':'), names) {
                message.push_str(&format!("; did you mean `{best}`?"));
            }
            return Err(LoadError::new("the trial filter", message));
        }
    }
    if plan.trials.iter().any(|t| t.counts) {
        return Ok(());
    }
    let shown = plan.trials.iter().filter(|t| !t.filtered_out).count();
    let filter = args.filter.as_deref().unwrap_or_default();
    let mut message = if shown > 0 {
        format!(
            "the selection counts no trial: the {shown} it matches are SHOULD rules, advice by default; \
             add --include-ignored to count them"
        )
    } else {
        format!(
            "no trial matches the filter `{filter}` (and --skip); `--list` shows every trial name"
        )
    };
    if shown == 0 && !filter.is_empty() {
        // Suggest the closest case id or trial name.
        let names: Vec<&str> = plan
            .trials
            .iter()
            .flat_map(|t| {
                [
                    t.name.as_str(),
                    t.name.split("::").next().unwrap_or_default(),
                ]
            })
            .collect();
        let wanted = filter.trim_end_matches(':');
        if let Some(best) = crate::suggest::closest(wanted, names.iter().copied()) {
            message.push_str(&format!("; did you mean `{best}`?"));
        }
    }
    Err(LoadError::new("the trial filter", message))
}

/// The fixtures the configuration alone shows are missing (a credential not given and not
/// signed in for), with how to give each: known before anything is sent. The embedded
/// server has every fixture.
fn missing_fixtures(config: &Config) -> std::collections::BTreeMap<Fixture, String> {
    let mut missing = std::collections::BTreeMap::new();
    let TargetConfig::Remote(r) = &config.target else {
        return missing;
    };
    let foreign = r.foreign_token.is_some() || r.sign_in.iter().any(|s| s.role == "foreign");
    if !foreign {
        missing.insert(
            Fixture::ForeignToken,
            "give --foreign-token (NEXUDUS_FOREIGN_TOKEN), or --foreign-username and --foreign-password".to_string(),
        );
        if config.foreign_profile_id.is_none() {
            for var in [Var::ForeignProfileId, Var::ForeignProfileIds] {
                missing.insert(
                    Fixture::Profile(var),
                    "give --foreign-token (or --foreign-username and --foreign-password), or --foreign-profile-id".to_string(),
                );
            }
        }
    }
    if r.expired_token.is_none() {
        missing.insert(
            Fixture::ExpiredToken,
            "give --expired-token (NEXUDUS_EXPIRED_TOKEN)".to_string(),
        );
    }
    missing
}

/// A selected core case that needs a credential the configuration lacks is refused before
/// anything is sent: the run could give no conformance verdict. Bad input (exit 2), as a filter
/// that selects nothing is: the command line, not the target, is what must change.
fn core_cases_configured(plan: &Plan, config: &Config) -> Result<(), LoadError> {
    let missing = missing_fixtures(config);
    // What a case needs that the configuration lacks: one line per case (the fixtures of one
    // credential say the same thing).
    let blocked = |ci: usize| {
        let case = &plan.cases[ci];
        case.fixtures.iter().find_map(|f| {
            missing
                .get(f)
                .map(|how| format!("`{}` needs {f}: {how}", case.id))
        })
    };
    let mut lines = Vec::new();
    let mut skips = Vec::new();
    for ci in plan.counted_core_cases() {
        if let Some(line) = blocked(ci) {
            lines.push(line);
            skips.push(format!("--skip {}::", plan.cases[ci].id));
        }
    }
    if lines.is_empty() {
        // Nor is a selection whose every counted case is blocked: the run would judge only its
        // own requests, which is no verdict either.
        let counted: std::collections::BTreeSet<usize> = plan
            .trials
            .iter()
            .filter(|t| t.counts)
            .filter_map(|t| t.kind.case())
            .collect();
        let all: Vec<String> = counted.iter().filter_map(|&ci| blocked(ci)).collect();
        if counted.is_empty() || all.len() < counted.len() {
            return Ok(());
        }
        return Err(LoadError::new(
            "the configuration",
            format!(
                "every selected case needs what these credentials lack, so the run would judge \
                 none of them; nothing was sent: {}",
                all.join("; ")
            ),
        ));
    }
    Err(LoadError::new(
        "the configuration",
        format!(
            "the selected core case{} cannot be judged with these credentials, so the run would give no \
             conformance verdict; nothing was sent: {}; or leave {} out with `{}`",
            if lines.len() == 1 { "" } else { "s" },
            lines.join("; "),
            if lines.len() == 1 { "it" } else { "them" },
            skips.join(" ")
        ),
    ))
}

/// Load and plan: everything `--list` needs, and no network. Errors are bad input.
fn prepare(config: &Config) -> Result<(Plan, Vec<crate::source::SourceFile>), LoadError> {
    let (cases, files) = load_contract(&config.contract, !config.libtest.list)?;
    let options = PlanOptions {
        snapshots: config.snapshots.is_some(),
        deny_drift: config.snapshots.as_ref().is_some_and(|s| s.deny_drift),
        deviations: config.known_deviations.is_some(),
    };
    let args = &config.libtest;
    let plan = plan::build(cases, options, &|name, level| {
        report::selection(args, name, level)
    });
    Ok((plan, files))
}

/// What a run is judged by besides its rules: the stored snapshots and the ledger, loaded.
/// Errors are bad input.
fn policy(config: &Config, plan: &Plan) -> Result<Policy, LoadError> {
    let snapshots = match &config.snapshots {
        Some(s) => Some(SnapshotPolicy {
            store: SnapshotStore::load(&s.dir, &config.target_label)?,
            write: s.write,
            baseline: s.baseline,
        }),
        None => None,
    };
    let deviations = match &config.known_deviations {
        Some(path) => {
            let names: Vec<&str> = plan.trials.iter().map(|t| t.name.as_str()).collect();
            Some(Ledger::load(path, &names)?)
        }
        None => None,
    };
    Ok(Policy {
        deviations,
        today: crate::deviation::today(),
        snapshots,
        deny_skipped: config.deny_skipped,
    })
}

/// Registers the signals, resolves the target, runs the plan, and stops what was started.
async fn run_target(
    config: &Config,
    plan: &Plan,
    output: &Output,
) -> Result<(RunReport, &'static str), String> {
    let signals = Signals::register().map_err(|e| format!("cannot listen for Ctrl-C: {e}"))?;
    let spawned_group = Arc::new(Mutex::new(None));
    let target::Resolved {
        mut target,
        kind,
        mut running,
    } = target::resolve(config, output, &spawned_group).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    target.stop = stop_rx;
    let http = config.http_options(crate::cli::is_remote(&target.base_url));
    let credentials = &target.credentials;
    let cost = plan.cost(&RunShape {
        sweep_size: config.sweep_size,
        concurrency: config.concurrency,
        reads_foreign_list: credentials.foreign.is_some()
            && credentials.foreign_profile_id.is_none(),
        foreign_token: credentials.foreign.is_some(),
        probe_checks: config.probe_checks,
    });
    let preamble = report::preamble(
        &target.base_url,
        kind,
        &cost,
        (http.pace, http.write_pace),
        &config.libtest,
    );
    let planned = report::Planned {
        requests: cost.needed().requests,
        paced: cost.needed().paced_time(http.pace, http.write_pace),
    };
    target.observer = Arc::new(Progress::new(
        config.progress,
        output.clone(),
        preamble,
        planned,
    ));
    // Only a deployment outlives a run; the embedded server starts afresh every time.
    if matches!(config.target, crate::cli::TargetConfig::Remote(_))
        && let Some(path) = config
            .journal
            .clone()
            .or_else(super::journal::FileJournal::default_path)
    {
        target.lock_wait = config.lock_wait;
        target.journal = Some(Arc::new(super::journal::FileJournal::new(
            path,
            &target.base_url,
        )));
    }
    let watcher = tokio::spawn(signals::watch(
        signals,
        stop_tx,
        target.restore_hint.clone(),
        output.clone(),
        spawned_group,
    ));
    let mut report = run::run(plan, target).await;
    watcher.abort();
    if let Some(why) = running.spawned_exited() {
        // Verdicts on whatever answered after the implementation died hold for nothing.
        report.unusable = Some(why);
    }
    running.stop().await;
    Ok((report, kind))
}
