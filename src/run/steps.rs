//! Running one case: its steps in order, each request judged by the step's rules. A sweep step
//! sends one request per sweep value, a step that varies sends one per generated probe — both
//! `concurrency` at a time; the probes of a case that may change the account as a checked batch
//! (see `batch`) — and every response is judged. A step that reads the primary user's list is
//! also judged on the lists read just after each change the probes before it made.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::batch::{self, Change, Checked};
use super::send::{StepSend, Variation, send, send_limited, with_sweep_id};
use super::session::{SendMode, Session};
use crate::case::{Case, Step, Var, Vars};
use crate::check::{Verdict, evaluate};
use crate::http::TransportError;
use crate::probe;
use crate::record::{ExchangeRecord, Observed, TrialRecord, curl_for};

/// (step, rule) → result.
pub(super) type CaseVerdicts = BTreeMap<(usize, usize), TrialRecord>;

/// What running a case produced: a result per rule, each step's exchange (`None` when the step
/// was not sent; for a sweep or probes, the first request), and how many requests it sent.
pub(super) struct CaseRun {
    pub verdicts: CaseVerdicts,
    pub exchanges: Vec<Option<Arc<ExchangeRecord>>>,
    pub requests: usize,
    /// The lists read just after each change a batch of probes made, for the invariants.
    pub changed_lists: Vec<Arc<ExchangeRecord>>,
    /// Every profile list the case read: its own steps' and its batches' checks.
    pub reads: Vec<Arc<ExchangeRecord>>,
    /// The other user's lists read beside the primary user's in a case that changes the account.
    pub other_reads: Vec<Arc<ExchangeRecord>>,
    /// The case's last act, when it was a reading of the account (a plain read of the lists, or
    /// a batch's last check): the guard after it takes it instead of reading again.
    pub last_reading: Option<Vec<Arc<ExchangeRecord>>>,
}

/// How many failing variations a failure lists with their own `curl`.
const SHOWN_VARIATIONS: usize = 5;

/// How a case's steps are sent.
pub(super) enum Sending {
    /// In order, each step once the one before is judged; a batch of probes checked by its own
    /// reads. `incoming`: the reading the run has (nothing sent since), which a first step that
    /// is a batch takes as its read before (`Case::reads_shared`).
    InOrder {
        incoming: Option<Vec<Arc<ExchangeRecord>>>,
    },
    /// Sent already, with the cases that go together ([`send_together`]): each step's answers
    /// (`None` for a plain read), and the reading after them all, which every plain read takes.
    Sent {
        steps: Vec<Option<Result<Checked, String>>>,
        reading: Vec<Arc<ExchangeRecord>>,
    },
}

