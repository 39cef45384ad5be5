//! Resolving a rule's `check` from its on-disk form: pointers, value tests, schemas (compiled
//! through the contract), each problem with the JSON pointer where it is written.

use std::collections::BTreeSet;

use super::check_kind::*;
use super::file::*;
use super::model::*;
use super::resolve::{Problem, template};
use crate::contract::Contract;

fn check_pointer(pointer: &str, at: String) -> Result<String, Problem> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(pointer.to_string())
    } else {
        Err((
            at,
            format!("`{pointer}` is not a JSON pointer; write `/{pointer}` (RFC 6901)"),
        ))
    }
}

fn value_op(
    json: JsonFile,
    at: &str,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<(String, ValueOp), Problem> {
    let pointer = check_pointer(&json.pointer, format!("{at}/pointer"))?;
    let mut ops = Vec::new();
    if let Some(b) = json.exists {
        ops.push(ValueOp::Exists(b));
    }
    if let Some(v) = json.equals {
        ops.push(ValueOp::Equals(template(
            v,
            &format!("{at}/equals"),
            true,
            fixtures,
        )?));
    }
    if let Some(v) = json.not_equals {
        ops.push(ValueOp::NotEquals(template(
            v,
            &format!("{at}/not_equals"),
            true,
            fixtures,
        )?));
    }
    if let Some(v) = json.one_of {
        let at = format!("{at}/one_of");
        let placeholder = v.as_str().is_some_and(|t| {
            let t = t.trim();
            t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1
        });
        if !v.is_array() && !placeholder {
            return Err((
                at,
                "`one_of` is a list of values, or one placeholder whose value is a list (`\"{{own_profile_ids}}\"`)".into(),
            ));
        }
        ops.push(ValueOp::OneOf(template(v, &at, true, fixtures)?));
    }
    if let Some(t) = json.json_type {
        ops.push(ValueOp::Type(t));
    }
    match ops.len() {
        1 => Ok((pointer, ops.remove(0))),
        0 => Err((
            at.to_string(),
            "say what to test: one of `exists`, `equals`, `not_equals`, `one_of`, `type`".into(),
        )),
        _ => Err((
            at.to_string(),
            "one test per check: keep one of `exists`, `equals`, `not_equals`, `one_of`, `type` and move the others to rules of their own".into(),
        )),
    }
}

/// A check that is switched on by `true`; `false` is refused rather than ignored.
fn flag(on: bool, at: &str, name: &str, check: Check) -> Result<Check, Problem> {
    if on {
        Ok(check)
    } else {
        Err((
            format!("{at}/{name}"),
            format!("`{name}` takes `true`; to check nothing, remove the rule"),
        ))
    }
}

pub(super) fn resolve_check(
    check: CheckFile,
    at: &str,
    contract: &mut Contract,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<Check, Problem> {
    Ok(match check {
        CheckFile::Status(s) => {
            if s.any_of.is_empty() && s.none_of.is_empty() {
                return Err((
                    format!("{at}/status"),
                    "give `any_of`, `none_of` or both".into(),
                ));
            }
            Check::Status(StatusCheck {
                any_of: s.any_of.into_iter().map(|p| p.0).collect(),
                none_of: s.none_of.into_iter().map(|p| p.0).collect(),
            })
        }
        CheckFile::Header(h) => {
            let at = format!("{at}/header");
            let mut ops = Vec::new();
            ops.extend(h.present.map(HeaderOp::Present));
            ops.extend(h.equals.map(HeaderOp::Equals));
            ops.extend(h.contains.map(HeaderOp::Contains));
            ops.extend(h.media_type.map(HeaderOp::MediaType));
            ops.extend(h.starts_with.map(HeaderOp::StartsWith));
            if ops.len() != 1 {
                return Err((
                    at,
                    "give exactly one of `present`, `equals`, `contains`, `media_type`, `starts_with`".into(),
                ));
            }
            Check::Header(HeaderCheck {
                name: h.name.to_ascii_lowercase(),
                op: ops.remove(0),
            })
        }
        CheckFile::Schema(s) => {
            let at = format!("{at}/schema");
            match (s.reference, s.inline) {
                (Some(reference), None) => {
                    let validator = contract
                        .compile_ref(&reference)
                        .map_err(|m| (format!("{at}/ref"), m))?;
                    Check::Schema(SchemaCheck {
                        reference,
                        validator,
                    })
                }
                (None, Some(inline)) => {
                    let validator = contract
                        .compile_inline(&inline)
                        .map_err(|m| (format!("{at}/inline"), m))?;
                    Check::Schema(SchemaCheck {
                        reference: "inline".into(),
                        validator,
                    })
                }
                _ => {
                    return Err((
                        at,
                        "give exactly one of `ref` (a file in schemas/) and `inline`".into(),
                    ));
                }
            }
        }
        CheckFile::Json(j) => {
            let (pointer, op) = value_op(*j, &format!("{at}/json"), fixtures)?;
            Check::Json(JsonCheck { pointer, op })
        }
        CheckFile::Absent(v) => {
            Check::Absent(template(v, &format!("{at}/absent"), true, fixtures)?)
        }
        CheckFile::AbsentPatterns(patterns) => {
            if patterns.is_empty() {
                return Err((
                    format!("{at}/absent_patterns"),
                    "name at least one pattern: `{\"stack frame\": \"\\\\n\\\\s+at \\\\w\"}`"
                        .into(),
                ));
            }
            let mut named = Vec::with_capacity(patterns.len());
            for (name, pattern) in patterns {
                let at = format!(
                    "{at}/absent_patterns/{}",
                    name.replace('~', "~0").replace('/', "~1")
                );
                let shown = pattern.clone();
                named.push(NamedPattern::new(name, pattern).map_err(|e| {
                    (
                        at,
                        format!(
                            "`{shown}` is not a regular expression the regex crate accepts: {e}"
                        ),
                    )
                })?);
            }
            Check::AbsentPatterns(named)
        }
        CheckFile::JsonParses(on) => flag(on, at, "json_parses", Check::JsonParses)?,
        CheckFile::NotSharedCacheable(on) => {
            flag(on, at, "not_shared_cacheable", Check::NotSharedCacheable)?
        }
        CheckFile::BearerChallenge(on) => flag(on, at, "bearer_challenge", Check::BearerChallenge)?,
        CheckFile::When(when) => {
            let WhenFile { condition, then } = *when;
            let condition = resolve_check(condition, &format!("{at}/when/if"), contract, fixtures)?;
            let then = resolve_check(then, &format!("{at}/when/then"), contract, fixtures)?;
            Check::When(Box::new(condition), Box::new(then))
        }
        CheckFile::MatchesModel(m) => {
            let at = format!("{at}/matches_model");
            let pointers = |list: Vec<String>, key: &str| -> Result<Vec<String>, Problem> {
                list.iter()
                    .enumerate()
                    .map(|(i, p)| check_pointer(p, format!("{at}/{key}/{i}")))
                    .collect()
            };
            Check::MatchesModel(ModelCheck {
                ignore: pointers(m.ignore, "ignore")?,
                follows_default: pointers(m.follows_default, "follows_default")?,
            })
        }
        CheckFile::SameAnswerAs(same) => {
            for var in &same.mask {
                fixtures.insert(Fixture::Profile(*var));
            }
            Check::SameAnswerAs(SameAnswer {
                step: same.step,
                mask: same.mask,
            })
        }
        CheckFile::Items(i) => {
            let at = format!("{at}/items");
            let array = check_pointer(&i.array, format!("{at}/array"))?;
            let filter = i
                .filter
                .map(|w| value_op(w, &format!("{at}/where"), fixtures))
                .transpose()?
                .map(|(pointer, op)| Predicate { pointer, op });
            let each = i
                .each
                .map(|w| value_op(w, &format!("{at}/each"), fixtures))
                .transpose()?
                .map(|(pointer, op)| Predicate { pointer, op });
            let unique = i
                .unique
                .map(|u| check_pointer(&u, format!("{at}/unique")))
                .transpose()?;
            if i.count.is_none() && each.is_none() && unique.is_none() {
                return Err((
                    at,
                    "say what must hold of the items: `count`, `each` or `unique`".into(),
                ));
            }
            Check::Items(ItemsCheck {
                array,
                filter,
                count: i.count,
                each,
                unique,
            })
        }
    })
}
