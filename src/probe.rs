//! Probes: requests generated from a step's request and the fixtures discovery found, so that
//! mistakes nobody listed are still caught (a spelling of another user's id that slips past an
//! ownership check, an integer that overflows, a token that is accepted by prefix, a GET that
//! switches). Pure: the values come from the discovered variables, and the one place odd query
//! encodings are built on purpose is here.

use serde_json::Value;

use crate::api::{COWORKER_ID, TokenVariant};
use crate::case::{Generator, Method, Var, Vars};

/// One generated variation of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What it varies, for failure texts: `spelling "02201" of foreign_profile_id`.
    pub label: String,
    /// Instead of the step's method.
    pub method: Option<Method>,
    /// Instead of the step's query, exactly as written.
    pub raw_query: Option<String>,
    /// The step's bearer token, derived.
    pub token: Option<TokenVariant>,
    /// Which of the step's generators made it (an index into its `vary`).
    pub generator: usize,
}

impl Probe {
    fn query(label: String, raw: String) -> Probe {
        Probe {
            label,
            method: None,
            raw_query: Some(raw),
            token: None,
            generator: 0,
        }
    }
}

/// Every probe of these generators, in order.
///
/// # Errors
/// The name of a variable the generators need that has no value in this run.
pub fn expand(generators: &[Generator], vars: &Vars) -> Result<Vec<Probe>, String> {
    let id = |var: Var| -> Result<i64, String> {
        vars.get(var)
            .and_then(Value::as_i64)
            .ok_or_else(|| var.name().to_string())
    };
    let mut out: Vec<Probe> = Vec::new();
    for (index, generator) in generators.iter().enumerate() {
        let first = out.len();
        match generator {
            Generator::SpellingsOf(var) => {
                let n = id(*var)?;
                for (how, text) in spellings(n) {
                    // Shown as the server decodes it, unless the encoding is the point.
                    let shown = if how == "percent-encoded digits" {
                        text.clone()
                    } else {
                        decode_for_label(&text)
                    };
                    out.push(Probe::query(
                        format!("{how} `{shown}` of {var}"),
                        format!("{COWORKER_ID}={text}"),
                    ));
                }
            }
            Generator::IntBoundaries => {
                let own: Vec<i64> = vars
                    .get(Var::OwnProfileIds)
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                for value in INT_BOUNDARIES {
                    if value.parse::<i64>().is_ok_and(|v| own.contains(&v)) {
                        continue;
                    }
                    out.push(Probe::query(
                        format!("integer boundary {value}"),
                        format!("{COWORKER_ID}={value}"),
                    ));
                }
            }
            Generator::EmptyId => {
                out.push(Probe::query(
                    "an empty value".into(),
                    format!("{COWORKER_ID}="),
                ));
                out.push(Probe::query(
                    "the name without `=`".into(),
                    COWORKER_ID.to_string(),
                ));
            }
            Generator::Repeated(a, b) => {
                let (x, y) = (id(*a)?, id(*b)?);
                for ((first, fv), (second, sv)) in [((a, x), (b, y)), ((b, y), (a, x))] {
                    out.push(Probe::query(
                        format!("{COWORKER_ID} twice: {first} then {second}"),
                        format!("{COWORKER_ID}={fv}&{COWORKER_ID}={sv}"),
                    ));
                }
            }
            Generator::TokenVariants => {
                for variant in TokenVariant::ALL {
                    out.push(Probe {
                        label: format!("the bearer token {}", variant.name()),
                        method: None,
                        raw_query: None,
                        token: Some(variant),
                        generator: 0,
                    });
                }
            }
            Generator::Burst(ids) => {
                for round in 1..=2 {
                    for var in ids {
                        let n = id(*var)?;
                        out.push(Probe::query(
                            format!("burst switch {round} to {var}"),
                            format!("{COWORKER_ID}={n}"),
                        ));
                    }
                }
            }
            Generator::Methods(methods) => {
                for method in methods {
                    out.push(Probe {
                        label: format!("method {}", method.as_str()),
                        method: Some(*method),
                        raw_query: None,
                        token: None,
                        generator: 0,
                    });
                }
            }
        }
        for probe in &mut out[first..] {
            probe.generator = index;
        }
    }
    Ok(out)
}

