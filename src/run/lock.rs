//! One run per account at a time on this machine: before anything is changed, the run takes the
//! journal's lock of its target and user. A live holder is waited for (bounded by
//! `--wait-for-lock`), then the account is read again — what was read while the other run had
//! it switched is not the account as found. A dead holder's lock is taken over; its journal
//! record is recovered as before.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::discovery::{self, Discovery};
use super::session::Session;

/// How often a held lock is tried again.
const POLL: Duration = Duration::from_millis(200);

/// Takes the lock of the account discovery found; returns the account as read once the lock is
/// held. `locked` is set to the user whose lock to release.
pub(super) async fn account(
    session: &Session,
    found: Discovery,
    locked: &Mutex<Option<i64>>,
) -> Result<Discovery, String> {
    let (Some(journal), Some(user)) = (&session.target.journal, found.user) else {
        return Ok(found);
    };
    let started = Instant::now();
    let mut waited = false;
    loop {
        match journal.try_lock(user)? {
            None => break,
            Some(holder) => {
                if let Some(stop) = session.stop_reason() {
                    return Err(stop);
                }
                if started.elapsed() >= session.target.lock_wait {
                    return Err(format!(
                        "another run on this machine is testing this account ({holder}); \
                         nothing was changed: run again when it ends, wait longer with \
                         --wait-for-lock SECS, or test another user"
                    ));
                }
                if !waited {
                    session.event(super::RunEvent::WaitingForLock { holder: &holder });
                }
                waited = true;
                tokio::time::sleep(POLL).await;
            }
        }
    }
    if let Ok(mut l) = locked.lock() {
        *l = Some(user);
    }
    if !waited {
        return Ok(found);
    }
    // Read again: the first reading may have seen the other run's switch.
    discovery::discover(session)
        .await
        .map_err(|reason| session.stop_reason().unwrap_or(reason))
}
