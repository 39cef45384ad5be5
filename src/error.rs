//! The one error type of loading: a problem with the user's input (flags, case or schema files).
//!
//! It names the file, the position (line:column and/or JSON pointer) and says how to fix it.
//! Everything after loading turns problems into verdicts instead.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Bad input: exit code 2, and nothing is sent to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or directory, or flag) at fault, as the user would name it.
    pub file: String,
    /// 1-based line and column, when the JSON parser knows them (or the pointer, in the file's
    /// text).
    pub position: Option<(u32, u32)>,
    /// JSON pointer inside the file, when known.
    pub pointer: Option<String>,
    /// A lowercase fragment saying what is wrong and how to fix it.
    pub message: String,
    /// The file's text, when it is known, so the error can show the line it is about.
    pub source: Option<Arc<str>>,
    /// Further errors found in the same load (other files), shown after this one.
    pub also: Box<[LoadError]>,
}

/// How many errors one load reports before it says how many more there are.
pub const MAX_ERRORS: usize = 20;

impl LoadError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError {
            file: file.into(),
            position: None,
            pointer: None,
            message: message.into(),
            source: None,
            also: Box::default(),
        }
    }

    /// The errors as one: the first, with the others to show after it.
    pub fn all(mut errors: Vec<LoadError>) -> Option<LoadError> {
        if errors.is_empty() {
            return None;
        }
        let mut first = errors.remove(0);
        first.also = errors.into_boxed_slice();
        Some(first)
    }

    /// Attaches the text of each error's file, as `find` gives it for the file's path, and the
    /// line and column of what an error's pointer names when the parser gave none.
    pub fn with_sources(mut self, find: &dyn Fn(&str) -> Option<Arc<str>>) -> LoadError {
        let attach = |e: &mut LoadError| {
            if e.source.is_none() {
                e.source = find(&e.file);
            }
            if e.position.is_none()
                && let (Some(text), Some(span)) = (e.source.clone(), e.span())
            {
                let before = &text[..span.start];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                e.position = Some(position(line, column));
            }
        };
        attach(&mut self);
        for e in self.also.iter_mut() {
            attach(e);
        }
        self
    }

    /// The bytes of the file this error is about: the JSON member its pointer names (the nearest
    /// enclosing value when it names something missing), or else its line and column.
    pub fn span(&self) -> Option<Range<usize>> {
        let text = self.source.as_deref()?;
        if let Some(span) = self.pointer.as_deref().and_then(|p| locate(text, p)) {
            return Some(span);
        }
        if let Some((line, column)) = self.position {
            let (line, column) = (line as usize, column as usize);
            let start = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum::<usize>();
            let line_len = text[start..].find('\n').unwrap_or(text.len() - start);
            let mut at = start + column.saturating_sub(1).min(line_len);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let end = text[at..]
                .char_indices()
                .nth(1)
                .map_or(text.len(), |(i, _)| at + i);
            return Some(at..end.max(at));
        }
        None
    }

    pub fn at(mut self, pointer: impl Into<String>) -> LoadError {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn line_column(mut self, line: usize, column: usize) -> LoadError {
        self.position = Some(position(line, column));
        self
    }
}

/// A 1-based line and column as stored (a file of 4 billion lines is not a case file).
fn position(line: usize, column: usize) -> (u32, u32) {
    let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (narrow(line), narrow(column))
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

/// Where the JSON value at `pointer` is written in `text`: for an object member the pointer
/// names as its last token, the member (its key, when the value spans lines); for a member or
/// index that does not exist, the nearest value that does.
pub fn locate(text: &str, pointer: &str) -> Option<Range<usize>> {
    use jsonc_parser::ast::Value;
    use jsonc_parser::common::Ranged;
    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions::default(),
        &jsonc_parser::ParseOptions::default(),
    )
    .ok()?;
    let mut value = parsed.value?;
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let range = |r: jsonc_parser::common::Range| r.start..r.end;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let next = match value {
            Value::Object(object) => {
                let Some(prop) = object
                    .properties
                    .into_iter()
                    .find(|p| p.name.as_str() == token)
                else {
                    return Some(range(object.range));
                };
                if last {
                    // A member whose value fits on its line: all of it; else its key.
                    return Some(match prop.value {
                        Value::Object(_) | Value::Array(_) => range(prop.name.range()),
                        _ => range(prop.range),
                    });
                }
                prop.value
            }
            Value::Array(array) => {
                let r = array.range;
                match token
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| array.elements.into_iter().nth(n))
                {
                    Some(element) => element,
                    None => return Some(range(r)),
                }
            }
            other => return Some(range(other.range())),
        };
        value = next;
    }
    Some(range(value.range()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_finds_the_member_or_the_nearest_value() {
        let text = "{\n  \"steps\": [\n    {\"name\": \"a\", \"x/y\": {\"k\": 1}}\n  ]\n}";
        let at = |p: &str| locate(text, p).map(|r| &text[r]);
        assert_eq!(at("/steps/0/name"), Some("\"name\": \"a\""));
        // A member whose value is an object: its key.
        assert_eq!(at("/steps/0/x~1y"), Some("\"x/y\""));
        // Missing: the nearest enclosing value.
        assert_eq!(
            at("/steps/0/nope"),
            Some("{\"name\": \"a\", \"x/y\": {\"k\": 1}}")
        );
        assert_eq!(
            at("/steps/5"),
            Some("[\n    {\"name\": \"a\", \"x/y\": {\"k\": 1}}\n  ]")
        );
        assert_eq!(locate("not json", "/a"), None);
        // The pointer's line and column are filled in when the file is known.
        let e = LoadError::new("f.json", "bad")
            .at("/steps/0/name")
            .with_sources(&|_| Some(Arc::from(text)));
        assert_eq!(e.position, Some((3, 6)));
        assert_eq!(e.to_string(), "f.json:3:6 at #/steps/0/name: bad");
    }
}
