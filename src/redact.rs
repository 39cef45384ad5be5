//! Secret redaction, applied by `report` to every byte the harness writes (stdout, stderr, files).
//!
//! Secrets are the tokens the run was given plus every value the target sent under a secret-like
//! JSON key (`User.AccessToken` echoes the bearer token). Each is also hidden in its base64 forms
//! (at all three alignments, as inside a `Basic` header) and its percent-encoded form.

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::Value;

pub const MASK: &str = "[REDACTED]";

/// Shorter strings are not treated as secrets: masking them would garble ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// JSON keys whose string values are secrets, compared case-insensitively without `_`.
const SECRET_KEYS: [&str; 6] = [
    "accesstoken",
    "refreshtoken",
    "token",
    "password",
    "secret",
    "apikey",
];

/// Replaces known secrets in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first so that a longer form is replaced whole.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut r = Redactor::default();
        for s in secrets {
            r.add(s.as_ref());
        }
        r
    }

    /// Adds a secret and its encoded forms.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let mut forms = vec![secret.to_string(), crate::http::encode(secret)];
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for offset in 0..3 {
                forms.push(base64_fragment(secret.as_bytes(), offset, engine));
            }
        }
        for form in forms {
            if form.len() >= MIN_SECRET_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Adds every string found under a secret-like key anywhere in `value`.
    pub fn add_from_json(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if is_secret_key(k) => self.add(s),
                        other => self.add_from_json(other),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.add_from_json(v)),
            _ => {}
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

/// Whether a JSON key names a secret (`AccessToken`, `refresh_token`, `password`, `apiKey`, …).
pub fn is_secret_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_lowercase();
    SECRET_KEYS
        .iter()
        .any(|k| key == *k || (key.ends_with("token") && key.len() > 5))
}

/// A copy of `value` with the values of secret-like keys masked.
pub fn mask_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && v.is_string() {
                        Value::String(MASK.into())
                    } else {
                        mask_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        other => other.clone(),
    }
}

/// The base64 characters that depend only on `data` when it starts `offset` bytes into a larger
/// encoded string (as a token inside `Basic base64(user:token)` does).
fn base64_fragment(data: &[u8], offset: usize, engine: &GeneralPurpose) -> String {
    let mut bytes = vec![0u8; offset];
    bytes.extend_from_slice(data);
    let encoded = engine.encode(&bytes);
    let first = (8 * offset).div_ceil(6);
    let last = 8 * (offset + data.len()) / 6;
    encoded.get(first..last).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_fragments_match_real_encodings() {
        // "Basic " + base64("user:SECRETTOKEN1") contains the fragment at some alignment.
        let cases = [
            ("dXNlcjpTRUNSRVRUT0tFTjE=", "SECRETTOKEN1"), // base64("user:SECRETTOKEN1")
            ("U0VDUkVUVE9LRU4x", "SECRETTOKEN1"),         // base64("SECRETTOKEN1")
            ("eFNFQ1JFVFRPS0VOMQ==", "SECRETTOKEN1"),     // base64("xSECRETTOKEN1")
        ];
        for (encoded, secret) in cases {
            let r = Redactor::new([secret]);
            assert!(
                r.redact(encoded).contains(MASK),
                "{encoded}: {}",
                r.redact(encoded)
            );
        }
    }

    #[test]
    fn redacts_all_forms() {
        let r = Redactor::new(["tok/en+with=chars", "short"]);
        let cases = [
            ("Bearer tok/en+with=chars", "Bearer [REDACTED]"),
            ("q=tok%2Fen%2Bwith%3Dchars", "q=[REDACTED]"),
            ("short", "short"),
        ];
        for (input, expected) in cases {
            assert_eq!(r.redact(input), expected);
        }
    }

    #[test]
    fn json_secrets_are_collected_and_masked() {
        let body = json!({"User": {"AccessToken": "abcdefghijkl", "Id": 1}, "list": [{"refresh_token": "mnopqrstuvwx"}]});
        let mut r = Redactor::default();
        r.add_from_json(&body);
        assert_eq!(
            r.redact("abcdefghijkl mnopqrstuvwx"),
            "[REDACTED] [REDACTED]"
        );
        assert_eq!(
            mask_json(&body),
            json!({"User": {"AccessToken": "[REDACTED]", "Id": 1}, "list": [{"refresh_token": "[REDACTED]"}]})
        );
    }
}
