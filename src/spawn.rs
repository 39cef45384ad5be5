//! `--spawn`: starting the implementation under test, waiting until it accepts connections, and
//! stopping it — with every process it started — when the run ends.
//!
//! The command runs under `sh -c` in a process group of its own, with stdout and stderr going to a
//! log file, so that stopping it reaches its children and its output never mixes with the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running implementation under test.
pub struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    /// Starts `command` with its output going to `log`.
    ///
    /// # Errors
    /// When the log file cannot be created or the shell cannot be started.
    pub fn start(command: &str, log: &Path) -> Result<Spawned, String> {
        let out = std::fs::File::create(log)
            .map_err(|e| format!("cannot create the --spawn-log file {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot share the --spawn-log file {}: {e}", log.display()))?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start --spawn command `{command}`: {e}"))?;
        Ok(Spawned {
            child,
            log: log.to_path_buf(),
        })
    }

    /// The process id (and process group id) of the shell running the command.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the command's output goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits until `host:port` accepts TCP connections.
    ///
    /// # Errors
    /// When the command exits first, or `timeout` passes.
    pub async fn wait_ready(
        &mut self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the --spawn command exited ({status}) before {host}:{port} accepted connections; its output is in {}",
                    self.log.display()
                ));
            }
            let attempt = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect((host, port)),
            )
            .await;
            if let Ok(Ok(_)) = attempt {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "{host}:{port} did not accept connections within {:.0}s (--ready-timeout); the --spawn command's output is in {}",
                    timeout.as_secs_f64(),
                    self.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the command has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the command and its children: SIGTERM to the group, SIGKILL after `grace`. Waits on
    /// the runtime's timer, never blocking a worker thread.
    pub async fn stop(mut self, grace: Duration) {
        signal_group(self.child.id(), Stop::Terminate);
        let started = Instant::now();
        while started.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The shell is gone; make sure nothing it started lingers.
                signal_group(self.child.id(), Stop::Kill);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        signal_group(self.child.id(), Stop::Kill);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to stop a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: asks it to end.
    Terminate,
    /// SIGKILL: ends it.
    Kill,
}

/// Sends a stop signal to the process group `pgid` (a no-op if it is gone).
pub fn signal_group(pgid: u32, stop: Stop) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process_group};
        let signal = match stop {
            Stop::Terminate => Signal::TERM,
            Stop::Kill => Signal::KILL,
        };
        if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(pid, signal);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (pgid, stop);
    }
}
