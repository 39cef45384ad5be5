//! Running one case: its steps in order, each request judged by the step's rules.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use super::session::{SendMode, Session};
use super::{ExchangeRecord, TrialResult};
use crate::case::{Case, Step, Var, Vars};
use crate::check::{Verdict, evaluate};

/// (step, rule) → result.
pub(super) type CaseVerdicts = BTreeMap<(usize, usize), TrialResult>;

/// What running a case produced: a result per rule, and each step's exchange (`None` when the
/// step was not sent).
pub(super) struct CaseRun {
    pub verdicts: CaseVerdicts,
    pub exchanges: Vec<Option<Arc<ExchangeRecord>>>,
}

/// Runs the steps in order. A step that cannot be sent or completed makes its rules `Broken` and
/// every later step's rules `NotRun`; a run that stops makes the remaining steps `NotRun`.
pub(super) async fn run_case(session: &Session, case: &Case) -> CaseRun {
    let vars = session.vars().cloned().unwrap_or_default();
    let mut out = CaseVerdicts::new();
    let mut exchanges = vec![None; case.steps.len()];
    let mut skip: Option<String> = None;
    for (si, step) in case.steps.iter().enumerate() {
        if skip.is_none() {
            skip = session.stop_reason();
        }
        let each_rule = |out: &mut CaseVerdicts, verdict: &Verdict| {
            for ri in 0..step.rules.len() {
                out.insert((si, ri), TrialResult::bare(verdict.clone()));
            }
        };
        if let Some(reason) = &skip {
            each_rule(&mut out, &Verdict::NotRun(reason.clone()));
            continue;
        }
        let (path, query) = match render_request(&vars, step) {
            Ok(r) => r,
            Err(var) => {
                let why = format!("variable `{{{{{var}}}}}` has no value in this run");
                each_rule(&mut out, &Verdict::Broken(why.clone()));
                skip = Some(format!("step `{}` could not be sent: {why}", step.name));
                continue;
            }
        };
        let record = session
            .send(
                format!("{}/{}", case.id, step.name),
                step.request.method.as_str(),
                &path,
                query,
                step.request.credential,
                SendMode::Stoppable,
            )
            .await;
        let duration: Duration = record.exchange.elapsed;
        exchanges[si] = Some(record.clone());
        match &record.exchange.outcome {
            Err(transport) => {
                for ri in 0..step.rules.len() {
                    out.insert(
                        (si, ri),
                        TrialResult {
                            verdict: Verdict::Broken(transport.to_string()),
                            exchange: Some(record.clone()),
                            duration,
                        },
                    );
                }
                skip = Some(match transport {
                    // The run stopped: say so, not that this step failed.
                    crate::http::TransportError::Cancelled(why) => why.clone(),
                    _ => format!("step `{}` could not be completed: {transport}", step.name),
                });
            }
            Ok(response) => {
                for (ri, rule) in step.rules.iter().enumerate() {
                    out.insert(
                        (si, ri),
                        TrialResult {
                            verdict: evaluate(rule, response, &vars),
                            exchange: Some(record.clone()),
                            duration,
                        },
                    );
                }
            }
        }
    }
    CaseRun {
        verdicts: out,
        exchanges,
    }
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
