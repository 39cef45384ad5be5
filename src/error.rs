//! The one error type of loading: a problem with the user's input (flags, case or schema files).
//!
//! It names the file, the position (line:column and/or JSON pointer) and says how to fix it.
//! Everything after loading turns problems into verdicts instead.

use std::fmt;

/// Bad input: exit code 2, and nothing is sent to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or directory, or flag) at fault, as the user would name it.
    pub file: String,
    /// 1-based line and column, when the JSON parser knows them.
    pub position: Option<(usize, usize)>,
    /// JSON pointer inside the file, when known.
    pub pointer: Option<String>,
    /// A lowercase fragment saying what is wrong and how to fix it.
    pub message: String,
}

impl LoadError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError {
            file: file.into(),
            position: None,
            pointer: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, pointer: impl Into<String>) -> LoadError {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn line_column(mut self, line: usize, column: usize) -> LoadError {
        self.position = Some((line, column));
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(pointer) = &self.pointer {
            write!(f, " at #{pointer}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Turns a `serde_json` parse error of `file` into a `LoadError` with its position.
pub fn from_json_error(file: &str, err: &serde_json::Error) -> LoadError {
    let message = err.to_string();
    // serde_json appends " at line L column C"; the position is shown in front instead.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let message = if err.is_syntax() || err.is_eof() {
        format!("invalid JSON: {message}")
    } else {
        message
    };
    LoadError::new(file, message).line_column(err.line(), err.column())
}

/// Parses `text` (the contents of `file`) as `T`: a syntax error gives line and column, a shape
/// error the JSON pointer and a "did you mean" for a misspelt field or variant. Trailing
/// characters after the value are an error too.
///
/// # Errors
/// The first problem, as a [`LoadError`].
pub fn parse_json<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, LoadError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let pointer = path_to_pointer(err.path());
        let inner = err.into_inner();
        let mut e = from_json_error(file, &inner);
        if !inner.is_syntax() && !inner.is_eof() {
            e.message = crate::suggest::annotate_serde_message(&e.message);
            e.pointer = Some(pointer);
        }
        e
    })?;
    de.end().map_err(|err| from_json_error(file, &err))?;
    Ok(parsed)
}

/// A serde path as an RFC 6901 JSON pointer (`/steps/0/rules/1`).
pub fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape_pointer(key));
            }
            Segment::Enum { variant } => {
                out.push('/');
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// One JSON pointer token (RFC 6901 §3): `~` → `~0`, `/` → `~1`.
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
