//! The smallest pieces of resolving a contract file: where a problem is (a JSON pointer and a
//! message), identifiers, templates.

use std::collections::BTreeSet;

use serde_json::Value;

use super::model::Fixture;
use super::template::Template;

pub(super) type Problem = (String, String);

pub(super) fn check_identifier(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with('_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be lowercase letters, digits and `_` (it becomes part of a trial name and a file name)"
        ))
    }
}

pub(super) fn template(
    value: Value,
    pointer: &str,
    response_vars: bool,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<Template, Problem> {
    let (t, used) = Template::parse(value, response_vars)
        .map_err(|e| (format!("{pointer}{}", e.pointer), e.message))?;
    fixtures.extend(
        used.into_iter()
            .filter(|v| !v.is_response_scoped())
            .map(Fixture::Profile),
    );
    Ok(t)
}
