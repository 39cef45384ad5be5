//! The one redacting output: every line the harness writes — stdout, stderr, files — passes
//! through the run's [`Redactor`]. The app creates one `Output`; clones share its redactor, so a
//! secret learnt late (a signed-in token, a token the target echoed) is hidden from every channel
//! at once, including ones opened before it was learnt.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use crate::error::{LoadError, MAX_ERRORS};
use crate::exit;
use crate::record::ExchangeRecord;
use crate::redact::Redactor;

/// Writes to stdout, stderr and files, redacting everything.
#[derive(Debug, Clone, Default)]
pub struct Output {
    redactor: Arc<RwLock<Redactor>>,
}

impl Output {
    pub fn new(redactor: Redactor) -> Output {
        Output {
            redactor: Arc::new(RwLock::new(redactor)),
        }
    }

    /// Hides `secret` (and its encoded forms) from now on, on every clone of this output.
    pub fn learn(&self, secret: &str) {
        self.redactor
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add(secret);
    }

    /// Learns every value a target sent under a secret-like key (`User.AccessToken`).
    pub fn learn_from_exchanges(&self, exchanges: &[Arc<ExchangeRecord>]) {
        let mut redactor = self.redactor.write().unwrap_or_else(|e| e.into_inner());
        for record in exchanges {
            if let Ok(response) = &record.exchange.outcome
                && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body)
            {
                redactor.add_from_json(&body);
            }
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .redact(text)
    }

    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", self.redact(text));
    }

    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", self.redact(text));
    }

    /// Writes a file, redacted.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_file(&self, path: &std::path::Path, text: &str) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.redact(text))
    }

    /// Prints a load error (bad input) and returns exit code 2.
    pub fn load_error(&self, e: &LoadError) -> ExitCode {
        use std::io::IsTerminal as _;
        self.err(&render_load_error(e, std::io::stderr().is_terminal()));
        ExitCode::from(exit::BAD_INPUT)
    }
}

/// A load error and the others found with it, as rustc shows errors: the one-line message
/// (`error: file:line:column at #pointer: what and how to fix it`), then the line of the file it
/// is about with a caret under the spot, for each error up to [`MAX_ERRORS`].
pub fn render_load_error(e: &LoadError, color: bool) -> String {
    use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let all: Vec<&LoadError> = std::iter::once(e).chain(&e.also).collect();
    let mut out: Vec<String> = all
        .iter()
        .take(MAX_ERRORS)
        .map(|e| {
            let title = e.to_string();
            match (e.source.as_deref(), e.span()) {
                (Some(text), Some(span)) => {
                    renderer.render(&[Level::ERROR.primary_title(title.as_str()).element(
                        Snippet::source(text)
                            .line_start(1)
                            .fold(true)
                            .annotation(AnnotationKind::Primary.span(span)),
                    )])
                }
                _ => format!("error: {title}"),
            }
        })
        .collect();
    if all.len() > MAX_ERRORS {
        out.push(format!(
            "error: {} more errors not shown; fix these first",
            all.len() - MAX_ERRORS
        ));
    }
    if all.len() > 1 {
        out.push(format!("error: {} errors; nothing was sent", all.len()));
    }
    out.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_errors_are_shown_up_to_the_limit_then_counted() {
        let text: std::sync::Arc<str> = std::sync::Arc::from("{\n  \"a\": 1\n}\n");
        let one = |i: usize| LoadError {
            source: Some(text.clone()),
            ..LoadError::new(format!("f{i}.json"), "bad").at("/a")
        };
        let e = LoadError::all((0..MAX_ERRORS + 5).map(one).collect()).unwrap();
        let shown = render_load_error(&e, false);
        assert_eq!(
            shown.matches("2 |   \"a\": 1").count(),
            MAX_ERRORS,
            "{shown}"
        );
        assert!(
            shown.contains("error: 5 more errors not shown; fix these first"),
            "{shown}"
        );
        assert!(
            shown.ends_with("error: 25 errors; nothing was sent"),
            "{shown}"
        );
        // One error without its file's text: the one line, as before.
        assert_eq!(
            render_load_error(&LoadError::new("--timeout", "must be positive"), false),
            "error: --timeout: must be positive"
        );
    }

    #[test]
    fn a_secret_learnt_late_is_hidden_by_every_clone() {
        let output = Output::new(Redactor::new(["given-token-1234"]));
        let early = output.clone();
        output.learn("signed-in-token-5678");
        assert_eq!(
            early.redact("given-token-1234 signed-in-token-5678"),
            "[REDACTED] [REDACTED]"
        );
    }
}
