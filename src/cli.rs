//! The command line: flags → options, then the pipeline load → plan → run → report.
//!
//! libtest's own flags (filter, `--exact`, `--skip`, `--list`, `--format`, `--include-ignored`,
//! `--test-threads`, `-q`, `--color`, …) are libtest-mimic's `Arguments`, flattened in. This
//! module also owns the process-level concerns: the runtime, the embedded server's and a
//! `--spawn`ed implementation's lifetime, sign-in, and Ctrl-C.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use crate::case::{Case, load_cases};
use crate::contract::Contract;
use crate::deviation::Ledger;
use crate::error::LoadError;
use crate::http::{HttpClient, HttpOptions, is_loopback, parse_base_url};
use crate::redact::Redactor;
use crate::report::{self, EmitOptions, Output, exit};
use crate::run::{self, Credentials, RunReport, Target};
use crate::server::{self, Fault, FixedTokens, RunningServer, ServerOptions};
use crate::signin::{SignIn, sign_in};
use crate::snapshot::{self, SnapshotStore};
use crate::spawn::{Spawned, signal_group};
use crate::{plan, source};

/// Contract-conformance tests for the Nexudus "Switch Active Profile" API.
///
/// With no --base-url, runs the suite against the embedded reference server.
#[derive(Parser)]
#[command(name = "nexudus-conformance", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    contract: ContractArgs,

    #[command(flatten)]
    target: TargetArgs,

    #[command(flatten)]
    auth: AuthArgs,

    #[command(flatten)]
    gate: GateArgs,

    #[command(flatten)]
    nightly: NightlyArgs,

    #[command(flatten)]
    libtest: libtest_mimic::Arguments,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference server alone and print its base URL and fixture tokens.
    Serve(ServeArgs),
    /// Print the rule catalog: each rule, its level, the statement it enforces, the faults that kill it.
    Rules,
    /// Render run manifests as a targets × trials compliance matrix (Markdown), with trends.
    Matrix(MatrixArgs),
}

#[derive(Args)]
struct MatrixArgs {
    /// Manifests written with --manifest; several of one target give its trend.
    #[arg(value_name = "MANIFEST", required = true, num_args = 1..)]
    manifests: Vec<PathBuf>,
    /// Also write a self-contained HTML page here.
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Break the contract in this way (repeatable); see --list-faults.
    #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// Print the faults the server can be started with, and exit.
    #[arg(long)]
    list_faults: bool,
    /// Delay every response by this many milliseconds, to model a remote target.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,
    /// The primary user's token, instead of a random one (so a CI job knows it in advance).
    #[arg(long, value_name = "TOKEN")]
    primary_token: Option<String>,
    /// The second user's token, instead of a random one.
    #[arg(
        long = "foreign-token",
        id = "serve_foreign_token",
        value_name = "TOKEN"
    )]
    foreign_token: Option<String>,
    /// The primary user's expired token, instead of a random one.
    #[arg(
        long = "expired-token",
        id = "serve_expired_token",
        value_name = "TOKEN"
    )]
    expired_token: Option<String>,
    /// The seeded users' password, instead of a random one.
    #[arg(long = "password", id = "serve_password", value_name = "PASSWORD")]
    password: Option<String>,
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Fault::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        match crate::case::closest(name, names.iter().copied()) {
            Some(best) => {
                format!("unknown fault `{name}`; did you mean `{best}`? (--list-faults shows all)")
            }
            None => format!("unknown fault `{name}`; --list-faults shows all"),
        }
    })
}

#[derive(Args)]
struct ContractArgs {
    /// Directory of JSON Schemas to use instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    schemas: Option<PathBuf>,
    /// Directory of case files to use instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    cases: Option<PathBuf>,
}

