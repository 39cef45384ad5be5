//! Running one case: its steps in order, each request judged by the step's rules. A sweep step
//! sends one request per sweep value, `concurrency` at a time, and judges every response.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinSet;

use super::session::{SendMode, Session};
use crate::case::{Case, Step, Var, Vars};
use crate::check::{Verdict, evaluate};
use crate::http::{HttpRequest, TransportError};
use crate::record::{ExchangeRecord, Observed, TrialRecord};

/// (step, rule) → result.
pub(super) type CaseVerdicts = BTreeMap<(usize, usize), TrialRecord>;

/// What running a case produced: a result per rule, each step's exchange (`None` when the step
/// was not sent; for a sweep, its first request), and how many requests it sent.
pub(super) struct CaseRun {
    pub verdicts: CaseVerdicts,
    pub exchanges: Vec<Option<Arc<ExchangeRecord>>>,
    pub requests: usize,
}

/// Runs the steps in order. A step that cannot be sent or completed makes its rules `Broken` and
/// every later step's rules `NotRun`; a run that stops makes the remaining steps `NotRun`.
pub(super) async fn run_case(session: &Arc<Session>, case: &Arc<Case>) -> CaseRun {
    let vars = session.vars().cloned().unwrap_or_default();
    let mut out = CaseVerdicts::new();
    let mut exchanges = vec![None; case.steps.len()];
    let mut skip: Option<String> = None;
    let mut requests = 0;
    for (si, step) in case.steps.iter().enumerate() {
        if skip.is_none() {
            skip = session.stop_reason();
        }
        if let Some(reason) = &skip {
            for ri in 0..step.rules.len() {
                out.insert(
                    (si, ri),
                    TrialRecord::bare(Observed::NotRun(reason.clone())),
                );
            }
            continue;
        }
        let context = format!("{}/{}", case.id, step.name);
        let sent = if step.sweep.is_some() {
            sweep(session, case, si, &vars, &context).await
        } else {
            send(session, step, &vars, context, None)
                .await
                .map(|record| vec![(None, record)])
        };
        let records = match sent {
            Ok(records) => records,
            Err(why) => {
                for ri in 0..step.rules.len() {
                    out.insert(
                        (si, ri),
                        TrialRecord::bare(Observed::Judged(Verdict::Broken(why.clone()))),
                    );
                }
                skip = Some(format!("step `{}` could not be sent: {why}", step.name));
                continue;
            }
        };
        exchanges[si] = records.first().map(|(_, r)| r.clone());
        let n = records.len();
        requests += n;
        let duration: Duration = records
            .iter()
            .map(|(_, r)| r.exchange.elapsed)
            .max()
            .unwrap_or_default();
        // A request that could not be completed: the step's rules cannot be judged.
        let broken: Vec<&(Option<i64>, Arc<ExchangeRecord>)> = records
            .iter()
            .filter(|(_, r)| r.exchange.outcome.is_err())
            .collect();
        if let Some((id, record)) = broken.first() {
            let Err(transport) = &record.exchange.outcome else {
                continue;
            };
            let why = match id {
                Some(id) => format!(
                    "{} of {n} requests could not be completed; the first (sweep_id={id}): {transport}",
                    broken.len()
                ),
                None => transport.to_string(),
            };
            for ri in 0..step.rules.len() {
                out.insert(
                    (si, ri),
                    TrialRecord {
                        observed: Observed::Judged(Verdict::Broken(why.clone())),
                        exchange: Some(record.clone()),
                        duration,
                        notes: Vec::new(),
                    },
                );
            }
            skip = Some(match transport {
                // The run stopped: say so, not that this step failed.
                TransportError::Cancelled(why) => why.clone(),
                _ => format!("step `{}` could not be completed: {transport}", step.name),
            });
            continue;
        }
        for (ri, rule) in step.rules.iter().enumerate() {
            let mut failures = 0;
            let mut first: Option<(Option<i64>, Verdict, &Arc<ExchangeRecord>)> = None;
            for (id, record) in &records {
                let Ok(response) = &record.exchange.outcome else {
                    continue;
                };
                let verdict = evaluate(rule, response, &with_sweep_id(&vars, *id));
                if verdict.is_failure() {
                    failures += 1;
                    first.get_or_insert((*id, verdict, record));
                }
            }
            let result = match first {
                None => TrialRecord {
                    observed: Observed::Judged(Verdict::Pass(
                        (n > 1).then(|| format!("all {n} responses of the sweep")),
                    )),
                    exchange: records.first().map(|(_, r)| r.clone()),
                    duration,
                    notes: Vec::new(),
                },
                Some((id, verdict, record)) => TrialRecord {
                    notes: match (id, &verdict) {
                        (Some(id), Verdict::Violation(_)) => vec![format!(
                            "{failures} of {n} responses broke the rule; the first was for sweep_id={id} (shown)"
                        )],
                        _ => Vec::new(),
                    },
                    observed: Observed::Judged(verdict),
                    exchange: Some(record.clone()),
                    duration,
                },
            };
            out.insert((si, ri), result);
        }
    }
    CaseRun {
        verdicts: out,
        exchanges,
        requests,
    }
}

