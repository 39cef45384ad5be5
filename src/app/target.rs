//! Resolving what to test into a [`Target`] the runner can use: the embedded reference server, or
//! a `--base-url` deployment (started first with `--spawn`, signed into with `--username`). Every
//! secret learnt on the way (fixture tokens, signed-in tokens) goes straight to the output's
//! redactor. What was started is stopped again by [`Resolved::stop`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::cli::{Config, RemoteTarget, TargetConfig, is_remote};
use crate::http::{HttpClient, parse_base_url};
use crate::report::Output;
use crate::run::{Credentials, Target};
use crate::server::{self, RunningServer, ServerOptions};
use crate::signin::sign_in;
use crate::spawn::Spawned;

/// How long a spawned implementation gets to stop after SIGTERM.
const SPAWN_GRACE: Duration = Duration::from_secs(5);

/// A target ready to run against, with what must be stopped afterwards.
pub struct Resolved {
    pub target: Target,
    /// For the preamble: `embedded reference server`, `--base-url`, `--spawn`.
    pub kind: &'static str,
    pub running: Running,
}

/// What the harness started for a run.
pub struct Running {
    embedded: Option<RunningServer>,
    spawned: Option<Spawned>,
}

impl Running {
    /// Why the run's verdicts do not hold: the spawned implementation exited while it ran (its
    /// status and the tail of its log).
    pub fn spawned_exited(&mut self) -> Option<String> {
        let child = self.spawned.as_mut()?;
        let status = child.exited()?;
        Some(format!(
            "the --spawn command exited ({status}) during the run, so the answers after that were not \
             its own; the last lines of its output ({}):\n{}",
            child.log().display(),
            log_tail(child.log(), 10)
        ))
    }

    /// Stops the embedded server or the spawned implementation (and its children).
    pub async fn stop(self) {
        if let Some(server) = self.embedded {
            server.stop().await;
        }
        if let Some(child) = self.spawned {
            child.stop(SPAWN_GRACE).await;
        }
    }
}

/// Starts and signs into what the config names. `spawned_group` receives the process group of a
/// spawned implementation, so that a second Ctrl-C can kill it.
///
/// # Errors
/// Why the target cannot be used (exit 3): it did not start, sign-in was refused, the URL is bad.
pub async fn resolve(
    config: &Config,
    output: &Output,
    spawned_group: &Arc<Mutex<Option<u32>>>,
) -> Result<Resolved, String> {
    match &config.target {
        TargetConfig::Embedded => {
            let server = server::start(&ServerOptions::default())
                .await
                .map_err(|e| format!("cannot start the embedded reference server: {e}"))?;
            let c = server.credentials();
            c.secrets().into_iter().for_each(|s| output.learn(s));
            let mut credentials = Credentials::of_reference_server(c);
            credentials.foreign_profile_id = config.foreign_profile_id;
            credentials.unknown_profile_id = config.unknown_profile_id;
            let url = server.base_url();
            learn_derived(output, &credentials);
            Ok(Resolved {
                target: target(config, &url, credentials)?,
                kind: "embedded reference server",
                running: Running {
                    embedded: Some(server),
                    spawned: None,
                },
            })
        }
        TargetConfig::Remote(remote) => {
            let spawned = match &remote.spawn {
                Some(_) => Some(spawn(remote, spawned_group).await?),
                None => None,
            };
            let resolved = async {
                let credentials = credentials(config, remote, output).await?;
                learn_derived(output, &credentials);
                target(config, &remote.base_url, credentials)
            }
            .await;
            match resolved {
                Ok(target) => Ok(Resolved {
                    target,
                    kind: if spawned.is_some() {
                        "--spawn"
                    } else {
                        "--base-url"
                    },
                    running: Running {
                        embedded: None,
                        spawned,
                    },
                }),
                Err(e) => {
                    if let Some(child) = spawned {
                        child.stop(SPAWN_GRACE).await;
                    }
                    Err(e)
                }
            }
        }
    }
}

/// The tokens the credential probes derive from the given ones are secrets too (a truncated
/// token is most of the real one): the redactor learns them before anything is sent.
fn learn_derived(output: &Output, credentials: &Credentials) {
    for token in [
        &credentials.primary,
        &credentials.foreign,
        &credentials.expired,
    ]
    .into_iter()
    .flatten()
    {
        for variant in crate::api::TokenVariant::ALL {
            output.learn(&variant.derive(token.expose_secret()));
        }
    }
}

/// The last `n` lines of a log file, indented, or why it cannot be read.
fn log_tail(path: &std::path::Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..]
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("    (cannot read it: {e})"),
    }
}

fn target(config: &Config, url: &str, credentials: Credentials) -> Result<Target, String> {
    let client = HttpClient::new(url, config.http_options(is_remote(url))).map_err(|e| e.0)?;
    let mut target = Target::new(client, url.to_string(), credentials, config.concurrency);
    target.deadline = config.deadline.map(|d| std::time::Instant::now() + d);
    target.sweep_size = config.sweep_size;
    target.probe_checks = config.probe_checks;
    Ok(target)
}

/// Starts `--spawn` and waits until its address accepts connections.
async fn spawn(
    remote: &RemoteTarget,
    spawned_group: &Arc<Mutex<Option<u32>>>,
) -> Result<Spawned, String> {
    let Some(spawn) = &remote.spawn else {
        return Err("no --spawn command".into());
    };
    let parsed = parse_base_url(&remote.base_url).map_err(|e| e.0)?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => "127.0.0.1".to_string(),
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    // Something already listening would answer instead of the implementation just started (which
    // would fail to bind, in its log only), and the run would judge the wrong server.
    let probe = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    if let Ok(Ok(_)) = probe {
        return Err(format!(
            "{host}:{port} already accepts connections before --spawn started anything: another server \
             holds the address, and the run would test it instead; stop it or give the implementation \
             and --base-url another port"
        ));
    }
    let mut child = Spawned::start(&spawn.command, &spawn.log)?;
    *spawned_group.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.pid());
    if let Err(e) = child.wait_ready(&host, port, spawn.ready_timeout).await {
        child.stop(SPAWN_GRACE).await;
        return Err(e);
    }
    Ok(child)
}

/// The tokens given, plus those signed in for (each learnt by the redactor at once).
async fn credentials(
    config: &Config,
    remote: &RemoteTarget,
    output: &Output,
) -> Result<Credentials, String> {
    let mut credentials = Credentials {
        primary: remote.token.clone(),
        foreign: remote.foreign_token.clone(),
        expired: remote.expired_token.clone(),
        foreign_profile_id: config.foreign_profile_id,
        unknown_profile_id: config.unknown_profile_id,
        primary_given_as: Some(remote.token_given_as.clone()),
    };
    if remote.sign_in.is_empty() {
        return Ok(credentials);
    }
    let token_client = HttpClient::new(
        &remote.token_url,
        config.http_options(is_remote(&remote.token_url)),
    )
    .map_err(|e| e.0)?;
    for who in &remote.sign_in {
        let token = sign_in(&token_client, who).await?;
        output.learn(token.expose_secret());
        match who.role {
            "foreign" => credentials.foreign = Some(token),
            _ => credentials.primary = Some(token),
        }
    }
    Ok(credentials)
}
