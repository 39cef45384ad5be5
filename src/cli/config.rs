//! From parsed flags to one validated [`Config`]: everything clap cannot check (numbers in range,
//! flags that need each other, URLs, output paths that must be writable before anything is sent)
//! is checked here, and a problem is bad input (exit 2). The app reads only the `Config`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::args::{Cli, ContractArgs, ProgressArg, UpdateMode};
use super::paths::{check_dir_writable, check_writable, numbered_if_taken};
use crate::error::LoadError;
use crate::http::{HttpOptions, is_loopback, parse_base_url};
use crate::judge::SnapshotWrite;
use crate::plan::ProbeChecks;
use crate::report::ProgressMode;
use crate::signin::SignIn;
use crate::snapshot;

/// Cases in flight at once unless `--test-threads` says otherwise.
const DEFAULT_CONCURRENCY: usize = 8;

/// The documented limits (120 requests a minute, 60 writes) as a default pace for remote targets.
pub const DEFAULT_REMOTE_RPS: f64 = 2.0;

/// The pacer's spacing of requests and of writes at `rps` requests a second (writes at half
/// that, as the documented limits have it); `None` when `rps` is 0 (no limit).
pub fn paces(rps: f64) -> (Option<Duration>, Option<Duration>) {
    let pace = (rps > 0.0).then(|| Duration::from_secs_f64(1.0 / rps));
    (pace, pace.map(|p| p * 2))
}

/// What to test.
#[derive(Debug, Clone)]
pub enum TargetConfig {
    /// The embedded reference server.
    Embedded,
    /// A deployment at `base_url` (started first by `spawn`, if given).
    Remote(Box<RemoteTarget>),
}

/// A `--base-url` target and how to get at it.
#[derive(Debug, Clone)]
pub struct RemoteTarget {
    pub base_url: String,
    pub token: Option<SecretString>,
    /// How the token was given: `--token`, or `the NEXUDUS_TOKEN environment variable`.
    pub token_given_as: String,
    pub foreign_token: Option<SecretString>,
    pub expired_token: Option<SecretString>,
    /// Sign-ins to do when a token is not given: the primary user's, then the foreign user's.
    pub sign_in: Vec<SignIn>,
    pub token_url: String,
    pub spawn: Option<SpawnConfig>,
}

/// `--spawn` and its companions.
#[derive(Debug, Clone)]
pub struct SpawnConfig {
    pub command: String,
    pub ready_timeout: Duration,
    pub log: PathBuf,
}

/// Snapshots, when they are on.
#[derive(Debug, Clone)]
pub struct SnapshotConfig {
    pub dir: PathBuf,
    pub write: SnapshotWrite,
    /// Record a missing snapshot as the baseline (not under `--update-snapshots no`).
    pub baseline: bool,
    pub deny_drift: bool,
}

/// Everything a run needs to know, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub contract: ContractArgs,
    pub target: TargetConfig,
    pub foreign_profile_id: Option<i64>,
    pub unknown_profile_id: Option<i64>,
    timeout: Duration,
    max_body: usize,
    /// `--cacert`: PEM certificates trusted besides the system's.
    cacert: Option<Vec<u8>>,
    max_rps: Option<f64>,
    throttle_retries: u32,
    pub deadline: Option<Duration>,
    pub sweep_size: usize,
    /// `--check-each-probe`.
    pub probe_checks: ProbeChecks,
    /// Cases in flight at once.
    pub concurrency: usize,
    /// `--target-label`, or `embedded`, or the --base-url host.
    pub target_label: String,
    pub snapshots: Option<SnapshotConfig>,
    pub known_deviations: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// `--report-html DIR`.
    pub report_html: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    /// The `--manifest` path that was taken by an earlier run, when another name was chosen.
    pub manifest_taken: Option<PathBuf>,
    pub progress: ProgressMode,
    /// `--deny-skipped`.
    pub deny_skipped: bool,
    /// `--journal`.
    pub journal: Option<PathBuf>,
    /// `--wait-for-lock`.
    pub lock_wait: Duration,
    pub libtest: libtest_mimic::Arguments,
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

/// Every secret given on the command line or in the environment, for the redactor.
pub fn secrets(cli: &Cli) -> Vec<String> {
    [
        &cli.target.token,
        &cli.target.foreign_token,
        &cli.target.expired_token,
        &cli.auth.password,
        &cli.auth.totp,
        &cli.auth.foreign_password,
    ]
    .into_iter()
    .flatten()
    .map(|s| s.expose_secret().to_string())
    .collect()
}