#[derive(Args)]
struct TargetArgs {
    /// Base URL of the deployment under test, e.g. https://SPACE.spaces.nexudus.com
    #[arg(long, env = "NEXUDUS_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// Customer bearer token of the primary user (the account the suite switches).
    #[arg(long, env = "NEXUDUS_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    token: Option<SecretString>,
    /// Bearer token of a second user, for the cross-account cases.
    #[arg(long, env = "NEXUDUS_FOREIGN_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    foreign_token: Option<SecretString>,
    /// A profile id that belongs to another user (instead of --foreign-token).
    #[arg(long, env = "NEXUDUS_FOREIGN_PROFILE_ID", value_name = "ID")]
    foreign_profile_id: Option<i64>,
    /// An expired token of the primary user, for `expired_token`.
    #[arg(long, env = "NEXUDUS_EXPIRED_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    expired_token: Option<SecretString>,
    /// A profile id that exists for nobody (default: 999999937, or the next free id).
    #[arg(long, value_name = "ID")]
    unknown_profile_id: Option<i64>,
    /// Seconds one request may take, body included.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    timeout: f64,
    /// Largest response body read, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    max_body: usize,
    /// Requests per second at most; writes go at half this rate. Default: 2 against a remote
    /// target (Nexudus allows 120 requests and 60 writes a minute), unlimited on loopback. 0: no limit.
    #[arg(long, value_name = "N")]
    max_rps: Option<f64>,
    /// How often a throttled answer (409/429 with Retry-After) is waited out and retried.
    #[arg(long, default_value_t = 3, value_name = "N")]
    throttle_retries: u32,
    /// Stop sending case requests after this many seconds; the account is still restored.
    #[arg(long, value_name = "SECS")]
    deadline: Option<f64>,
    /// How many requests a sweep step sends (e.g. unknown_profile_sweep).
    #[arg(long, default_value_t = run::DEFAULT_SWEEP_SIZE, value_name = "N")]
    sweep_size: usize,
}

#[derive(Args)]
struct AuthArgs {
    /// Sign in as this user (email) instead of passing --token.
    #[arg(long, env = "NEXUDUS_USERNAME", value_name = "EMAIL")]
    username: Option<String>,
    /// The primary user's password.
    #[arg(long, env = "NEXUDUS_PASSWORD", hide_env_values = true, value_parser = parse_secret, value_name = "PASSWORD")]
    password: Option<SecretString>,
    /// The primary user's current two-factor code, if the account has 2FA.
    #[arg(long, env = "NEXUDUS_TOTP", hide_env_values = true, value_parser = parse_secret, value_name = "CODE")]
    totp: Option<SecretString>,
    /// Sign the second user in instead of passing --foreign-token.
    #[arg(long, env = "NEXUDUS_FOREIGN_USERNAME", value_name = "EMAIL")]
    foreign_username: Option<String>,
    /// The second user's password.
    #[arg(long, env = "NEXUDUS_FOREIGN_PASSWORD", hide_env_values = true, value_parser = parse_secret, value_name = "PASSWORD")]
    foreign_password: Option<SecretString>,
    /// Where to sign in; default: BASE_URL/api/token (Nexudus also answers at
    /// https://spaces.nexudus.com/api/token).
    #[arg(long, env = "NEXUDUS_TOKEN_URL", value_name = "URL")]
    token_url: Option<String>,
    /// Sent as the `client_id` header when signing in (Nexudus uses the email without it).
    #[arg(long, env = "NEXUDUS_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,
}

#[derive(Args)]
struct GateArgs {
    /// Start the implementation under test with this shell command, wait until --base-url
    /// accepts connections, run, then stop it and its children.
    #[arg(long, value_name = "CMD", requires = "base_url")]
    spawn: Option<String>,
    /// Seconds to wait for the spawned implementation to accept connections.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    ready_timeout: f64,
    /// Where the spawned implementation's output goes (default: a file in the temp directory).
    #[arg(long, value_name = "PATH")]
    spawn_log: Option<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
}

