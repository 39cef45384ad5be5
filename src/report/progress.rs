//! Live progress on stderr while a run is in flight (a paced run against a real deployment takes
//! 30 s or more): on a terminal one progress line (indicatif) naming the request in flight,
//! elsewhere (CI logs) one line per finished case. It only reads run events; the libtest report on
//! stdout is written after the run, as before.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::Output;
use crate::run::{RunEvent, RunObserver};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A progress line that redraws itself (a terminal).
    Bar,
    /// One line per finished case (a log).
    Lines,
    Off,
}

impl ProgressMode {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn detect() -> ProgressMode {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

/// What the plan says the run will send, for the bar's count and its ETA.
#[derive(Debug, Clone, Copy, Default)]
pub struct Planned {
    /// Requests the plan sends when the target keeps the account as it should.
    pub requests: usize,
    /// How long pacing alone makes those take (`None`: not paced).
    pub paced: Option<Duration>,
}

/// A [`RunObserver`] that shows progress, after the preamble (what is tested, and the fixtures
/// discovery found) once discovery is done.
pub struct Progress {
    mode: ProgressMode,
    output: Output,
    /// `target: URL (kind)`, or `None` when the console is quiet.
    preamble: Option<String>,
    planned: Planned,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    sent: usize,
}

impl Progress {
    pub fn new(
        mode: ProgressMode,
        output: Output,
        preamble: Option<String>,
        planned: Planned,
    ) -> Progress {
        Progress {
            mode,
            output,
            preamble,
            planned,
            state: Mutex::new(State::default()),
        }
    }

    /// A line that stays: above the bar on a terminal (redacted, as everything shown), or a
    /// line of the log.
    fn keep(&self, state: &State, text: &str) {
        match &state.bar {
            Some(bar) => bar.println(self.output.redact(&format!("  {text}"))),
            None => self.line(state, text),
        }
    }

    fn line(&self, state: &State, text: &str) {
        let width = state.total.to_string().len();
        self.output
            .err(&format!("[{:>width$}/{}] {text}", state.done, state.total));
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `1m05s`, or `12s`.
fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

impl RunObserver for Progress {
    fn on_event(&self, event: &RunEvent<'_>) {
        if let (RunEvent::Started { fixtures, .. }, Some(preamble)) = (event, &self.preamble) {
            self.output.err(preamble);
            if !fixtures.is_empty() {
                let fixtures: Vec<String> =
                    fixtures.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.output
                    .err(&format!("fixtures: {}", fixtures.join(", ")));
            }
        }
        if let RunEvent::WaitingForLock { holder } = event {
            // Said whatever the progress mode: the run is waiting, not hanging.
            self.output.err(&format!(
                "waiting for another run on this machine that tests the same account ({holder})"
            ));
            return;
        }
        if let RunEvent::Recovered { original } = event {
            // Said whatever the progress mode: the account was changed before this run began.
            self.output.err(&format!(
                "an earlier run against this target was stopped before its restore: the recorded \
                 original default {original} was put back first"
            ));
            return;
        }
        if self.mode == ProgressMode::Off {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            RunEvent::Started { cases, .. } => {
                state.total = *cases;
                if self.mode == ProgressMode::Bar {
                    // Counted in requests, the plan's unit; the ETA is the plan's paced time
                    // left when the run is paced, or what the rate so far predicts if longer.
                    let planned = self.planned.requests.max(1);
                    let bar = ProgressBar::with_draw_target(
                        Some(planned as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    let paced = self.planned.paced;
                    let template = "{spinner} [{elapsed}] {pos}/{len} requests · {prefix} · ETA {plan_eta} {wide_msg}";
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        bar.set_style(style.with_key(
                            "plan_eta",
                            move |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                // Pacing sets a floor; the rate so far says how far above
                                // it the target's latency puts the run.
                                let left = match paced {
                                    Some(total) => total.saturating_sub(s.elapsed()).max(s.eta()),
                                    None => s.eta(),
                                };
                                let _ = write!(w, "{}", clock(left));
                            },
                        ));
                    }
                    bar.set_prefix(format!("0/{} cases", *cases));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    state.bar = Some(bar);
                }
            }
            RunEvent::RequestSent {
                context,
                method,
                path,
            } => {
                state.sent += 1;
                if let Some(bar) = &state.bar {
                    // Restores a faulty target makes necessary go beyond the plan.
                    if state.sent as u64 > bar.length().unwrap_or(0) {
                        bar.set_length(state.sent as u64);
                    }
                    bar.set_position(state.sent as u64);
                    bar.set_message(self.output.redact(&format!("{context}: {method} {path}")));
                }
            }
            RunEvent::Answered {
                context, retries, ..
            } if *retries > 0 => {
                let text =
                    format!("{context}: throttled {retries} time(s), waited out Retry-After");
                match &state.bar {
                    Some(bar) => bar.set_message(self.output.redact(&text)),
                    None => self.line(&state, &text),
                }
            }
            RunEvent::CaseFinished {
                case,
                judged,
                failed,
                requests,
                duration,
            } => {
                state.done += 1;
                if let Some(bar) = &state.bar {
                    bar.set_prefix(format!("{}/{} cases", state.done, state.total));
                }
                let verdict = match (*failed, *judged) {
                    (0, 0) => "not judged".to_string(),
                    (0, _) => "ok".to_string(),
                    (n, _) => format!("{n} FAILED"),
                };
                let text = format!(
                    "{case}: {verdict} ({}, {}, {})",
                    count(*judged, "trial"),
                    count(*requests, "request"),
                    seconds(*duration)
                );
                self.keep(&state, &text);
            }
            RunEvent::CaseSkipped { case, reason } => {
                state.done += 1;
                if let Some(bar) = &state.bar {
                    bar.set_prefix(format!("{}/{} cases", state.done, state.total));
                }
                let text = format!("{case}: not judged, needs a fixture ({reason})");
                self.keep(&state, &text);
            }
            RunEvent::Restoring => {
                if let Some(bar) = &state.bar {
                    bar.set_message("checking that the account is as it was found");
                }
            }
            RunEvent::Finished { .. } => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
            }
            RunEvent::CaseStarted { .. }
            | RunEvent::Answered { .. }
            | RunEvent::WaitingForLock { .. }
            | RunEvent::Recovered { .. } => {}
        }
    }
}