/// Whether `url` is a remote target (paced by default); an unparsable one counts as remote.
pub fn is_remote(url: &str) -> bool {
    parse_base_url(url)
        .map(|u| !is_loopback(&u))
        .unwrap_or(true)
}

impl Config {
    /// Checks the flags that clap cannot; an error is bad input (exit 2).
    ///
    /// # Errors
    /// The first problem, naming the flag and the fix.
    pub fn from_cli(cli: &Cli) -> Result<Config, LoadError> {
        let t = &cli.target;
        let positive = |flag: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(LoadError::new(flag, "must be a positive number of seconds"))
            }
        };
        if cli.libtest.bench {
            // libtest would mark every trial ignored and exit 0: a green that checked nothing.
            return Err(LoadError::new(
                "--bench",
                "this harness has no benchmarks, only the contract's trials; drop --bench (its \
                 own performance is measured by `cargo bench` in its repository)",
            ));
        }
        positive("--timeout", t.timeout)?;
        positive("--ready-timeout", cli.gate.ready_timeout)?;
        if !(cli.gate.wait_for_lock >= 0.0 && cli.gate.wait_for_lock.is_finite()) {
            return Err(LoadError::new(
                "--wait-for-lock",
                "must be a number of seconds, 0 to give up at once",
            ));
        }
        if let Some(d) = t.deadline {
            positive("--deadline", d)?;
        }
        if t.sweep_size == 0 {
            return Err(LoadError::new(
                "--sweep-size",
                "must be at least 1: a sweep of no requests judges nothing",
            ));
        }
        if cli.libtest.test_threads == Some(0) {
            return Err(LoadError::new(
                "--test-threads",
                "must be at least 1: with no case in flight nothing would run",
            ));
        }
        // A secret too short to find in text could not be redacted safely (masking it would
        // garble ordinary output, leaving it would print it): refuse it.
        for (flag, secret) in [
            ("--token", &t.token),
            ("--foreign-token", &t.foreign_token),
            ("--expired-token", &t.expired_token),
            ("--password", &cli.auth.password),
            ("--foreign-password", &cli.auth.foreign_password),
        ] {
            if let Some(secret) = non_empty(secret)
                && secret.expose_secret().trim().chars().count() < crate::redact::MIN_SECRET_LEN
            {
                return Err(LoadError::new(
                    flag,
                    format!(
                        "a secret shorter than {} characters cannot be kept out of the output safely; \
                         use the real token or password",
                        crate::redact::MIN_SECRET_LEN
                    ),
                ));
            }
        }
        if let Some(rps) = t.max_rps
            && !(rps >= 0.0 && rps.is_finite())
        {
            return Err(LoadError::new(
                "--max-rps",
                "must be a number of requests per second, 0 for no limit",
            ));
        }
        let a = &cli.auth;
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
        let base_url = non_empty_str(&t.base_url);
        let target = match base_url {
            Some(url) => {
                parse_base_url(url).map_err(|e| LoadError::new("--base-url", e.0))?;
                if non_empty(&t.token).is_none() && non_empty_str(&a.username).is_none() {
                    return Err(LoadError::new(
                        "--token",
                        "a --base-url target needs the primary user's bearer token; pass --token (NEXUDUS_TOKEN) \
                         or sign in with --username and --password",
                    ));
                }
                if let Some(url) = non_empty_str(&a.token_url) {
                    parse_base_url(url).map_err(|e| LoadError::new("--token-url", e.0))?;
                }
                TargetConfig::Remote(Box::new(remote(cli, url)))
            }
            None => {
                if non_empty_str(&a.username).is_some() {
                    return Err(LoadError::new(
                        "--username",
                        "signing in needs a --base-url target",
                    ));
                }
                // Flags that only mean something for a --base-url target would be ignored by a
                // run against the embedded server, which would then go green for nothing.
                let remote_only = [
                    ("--token", non_empty(&t.token).is_some()),
                    ("--foreign-token", non_empty(&t.foreign_token).is_some()),
                    ("--expired-token", non_empty(&t.expired_token).is_some()),
                    ("--foreign-profile-id", t.foreign_profile_id.is_some()),
                    ("--unknown-profile-id", t.unknown_profile_id.is_some()),
                    ("--password", non_empty(&a.password).is_some()),
                    ("--totp", non_empty(&a.totp).is_some()),
                    (
                        "--foreign-username",
                        non_empty_str(&a.foreign_username).is_some(),
                    ),
                    (
                        "--foreign-password",
                        non_empty(&a.foreign_password).is_some(),
                    ),
                    ("--token-url", non_empty_str(&a.token_url).is_some()),
                    ("--client-id", non_empty_str(&a.client_id).is_some()),
                    ("--cacert", t.cacert.is_some()),
                    ("--target-label", cli.nightly.target_label.is_some()),
                ];
                if let Some((flag, _)) = remote_only.iter().find(|(_, given)| *given) {
                    return Err(LoadError::new(
                        *flag,
                        "only means something for a --base-url target, and without one the run goes \
                         against the embedded reference server; pass --base-url (NEXUDUS_BASE_URL) \
                         or drop the flag (and its NEXUDUS_* variable)",
                    ));
                }
                TargetConfig::Embedded
            }
        };
        for (flag, path) in [
            ("--junit", &cli.gate.junit),
            ("--manifest", &cli.nightly.manifest),
            (
                "--logfile",
                &cli.libtest.logfile.as_ref().map(PathBuf::from),
            ),
        ] {
            if let Some(path) = path {
                check_writable(flag, path)?;
            }
        }
        if let Some(dir) = &cli.gate.report_html {
            check_dir_writable("--report-html", dir)?;
        }
        let n = &cli.nightly;
        let cacert = match &t.cacert {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    LoadError::new("--cacert", format!("cannot read {}: {e}", path.display()))
                })?;
                crate::http::check_certificates(&pem)
                    .map_err(|e| LoadError::new("--cacert", format!("{}: {e}", path.display())))?;
                Some(pem)
            }
            None => None,
        };
        let target_label = match (&n.target_label, base_url) {
            (Some(label), _) => snapshot::sanitize_label(label),
            (None, Some(url)) => snapshot::label_for(url),
            (None, None) => snapshot::EMBEDDED_LABEL.to_string(),
        };
        let snapshots_on = !n.no_snapshots
            && (base_url.is_none() || n.target_label.is_some() || n.snapshot_dir.is_some());
        let snapshots = snapshots_on.then(|| SnapshotConfig {
            dir: n
                .snapshot_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("snapshots")),
            write: update_mode(n.update_snapshots),
            baseline: n.update_snapshots != UpdateMode::No,
            deny_drift: n.deny_drift,
        });
        if let Some(s) = &snapshots
            && (s.write != SnapshotWrite::Nothing
                || (s.baseline && !s.dir.join(&target_label).exists()))
        {
            // Checked now, not after a long run: new and drifted snapshots are written here.
            check_dir_writable("--snapshots", &s.dir.join(&target_label))?;
        }
        let quiet = cli.libtest.quiet;
        let progress = match cli.gate.progress {
            ProgressArg::Auto if quiet => ProgressMode::Off,
            ProgressArg::Auto => ProgressMode::detect(),
            ProgressArg::Bar => ProgressMode::Bar,
            ProgressArg::Lines => ProgressMode::Lines,
            ProgressArg::Never => ProgressMode::Off,
        };
        Ok(Config {
            contract: ContractArgs {
                schemas: cli.contract.schemas.clone(),
                cases: cli.contract.cases.clone(),
            },
            target,
            foreign_profile_id: t.foreign_profile_id,
            unknown_profile_id: t.unknown_profile_id,
            timeout: Duration::from_secs_f64(t.timeout.clamp(0.001, 86_400.0)),
            max_body: t.max_body,
            cacert,
            max_rps: t.max_rps,
            throttle_retries: t.throttle_retries,
            deadline: t.deadline.map(Duration::from_secs_f64),
            sweep_size: t.sweep_size,
            probe_checks: if t.check_each_probe {
                ProbeChecks::Each
            } else {
                ProbeChecks::Batch
            },
            concurrency: cli.libtest.test_threads.unwrap_or(DEFAULT_CONCURRENCY),
            target_label,
            snapshots,
            known_deviations: n.known_deviations.clone(),
            junit: cli.gate.junit.clone(),
            report_html: cli.gate.report_html.clone(),
            manifest: n
                .manifest
                .as_deref()
                .map(|path| numbered_if_taken(path, n.force)),
            manifest_taken: n
                .manifest
                .clone()
                .filter(|path| numbered_if_taken(path, n.force) != *path),
            progress,
            deny_skipped: cli.gate.deny_skipped,
            journal: cli.gate.journal.clone(),
            lock_wait: Duration::from_secs_f64(cli.gate.wait_for_lock.clamp(0.0, 86_400.0)),
            libtest: cli.libtest.clone(),
        })
    }

    /// How requests are sent: paced by default against a remote target.
    pub fn http_options(&self, remote: bool) -> HttpOptions {
        let rps = self
            .max_rps
            .unwrap_or(if remote { DEFAULT_REMOTE_RPS } else { 0.0 });
        let (pace, write_pace) = paces(rps);
        HttpOptions {
            timeout: self.timeout,
            max_body: self.max_body,
            pace,
            write_pace,
            throttle_retries: self.throttle_retries,
            cacert: self.cacert.clone(),
            ..HttpOptions::default()
        }
    }

    /// The target's base URL as given, or `embedded` for the embedded reference server (whose
    /// URL is known only once it runs).
    pub fn base_url(&self) -> String {
        match &self.target {
            TargetConfig::Remote(r) => r.base_url.clone(),
            TargetConfig::Embedded => snapshot::EMBEDDED_LABEL.to_string(),
        }
    }

    /// The `--spawn`ed implementation's log, when there is one.
    pub fn spawn_log(&self) -> Option<&Path> {
        match &self.target {
            TargetConfig::Remote(r) => r.spawn.as_ref().map(|s| s.log.as_path()),
            TargetConfig::Embedded => None,
        }
    }
}