#[derive(Args)]
struct NightlyArgs {
    /// Compare responses with the snapshots of this target (default: `embedded` for the embedded
    /// server, else the --base-url host). Turns snapshots on for a --base-url target.
    #[arg(long, value_name = "LABEL")]
    target_label: Option<String>,
    /// Where snapshots live: DIR/<target-label>/<case>.snap. Turns snapshots on for a --base-url target.
    #[arg(long = "snapshots", value_name = "DIR")]
    snapshot_dir: Option<PathBuf>,
    /// No `case::snapshot` trials.
    #[arg(long)]
    no_snapshots: bool,
    /// What to do with new or drifted snapshots: write `.snap.new` for `cargo insta review` (new),
    /// accept them (always), or nothing (no). auto: no when CI is set, else new.
    #[arg(long, value_enum, default_value_t = UpdateMode::Auto, value_name = "MODE")]
    update_snapshots: UpdateMode,
    /// Snapshot drift fails the run (MUST) instead of being a SHOULD trial.
    #[arg(long)]
    deny_drift: bool,
    /// Write the run manifest (JSON, schemas/manifest.schema.json) here.
    #[arg(long, value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// Known failures of this target (JSON): ignored with their reason until they expire; a listed
    /// trial that passes, or an expired entry, fails the run.
    #[arg(long, value_name = "PATH")]
    known_deviations: Option<PathBuf>,
}

/// `--update-snapshots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum UpdateMode {
    Auto,
    New,
    Always,
    No,
}

/// Infallible on purpose: clap never echoes a secret in an "invalid value" error.
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_string()))
}

/// Cases in flight at once unless `--test-threads` says otherwise.
const DEFAULT_CONCURRENCY: usize = 8;

/// The documented limits (120 requests a minute, 60 writes) as a default pace for remote targets.
const DEFAULT_REMOTE_RPS: f64 = 2.0;

/// How long a spawned implementation gets to stop after SIGTERM.
const SPAWN_GRACE: Duration = Duration::from_secs(5);

fn parse() -> Cli {
    // libtest-mimic's `Arguments` brings its own help template and hides `--version`; restore ours.
    let command = Cli::command()
        .help_template("{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}")
        .after_help(
            "Exit codes: 0 all selected trials passed, 101 a trial failed, 2 bad input (nothing sent), \
             3 target unusable, 130 interrupted.",
        )
        .disable_version_flag(false)
        // A later flag wins over an earlier one (CI templates append to a base command line).
        .args_override_self(true);
    let matches = command.get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = parse();
    let output = Output::new(Redactor::new(cli.secrets()));
    match &cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Rules) => rules(&cli, &output),
        Some(Command::Matrix(args)) => matrix(args, &output),
        None => suite(&cli, &output),
    }
}

/// libtest-mimic unwraps its writes; when stdout is a closed pipe (`--list | head`) that panics.
/// Like ripgrep, end quietly instead; every other panic keeps the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.contains("Broken pipe") {
            std::process::exit(i32::from(exit::OK));
        }
        default(info);
    }));
}

/// An empty environment variable counts as set for clap; CI passes unset secrets as "".
fn non_empty(secret: &Option<SecretString>) -> Option<SecretString> {
    secret
        .as_ref()
        .filter(|s| !s.expose_secret().trim().is_empty())
        .cloned()
}

