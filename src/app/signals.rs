//! Ctrl-C and SIGTERM: the first stops the run (which then restores the account and reports), a
//! second aborts at once, saying how to restore by hand.

use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::watch;

use crate::exit;
use crate::report::Output;
use crate::spawn::{Stop, signal_group};

/// Ctrl-C and SIGTERM, registered as soon as this is created (a signal that arrives before
/// registration would kill the process without restoring the account).
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the runtime.
    pub fn register() -> std::io::Result<Signals> {
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

    pub async fn next(&mut self) {
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

/// Waits for signals while a run is in flight: the first sets `stop`; the second prints the
/// manual restore command (once discovery has made one), kills a spawned implementation's
/// process group, and exits 130.
pub async fn watch(
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
        signal_group(pgid, Stop::Kill);
    }
    std::process::exit(i32::from(exit::INTERRUPTED));
}
