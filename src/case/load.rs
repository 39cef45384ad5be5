//! From case files to [`Case`]s: serde for the shape (with `deny_unknown_fields` and a "did you
//! mean"), then semantic checks that serde cannot do, each error naming the file and JSON pointer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::catalog::{Catalog, is_catalog, must_cite_doc};
use super::checks::resolve_check;
use super::file::*;
use super::model::*;
use super::resolve::{Problem, check_identifier, template};
use super::template::Var;
use crate::contract::Contract;
use crate::error::{LoadError, escape_pointer, parse_json};
use crate::source::SourceFile;

/// Loads every case file, sorted by id. Files whose name starts with `_` are the shared catalog
/// (sources, statements, rules), not cases.
///
/// # Errors
/// The first bad file: invalid JSON, a shape error, an unknown variable, schema, statement or
/// rule, a duplicate id.
pub fn load_cases(sources: &[SourceFile], contract: &mut Contract) -> Result<Vec<Case>, LoadError> {
    load_suite(sources, contract).map(|suite| suite.cases)
}

/// Loads the cases and the invariants the catalog declares.
///
/// # Errors
/// As [`load_cases`].
pub fn load_suite(sources: &[SourceFile], contract: &mut Contract) -> Result<Suite, LoadError> {
    let (catalogs, case_files): (Vec<&SourceFile>, Vec<&SourceFile>) =
        sources.iter().partition(|s| is_catalog(s));
    let catalog = Catalog::load(&catalogs, contract)?;
    let invariants = resolve_invariants(&catalog, contract)?;
    let mut cases: Vec<Case> = Vec::with_capacity(case_files.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    // Every broken file is reported, not only the first.
    let mut errors: Vec<LoadError> = Vec::new();
    for source in case_files {
        let case = match load_case(source, &catalog, contract) {
            Ok(case) => case,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if let Some(first) = seen.insert(case.id.clone(), source.path.clone()) {
            errors.push(LoadError::new(
                &source.path,
                format!(
                    "duplicate case id `{}`: {first} has the same file name; rename one of the files",
                    case.id
                ),
            ));
            continue;
        }
        cases.push(case);
    }
    if let Some(e) = LoadError::all(errors) {
        return Err(e);
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Suite {
        cases,
        invariants,
        statements: catalog.statements.clone(),
        sources: catalog.sources.clone(),
    })
}

/// One step as written, or one of the steps a `for_each` step stands for.
struct Expanded {
    name: String,
    /// Where the name is written.
    name_at: String,
    request: RequestFile,
    /// Where each query parameter is written (a `for_each` entry can set one).
    query_at: HashMap<String, String>,
    origin: String,
}

/// The steps a step stands for: itself, or one per `for_each` entry.
fn expand(step: &StepFile, sp: &str) -> Result<Vec<Expanded>, Problem> {
    let query_at = |request: &RequestFile| -> HashMap<String, String> {
        request
            .query
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    format!("{sp}/request/query/{}", escape_pointer(k)),
                )
            })
            .collect()
    };
    match (&step.for_each, &step.name) {
        (None, Some(name)) => Ok(vec![Expanded {
            name: name.clone(),
            name_at: format!("{sp}/name"),
            request: step.request.clone(),
            query_at: query_at(&step.request),
            origin: sp.to_string(),
        }]),
        (None, None) => Err((
            sp.to_string(),
            "a step needs a `name` (or a `for_each` list whose entries name the steps)".into(),
        )),
        (Some(_), Some(_)) => Err((
            format!("{sp}/name"),
            "a `for_each` step takes its names from its entries; remove `name`".into(),
        )),
        (Some(variants), None) if variants.is_empty() => Err((
            format!("{sp}/for_each"),
            "`for_each` needs at least one entry".into(),
        )),
        (Some(variants), None) => Ok(variants
            .iter()
            .enumerate()
            .map(|(vi, variant)| {
                let vp = format!("{sp}/for_each/{vi}");
                let mut request = step.request.clone();
                let mut at = query_at(&step.request);
                for (k, v) in &variant.query {
                    request.query.insert(k.clone(), v.clone());
                    at.insert(k.clone(), format!("{vp}/query/{}", escape_pointer(k)));
                }
                if let Some(credential) = variant.credential {
                    request.credential = credential;
                }
                Expanded {
                    name: variant.name.clone(),
                    name_at: format!("{vp}/name"),
                    request,
                    query_at: at,
                    origin: vp,
                }
            })
            .collect()),
    }
}

