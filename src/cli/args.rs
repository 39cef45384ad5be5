//! The command line as clap sees it: the flags and subcommands, with libtest's own flags (filter,
//! `--exact`, `--skip`, `--list`, `--format`, `--include-ignored`, `--test-threads`, `-q`,
//! `--color`, …) flattened in from libtest-mimic's `Arguments`. Only shape checks happen here;
//! `config` turns this into one validated [`Config`](super::Config).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use secrecy::SecretString;

use crate::server::{Fault, Variant};

/// Contract-conformance tests for the Nexudus "Switch Active Profile" API.
///
/// With no --base-url, runs the suite against the embedded reference server.
#[derive(Parser)]
#[command(name = "nexudus-conformance", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub contract: ContractArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub gate: GateArgs,

    #[command(flatten)]
    pub nightly: NightlyArgs,

    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the reference server alone and print its base URL and fixture tokens.
    Serve(ServeArgs),
    /// Print the rule catalog: each rule, its level, the statement it enforces, the faults that kill it.
    Rules,
    /// Render run manifests as a targets × trials compliance matrix (Markdown), with trends.
    Matrix(MatrixArgs),
    /// Work with stored snapshots without cargo-insta: `snapshots accept LABEL`.
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
    /// Print the contract as an OpenAPI 3.1 document (JSON): both endpoints, their schemas, each
    /// statement with its source, examples from the reference server. A copy is docs/openapi.json.
    Openapi,
    /// Print the contract the rules cite (docs/contract.md), or one section of it: `contract 10.13`
    /// for a rule citing `notes §10.13`.
    Contract {
        /// `10`, `10.13` or `10.1-2`; the whole document without one.
        #[arg(value_name = "SECTION")]
        section: Option<String>,
    },
}

#[derive(clap::Subcommand)]
pub enum SnapshotsCommand {
    /// Accept the pending snapshots (`.snap.new`) of a target as its stored ones.
    Accept {
        /// The target's label (`--target-label`).
        #[arg(value_name = "LABEL")]
        label: String,
        /// Where snapshots live (as --snapshots).
        #[arg(long = "snapshots", value_name = "DIR", default_value = "snapshots")]
        dir: PathBuf,
    },
}

#[derive(Args)]
pub struct MatrixArgs {
    /// Manifests written with --manifest; several of one target give its trend.
    #[arg(value_name = "MANIFEST", required = true, num_args = 1..)]
    pub manifests: Vec<PathBuf>,
    /// Also write a self-contained HTML page here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Break the contract in this way (repeatable); see --list-faults.
    #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault)]
    pub faults: Vec<Fault>,
    /// Print the faults the server can be started with, and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// Answer as a correct implementation may where the docs leave room (repeatable); see
    /// --list-variants.
    #[arg(long = "variant", value_name = "NAME", value_parser = parse_variant)]
    pub variants: Vec<Variant>,
    /// Print the legitimate variants the server can be started with, and exit.
    #[arg(long)]
    pub list_variants: bool,
    /// Delay every response by this many milliseconds, to model a remote target.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// The primary user's token, instead of a random one (so a CI job knows it in advance).
    #[arg(long, value_name = "TOKEN")]
    pub primary_token: Option<String>,
    /// The second user's token, instead of a random one.
    #[arg(
        long = "foreign-token",
        id = "serve_foreign_token",
        value_name = "TOKEN"
    )]
    pub foreign_token: Option<String>,
    /// The primary user's expired token, instead of a random one.
    #[arg(
        long = "expired-token",
        id = "serve_expired_token",
        value_name = "TOKEN"
    )]
    pub expired_token: Option<String>,
    /// The seeded users' password, instead of a random one.
    #[arg(long = "password", id = "serve_password", value_name = "PASSWORD")]
    pub password: Option<String>,
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Fault::from_name(name)
        .ok_or_else(|| unknown("fault", name, Fault::ALL.iter().map(|f| f.name())))
}

fn parse_variant(name: &str) -> Result<Variant, String> {
    Variant::from_name(name)
        .ok_or_else(|| unknown("variant", name, Variant::ALL.iter().map(|v| v.name())))
}