/// Runs the steps in order. A step that cannot be sent or completed makes its rules `Broken` and
/// every later step's rules `NotRun`; a run that stops makes the remaining steps `NotRun`.
pub(super) async fn run_case(
    session: &Arc<Session>,
    case: &Arc<Case>,
    sending: Sending,
) -> CaseRun {
    let (incoming, mut present) = match sending {
        Sending::InOrder { incoming } => (incoming, None),
        Sending::Sent { steps, reading } => (Some(reading.clone()), Some((steps, reading))),
    };
    let vars = session.vars().cloned().unwrap_or_default();
    let mut out = CaseVerdicts::new();
    let mut exchanges = vec![None; case.steps.len()];
    // What the remaining steps' rules become: not run after a failure, or stopped.
    let mut skip: Option<Observed> = None;
    let mut requests = 0;
    let mut changed_lists = Vec::new();
    let mut reads: Vec<Arc<ExchangeRecord>> = Vec::new();
    // Changes made by probes, until a step reads the list.
    let mut pending: Vec<Change> = Vec::new();
    // Each step's first answer, for rules that compare answers (`same_answer_as`).
    let mut answers = serde_json::Map::new();
    let mut other_reads: Vec<Arc<ExchangeRecord>> = Vec::new();
    // The last step's reading of the account, while nothing was sent after it.
    let mut fresh: Option<Vec<Arc<ExchangeRecord>>> = incoming;
    for (si, step) in case.steps.iter().enumerate() {
        if skip.is_none() {
            skip = session.stop_reason().map(Observed::Stopped);
        }
        if let Some(observed) = &skip {
            for ri in 0..step.rules.len() {
                out.insert((si, ri), TrialRecord::bare(observed.clone()));
            }
            continue;
        }
        let context = super::session::step_context(&case.id, &step.name);
        // A read of the primary user's list in a case that changes the account goes with a
        // read of the other user's: the model predicts both accounts after every change.
        let other = step.reads_own_list()
            && case.state.may_change()
            && session.target.credentials.foreign.is_some();
        // The reading the step before left, when this step takes it instead of reading again.
        let plain_read = step.is_plain_read();
        // Sent with other cases: a plain read takes the reading after them all, any other step
        // its answers.
        let (prior, ready) = match present.as_mut() {
            Some((_, reading)) if plain_read => (Some(reading.clone()), None),
            Some((steps, _)) => (
                None,
                Some(
                    steps
                        .get_mut(si)
                        .and_then(Option::take)
                        .unwrap_or_else(|| Err("the step was not sent with the others".into())),
                ),
            ),
            None => (fresh.take().filter(|_| case.reads_shared(si, true)), None),
        };
        let mut served = false;
        let sent = if let Some(ready) = ready {
            ready
        } else {
            match variations(session, step, &vars) {
                Ok(None) if plain_read && prior.is_some() => {
                    let records = prior.unwrap_or_default();
                    let mine = records
                        .iter()
                        .find(|r| r.credential == crate::api::Credential::Primary)
                        .cloned();
                    served = true;
                    fresh = Some(records);
                    mine.map(|record| Checked {
                        requests: 0,
                        ..Checked::unchecked(vec![(None, record)])
                    })
                    .ok_or_else(|| {
                        "the previous step's reading has no list of the primary user".to_string()
                    })
                }
                Ok(None) if other => {
                    let other_context = format!("{context} (the other user's list)");
                    let (mine, theirs) = tokio::join!(
                        send(session, step, &vars, context, None),
                        session.list_profiles(
                            &other_context,
                            crate::api::Credential::Foreign,
                            SendMode::Stoppable
                        )
                    );
                    requests += 1;
                    other_reads.push(theirs.clone());
                    mine.map(|record| {
                        if plain_read {
                            fresh = Some(vec![record.clone(), theirs]);
                        }
                        Checked::unchecked(vec![(None, record)])
                    })
                }
                Ok(None) => send(session, step, &vars, context, None)
                    .await
                    .map(|record| {
                        if plain_read {
                            fresh = Some(vec![record.clone()]);
                        }
                        Checked::unchecked(vec![(None, record)])
                    }),
                Ok(Some(variations)) => {
                    let on = StepSend {
                        session: session.clone(),
                        case: case.clone(),
                        si,
                        vars: vars.clone(),
                        context,
                        prior,
                        pool: None,
                    };
                    send_all(&on, variations)
                        .await
                        .inspect(|checked| fresh.clone_from(&checked.last_reading))
                }
                Err(why) => Err(why),
            }
        };
        let records = match sent {
            Ok(checked) => {
                requests += checked.requests;
                changed_lists.extend(checked.changes.iter().flat_map(|c| c.lists.iter().cloned()));
                pending.extend(checked.changes);
                reads.extend(checked.reads);
                checked.sent
            }
            Err(why) => {
                // A step cut off by a stop is not judged; one that could not be sent is broken.
                let (observed, later) = match session.stop_reason() {
                    Some(stop) => (Observed::Stopped(stop.clone()), Observed::Stopped(stop)),
                    None => (
                        Observed::Judged(Verdict::Broken(why.clone())),
                        Observed::NotRun(format!("step `{}` could not be sent: {why}", step.name)),
                    ),
                };
                for ri in 0..step.rules.len() {
                    out.insert((si, ri), TrialRecord::bare(observed.clone()));
                }
                skip = Some(later);
                continue;
            }
        };
        exchanges[si] = records.first().map(|(_, r)| r.clone());
        // A reading taken from the step before is judged there already.
        reads.extend(
            records
                .iter()
                .filter(|_| !served)
                .filter(|(_, r)| r.exchange.method == "GET" && r.path == crate::api::PROFILES_PATH)
                .map(|(_, r)| r.clone()),
        );
        let step_vars = {
            let mut v = vars.clone();
            v.set(Var::StepAnswers, Value::Object(answers.clone()));
            v
        };
        let bind = |vars: &Vars, record: &ExchangeRecord| session.bind(vars, record);
        if let Some((_, first)) = records.first()
            && let Ok(response) = &first.exchange.outcome
        {
            answers.insert(step.name.clone(), crate::check::answer_of(response));
        }
        if let Some(later) = judge_step(step, si, &records, &step_vars, &bind, &mut out) {
            skip = Some(later);
        } else if !pending.is_empty() && step.vary.is_empty() && step.reads_own_list() {
            judge_changes(step, si, &pending, &vars, &mut out);
            pending.clear();
        }
    }
    CaseRun {
        verdicts: out,
        exchanges,
        requests,
        changed_lists,
        reads,
        other_reads,
        last_reading: fresh,
    }
}

