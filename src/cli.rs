//! The command line: flags → options, then the pipeline load → plan → run → report.
//!
//! libtest's own flags (filter, `--exact`, `--skip`, `--list`, `--format`, `--include-ignored`,
//! `--test-threads`, `-q`, `--color`, …) are libtest-mimic's `Arguments`, flattened in.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::SecretString;

use crate::case::{Case, load_cases};
use crate::contract::Contract;
use crate::error::LoadError;
use crate::http::{HttpClient, HttpOptions, parse_base_url};
use crate::redact::Redactor;
use crate::report::{self, Output, exit};
use crate::run::{self, Credentials, Target};
use crate::server::{self, Fault, ServerOptions};
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
    libtest: libtest_mimic::Arguments,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference server alone and print its base URL and fixture tokens.
    Serve(ServeArgs),
    /// Print the rule catalog: each rule, its level and the statement it enforces.
    Rules,
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
}

/// Infallible on purpose: clap never echoes a secret in an "invalid value" error.
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_string()))
}

/// Cases in flight at once unless `--test-threads` says otherwise.
const DEFAULT_CONCURRENCY: usize = 8;

fn parse() -> Cli {
    // libtest-mimic's `Arguments` brings its own help template and hides `--version`; restore ours.
    let command = Cli::command()
        .help_template("{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}")
        .after_help(
            "Exit codes: 0 all selected trials passed, 101 a trial failed, 2 bad input (nothing sent), \
             3 target unusable.",
        )
        .disable_version_flag(false);
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
    let secrets = cli.secrets();
    let output = Output::new(Redactor::new(secrets.iter().map(|s| s.as_str())));
    match &cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Rules) => rules(&cli, &output),
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

impl Cli {
    fn secrets(&self) -> Vec<String> {
        use secrecy::ExposeSecret;
        [
            &self.target.token,
            &self.target.foreign_token,
            &self.target.expired_token,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.expose_secret().to_string())
        .collect()
    }
}

/// Loads the schemas, then the cases against them.
fn load(args: &ContractArgs) -> Result<Vec<Case>, LoadError> {
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
    load_cases(&case_files, &mut contract)
}

fn non_empty(secret: &Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret;
    // An empty environment variable counts as set for clap; CI passes unset secrets as "".
    secret
        .as_ref()
        .filter(|s| !s.expose_secret().trim().is_empty())
        .cloned()
}

fn suite(cli: &Cli, output: &Output) -> ExitCode {
    let t = &cli.target;
    if !(t.timeout > 0.0 && t.timeout.is_finite()) {
        return output.load_error(&LoadError::new(
            "--timeout",
            "must be a positive number of seconds",
        ));
    }
    let base_url = t
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let token = non_empty(&t.token);
    if let Some(url) = base_url {
        if let Err(e) = parse_base_url(url) {
            return output.load_error(&LoadError::new("--base-url", e.0));
        }
        if token.is_none() {
            return output.load_error(&LoadError::new(
                "--token",
                "a --base-url target needs the primary user's bearer token; pass --token or set NEXUDUS_TOKEN",
            ));
        }
    }
    let cases = match load(&cli.contract) {
        Ok(cases) => cases,
        Err(e) => return output.load_error(&e),
    };
    let args = &cli.libtest;
    let plan = plan::build(cases, &|name, level| report::selects(args, name, level));
    if args.list {
        return report::list(&plan, args);
    }
    let options = HttpOptions {
        timeout: Duration::from_secs_f64(t.timeout),
        max_body: t.max_body,
    };
    let concurrency = args.test_threads.unwrap_or(DEFAULT_CONCURRENCY);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output.err(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::TARGET_UNUSABLE);
        }
    };
    let given = Credentials {
        primary: token,
        foreign: non_empty(&t.foreign_token),
        expired: non_empty(&t.expired_token),
        foreign_profile_id: t.foreign_profile_id,
        unknown_profile_id: t.unknown_profile_id,
    };
    let outcome: Result<(run::RunReport, String, Vec<String>), String> = runtime.block_on(async {
        match base_url {
            Some(url) => {
                let client = HttpClient::new(url, options).map_err(|e| e.0)?;
                let target = Target {
                    client,
                    base_url: url.to_string(),
                    credentials: given,
                    concurrency,
                };
                Ok((
                    run::run(&plan, target).await,
                    "--base-url".to_string(),
                    Vec::new(),
                ))
            }
            None => {
                if !plan.needs_target() {
                    let client = HttpClient::new("http://127.0.0.1:1", options).map_err(|e| e.0)?;
                    let target = Target {
                        client,
                        base_url: "embedded reference server (not started)".into(),
                        credentials: given,
                        concurrency,
                    };
                    return Ok((
                        run::run(&plan, target).await,
                        "nothing selected".to_string(),
                        Vec::new(),
                    ));
                }
                let server = server::start(&ServerOptions::default())
                    .await
                    .map_err(|e| format!("cannot start the embedded reference server: {e}"))?;
                let fixture = server.credentials().clone();
                let client = HttpClient::new(&server.base_url(), options).map_err(|e| e.0)?;
                let target = Target {
                    client,
                    base_url: server.base_url(),
                    credentials: Credentials {
                        primary: Some(fixture.primary_token.clone().into()),
                        foreign: Some(fixture.foreign_token.clone().into()),
                        expired: Some(fixture.expired_token.clone().into()),
                        foreign_profile_id: given.foreign_profile_id,
                        unknown_profile_id: given.unknown_profile_id,
                    },
                    concurrency,
                };
                let report = run::run(&plan, target).await;
                server.stop().await;
                let secrets = vec![
                    fixture.primary_token,
                    fixture.foreign_token,
                    fixture.expired_token,
                    fixture.password,
                ];
                Ok((report, "embedded reference server".to_string(), secrets))
            }
        }
    });
    drop(runtime);
    match outcome {
        Ok((report, label, more_secrets)) => {
            let mut redactor = output.redactor().clone();
            more_secrets.iter().for_each(|s| redactor.add(s));
            report::emit(&plan, report, args, &Output::new(redactor), &label)
        }
        Err(message) => {
            output.err(&format!("error: {message}"));
            ExitCode::from(exit::TARGET_UNUSABLE)
        }
    }
}

/// `rules`: the catalog, with the faults that kill each rule (computed by running them).
fn rules(cli: &Cli, output: &Output) -> ExitCode {
    let cases = match load(&cli.contract) {
        Ok(cases) => cases,
        Err(e) => return output.load_error(&e),
    };
    let plan = plan::build(cases, &|_, _| true);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output.err(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::TARGET_UNUSABLE);
        }
    };
    let options = HttpOptions {
        timeout: Duration::from_secs_f64(cli.target.timeout.clamp(0.1, 3600.0)),
        max_body: cli.target.max_body,
    };
    match runtime.block_on(crate::fault_matrix::compute(&plan, &options)) {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output.err(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::TARGET_UNUSABLE);
        }
    };
    runtime.block_on(async {
        let options = ServerOptions {
            host: args.host,
            port: args.port,
            faults: args.faults.iter().copied().collect(),
            tokens: None,
            latency: Duration::from_millis(args.latency_ms),
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
        output.out("press Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
        server.stop().await;
        ExitCode::from(exit::OK)
    })
}
