//! Probes that must leave the account as it was on a correct target, checked: sent together
//! (`concurrency` at a time) with both users' lists read before and after. When the lists
//! changed, the account is put back and the batch is bisected — each half sent again and read
//! after — down to the probe, or probes, that changed it. Every answer kept was given in the
//! account as it was before its group, so the verdicts are those of checking after each probe
//! (`--check-each-probe` does exactly that, one probe per group), and only a target that changes
//! the account pays for more than one read.

use std::sync::Arc;

use super::discovery::{ProfileSummary, current_default, profiles_of};
use super::send::{Sent, StepSend, Variation, send_limited};
use super::session::{SendMode, Session};
use crate::api::Credential;
use crate::plan::ProbeChecks;
use crate::record::ExchangeRecord;

/// Probes after which the account was not as before: one probe, or a group none of whose
/// halves changed it when sent alone.
#[derive(Debug, Clone)]
pub(super) struct Change {
    /// The step the probes belong to.
    pub step: String,
    /// The probes' labels, in the step's order.
    pub probes: Vec<String>,
    /// Their requests as sent in the group that showed the change (for the `curl`).
    pub requests: Vec<Arc<ExchangeRecord>>,
    /// The lists read just after: the primary user's, then the other user's if read.
    pub lists: Vec<Arc<ExchangeRecord>>,
}

/// A checked step's answers (one per probe, in order) and the changes it found.
pub(super) struct Checked {
    pub sent: Sent,
    pub changes: Vec<Change>,
    /// Every request sent for the step: the probes (some more than once), the checks' reads and
    /// the switches back.
    pub requests: usize,
    /// The profile lists the checks read.
    pub reads: Vec<Arc<ExchangeRecord>>,
    /// The step's last act, when it was a reading of the account: the next step may take it
    /// instead of reading again.
    pub last_reading: Option<Vec<Arc<ExchangeRecord>>>,
}

impl Checked {
    /// A step sent without checks.
    pub fn unchecked(sent: Sent) -> Checked {
        Checked {
            requests: sent.len(),
            sent,
            changes: Vec::new(),
            reads: Vec::new(),
            last_reading: None,
        }
    }
}

/// What requests could change: both users' profiles (id, active, default), by id.
pub(super) type Accounts = (Vec<ProfileSummary>, Option<Vec<ProfileSummary>>);

/// Both users' lists, as read, and what they say; `accounts` is `None` when the primary one
/// cannot be read.
pub(super) struct Reading {
    pub accounts: Option<Accounts>,
    pub records: Vec<Arc<ExchangeRecord>>,
}

/// The profiles a list shows, by id; `None` when it is not a readable list.
pub(super) fn sorted(record: &ExchangeRecord) -> Option<Vec<ProfileSummary>> {
    profiles_of(record).ok().map(|mut p| {
        p.sort_by_key(|p| p.id);
        p
    })
}

/// Whether every readable list of the primary or the other user among `reads` shows what
/// `accounts` holds.
pub(super) fn agree(reads: &[Arc<ExchangeRecord>], accounts: &Accounts) -> bool {
    reads.iter().all(|r| {
        let expected = match r.credential {
            crate::api::Credential::Primary => Some(&accounts.0),
            crate::api::Credential::Foreign => accounts.1.as_ref(),
            _ => None,
        };
        match (expected, sorted(r)) {
            (Some(expected), Some(seen)) => &seen == expected,
            _ => true,
        }
    })
}

pub(super) async fn read(session: &Session, context: &str) -> Reading {
    let (primary, foreign) = session
        .both_lists(
            context,
            session.target.credentials.foreign.is_some(),
            SendMode::Stoppable,
        )
        .await;
    Reading::of(std::iter::once(primary).chain(foreign).collect())
}

/// `records`, when a check may take them instead of reading again: the run did not stop, the
/// primary user's list answered 200, and so did the other user's when the run has that user's
/// token.
pub(super) fn usable(
    session: &Session,
    records: Option<Vec<Arc<ExchangeRecord>>>,
) -> Option<Vec<Arc<ExchangeRecord>>> {
    let records = records.filter(|_| session.stop_reason().is_none())?;
    let answered = |credential: Credential| {
        records.iter().any(|r| {
            r.credential == credential
                && r.exchange
                    .outcome
                    .as_ref()
                    .is_ok_and(|resp| resp.status == 200)
        })
    };
    let foreign = session.target.credentials.foreign.is_some();
    (answered(Credential::Primary) && (!foreign || answered(Credential::Foreign)))
        .then_some(records)
}

