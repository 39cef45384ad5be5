//! Leaving the account as it was found: a guard after every state-changing case, and the
//! end-of-run check that is a trial of its own. Restores are never stopped by an interruption or
//! the deadline — they are the reason those stop gracefully.

use std::time::Instant;

use serde_json::Value;

use super::discovery::{current_default, profiles_of};
use super::session::{RESTORE, SendMode, Session};
use crate::api::{self, Credential};
use crate::case::Var;
use crate::check::{Finding, Verdict};
use crate::record::{self, ExchangeRecord, Observed, TrialRecord};

pub(super) fn original_id(session: &Session) -> Option<i64> {
    session
        .vars()?
        .get(Var::OriginalProfileId)
        .and_then(Value::as_i64)
}

/// The command that puts `original` back by hand, with the token as a variable.
pub(super) fn manual_command(session: &Session, original: i64) -> String {
    let url = session.target.client.url_for(&api::switch_to(original));
    record::curl("PUT", &url, Credential::Primary)
}

/// The one default profile now, or why it is not known.
async fn current(
    session: &Session,
    context: &str,
) -> (std::sync::Arc<ExchangeRecord>, Result<Option<i64>, String>) {
    let record = session
        .list_profiles(context, Credential::Primary, SendMode::Always)
        .await;
    let current = profiles_of(&record).map(|p| current_default(&p));
    (record, current)
}

/// The default profile as a case's last exchange shows it, when that exchange was a readable
/// profile list of the primary user: the guard then needs no request of its own (nothing else
/// runs in the case's phase, so nothing can have changed the state since).
fn observed_default(last: Option<&ExchangeRecord>) -> Option<Option<i64>> {
    let record = last.filter(|r| r.reads_own_profiles())?;
    profiles_of(record).ok().map(|p| current_default(&p))
}

/// The other user's list, when the run has that user's token: a request of one account must
/// leave the other alone, so it is read wherever the run checks what a case did.
async fn other_list(session: &Session, context: &str) -> Option<std::sync::Arc<ExchangeRecord>> {
    match session.target.credentials.foreign {
        Some(_) => Some(
            session
                .list_profiles(context, Credential::Foreign, SendMode::Always)
                .await,
        ),
        None => None,
    }
}

/// The one place an account's default is put back: switches `credential`'s user to `to` unless
/// `now` (its default as last read, `None` when unknown or not a single one) is `to` already.
/// Returns the switch, if one was sent; always sent, whatever the stop signal.
pub(super) async fn put_back(
    session: &Session,
    context: &str,
    credential: Credential,
    to: i64,
    now: Option<i64>,
) -> Option<std::sync::Arc<ExchangeRecord>> {
    if now == Some(to) {
        return None;
    }
    Some(session.switch_as(context, credential, to).await)
}

/// Puts the other user's default back when `list` (that user's list) shows another one: a
/// faulty target may let one account's request move the other's. Says what it did, or that it
/// could not (with the `curl` that does it by hand).
pub(super) async fn put_back_other(
    session: &Session,
    context: &str,
    list: Option<&ExchangeRecord>,
) -> Option<String> {
    let original = session.foreign_default()?;
    let now = profiles_of(list?).ok().map(|p| current_default(&p));
    let switched = put_back(
        session,
        context,
        Credential::Foreign,
        original,
        now.flatten(),
    )
    .await?;
    let ok = switched.succeeded();
    let found = match now {
        Some(Some(id)) => format!("profile {id}"),
        Some(None) => "not a single profile".into(),
        None => "unreadable".into(),
    };
    Some(if ok {
        format!("the other user's default was {found}; switched it back to {original}")
    } else {
        format!(
            "the other user's default was {found}; switching it back to {original} failed — restore it by hand: {}",
            record::curl_for(&switched)
        )
    })
}

/// After a state-changing case: if the default is not the original, switch back. What it did is
/// logged for the restore trial. `last` is the case's last exchange. Returns the profile lists
/// it read — the primary user's if it had to read it, and the other user's (the case's
/// invariants are judged on them too).
pub(super) async fn guard(
    session: &Session,
    case_id: &str,
    last: Option<&ExchangeRecord>,
    other_seen: Option<&ExchangeRecord>,
) -> Guarded {
    let Some(original) = original_id(session) else {
        return Guarded {
            read: Vec::new(),
            left_alone: false,
        };
    };
    let context = super::session::guard_context(case_id);
    // The other user's list as the case last read it, or read now.
    let other_now = async {
        match other_seen {
            Some(_) => None,
            None => other_list(session, &context).await,
        }
    };
    let ((mine, now), other) = match observed_default(last) {
        Some(seen) => ((None, Ok(seen)), other_now.await),
        None => {
            let ((record, now), other) = tokio::join!(current(session, &context), other_now);
            ((Some(record), now), other)
        }
    };
    let other_list_seen = other.as_deref().or(other_seen);
    let other_moved = put_back_other(session, &context, other_list_seen).await;
    if let Some(note) = &other_moved {
        session
            .guard_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("after `{case_id}` {note}"));
    }
    let read: Vec<_> = mine.into_iter().chain(other).collect();
    let seen = now.clone().ok().flatten();
    let Some(switched) = put_back(session, &context, Credential::Primary, original, seen).await
    else {
        return Guarded {
            read,
            left_alone: other_moved.is_none(),
        };
    };
    let ok = switched.succeeded();
    let mut log = session.guard_log.lock().unwrap_or_else(|e| e.into_inner());
    log.push(match (now, ok) {
        (Ok(found), true) => format!(
            "after `{case_id}` the default was {}; switched back to {original}",
            found.map_or("not a single profile".to_string(), |f| f.to_string())
        ),
        (Err(e), true) => {
            format!("after `{case_id}` the profile list could not be read ({e}); switched to {original} anyway")
        }
        (_, false) => format!("after `{case_id}` switching back to {original} failed"),
    });
    Guarded {
        read,
        left_alone: false,
    }
}

