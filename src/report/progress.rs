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

/// A [`RunObserver`] that shows progress, after the preamble (what is tested, and the fixtures
/// discovery found) once discovery is done.
pub struct Progress {
    mode: ProgressMode,
    output: Output,
    /// `target: URL (kind)`, or `None` when the console is quiet.
    preamble: Option<String>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    pub fn new(mode: ProgressMode, output: Output, preamble: Option<String>) -> Progress {
        Progress {
            mode,
            output,
            preamble,
            state: Mutex::new(State::default()),
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
                    let bar = ProgressBar::with_draw_target(
                        Some(*cases as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    if let Ok(style) = ProgressStyle::with_template(
                        "{spinner} [{elapsed}] {pos}/{len} cases {wide_msg}",
                    ) {
                        bar.set_style(style);
                    }
                    bar.enable_steady_tick(Duration::from_millis(120));
                    state.bar = Some(bar);
                }
            }
            RunEvent::RequestSent {
                context,
                method,
                path,
            } => {
                if let Some(bar) = &state.bar {
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
                match &state.bar {
                    Some(bar) => bar.inc(1),
                    None => {
                        let verdict = if *failed == 0 {
                            "ok".to_string()
                        } else {
                            format!("{failed} FAILED")
                        };
                        let text = format!(
                            "{case}: {verdict} ({}, {}, {})",
                            count(*judged, "trial"),
                            count(*requests, "request"),
                            seconds(*duration)
                        );
                        self.line(&state, &text);
                    }
                }
            }
            RunEvent::CaseSkipped { case, reason } => {
                state.done += 1;
                match &state.bar {
                    Some(bar) => bar.inc(1),
                    None => {
                        let text = format!("{case}: not run ({reason})");
                        self.line(&state, &text);
                    }
                }
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
            | RunEvent::Recovered { .. } => {}
        }
    }
}