/// The sweep values or probes of a step, or `None` for a step sent once.
pub(super) fn variations(
    session: &Session,
    step: &Step,
    vars: &Vars,
) -> Result<Option<Vec<Variation>>, String> {
    if step.sweep.is_some() {
        let ids = session.sweep_ids();
        if ids.is_empty() {
            return Err("the sweep has no values (--sweep-size 0)".into());
        }
        return Ok(Some(
            ids.iter()
                .map(|&id| Variation {
                    label: format!("sweep_id={id}"),
                    sweep_id: Some(id),
                    probe: None,
                })
                .collect(),
        ));
    }
    if step.vary.is_empty() {
        return Ok(None);
    }
    let probes = probe::expand(&step.vary, vars)
        .map_err(|var| format!("the probes need `{var}`, which has no value in this run"))?;
    Ok(Some(
        probes
            .into_iter()
            .map(|p| Variation {
                label: p.label.clone(),
                sweep_id: None,
                probe: Some(p),
            })
            .collect(),
    ))
}

/// Judges every response of a step by every rule; returns what later steps' rules become, if a
/// request could not be completed (not run), or was cut off by a stop (stopped: not judged).
fn judge_step(
    step: &Step,
    si: usize,
    records: &[(Option<Variation>, Arc<ExchangeRecord>)],
    vars: &Vars,
    bind: &dyn Fn(&Vars, &ExchangeRecord) -> Vars,
    out: &mut CaseVerdicts,
) -> Option<Observed> {
    let n = records.len();
    let duration: Duration = records
        .iter()
        .map(|(_, r)| r.exchange.elapsed)
        .max()
        .unwrap_or_default();
    // A request that could not be completed: the step's rules cannot be judged.
    let broken: Vec<&(Option<Variation>, Arc<ExchangeRecord>)> = records
        .iter()
        .filter(|(_, r)| r.exchange.outcome.is_err())
        .collect();
    if let Some((variation, record)) = broken.first() {
        let Err(transport) = &record.exchange.outcome else {
            return None;
        };
        let why = match variation {
            Some(v) => format!(
                "{} of {n} requests could not be completed; the first ({}): {transport}",
                broken.len(),
                v.label
            ),
            None => transport.to_string(),
        };
        // The run stopped: say so, not that this step failed.
        let (observed, later) = match transport {
            TransportError::Cancelled(stop) => (
                Observed::Stopped(stop.clone()),
                Observed::Stopped(stop.clone()),
            ),
            _ => (
                Observed::Judged(Verdict::Broken(why)),
                Observed::NotRun(format!(
                    "step `{}` could not be completed: {transport}",
                    step.name
                )),
            ),
        };
        for ri in 0..step.rules.len() {
            out.insert(
                (si, ri),
                TrialRecord {
                    observed: observed.clone(),
                    exchange: Some(record.clone()),
                    duration,
                    notes: Vec::new(),
                },
            );
        }
        return Some(later);
    }
    for (ri, rule) in step.rules.iter().enumerate() {
        let mut failing: Vec<(&Variation, Verdict, &Arc<ExchangeRecord>)> = Vec::new();
        let mut first: Option<(Verdict, &Arc<ExchangeRecord>)> = None;
        for (variation, record) in records {
            let Ok(response) = &record.exchange.outcome else {
                continue;
            };
            let verdict = evaluate(
                rule,
                response,
                &bind(
                    &with_sweep_id(vars, variation.as_ref().and_then(|v| v.sweep_id)),
                    record,
                ),
            );
            if verdict.is_failure() {
                match variation {
                    Some(v) => failing.push((v, verdict, record)),
                    None => {
                        first.get_or_insert((verdict, record));
                    }
                }
            }
        }
        let result = match (first, failing.first()) {
            (Some((verdict, record)), _) => TrialRecord {
                observed: Observed::Judged(verdict),
                exchange: Some(record.clone()),
                duration,
                notes: Vec::new(),
            },
            (None, Some((variation, verdict, record))) => {
                let mut notes = vec![format!(
                    "{} of {n} responses broke the rule; the first was for {} (shown)",
                    failing.len(),
                    variation.label
                )];
                if variation.probe.is_some() {
                    notes.extend(
                        failing
                            .iter()
                            .skip(1)
                            .take(SHOWN_VARIATIONS)
                            .map(|(v, _, r)| format!("also {}: {}", v.label, curl_for(r))),
                    );
                }
                TrialRecord {
                    observed: Observed::Judged(verdict.clone()),
                    exchange: Some((*record).clone()),
                    duration,
                    notes,
                }
            }
            (None, None) => TrialRecord {
                observed: Observed::Judged(Verdict::Pass((n > 1).then(|| {
                    format!(
                        "all {n} responses of the {}",
                        if step.sweep.is_some() {
                            "sweep"
                        } else {
                            "probes"
                        }
                    )
                }))),
                exchange: records.first().map(|(_, r)| r.clone()),
                duration,
                notes: Vec::new(),
            },
        };
        out.insert((si, ri), result);
    }
    None
}