/// What a guard did: the lists it read, and whether it sent no switch (the account is as the
/// case, or the guard, last read it).
pub(super) struct Guarded {
    pub read: Vec<std::sync::Arc<ExchangeRecord>>,
    pub left_alone: bool,
}

/// The end-of-run check (and, when needed, the restore) of the original default profile.
/// `reading`: the lists the last phase ended with, nothing sent since; taken instead of reading.
pub(super) async fn at_end(
    session: &Session,
    changed_state: bool,
    reading: Option<Vec<std::sync::Arc<ExchangeRecord>>>,
) -> TrialRecord {
    let started = Instant::now();
    let Some(original) = original_id(session) else {
        return TrialRecord::bare(Observed::MissingFixture(
            "needs original_profile_id: the account's default profile is unknown".into(),
        ));
    };
    let mut notes: Vec<String> = session
        .guard_log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let seen = |credential: Credential| {
        reading
            .as_ref()
            .and_then(|records| records.iter().find(|r| r.credential == credential))
            .cloned()
    };
    let ((mut record, mut now), other) = match seen(Credential::Primary) {
        Some(record) => {
            let now = profiles_of(&record).map(|p| current_default(&p));
            ((record, now), seen(Credential::Foreign))
        }
        _ => tokio::join!(current(session, RESTORE), other_list(session, RESTORE)),
    };
    // The other user's account, put back first when it moved, and checked again after.
    let mut other_failed = None;
    if let Some(note) = put_back_other(session, RESTORE, other.as_deref()).await {
        let again = other_list(session, RESTORE).await;
        match put_back_other_check(session, again.as_deref()) {
            Ok(()) => notes.push(note),
            Err(why) => other_failed = Some(format!("{note}; {why}")),
        }
    }
    let seen = now.clone().ok().flatten();
    if let Some(switched) = put_back(session, RESTORE, Credential::Primary, original, seen).await {
        notes.push(format!(
            "at the end the default was {}; sent PUT coworkerId={original} ({})",
            describe_default(&now),
            match &switched.exchange.outcome {
                Ok(r) => format!("status {}", r.status),
                Err(e) => e.to_string(),
            }
        ));
        (record, now) = current(session, RESTORE).await;
    }
    let verdict = match &now {
        Ok(Some(_)) if other_failed.is_some() => Verdict::Violation(Finding {
            expected: "the other user's default, as discovery read it, to be back".into(),
            actual: other_failed.clone().unwrap_or_default(),
            details: notes.clone(),
            diff: None,
        }),
        Ok(Some(id)) if *id == original => {
            let mut note = if changed_state {
                format!("the original default profile {original} is the default again")
            } else {
                format!("the default profile is still {original}")
            };
            if !notes.is_empty() {
                note.push_str(&format!(" ({})", notes.join("; ")));
            }
            Verdict::Pass(Some(note))
        }
        _ => {
            notes.push(format!(
                "restore it by hand: {}",
                manual_command(session, original)
            ));
            Verdict::Violation(Finding {
                expected: format!(
                    "profile {original} (the default when the run started) to be the one default profile"
                ),
                actual: describe_default(&now),
                details: notes,
                diff: None,
            })
        }
    };
    TrialRecord {
        observed: Observed::Judged(verdict),
        exchange: Some(record),
        duration: started.elapsed(),
        notes: Vec::new(),
    }
}

/// Whether the other user's list shows its original default again.
fn put_back_other_check(session: &Session, list: Option<&ExchangeRecord>) -> Result<(), String> {
    let Some(original) = session.foreign_default() else {
        return Ok(());
    };
    match list.map(profiles_of) {
        Some(Ok(p)) if current_default(&p) == Some(original) => Ok(()),
        _ => Err(format!(
            "it is still not {original}; restore it by hand: {}",
            record::curl(
                "PUT",
                &session.target.client.url_for(&api::switch_to(original)),
                Credential::Foreign
            )
        )),
    }
}

fn describe_default(current: &Result<Option<i64>, String>) -> String {
    match current {
        Ok(Some(id)) => format!("profile {id}"),
        Ok(None) => "not exactly one default profile".into(),
        Err(e) => format!("unknown ({e})"),
    }
}