/// `unknown fault `x`; did you mean `y`? (--list-faults shows all)`
fn unknown<'a>(what: &str, name: &str, names: impl Iterator<Item = &'a str>) -> String {
    match crate::suggest::closest(name, names) {
        Some(best) => {
            format!("unknown {what} `{name}`; did you mean `{best}`? (--list-{what}s shows all)")
        }
        None => format!("unknown {what} `{name}`; --list-{what}s shows all"),
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct ContractArgs {
    /// Directory of JSON Schemas to use instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    pub schemas: Option<PathBuf>,
    /// Directory of case files to use instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    pub cases: Option<PathBuf>,
}

#[derive(Args)]
pub struct TargetArgs {
    /// Base URL of the deployment under test, e.g. https://SPACE.spaces.nexudus.com
    #[arg(long, env = "NEXUDUS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Customer bearer token of the primary user (the account the suite switches).
    #[arg(long, env = "NEXUDUS_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    pub token: Option<SecretString>,
    /// Whether --token came from NEXUDUS_TOKEN (set after parsing).
    #[arg(skip)]
    pub token_from_env: bool,
    /// Bearer token of a second user, for the cross-account cases.
    #[arg(long, env = "NEXUDUS_FOREIGN_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    pub foreign_token: Option<SecretString>,
    /// A profile id that belongs to another user (instead of --foreign-token).
    #[arg(long, env = "NEXUDUS_FOREIGN_PROFILE_ID", value_name = "ID")]
    pub foreign_profile_id: Option<i64>,
    /// An expired token of the primary user, for `expired_token`.
    #[arg(long, env = "NEXUDUS_EXPIRED_TOKEN", hide_env_values = true, value_parser = parse_secret, value_name = "TOKEN")]
    pub expired_token: Option<SecretString>,
    /// Trust the CA certificates in FILE (PEM) too, for a target behind a private CA (as curl's
    /// and Hurl's --cacert).
    #[arg(long, env = "NEXUDUS_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// A profile id that exists for nobody (default: 999999937, or the next free id).
    #[arg(long, value_name = "ID")]
    pub unknown_profile_id: Option<i64>,
    /// Seconds one request may take, body included.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Largest response body read, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Requests per second at most; writes go at half this rate. Default: 2 against a remote
    /// target (Nexudus allows 120 requests and 60 writes a minute), unlimited on loopback. 0: no limit.
    #[arg(long, value_name = "N")]
    pub max_rps: Option<f64>,
    /// How often a throttled answer (409/429 with Retry-After) is waited out and retried.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub throttle_retries: u32,
    /// Stop sending case requests after this many seconds. The restore still runs afterwards (a
    /// read and at most a switch, each bounded by --timeout), so the process can outlive the
    /// deadline by about two --timeout.
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// How many requests a sweep step sends (e.g. unknown_profile_sweep).
    #[arg(long, default_value_t = crate::run::DEFAULT_SWEEP_SIZE, value_name = "N")]
    pub sweep_size: usize,
    /// Read the account after every probe that could change it, instead of once after each
    /// batch of probes (slower; the same verdicts, unless probes change the account only when
    /// they arrive together).
    #[arg(long)]
    pub check_each_probe: bool,
}

#[derive(Args)]
pub struct AuthArgs {
    /// Sign in as this user (email) instead of passing --token.
    #[arg(long, env = "NEXUDUS_USERNAME", value_name = "EMAIL")]
    pub username: Option<String>,
    /// The primary user's password.
    #[arg(long, env = "NEXUDUS_PASSWORD", hide_env_values = true, value_parser = parse_secret, value_name = "PASSWORD")]
    pub password: Option<SecretString>,
    /// The primary user's current two-factor code, if the account has 2FA.
    #[arg(long, env = "NEXUDUS_TOTP", hide_env_values = true, value_parser = parse_secret, value_name = "CODE")]
    pub totp: Option<SecretString>,
    /// Sign the second user in instead of passing --foreign-token.
    #[arg(long, env = "NEXUDUS_FOREIGN_USERNAME", value_name = "EMAIL")]
    pub foreign_username: Option<String>,
    /// The second user's password.
    #[arg(long, env = "NEXUDUS_FOREIGN_PASSWORD", hide_env_values = true, value_parser = parse_secret, value_name = "PASSWORD")]
    pub foreign_password: Option<SecretString>,
    /// Where to sign in; default: BASE_URL/api/token (Nexudus also answers at
    /// https://spaces.nexudus.com/api/token).
    #[arg(long, env = "NEXUDUS_TOKEN_URL", value_name = "URL")]
    pub token_url: Option<String>,
    /// Sent as the `client_id` header when signing in (Nexudus uses the email without it).
    #[arg(long, env = "NEXUDUS_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
}

#[derive(Args)]
pub struct GateArgs {
    /// Start the implementation under test with this shell command, wait until --base-url
    /// accepts connections, run, then stop it and its children.
    #[arg(long, value_name = "CMD", requires = "base_url")]
    pub spawn: Option<String>,
    /// Seconds to wait for the spawned implementation to accept connections.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub ready_timeout: f64,
    /// Where the spawned implementation's output goes (default: a file in the temp directory).
    #[arg(long, value_name = "PATH")]
    pub spawn_log: Option<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write a self-contained HTML report, DIR/index.html: the summary, then each case's
    /// trials and exchanges (redacted) with their curl.
    #[arg(long, value_name = "DIR")]
    pub report_html: Option<PathBuf>,
    /// Where the original default is recorded while the account may be switched (default: the
    /// user's state folder, $XDG_STATE_HOME/nexudus-conformance/journal.json); a run killed before
    /// its restore is put right by the next one against the same target and user.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Seconds to wait while another run on this machine tests the same target and user (the
    /// journal's lock), before giving up with exit 3.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub wait_for_lock: f64,
    /// A MUST trial the target could not be judged on (a fixture it lacks) fails the run instead
    /// of being ignored.
    #[arg(long)]
    pub deny_skipped: bool,
    /// Progress on stderr while the run is in flight: a progress line on a terminal, one line per
    /// finished case elsewhere (auto); or always one of them; or none.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto, value_name = "WHEN")]
    pub progress: ProgressArg,
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    Auto,
    Bar,
    Lines,
    Never,
}

#[derive(Args)]
pub struct NightlyArgs {
    /// Compare responses with the snapshots of this target (default: `embedded` for the embedded
    /// server, else the --base-url host). Turns snapshots on for a --base-url target.
    #[arg(long, value_name = "LABEL")]
    pub target_label: Option<String>,
    /// Where snapshots live: DIR/<target-label>/<case>.snap. Turns snapshots on for a --base-url target.
    #[arg(long = "snapshots", value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// No `case::snapshot` trials.
    #[arg(long)]
    pub no_snapshots: bool,
    /// What to do with drifted snapshots: write `.snap.new` to accept with `snapshots accept LABEL`
    /// (new), accept them (always), or nothing (no). auto: no when CI is set, else new. A case
    /// with no stored snapshot has this run's recorded as its baseline in every mode but `no`.
    #[arg(long, value_enum, default_value_t = UpdateMode::Auto, value_name = "MODE")]
    pub update_snapshots: UpdateMode,
    /// Snapshot drift fails the run (MUST) instead of being a SHOULD trial.
    #[arg(long)]
    pub deny_drift: bool,
    /// Write the run manifest (JSON, schemas/manifest.schema.json) here. If the file exists, the
    /// next free numbered name is used (`staging.2.json`), unless --force.
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Overwrite an existing --manifest file instead of writing the next numbered one.
    #[arg(long, requires = "manifest")]
    pub force: bool,
    /// Known failures of this target (JSON): ignored with their reason until they expire; a listed
    /// trial that passes, or an expired entry, fails the run.
    #[arg(long, value_name = "PATH")]
    pub known_deviations: Option<PathBuf>,
}

/// `--update-snapshots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UpdateMode {
    Auto,
    New,
    Always,
    No,
}

/// Infallible on purpose: clap never echoes a secret in an "invalid value" error.
fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_string()))
}