fn remote(cli: &Cli, url: &str) -> RemoteTarget {
    let (t, a, g) = (&cli.target, &cli.auth, &cli.gate);
    let mut sign_in = Vec::new();
    if non_empty(&t.token).is_none()
        && let (Some(username), Some(password)) =
            (non_empty_str(&a.username), non_empty(&a.password))
    {
        sign_in.push(SignIn {
            role: "primary",
            username: username.to_string(),
            password,
            totp: non_empty(&a.totp),
            client_id: non_empty_str(&a.client_id).map(str::to_string),
        });
    }
    if non_empty(&t.foreign_token).is_none()
        && let (Some(username), Some(password)) = (
            non_empty_str(&a.foreign_username),
            non_empty(&a.foreign_password),
        )
    {
        sign_in.push(SignIn {
            role: "foreign",
            username: username.to_string(),
            password,
            totp: None,
            client_id: None,
        });
    }
    RemoteTarget {
        base_url: url.to_string(),
        token: non_empty(&t.token),
        token_given_as: if t.token_from_env {
            "the NEXUDUS_TOKEN environment variable".into()
        } else if non_empty(&t.token).is_none() && !sign_in.is_empty() {
            "a new sign-in (check --username and --password)".into()
        } else {
            "--token".into()
        },
        foreign_token: non_empty(&t.foreign_token),
        expired_token: non_empty(&t.expired_token),
        sign_in,
        token_url: non_empty_str(&a.token_url).map_or_else(
            || format!("{}/api/token", url.trim_end_matches('/')),
            str::to_string,
        ),
        spawn: g.spawn.as_ref().map(|command| SpawnConfig {
            command: command.clone(),
            ready_timeout: Duration::from_secs_f64(g.ready_timeout),
            log: g.spawn_log.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!(
                    "nexudus-conformance-spawn-{}.log",
                    std::process::id()
                ))
            }),
        }),
    }
}