fn load_case(
    source: &SourceFile,
    catalog: &Catalog,
    contract: &mut Contract,
) -> Result<Case, LoadError> {
    let file: Arc<str> = Arc::from(source.path.as_str());
    let id = source.stem().to_string();
    check_identifier(&id).map_err(|m| {
        LoadError::new(
            &source.path,
            format!("the file name is the case id, and {m}; rename the file"),
        )
    })?;
    if crate::api::RESERVED_CASE_IDS.contains(&id.as_str()) {
        return Err(LoadError::new(
            &source.path,
            format!(
                "the case id `{id}` is reserved for the harness's own end-of-run trial; rename the file"
            ),
        ));
    }
    let parsed: CaseFile = parse_json(&source.path, &source.text)?;
    let bad = |(pointer, message): Problem| LoadError::new(&source.path, message).at(pointer);

    if parsed.steps.is_empty() {
        return Err(bad((
            "/steps".into(),
            "a case needs at least one step".into(),
        )));
    }
    let mut fixtures = BTreeSet::new();
    let mut steps = Vec::with_capacity(parsed.steps.len());
    let mut step_names = BTreeSet::new();
    for (si, step) in parsed.steps.iter().enumerate() {
        let sp = format!("/steps/{si}");
        for expanded in expand(step, &sp).map_err(bad)? {
            check_identifier(&expanded.name)
                .map_err(|m| bad((expanded.name_at.clone(), format!("step name {m}"))))?;
            if !step_names.insert(expanded.name.clone()) {
                return Err(bad((
                    expanded.name_at.clone(),
                    format!(
                        "step name `{}` is used twice in this case; step names must be unique",
                        expanded.name
                    ),
                )));
            }
            let mut used = BTreeSet::new();
            let request = resolve_request(expanded.request, &sp, &expanded.query_at, &mut used)
                .map_err(bad)?;
            let sweeps = used.remove(&Fixture::Profile(Var::SweepId));
            match (&step.sweep, sweeps) {
                (Some(_), false) => {
                    return Err(bad((
                        format!("{sp}/sweep"),
                        "a sweep step sends `{{sweep_id}}` in its request; use it in the path or query"
                            .into(),
                    )));
                }
                (None, true) => {
                    return Err(bad((
                        format!("{sp}/request"),
                        "`{{sweep_id}}` is only bound in a sweep step; add `\"sweep\": {\"over\": \"unowned_ids\"}`".into(),
                    )));
                }
                (Some(_), true) => {
                    // The sweep starts at the unknown id.
                    used.insert(Fixture::Profile(Var::UnknownProfileId));
                }
                (None, false) => {}
            }
            for generator in &step.vary {
                match generator {
                    Generator::SpellingsOf(var) => {
                        used.insert(Fixture::Profile(*var));
                    }
                    Generator::Repeated(a, b) => {
                        used.extend([Fixture::Profile(*a), Fixture::Profile(*b)]);
                    }
                    Generator::Burst(ids) => {
                        used.extend(ids.iter().map(|v| Fixture::Profile(*v)));
                    }
                    Generator::IntBoundaries => {
                        used.insert(Fixture::Profile(Var::OwnProfileIds));
                    }
                    Generator::EmptyId | Generator::TokenVariants | Generator::Methods(_) => {}
                }
            }
            if !step.vary.is_empty() && step.sweep.is_some() {
                return Err(bad((
                    format!("{sp}/vary"),
                    "a step either sweeps or varies; split it into two steps".into(),
                )));
            }
            fixtures.extend(used);
            let mut rules = Vec::with_capacity(step.rules.len());
            let mut rule_ids = BTreeSet::new();
            for (ri, entry) in step.rules.iter().enumerate() {
                let rp = format!("{sp}/rules/{ri}");
                let rule =
                    resolve_rule(entry, &rp, catalog, contract, &mut fixtures).map_err(bad)?;
                if !rule_ids.insert(rule.id.clone()) {
                    return Err(bad((
                        format!("{rp}/id"),
                        format!(
                            "rule id `{}` is used twice in this step; rule ids must be unique in a step",
                            rule.id
                        ),
                    )));
                }
                rules.push(Rule {
                    origin: Origin {
                        file: file.clone(),
                        pointer: rp,
                    },
                    ..rule
                });
            }
            steps.push(Step {
                name: expanded.name,
                request,
                rules,
                origin: Origin {
                    file: file.clone(),
                    pointer: expanded.origin,
                },
                sweep: step.sweep.as_ref().map(|s| s.over),
                vary: step.vary.clone(),
            });
        }
    }
    // Bound per request, not discovered.
    fixtures.remove(&Fixture::Profile(Var::SweepId));
    if steps.iter().all(|s| s.rules.is_empty()) {
        return Err(bad((
            "/steps".into(),
            "a case needs at least one rule, or it reports nothing".into(),
        )));
    }
    Ok(Case {
        id,
        summary: parsed.summary,
        state: parsed.state,
        snapshot: parsed.snapshot.unwrap_or(true),
        core: parsed.core,
        steps,
        file,
        fixtures,
    })
}