/// Judges the rules of a step that reads the primary user's list on the lists read just after
/// each change the probes before it made, as if it had read the list after each probe: a rule
/// broken by one of those lists fails, showing that list and naming the probes.
fn judge_changes(step: &Step, si: usize, changes: &[Change], vars: &Vars, out: &mut CaseVerdicts) {
    for (ri, rule) in step.rules.iter().enumerate() {
        let failing: Vec<(&Change, &Arc<ExchangeRecord>, Verdict)> = changes
            .iter()
            .filter_map(|change| {
                let list = change.lists.first()?;
                let Ok(response) = &list.exchange.outcome else {
                    return None;
                };
                let verdict = evaluate(rule, response, vars);
                verdict.is_failure().then_some((change, list, verdict))
            })
            .collect();
        let Some((change, list, verdict)) = failing.first() else {
            continue;
        };
        let mut notes = vec![match failing.len() {
            1 => format!(
                "the account changed after {}; the list read just after is shown",
                describe(change)
            ),
            n => format!(
                "the account changed after {} and {} more time{} ({} below); the list read \
                 just after the first is shown",
                describe(change),
                n - 1,
                if n == 2 { "" } else { "s" },
                if n - 1 > SHOWN_VARIATIONS {
                    format!("the first {SHOWN_VARIATIONS}")
                } else {
                    "each".to_string()
                },
            ),
        }];
        notes.extend(
            change
                .probes
                .iter()
                .zip(&change.requests)
                .map(|(label, request)| format!("{label}: {}", curl_for(request))),
        );
        notes.extend(
            failing
                .iter()
                .skip(1)
                .take(SHOWN_VARIATIONS)
                .map(|(c, _, _)| {
                    let curl = c.requests.first().map(|r| curl_for(r)).unwrap_or_default();
                    format!("also after {}: {curl}", describe(c))
                }),
        );
        let duration = out.get(&(si, ri)).map(|r| r.duration).unwrap_or_default();
        out.insert(
            (si, ri),
            TrialRecord {
                observed: Observed::Judged(verdict.clone()),
                exchange: Some((*list).clone()),
                duration,
                notes,
            },
        );
    }
}

/// `probe GET of step `safe``, or the probes sent together when none changed it alone.
fn describe(change: &Change) -> String {
    match change.probes.as_slice() {
        [one] => format!("probe `{one}` of step `{}`", change.step),
        many => format!(
            "{} probes of step `{}` sent together ({}); sent again in halves, none changed it",
            many.len(),
            change.step,
            many.iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Sends the step once per variation; results in order. How many at a time depends on what the
/// step's probes may do to the account.
async fn send_all(on: &StepSend, variations: Vec<Variation>) -> Result<Checked, String> {
    let step = on.step();
    let limit = if step.is_burst() {
        // A burst: its point is to arrive at once (the pacer still spaces it on a remote target).
        variations.len().max(1)
    } else if step.is_batch(on.case.state) {
        return batch::send_checked(on, variations).await;
    } else {
        on.session.target.concurrency.max(1)
    };
    let sent = send_limited(on, variations, limit).await?;
    Ok(Checked::unchecked(sent))
}
