//! Sending a step's requests: the step as one request, or once per variation (a sweep value or a
//! probe), a bounded number at a time. What to send, not what to make of the answers.

use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinSet;

use super::session::{SendMode, Session};
use crate::api::TokenVariant;
use crate::case::{Case, Step, Var, Vars};
use crate::http::HttpRequest;
use crate::probe::Probe;
use crate::record::ExchangeRecord;

/// One of several requests a step sends: a sweep value or a probe.
#[derive(Clone)]
pub(super) struct Variation {
    /// `sweep_id=999999937`, or the probe's label.
    pub label: String,
    /// Bound to `{{sweep_id}}` while the request is built and judged.
    pub sweep_id: Option<i64>,
    pub probe: Option<Probe>,
}

/// What a step sent: each request with its variation (`None` for a step sent once), in order.
pub(super) type Sent = Vec<(Option<Variation>, Arc<ExchangeRecord>)>;

pub(super) fn with_sweep_id(vars: &Vars, id: Option<i64>) -> Vars {
    match id {
        Some(id) => {
            let mut vars = vars.clone();
            vars.set(Var::SweepId, Value::from(id));
            vars
        }
        None => vars.clone(),
    }
}

/// Sends the step once, as the variation (if any) changes it.
pub(super) async fn send(
    session: &Session,
    step: &Step,
    vars: &Vars,
    context: String,
    variation: Option<&Variation>,
) -> Result<Arc<ExchangeRecord>, String> {
    let vars = with_sweep_id(vars, variation.and_then(|v| v.sweep_id));
    let (path, query) = render_request(&vars, step)
        .map_err(|var| format!("variable `{{{{{var}}}}}` has no value in this run"))?;
    let probe = variation.and_then(|v| v.probe.as_ref());
    let method = probe
        .and_then(|p| p.method)
        .unwrap_or(step.request.method)
        .as_str();
    let request = HttpRequest {
        method,
        path,
        query,
        raw_query: probe.and_then(|p| p.raw_query.clone()),
        ..HttpRequest::default()
    };
    let token: Option<TokenVariant> = probe.and_then(|p| p.token);
    Ok(session
        .send_varied(
            context,
            request,
            step.request.credential,
            token,
            SendMode::Stoppable,
        )
        .await)
}

/// A step whose variations are being sent: what each of its requests is built from.
#[derive(Clone)]
pub(super) struct StepSend {
    pub session: Arc<Session>,
    pub case: Arc<Case>,
    /// The step's index in the case.
    pub si: usize,
    pub vars: Vars,
    /// `case/step`, for the exchanges.
    pub context: String,
    /// The account as the step before last read it, when this step takes that reading
    /// instead of reading again (`Case::reads_shared_with_previous`).
    pub prior: Option<Vec<Arc<crate::record::ExchangeRecord>>>,
    /// The slots shared by the cases sent together: each request takes one while in flight.
    pub pool: Option<Arc<tokio::sync::Semaphore>>,
}

impl StepSend {
    pub fn step(&self) -> &Step {
        &self.case.steps[self.si]
    }
}

/// Sends the step once per variation, at most `limit` at a time; results in order.
pub(super) async fn send_limited(
    on: &StepSend,
    variations: Vec<Variation>,
    limit: usize,
) -> Result<Sent, String> {
    let mut tasks: JoinSet<(usize, Result<Arc<ExchangeRecord>, String>)> = JoinSet::new();
    let mut results: Vec<Option<Arc<ExchangeRecord>>> = vec![None; variations.len()];
    let mut error = None;
    let mut next = 0;
    while next < variations.len() || !tasks.is_empty() {
        while next < variations.len() && tasks.len() < limit {
            let (on, variation, index) = (on.clone(), variations[next].clone(), next);
            tasks.spawn(async move {
                let _slot = match &on.pool {
                    Some(pool) => pool.acquire().await.ok(),
                    None => None,
                };
                let sent = send(
                    &on.session,
                    on.step(),
                    &on.vars,
                    on.context.clone(),
                    Some(&variation),
                )
                .await;
                (index, sent)
            });
            next += 1;
        }
        match tasks.join_next().await {
            Some(Ok((index, Ok(record)))) => results[index] = Some(record),
            Some(Ok((_, Err(why)))) => error = Some(why),
            Some(Err(e)) => error = Some(format!("harness error while sending: {e}")),
            None => break,
        }
    }
    if let Some(why) = error {
        return Err(why);
    }
    Ok(variations
        .into_iter()
        .zip(results)
        .filter_map(|(variation, record)| record.map(|r| (Some(variation), r)))
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