fn non_empty_str(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Cli {
    /// Every secret given on the command line or in the environment.
    fn secrets(&self) -> Vec<String> {
        [
            &self.target.token,
            &self.target.foreign_token,
            &self.target.expired_token,
            &self.auth.password,
            &self.auth.totp,
            &self.auth.foreign_password,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.expose_secret().to_string())
        .collect()
    }

    /// The stored snapshots to compare with, when snapshots are on: always for the embedded
    /// server, for a --base-url target when --target-label or --snapshots is given.
    fn snapshot_store(&self) -> Result<Option<SnapshotStore>, LoadError> {
        let n = &self.nightly;
        let base_url = non_empty_str(&self.target.base_url);
        let on = !n.no_snapshots
            && (base_url.is_none() || n.target_label.is_some() || n.snapshot_dir.is_some());
        if !on {
            return Ok(None);
        }
        let dir = n
            .snapshot_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("snapshots"));
        SnapshotStore::load(&dir, &self.target_label()).map(Some)
    }

    /// `--target-label`, or `embedded`, or the --base-url host.
    fn target_label(&self) -> String {
        match (
            &self.nightly.target_label,
            non_empty_str(&self.target.base_url),
        ) {
            (Some(label), _) => snapshot::sanitize_label(label),
            (None, Some(url)) => snapshot::label_for(url),
            (None, None) => snapshot::EMBEDDED_LABEL.to_string(),
        }
    }

    /// What `--update-snapshots` means here; `auto` writes nothing under CI.
    fn update_mode(&self) -> report::SnapshotWrite {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        match self.nightly.update_snapshots {
            UpdateMode::Auto if ci => report::SnapshotWrite::Nothing,
            UpdateMode::Auto | UpdateMode::New => report::SnapshotWrite::New,
            UpdateMode::Always => report::SnapshotWrite::Accept,
            UpdateMode::No => report::SnapshotWrite::Nothing,
        }
    }

    fn http_options(&self, remote: bool) -> HttpOptions {
        let t = &self.target;
        let rps = t
            .max_rps
            .unwrap_or(if remote { DEFAULT_REMOTE_RPS } else { 0.0 });
        let pace = (rps > 0.0).then(|| Duration::from_secs_f64(1.0 / rps));
        HttpOptions {
            timeout: Duration::from_secs_f64(t.timeout.clamp(0.001, 86_400.0)),
            max_body: t.max_body,
            pace,
            write_pace: pace.map(|p| p * 2),
            throttle_retries: t.throttle_retries,
            ..HttpOptions::default()
        }
    }

    /// Checks the flags that clap cannot; an error is bad input (exit 2).
    fn validate(&self) -> Result<(), LoadError> {
        let t = &self.target;
        let positive = |flag: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(LoadError::new(flag, "must be a positive number of seconds"))
            }
        };
        positive("--timeout", t.timeout)?;
        positive("--ready-timeout", self.gate.ready_timeout)?;
        if let Some(d) = t.deadline {
            positive("--deadline", d)?;
        }
        if let Some(rps) = t.max_rps
            && !(rps >= 0.0 && rps.is_finite())
        {
            return Err(LoadError::new(
                "--max-rps",
                "must be a number of requests per second, 0 for no limit",
            ));
        }
        let a = &self.auth;
        for (user, password, flag) in [
            (&a.username, &a.password, "--username"),
            (
                &a.foreign_username,
                &a.foreign_password,
                "--foreign-username",
            ),
        ] {
            if non_empty_str(user).is_some() != non_empty(password).is_some() {
                return Err(LoadError::new(
                    flag,
                    "signing in needs both the username and the password",
                ));
            }
        }
        if let Some(url) = non_empty_str(&t.base_url) {
            parse_base_url(url).map_err(|e| LoadError::new("--base-url", e.0))?;
            if non_empty(&t.token).is_none() && non_empty_str(&a.username).is_none() {
                return Err(LoadError::new(
                    "--token",
                    "a --base-url target needs the primary user's bearer token; pass --token (NEXUDUS_TOKEN) \
                     or sign in with --username and --password",
                ));
            }
        } else if non_empty_str(&a.username).is_some() {
            return Err(LoadError::new(
                "--username",
                "signing in needs a --base-url target",
            ));
        }
        if let Some(url) = non_empty_str(&a.token_url) {
            parse_base_url(url).map_err(|e| LoadError::new("--token-url", e.0))?;
        }
        if let Some(path) = &self.gate.junit {
            // Fail before sending anything, not after a long run.
            std::fs::File::create(path).map_err(|e| {
                LoadError::new("--junit", format!("cannot write {}: {e}", path.display()))
            })?;
        }
        Ok(())
    }
}

/// Loads the schemas, then the cases against them; also returns the contract's hash.
fn load(args: &ContractArgs) -> Result<(Vec<Case>, String), LoadError> {
    let schema_files = match &args.schemas {
        Some(dir) => source::read_dir(dir)?,
        None => source::embedded_schemas(),
    };
    let case_files = match &args.cases {
        Some(dir) => source::read_dir(dir)?,
        None => source::embedded_cases(),
    };
    if schema_files.is_empty() {
        let dir = args
            .schemas
            .as_ref()
            .map_or("schemas".into(), |d| d.display().to_string());
        return Err(LoadError::new(
            dir,
            "no schema files (*.json) found; point --schemas at the contract's schemas",
        ));
    }
    let mut contract = Contract::load(&schema_files)?;
    if case_files.is_empty() {
        let dir = args
            .cases
            .as_ref()
            .map_or("cases".into(), |d| d.display().to_string());
        return Err(LoadError::new(
            dir,
            "no case files (*.json) found; a run with no cases proves nothing — point --cases at a directory of case files",
        ));
    }
    let hash =
        crate::manifest::contract_hash(&schema_files.iter().chain(&case_files).collect::<Vec<_>>());
    Ok((load_cases(&case_files, &mut contract)?, hash))
}