/// The options under headings by what a user does with them.
const HEADINGS: &[(&str, &[&str])] = &[
    (
        "Target",
        &[
            "base_url",
            "spawn",
            "ready_timeout",
            "spawn_log",
            "schemas",
            "cases",
        ],
    ),
    (
        "Credentials and fixtures",
        &[
            "token",
            "foreign_token",
            "foreign_profile_id",
            "expired_token",
            "unknown_profile_id",
            "username",
            "password",
            "totp",
            "foreign_username",
            "foreign_password",
            "token_url",
            "client_id",
            "cacert",
        ],
    ),
    (
        "Selection",
        &[
            "include_ignored",
            "ignored",
            "skip",
            "exact",
            "list",
            "deny_skipped",
            "sweep_size",
            "check_each_probe",
        ],
    ),
    (
        "Output",
        &[
            "format",
            "quiet",
            "color",
            "logfile",
            "progress",
            "junit",
            "report_html",
        ],
    ),
    (
        "Politeness and limits",
        &[
            "max_rps",
            "throttle_retries",
            "test_threads",
            "timeout",
            "max_body",
            "deadline",
            "journal",
            "wait_for_lock",
        ],
    ),
    (
        "Nightly",
        &[
            "manifest",
            "force",
            "target_label",
            "snapshot_dir",
            "no_snapshots",
            "update_snapshots",
            "deny_drift",
            "known_deviations",
        ],
    ),
];