/// Values on both sides of the integer widths an implementation may parse ids into.
const INT_BOUNDARIES: [&str; 16] = [
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9007199254740991",
    "9007199254740992",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
];

/// (how, query value as sent) for the ways an id can be written.
fn spellings(n: i64) -> Vec<(&'static str, String)> {
    let digits = n.to_string();
    let percent: String = digits.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        ("leading zero", format!("0{digits}")),
        ("leading zeros", format!("000{digits}")),
        ("plus sign", format!("%2B{digits}")),
        ("leading space", format!("%20{digits}")),
        ("trailing space", format!("{digits}%20")),
        ("percent-encoded digits", percent),
        ("fraction", format!("{digits}.0")),
        ("exponent", format!("{digits}e0")),
        ("hex", format!("0x{n:X}")),
        ("trailing text", format!("{digits}abc")),
    ]
}

/// The value as a server decodes it, for the label (`%2B2201` → `+2201`).
fn decode_for_label(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set(Var::ForeignProfileId, json!(2201));
        vars.set(Var::OriginalProfileId, json!(1101));
        vars.set(Var::OwnProfileIds, json!([0, 1101, 1102]));
        vars
    }

    #[test]
    fn generators_expand_to_labelled_requests() {
        let probes = expand(
            &[
                Generator::SpellingsOf(Var::ForeignProfileId),
                Generator::Repeated(Var::OriginalProfileId, Var::ForeignProfileId),
                Generator::EmptyId,
            ],
            &vars(),
        )
        .unwrap();
        let shown: Vec<String> = probes
            .iter()
            .map(|p| format!("{} => {}", p.label, p.raw_query.as_deref().unwrap_or("")))
            .collect();
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("probes", shown.join("\n"));
        });
    }

    #[test]
    fn own_ids_are_never_boundary_probes_and_missing_fixtures_are_named() {
        let probes = expand(&[Generator::IntBoundaries], &vars()).unwrap();
        assert_eq!(
            probes.len(),
            INT_BOUNDARIES.len() - 1,
            "0 is an own id here"
        );
        assert!(
            probes
                .iter()
                .all(|p| p.raw_query.as_deref() != Some("coworkerId=0"))
        );
        assert_eq!(
            expand(&[Generator::SpellingsOf(Var::InactiveProfileId)], &vars()),
            Err("inactive_profile_id".to_string())
        );
    }

    #[test]
    fn the_plan_counts_the_probes_each_generator_makes() {
        let mut vars = vars();
        vars.set(Var::OwnProfileIds, json!([1101]));
        for generator in [
            Generator::SpellingsOf(Var::ForeignProfileId),
            Generator::IntBoundaries,
            Generator::EmptyId,
            Generator::Repeated(Var::OriginalProfileId, Var::ForeignProfileId),
            Generator::TokenVariants,
            Generator::Methods(vec![Method::Get, Method::Head]),
            Generator::Burst(vec![Var::OriginalProfileId, Var::ForeignProfileId]),
        ] {
            let made = expand(std::slice::from_ref(&generator), &vars)
                .unwrap()
                .len();
            assert_eq!(made, generator.size(), "{generator:?}");
        }
    }

    #[test]
    fn token_variants_differ_from_the_token_and_the_shell_form_agrees() {
        for token in ["abcdefghij0", "abcdefghij1", "tok/en+with=chars"] {
            for v in TokenVariant::ALL {
                let derived = v.derive(token);
                assert_ne!(derived, token, "{v:?}");
                let script = format!("T='{token}'; printf %s \"{}\"", v.shell("T"));
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&script)
                    .output()
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    derived,
                    "{v:?} {token}"
                );
            }
        }
    }
}