fn runtime(output: &Output) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            output.err(&format!("error: cannot start the async runtime: {e}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        })
}

/// Whether `url` is a remote target (paced by default); an unparsable one counts as remote.
fn is_remote(url: &str) -> bool {
    parse_base_url(url)
        .map(|u| !is_loopback(&u))
        .unwrap_or(true)
}

/// What a finished run hands to the report.
struct Finished {
    report: RunReport,
    label: String,
    /// Secrets learnt during the run (fixture or signed-in tokens).
    secrets: Vec<String>,
}

fn suite(cli: &Cli, output: &Output) -> ExitCode {
    if let Err(e) = cli.validate() {
        return output.load_error(&e);
    }
    let (cases, contract_hash) = match load(&cli.contract) {
        Ok(loaded) => loaded,
        Err(e) => return output.load_error(&e),
    };
    let args = &cli.libtest;
    let snapshots = match cli.snapshot_store() {
        Ok(store) => store,
        Err(e) => return output.load_error(&e),
    };
    let options = plan::PlanOptions {
        snapshots: snapshots.is_some(),
        deny_drift: cli.nightly.deny_drift,
        deviations: cli.nightly.known_deviations.is_some(),
    };
    let plan = plan::build(cases, options, &|name, level| {
        report::selects(args, name, level)
    });
    let deviations = match &cli.nightly.known_deviations {
        Some(path) => {
            let names: Vec<&str> = plan.trials.iter().map(|t| t.name.as_str()).collect();
            match Ledger::load(path, &names) {
                Ok(ledger) => Some(ledger),
                Err(e) => return output.load_error(&e),
            }
        }
        None => None,
    };
    let started_at = crate::manifest::now_rfc3339();
    if args.list {
        return report::list(&plan, args);
    }
    let runtime = match runtime(output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let spawn_log = cli.gate.spawn.as_ref().map(|_| {
        cli.gate.spawn_log.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "nexudus-conformance-spawn-{}.log",
                std::process::id()
            ))
        })
    });
    let outcome = runtime.block_on(run_suite(
        cli,
        &plan,
        output,
        spawn_log.as_deref(),
        snapshots.as_ref(),
    ));
    drop(runtime);
    match outcome {
        Ok(finished) => {
            let mut redactor = output.redactor().clone();
            finished.secrets.iter().for_each(|s| redactor.add(s));
            let options = EmitOptions {
                label: finished.label,
                junit: cli.gate.junit.clone(),
                spawn_log,
                snapshots: snapshots.map(|store| report::SnapshotWriting {
                    store,
                    write: cli.update_mode(),
                }),
                manifest: cli
                    .nightly
                    .manifest
                    .clone()
                    .map(|path| report::ManifestInfo {
                        path,
                        contract_hash,
                        label: cli.target_label(),
                        started_at,
                    }),
                deviations,
                today: crate::deviation::today(),
            };
            report::emit(
                &plan,
                finished.report,
                args,
                &Output::new(redactor),
                &options,
            )
        }
        Err((code, message)) => {
            output.err(&format!("error: {message}"));
            ExitCode::from(code)
        }
    }
}