/// A rule entry of a case: a rule of the catalog (`use`, optionally with its own `id` or
/// `cites`), or a rule written out in full. The origin is filled in by the caller.
pub(super) fn resolve_rule(
    entry: &RuleEntry,
    rp: &str,
    catalog: &Catalog,
    contract: &mut Contract,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<Rule, Problem> {
    let (id, level, cites, cites_at, applies_if, check, check_at) = match &entry.uses {
        Some(name) => {
            for (field, given) in [
                ("applies_if", entry.applies_if.is_some()),
                ("check", entry.check.is_some()),
            ] {
                if given {
                    return Err((
                        format!("{rp}/{field}"),
                        format!(
                            "a rule that `use`s the catalog takes only `id`, `level` and `cites` beside it; \
                             write the rule out in full to change its `{field}`"
                        ),
                    ));
                }
            }
            let def = catalog.rule(name, &format!("{rp}/use"))?;
            let (cites, cites_at) = match &entry.cites {
                Some(c) => (c.clone(), format!("{rp}/cites")),
                None => (def.cites.clone(), format!("{rp}/use")),
            };
            (
                entry.id.clone().unwrap_or_else(|| name.clone()),
                entry.level.unwrap_or(def.level),
                cites,
                cites_at,
                def.applies_if,
                def.check.clone(),
                format!("{rp}/use"),
            )
        }
        None => {
            let missing: Vec<&str> = [
                ("id", entry.id.is_none()),
                ("level", entry.level.is_none()),
                ("cites", entry.cites.is_none()),
                ("check", entry.check.is_none()),
            ]
            .into_iter()
            .filter_map(|(f, m)| m.then_some(f))
            .collect();
            let (Some(id), Some(level), Some(cites), Some(check)) =
                (&entry.id, entry.level, &entry.cites, &entry.check)
            else {
                return Err((
                    rp.to_string(),
                    format!(
                        "a rule needs `use` (a rule of the catalog) or all of `id`, `level`, `cites` and `check`; missing {}",
                        missing
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            (
                id.clone(),
                level,
                cites.clone(),
                format!("{rp}/cites"),
                entry.applies_if,
                check.clone(),
                format!("{rp}/check"),
            )
        }
    };
    let id_at = if entry.id.is_some() {
        format!("{rp}/id")
    } else {
        format!("{rp}/use")
    };
    check_identifier(&id).map_err(|m| (id_at.clone(), format!("rule id {m}")))?;
    if id == crate::api::SNAPSHOT_RULE_ID {
        return Err((
            id_at,
            format!(
                "the rule id `{id}` is reserved for the case's response snapshot; rename the rule"
            ),
        ));
    }
    let cite = catalog.cite(&cites, &cites_at)?;
    let evidence_at = match &cites {
        CiteRef::Inline(_) => format!("{cites_at}/evidence"),
        CiteRef::Key(_) => cites_at,
    };
    must_cite_doc(level, &cite, &evidence_at)?;
    let mut needs = BTreeSet::new();
    let check = resolve_check(check, &check_at, contract, &mut needs)?;
    let observed = check.observes();
    if !cite.about.is_empty() && !observed.iter().any(|o| cite.about.contains(o)) {
        let name = |subjects: &[super::check_kind::Subject]| {
            subjects
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let statement = match &cites {
            CiteRef::Key(key) => format!("`{key}`"),
            CiteRef::Inline(_) => "written here".into(),
        };
        return Err((
            check_at,
            format!(
                "rule `{id}` checks {}, but the statement it cites ({statement}) speaks of {}; cite a statement about what the rule checks",
                name(&observed),
                name(&cite.about)
            ),
        ));
    }
    fixtures.extend(needs.iter().copied());
    Ok(Rule {
        id,
        level,
        cite,
        applies_if,
        check,
        needs,
        origin: Origin {
            file: Arc::from(""),
            pointer: String::new(),
        },
    })
}

fn resolve_request(
    request: RequestFile,
    sp: &str,
    query_at: &HashMap<String, String>,
    fixtures: &mut BTreeSet<Fixture>,
) -> Result<RequestSpec, Problem> {
    if !request.path.starts_with('/') {
        return Err((
            format!("{sp}/request/path"),
            format!(
                "path `{}` must start with `/` (it is joined to the base URL)",
                request.path
            ),
        ));
    }
    let path = template(
        Value::String(request.path),
        &format!("{sp}/request/path"),
        false,
        fixtures,
    )?;
    let mut query = Vec::with_capacity(request.query.len());
    for (name, value) in request.query {
        let qp = query_at
            .get(&name)
            .cloned()
            .unwrap_or_else(|| format!("{sp}/request/query/{}", escape_pointer(&name)));
        if value.is_object() || value.is_array() || value.is_null() {
            return Err((
                qp,
                "a query value must be a string, number or boolean".into(),
            ));
        }
        query.push((name, template(value, &qp, false, fixtures)?));
    }
    fixtures.extend(Fixture::of_credential(request.credential));
    Ok(RequestSpec {
        method: request.method,
        path,
        query,
        credential: request.credential,
    })
}

/// The invariants, each a catalog rule resolved as the cases resolve theirs.
///
/// # Errors
/// An invariant that names no rule of the catalog.
fn resolve_invariants(catalog: &Catalog, contract: &mut Contract) -> Result<Invariants, LoadError> {
    let mut out = Invariants::default();
    for (file, list, names) in &catalog.invariants {
        for (i, name) in names.iter().enumerate() {
            let at = format!("/invariants/{list}/{i}");
            let entry = RuleEntry {
                uses: Some(name.clone()),
                id: None,
                level: None,
                cites: None,
                applies_if: None,
                check: None,
            };
            let mut fixtures = BTreeSet::new();
            let rule = resolve_rule(&entry, &at, catalog, contract, &mut fixtures).map_err(
                |(pointer, message)| {
                    LoadError::new(file.to_string(), message).at(pointer.replace("/use", ""))
                },
            )?;
            let rule = Rule {
                origin: Origin {
                    file: file.clone(),
                    pointer: at,
                },
                ..rule
            };
            match *list {
                "own_list" => out.own_list.push(rule),
                "foreign_list" => out.foreign_list.push(rule),
                _ => out.every_response.push(rule),
            }
        }
    }
    Ok(out)
}