/// What `--update-snapshots` means here; `auto` writes nothing under CI.
fn update_mode(mode: UpdateMode) -> SnapshotWrite {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    match mode {
        UpdateMode::Auto if ci => SnapshotWrite::Nothing,
        UpdateMode::Auto | UpdateMode::New => SnapshotWrite::New,
        UpdateMode::Always => SnapshotWrite::Accept,
        UpdateMode::No => SnapshotWrite::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, LoadError> {
        let cli =
            Cli::try_parse_from(std::iter::once("nexudus-conformance").chain(args.iter().copied()))
                .unwrap();
        Config::from_cli(&cli)
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
            let options = config(flags).unwrap().http_options(remote);
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
        let cases: [(&[&str], Option<&str>); 7] = [
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
                &["--username", "a@b.c", "--password", "a-long-password"],
                Some("--username: signing in needs a --base-url target"),
            ),
            (
                &[
                    "--base-url",
                    "https://x.example",
                    "--token",
                    "a-long-token-1",
                    "--token-url",
                    "nope",
                ],
                Some(
                    "--token-url: `nope` is not a URL (relative URL without a base); write it as https://SPACE.spaces.nexudus.com",
                ),
            ),
            (
                &["--manifest", "/proc/no-such-dir/m.json"],
                Some("--manifest: cannot write /proc/no-such-dir/m.json"),
            ),
        ];
        for (flags, expected) in cases {
            let got = config(flags).err().map(|e| e.to_string());
            match (got.as_deref(), expected) {
                (Some(got), Some(want)) => assert!(got.starts_with(want), "{flags:?}: {got}"),
                (got, want) => assert_eq!(got, want, "{flags:?}"),
            }
        }
    }
}