impl Reading {
    /// What the lists read (the primary user's first, then the other user's) say.
    pub(super) fn of(records: Vec<Arc<ExchangeRecord>>) -> Reading {
        let primary = records
            .iter()
            .find(|r| r.credential == Credential::Primary)
            .and_then(|r| sorted(r));
        let foreign = records
            .iter()
            .find(|r| r.credential == Credential::Foreign)
            .and_then(|r| sorted(r));
        Reading {
            accounts: primary.map(|p| (p, foreign)),
            records,
        }
    }
}

/// What is left to do: test a group, or close a group that changed the account once both its
/// halves are tested (if neither did, the change belongs to the group as a whole).
enum Task {
    Test(Vec<usize>),
    Close {
        group: Vec<usize>,
        requests: Vec<Arc<ExchangeRecord>>,
        lists: Vec<Arc<ExchangeRecord>>,
        changes_before: usize,
    },
}

/// Sends step `si`'s probes in checked groups; see the module's text.
pub(super) async fn send_checked(
    on: &StepSend,
    variations: Vec<Variation>,
) -> Result<Checked, String> {
    let session = &on.session;
    let mut step = StepRun {
        on,
        check: format!("{} (batch check)", on.context),
        answers: vec![None; variations.len()],
        variations,
        requests: 0,
        reads: Vec::new(),
        fresh: None,
    };
    // The step before may have just read the account: nothing was sent since.
    let first = match on.prior.clone() {
        Some(records) => {
            step.fresh = Some(records.clone());
            Reading::of(records)
        }
        None => step.read().await,
    };
    let Some(mut base) = first.accounts else {
        // Without a list to compare, a group could not be trusted: one at a time, unchecked.
        let all = (0..step.variations.len()).collect();
        step.send(all, 1).await?;
        return Ok(step.finish(Vec::new()));
    };
    let original = current_default(&base.0);
    // A probe built from the original default's id could switch back to it after another
    // probe of the same batch switched away, and the batch would look clean: each such probe
    // is checked alone, the others together (`Step::check_groups`, by which the plan counts).
    let each = session.target.probe_checks == ProbeChecks::Each;
    let generators: Vec<Option<usize>> = step
        .variations
        .iter()
        .map(|v| v.probe.as_ref().map(|p| p.generator))
        .collect();
    let mut tasks: Vec<Task> = on
        .step()
        .check_groups(&generators, each)
        .into_iter()
        .rev()
        .map(Task::Test)
        .collect();
    let limit = if each {
        1
    } else {
        session.target.concurrency.max(1)
    };
    let mut changes: Vec<Change> = Vec::new();
    // The account as the last read saw it, when it is not `base`.
    let mut changed: Option<Accounts> = None;
    while let Some(task) = tasks.pop() {
        let group = match task {
            Task::Test(group) => group,
            Task::Close {
                group,
                requests,
                lists,
                changes_before,
            } => {
                if changes.len() == changes_before {
                    changes.push(step.change(&group, requests, lists));
                }
                continue;
            }
        };
        if let Some(now) = changed.take() {
            match step.put_back(original, now).await {
                Some(now) => base = now,
                None => {
                    // The account cannot be read any more: what is left goes one at a time,
                    // unchecked; the case's own reads judge what it did.
                    step.send(untested(group, tasks), 1).await?;
                    break;
                }
            }
        }
        let sent = step.send(group.clone(), limit).await?;
        let after = step.read().await;
        let Some(now) = after.accounts else {
            // Cannot tell what the group did: put the default back and send what is left one at
            // a time, unchecked, as above.
            if let Some(default) = original {
                step.switch_back(default).await;
            }
            step.send(untested(group, tasks), 1).await?;
            break;
        };
        if now == base {
            continue;
        }
        changed = Some(now);
        let stopping = session.stop_reason().is_some();
        if group.len() == 1 || stopping {
            changes.push(step.change(&group, sent, after.records));
            if stopping {
                break;
            }
            continue;
        }
        let (first, second) = crate::case::Step::halves(&group);
        let (first, second) = (first.to_vec(), second.to_vec());
        tasks.push(Task::Close {
            group,
            requests: sent,
            lists: after.records,
            changes_before: changes.len(),
        });
        tasks.push(Task::Test(second));
        tasks.push(Task::Test(first));
    }
    if let Some(now) = changed {
        step.put_back(original, now).await;
    }
    changes.sort_by_key(|c| {
        step.variations
            .iter()
            .position(|v| c.probes.first() == Some(&v.label))
    });
    Ok(step.finish(changes))
}