/// Starts what the run needs (a spawned implementation, the embedded server, sign-in), runs, and
/// stops it all again.
async fn run_suite(
    cli: &Cli,
    plan: &plan::Plan,
    output: &Output,
    spawn_log: Option<&std::path::Path>,
    snapshots: Option<&SnapshotStore>,
) -> Result<Finished, (u8, String)> {
    let unusable = |m: String| (exit::TARGET_UNUSABLE, m);
    let signals =
        Signals::register().map_err(|e| unusable(format!("cannot listen for Ctrl-C: {e}")))?;
    let base_url = non_empty_str(&cli.target.base_url);
    let mut spawned = None;
    if let (Some(command), Some(log), Some(url)) = (&cli.gate.spawn, spawn_log, base_url) {
        let parsed = parse_base_url(url).map_err(|e| unusable(e.0))?;
        let host = parsed
            .host_str()
            .unwrap_or("127.0.0.1")
            .trim_matches(['[', ']'])
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let mut child = Spawned::start(command, log).map_err(unusable)?;
        if let Err(e) = child
            .wait_ready(&host, port, Duration::from_secs_f64(cli.gate.ready_timeout))
            .await
        {
            child.stop(SPAWN_GRACE);
            return Err(unusable(e));
        }
        spawned = Some(child);
    }
    let pgid = Arc::new(Mutex::new(spawned.as_ref().map(Spawned::pid)));
    let result = run_against_target(
        cli,
        plan,
        output,
        base_url,
        signals,
        pgid.clone(),
        snapshots,
    )
    .await;
    if let Some(child) = spawned {
        child.stop(SPAWN_GRACE);
    }
    result
}

async fn run_against_target(
    cli: &Cli,
    plan: &plan::Plan,
    output: &Output,
    base_url: Option<&str>,
    signals: Signals,
    spawned_group: Arc<Mutex<Option<u32>>>,
    snapshots: Option<&SnapshotStore>,
) -> Result<Finished, (u8, String)> {
    let unusable = |m: String| (exit::TARGET_UNUSABLE, m);
    let t = &cli.target;
    let concurrency = cli.libtest.test_threads.unwrap_or(DEFAULT_CONCURRENCY);
    let mut secrets = Vec::new();
    let mut embedded: Option<RunningServer> = None;
    let (url, credentials, label) = match base_url {
        Some(url) => {
            let mut credentials = Credentials {
                primary: non_empty(&t.token),
                foreign: non_empty(&t.foreign_token),
                expired: non_empty(&t.expired_token),
                foreign_profile_id: t.foreign_profile_id,
                unknown_profile_id: t.unknown_profile_id,
            };
            let remote = is_remote(url);
            let token_url = non_empty_str(&cli.auth.token_url).map_or_else(
                || format!("{}/api/token", url.trim_end_matches('/')),
                str::to_string,
            );
            let token_client =
                HttpClient::new(&token_url, cli.http_options(remote)).map_err(|e| unusable(e.0))?;
            let a = &cli.auth;
            if credentials.primary.is_none()
                && let (Some(username), Some(password)) =
                    (non_empty_str(&a.username), non_empty(&a.password))
            {
                let who = SignIn {
                    role: "primary",
                    username: username.to_string(),
                    password,
                    totp: non_empty(&a.totp),
                    client_id: non_empty_str(&a.client_id).map(str::to_string),
                };
                let token = sign_in(&token_client, &who).await.map_err(unusable)?;
                secrets.push(token.expose_secret().to_string());
                credentials.primary = Some(token);
            }
            if credentials.foreign.is_none()
                && let (Some(username), Some(password)) = (
                    non_empty_str(&a.foreign_username),
                    non_empty(&a.foreign_password),
                )
            {
                let who = SignIn {
                    role: "foreign",
                    username: username.to_string(),
                    password,
                    totp: None,
                    client_id: None,
                };
                let token = sign_in(&token_client, &who).await.map_err(unusable)?;
                secrets.push(token.expose_secret().to_string());
                credentials.foreign = Some(token);
            }
            (url.to_string(), credentials, "--base-url".to_string())
        }
        None => {
            let server = server::start(&ServerOptions::default())
                .await
                .map_err(|e| {
                    unusable(format!("cannot start the embedded reference server: {e}"))
                })?;
            let c = server.credentials().clone();
            secrets.extend([
                c.primary_token.clone(),
                c.foreign_token.clone(),
                c.expired_token.clone(),
                c.password,
            ]);
            let url = server.base_url();
            embedded = Some(server);
            let credentials = Credentials {
                primary: Some(c.primary_token.into()),
                foreign: Some(c.foreign_token.into()),
                expired: Some(c.expired_token.into()),
                foreign_profile_id: t.foreign_profile_id,
                unknown_profile_id: t.unknown_profile_id,
            };
            (url, credentials, "embedded reference server".to_string())
        }
    };
    let client =
        HttpClient::new(&url, cli.http_options(is_remote(&url))).map_err(|e| unusable(e.0))?;
    let mut target = Target::new(client, url, credentials, concurrency);
    target.deadline = t
        .deadline
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    target.sweep_size = t.sweep_size;
    let (stop_tx, stop_rx) = watch::channel(false);
    target.stop = stop_rx;
    let hint = target.restore_hint.clone();
    let mut redactor = output.redactor().clone();
    secrets.iter().for_each(|s| redactor.add(s));
    let watcher = tokio::spawn(watch_signals(
        signals,
        stop_tx,
        hint,
        Output::new(redactor),
        spawned_group,
    ));
    let report = run::run(plan, target, snapshots).await;
    watcher.abort();
    if let Some(server) = embedded {
        server.stop().await;
    }
    Ok(Finished {
        report,
        label,
        secrets,
    })
}