fn grouped(mut command: clap::Command) -> clap::Command {
    for (heading, ids) in HEADINGS {
        for id in *ids {
            if command.get_arguments().any(|a| a.get_id() == *id) {
                command = command.mut_arg(*id, |a| a.help_heading(*heading));
            }
        }
    }
    command
}

/// Parses the process's arguments; a usage error exits 2 with clap's message.
pub fn parse() -> Cli {
    // libtest-mimic's `Arguments` brings its own help template and hides `--version`; restore ours.
    let command = Cli::command()
        .help_template("{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}")
        .after_help(
            "Exit codes: 0 conforms (every MUST rule judged holds; SHOULD rules count only with \
             --include-ignored), 101 a counted trial failed, 2 bad input (nothing sent), 3 no \
             verdict (the target unusable, a core case the account cannot run, --deadline), 4 an \
             output file could not be written, 130 interrupted (nothing it cut off is failed).",
        )
        .disable_version_flag(false)
        // A later flag wins over an earlier one (CI templates append to a base command line).
        .args_override_self(true)
        // libtest's flags, said for this harness; those that do nothing here are accepted (CI
        // templates pass them) but not listed.
        .mut_arg("include_ignored", |a| {
            let text = "Count the SHOULD trials too: by default they are judged as advice \
                        (listed as ignored, with whether they were followed) and decide nothing";
            a.help(text).long_help(text).visible_alias("strict")
        })
        .mut_arg("ignored", |a| {
            let text = "Run only the SHOULD trials, and count them";
            a.help(text).long_help(text)
        })
        .mut_arg("list", |a| {
            a.help("List the trials the filter selects, sending nothing")
        })
        .mut_arg("test_threads", |a| {
            a.help("Cases and requests in flight at once (default 8)")
        })
        // Said for this harness, and free of the inherited typos ("Usefull", "run on serially").
        .mut_arg("color", |a| {
            let text = "When to colour the console: auto (on a terminal, unless NO_COLOR is set), \
                        always or never";
            a.help(text).long_help(text).hide_possible_values(true)
        })
        .mut_arg("format", |a| {
            let text = "How trials are printed: pretty (one line each), terse (one character \
                        each) or json (libtest's JSON events, with each trial's level, failure \
                        kind and message)";
            a.help(text).long_help(text).hide_possible_values(true)
        })
        .mut_arg("skip", |a| {
            let text = "Leave out the trials whose names contain FILTER (repeatable; exact \
                        names with --exact); a FILTER that matches no trial is refused";
            a.help(text).long_help(text)
        })
        .mut_arg("quiet", |a| {
            let text = "One character per trial (the same as --format terse)";
            a.help(text).long_help(text)
        })
        .mut_arg("exact", |a| {
            let text = "Match FILTER and --skip against whole trial names, not parts of them";
            a.help(text).long_help(text)
        })
        .mut_arg("filter", |a| {
            let text = "Run only the trials whose names contain FILTER (a case id selects the \
                        whole case); a FILTER that matches no trial is refused";
            a.help(text).long_help(text)
        })
        .mut_arg("logfile", |a| {
            let text = "Write the console output to PATH instead of stdout";
            a.help(text).long_help(text)
        })
        .mut_arg("bench", |a| a.hide(true))
        .mut_arg("test", |a| a.hide(true))
        .mut_arg("nocapture", |a| a.hide(true))
        .mut_arg("show_output", |a| a.hide(true))
        .mut_arg("unstable_flags", |a| a.hide(true));
    let matches = grouped(command).get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(mut cli) => {
            cli.target.token_from_env =
                matches.value_source("token") == Some(clap::parser::ValueSource::EnvVariable);
            cli
        }
        Err(e) => e.exit(),
    }
}