/// The probes of `group` and of every group still to test.
fn untested(group: Vec<usize>, tasks: Vec<Task>) -> Vec<usize> {
    std::iter::once(group)
        .chain(tasks.into_iter().filter_map(|t| match t {
            Task::Test(g) => Some(g),
            Task::Close { .. } => None,
        }))
        .flatten()
        .collect()
}

/// One checked step while it runs: what it sends with, and what it has sent.
struct StepRun<'a> {
    on: &'a StepSend,
    /// The context of its reads.
    check: String,
    variations: Vec<Variation>,
    /// Each probe's latest answer.
    answers: Vec<Option<Arc<ExchangeRecord>>>,
    requests: usize,
    reads: Vec<Arc<ExchangeRecord>>,
    /// The last reading, while nothing has been sent since.
    fresh: Option<Vec<Arc<ExchangeRecord>>>,
}

impl StepRun<'_> {
    async fn read(&mut self) -> Reading {
        let reading = read(&self.on.session, &self.check).await;
        self.requests += reading.records.len();
        self.reads.extend(reading.records.iter().cloned());
        self.fresh = Some(reading.records.clone());
        reading
    }

    /// Sends the probes `group` (indexes into `variations`), `limit` at a time; their answers
    /// replace earlier ones. Returns the requests, in order.
    async fn send(
        &mut self,
        group: Vec<usize>,
        limit: usize,
    ) -> Result<Vec<Arc<ExchangeRecord>>, String> {
        let chosen: Vec<Variation> = group.iter().map(|&i| self.variations[i].clone()).collect();
        self.fresh = None;
        let sent = send_limited(self.on, chosen, limit).await?;
        self.requests += sent.len();
        let mut requests = Vec::with_capacity(sent.len());
        for (&i, (_, record)) in group.iter().zip(sent) {
            self.answers[i] = Some(record.clone());
            requests.push(record);
        }
        Ok(requests)
    }

    /// Switches the primary user back to `default`, whatever the account shows (it may not be
    /// readable).
    async fn switch_back(&mut self, default: i64) {
        self.requests += 1;
        self.fresh = None;
        let context = format!("{} (put back after the batch)", self.on.context);
        super::restore::put_back(
            &self.on.session,
            &context,
            Credential::Primary,
            default,
            None,
        )
        .await;
    }

    /// Puts the primary user's default back when it moved, and reads the account again; the
    /// account as it now is, or `None` when it cannot be read. A change that a switch cannot
    /// undo (the other user's account, a profile's flags) becomes the new baseline.
    async fn put_back(&mut self, original: Option<i64>, now: Accounts) -> Option<Accounts> {
        match original {
            Some(default) if current_default(&now.0) != Some(default) => {
                self.switch_back(default).await;
                self.read().await.accounts
            }
            _ => Some(now),
        }
    }

    fn change(
        &self,
        group: &[usize],
        requests: Vec<Arc<ExchangeRecord>>,
        lists: Vec<Arc<ExchangeRecord>>,
    ) -> Change {
        Change {
            step: self.on.step().name.clone(),
            probes: group
                .iter()
                .map(|&i| self.variations[i].label.clone())
                .collect(),
            requests,
            lists,
        }
    }

    fn finish(self, changes: Vec<Change>) -> Checked {
        let sent = self
            .variations
            .into_iter()
            .zip(self.answers)
            .filter_map(|(variation, answer)| answer.map(|a| (Some(variation), a)))
            .collect();
        Checked {
            sent,
            changes,
            requests: self.requests,
            reads: self.reads,
            last_reading: self.fresh,
        }
    }
}