/// The first Ctrl-C or SIGTERM stops the run (which then restores the account and reports); a
/// second one aborts at once, saying how to restore by hand.
async fn watch_signals(
    mut signals: Signals,
    stop: watch::Sender<bool>,
    hint: Arc<OnceLock<String>>,
    output: Output,
    spawned_group: Arc<Mutex<Option<u32>>>,
) {
    signals.next().await;
    output.err("interrupted: stopping and putting the original default profile back (interrupt again to abort)");
    let _ = stop.send(true);
    signals.next().await;
    match hint.get() {
        Some(command) => output.err(&format!(
            "aborted: the account may not be as it was found; restore its default profile by hand: {command}"
        )),
        None => output.err("aborted before the account was changed"),
    }
    if let Some(pgid) = *spawned_group.lock().unwrap_or_else(|e| e.into_inner()) {
        signal_group(pgid, "KILL");
    }
    std::process::exit(i32::from(exit::INTERRUPTED));
}

/// Ctrl-C and SIGTERM, registered as soon as this is created (a signal that arrives before
/// registration would kill the process without restoring the account).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime.
    fn register() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `rules`: the catalog, with the faults that kill each rule (computed by running them).
/// `matrix`: manifests in, the compliance matrix out (Markdown on stdout, HTML on request).
fn matrix(args: &MatrixArgs, output: &Output) -> ExitCode {
    let mut manifests = Vec::with_capacity(args.manifests.len());
    for path in &args.manifests {
        match crate::manifest::load(path) {
            Ok(m) => manifests.push(m),
            Err(e) => return output.load_error(&e),
        }
    }
    let targets = crate::matrix::group(manifests);
    if let Some(path) = &args.html
        && let Err(e) = std::fs::write(
            path,
            output.redactor().redact(&crate::matrix::html(&targets)),
        )
    {
        return output.load_error(&LoadError::new(
            "--html",
            format!("cannot write {}: {e}", path.display()),
        ));
    }
    output.out(&crate::matrix::markdown(&targets));
    ExitCode::from(exit::OK)
}