fn with_sweep_id(vars: &Vars, id: Option<i64>) -> Vars {
    match id {
        Some(id) => {
            let mut vars = vars.clone();
            vars.set(Var::SweepId, Value::from(id));
            vars
        }
        None => vars.clone(),
    }
}

/// Sends the step once, with `{{sweep_id}}` bound to `id` if given.
async fn send(
    session: &Session,
    step: &Step,
    vars: &Vars,
    context: String,
    id: Option<i64>,
) -> Result<Arc<ExchangeRecord>, String> {
    let vars = with_sweep_id(vars, id);
    let (path, query) = render_request(&vars, step)
        .map_err(|var| format!("variable `{{{{{var}}}}}` has no value in this run"))?;
    let request = HttpRequest {
        method: step.request.method.as_str(),
        path,
        query,
        ..HttpRequest::default()
    };
    Ok(session
        .send(
            context,
            request,
            step.request.credential,
            SendMode::Stoppable,
        )
        .await)
}

/// Sends step `si` once per sweep id, at most `concurrency` at a time; results in id order.
async fn sweep(
    session: &Arc<Session>,
    case: &Arc<Case>,
    si: usize,
    vars: &Vars,
    context: &str,
) -> Result<Vec<(Option<i64>, Arc<ExchangeRecord>)>, String> {
    let ids = session.sweep_ids().to_vec();
    if ids.is_empty() {
        return Err("the sweep has no values (--sweep-size 0)".into());
    }
    let limit = session.target.concurrency.max(1);
    let mut tasks: JoinSet<(usize, Result<Arc<ExchangeRecord>, String>)> = JoinSet::new();
    let mut results: Vec<Option<Arc<ExchangeRecord>>> = vec![None; ids.len()];
    let mut error = None;
    let mut next = 0;
    while next < ids.len() || !tasks.is_empty() {
        while next < ids.len() && tasks.len() < limit {
            let (session, case, vars) = (session.clone(), case.clone(), vars.clone());
            let (id, index, context) = (ids[next], next, context.to_string());
            tasks.spawn(async move {
                (
                    index,
                    send(&session, &case.steps[si], &vars, context, Some(id)).await,
                )
            });
            next += 1;
        }
        match tasks.join_next().await {
            Some(Ok((index, Ok(record)))) => results[index] = Some(record),
            Some(Ok((_, Err(why)))) => error = Some(why),
            Some(Err(e)) => error = Some(format!("harness error in the sweep: {e}")),
            None => break,
        }
    }
    if let Some(why) = error {
        return Err(why);
    }
    Ok(ids
        .into_iter()
        .zip(results)
        .filter_map(|(id, record)| record.map(|r| (Some(id), r)))
        .collect())
}

fn render_request(vars: &Vars, step: &Step) -> Result<(String, Vec<(String, String)>), Var> {
    let path = step.request.path.render_text(vars)?;
    let query = step
        .request
        .query
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.render_text(vars)?)))
        .collect::<Result<Vec<_>, Var>>()?;
    Ok((path, query))
}