fn rules(cli: &Cli, output: &Output) -> ExitCode {
    let (cases, _) = match load(&cli.contract) {
        Ok(loaded) => loaded,
        Err(e) => return output.load_error(&e),
    };
    let plan = plan::build(cases, plan::PlanOptions::default(), &|_, _| true);
    let runtime = match runtime(output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(crate::fault_matrix::compute(
        &plan,
        &cli.http_options(false),
    )) {
        Ok(matrix) => {
            report::print_rules(&plan, &matrix, output);
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            output.err(&format!("error: {e}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        }
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    // The reference server's tokens are fixtures meant to be copied; this is the one place that
    // prints them, so it writes without the redactor.
    let output = Output::default();
    if args.list_faults {
        for fault in Fault::ALL {
            output.out(&format!("{:<26} {}", fault.name(), fault.description()));
        }
        return ExitCode::from(exit::OK);
    }
    let runtime = match runtime(&output) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let tokens = FixedTokens {
        primary: args.primary_token.clone(),
        foreign: args.foreign_token.clone(),
        expired: args.expired_token.clone(),
        password: args.password.clone(),
    };
    runtime.block_on(async {
        let options = ServerOptions {
            host: args.host,
            port: args.port,
            faults: args.faults.iter().copied().collect(),
            tokens: Some(tokens),
            latency: Duration::from_millis(args.latency_ms),
            throttle: None,
        };
        let server = match server::start(&options).await {
            Ok(s) => s,
            Err(e) => {
                output.err(&format!(
                    "error: cannot listen on {}:{}: {e}; choose another --port (0 picks a free one)",
                    args.host, args.port
                ));
                return ExitCode::from(exit::BAD_INPUT);
            }
        };
        let c = server.credentials();
        output.out(&format!("reference server listening on {}", server.base_url()));
        if !args.faults.is_empty() {
            let names: Vec<&str> = args.faults.iter().map(|f| f.name()).collect();
            output.out(&format!("faults: {}", names.join(", ")));
        }
        output.out(&format!("NEXUDUS_BASE_URL={}", server.base_url()));
        output.out(&format!("NEXUDUS_TOKEN={}", c.primary_token));
        output.out(&format!("NEXUDUS_FOREIGN_TOKEN={}", c.foreign_token));
        output.out(&format!("NEXUDUS_EXPIRED_TOKEN={}", c.expired_token));
        output.out(&format!("NEXUDUS_USERNAME={}", c.primary_email));
        output.out(&format!("NEXUDUS_FOREIGN_USERNAME={}", c.foreign_email));
        output.out(&format!("NEXUDUS_PASSWORD={}", c.password));
        output.out(&format!("NEXUDUS_FOREIGN_PASSWORD={}", c.password));
                output.out("press Ctrl-C to stop");
        match Signals::register() {
            Ok(mut signals) => signals.next().await,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        server.stop().await;
        ExitCode::from(exit::OK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("nexudus-conformance").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn remote_targets_are_paced_by_default_and_loopback_is_not() {
        /// (flags, remote, pace ms, write pace ms)
        type Case<'a> = (&'a [&'a str], bool, Option<u64>, Option<u64>);
        let cases: [Case; 4] = [
            (&[], true, Some(500), Some(1000)),
            (&[], false, None, None),
            (&["--max-rps", "10"], false, Some(100), Some(200)),
            (&["--max-rps", "0"], true, None, None),
        ];
        for (flags, remote, pace, write) in cases {
            let options = cli(flags).http_options(remote);
            let ms = |d: Option<Duration>| d.map(|d| u64::try_from(d.as_millis()).unwrap());
            assert_eq!(
                (ms(options.pace), ms(options.write_pace)),
                (pace, write),
                "{flags:?} remote={remote}"
            );
        }
    }

    #[test]
    fn flag_validation() {
        let cases: [(&[&str], Option<&str>); 6] = [
            (&[], None),
            (
                &["--timeout", "0"],
                Some("--timeout: must be a positive number of seconds"),
            ),
            (
                &["--max-rps=-1"],
                Some("--max-rps: must be a number of requests per second, 0 for no limit"),
            ),
            (
                &["--base-url", "https://x.example", "--username", "a@b.c"],
                Some("--username: signing in needs both the username and the password"),
            ),
            (
                &["--username", "a@b.c", "--password", "p"],
                Some("--username: signing in needs a --base-url target"),
            ),
            (
                &[
                    "--base-url",
                    "https://x.example",
                    "--token",
                    "t",
                    "--token-url",
                    "nope",
                ],
                Some(
                    "--token-url: `nope` is not a URL (relative URL without a base); write it as https://SPACE.spaces.nexudus.com",
                ),
            ),
        ];
        for (flags, expected) in cases {
            let got = cli(flags).validate().err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), expected, "{flags:?}");
        }
    }
}
