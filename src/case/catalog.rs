//! The shared catalog (`cases/_*.json`): the contract's sources, the statements its rules cite,
//! and the rules several cases use — each said once. Case files cite a statement by key and use a
//! rule by name; everything is checked when the catalog is loaded, so a broken definition is
//! reported once, at its own file and pointer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::checks::resolve_check;
use super::file::{CatalogFile, CiteRef, RuleDef, RuleEntry};
use super::load::{Problem, check_identifier, resolve_rule};
use super::model::{Cite, Evidence, Invariants, Level, Origin, Rule};
use crate::contract::Contract;
use crate::error::{LoadError, escape_pointer, parse_json};
use crate::source::SourceFile;
use crate::suggest::closest;

/// A source a statement comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub key: String,
    pub title: String,
    pub url: Option<String>,
}

/// The resolved catalog.
#[derive(Default)]
pub(super) struct Catalog {
    sources: BTreeMap<String, Source>,
    statements: BTreeMap<String, Cite>,
    rules: BTreeMap<String, RuleDef>,
    /// (file, which list, rule names) of each `invariants` declaration.
    invariants: Vec<(Arc<str>, &'static str, Vec<String>)>,
}

/// Whether a file is a catalog rather than a case: its name starts with `_`.
pub(super) fn is_catalog(source: &SourceFile) -> bool {
    source.stem().starts_with('_')
}

fn unknown(what: &str, name: &str, known: &BTreeMap<String, impl Sized>) -> String {
    let mut message = if known.is_empty() {
        format!(
            "{what} `{name}` is not defined: there is no catalog (cases/_*.json) that defines {what}s"
        )
    } else {
        format!(
            "{what} `{name}` is not defined in the catalog (cases/_*.json); known: {}",
            known.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    if let Some(best) = closest(name, known.keys().map(String::as_str)) {
        message.push_str(&format!("; did you mean `{best}`?"));
    }
    message
}

impl Catalog {
    /// Loads and checks every catalog file.
    ///
    /// # Errors
    /// The first problem, at its file and pointer.
    pub(super) fn load(
        files: &[&SourceFile],
        contract: &mut Contract,
    ) -> Result<Catalog, LoadError> {
        let mut catalog = Catalog::default();
        let mut parsed = Vec::with_capacity(files.len());
        for file in files {
            parsed.push((*file, parse_json::<CatalogFile>(&file.path, &file.text)?));
        }
        // Sources first (statements name them), then statements (rules cite them), then rules.
        for (file, c) in &parsed {
            for (key, def) in &c.sources {
                let at = format!("/sources/{}", escape_pointer(key));
                if catalog.sources.contains_key(key) {
                    return Err(duplicate(file, &at, "source", key));
                }
                if def
                    .url
                    .as_deref()
                    .is_some_and(|u| url::Url::parse(u).is_err())
                {
                    return Err(LoadError::new(
                        &file.path,
                        "`url` is not an absolute URL".to_string(),
                    )
                    .at(format!("{at}/url")));
                }
                catalog.sources.insert(
                    key.clone(),
                    Source {
                        key: key.clone(),
                        title: def.title.clone(),
                        url: def.url.clone(),
                    },
                );
            }
        }
        for (file, c) in &parsed {
            for (key, def) in &c.statements {
                let at = format!("/statements/{}", escape_pointer(key));
                if catalog.statements.contains_key(key) {
                    return Err(duplicate(file, &at, "statement", key));
                }
                if def.sources.is_empty() {
                    return Err(LoadError::new(&file.path, "name at least one source")
                        .at(format!("{at}/sources")));
                }
                for (i, cited) in def.sources.iter().enumerate() {
                    if catalog.source_of(cited).is_none() {
                        let name = cited.split(" §").next().unwrap_or(cited);
                        return Err(LoadError::new(
                            &file.path,
                            unknown("source", name, &catalog.sources),
                        )
                        .at(format!("{at}/sources/{i}")));
                    }
                }
                catalog.statements.insert(
                    key.clone(),
                    Cite {
                        source: def.sources.join(", "),
                        evidence: def.evidence,
                        statement: def.text.clone(),
                    },
                );
            }
        }
        for (file, c) in parsed {
            if let Some(inv) = &c.invariants {
                let path: Arc<str> = Arc::from(file.path.as_str());
                catalog
                    .invariants
                    .push((path.clone(), "own_list", inv.own_list.clone()));
                catalog
                    .invariants
                    .push((path, "foreign_list", inv.foreign_list.clone()));
            }
            for (name, def) in c.rules {
                let at = format!("/rules/{}", escape_pointer(&name));
                let bad =
                    |(pointer, message): Problem| LoadError::new(&file.path, message).at(pointer);
                if catalog.rules.contains_key(&name) {
                    return Err(duplicate(file, &at, "rule", &name));
                }
                check_identifier(&name).map_err(|m| bad((at.clone(), format!("rule name {m}"))))?;
                let cite = catalog
                    .cite(&def.cites, &format!("{at}/cites"))
                    .map_err(bad)?;
                must_cite_doc(def.level, &cite, &format!("{at}/cites")).map_err(bad)?;
                let mut scratch = std::collections::BTreeSet::new();
                resolve_check(
                    def.check.clone(),
                    &format!("{at}/check"),
                    contract,
                    &mut scratch,
                )
                .map_err(bad)?;
                catalog.rules.insert(name, def);
            }
        }
        Ok(catalog)
    }

    /// The invariants, each a catalog rule resolved as the cases resolve theirs.
    ///
    /// # Errors
    /// An invariant that names no rule of the catalog.
    pub(super) fn invariants(&self, contract: &mut Contract) -> Result<Invariants, LoadError> {
        let mut out = Invariants::default();
        for (file, list, names) in &self.invariants {
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
                let rule = resolve_rule(&entry, &at, self, contract, &mut fixtures).map_err(
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
                    _ => out.foreign_list.push(rule),
                }
            }
        }
        Ok(out)
    }

    /// The declared source a citation like `RFC 6750 §3` names: the longest key it starts with.
    fn source_of(&self, cited: &str) -> Option<&Source> {
        self.sources
            .values()
            .filter(|s| {
                cited == s.key
                    || cited
                        .strip_prefix(s.key.as_str())
                        .is_some_and(|rest| rest.starts_with(' '))
            })
            .max_by_key(|s| s.key.len())
    }

    /// The statement a rule cites.
    pub(super) fn cite(&self, cites: &CiteRef, at: &str) -> Result<Cite, Problem> {
        match cites {
            CiteRef::Inline(cite) => Ok(cite.clone()),
            CiteRef::Key(key) => self
                .statements
                .get(key)
                .cloned()
                .ok_or_else(|| (at.to_string(), unknown("statement", key, &self.statements))),
        }
    }

    /// A shared rule, by name.
    pub(super) fn rule(&self, name: &str, at: &str) -> Result<&RuleDef, Problem> {
        self.rules
            .get(name)
            .ok_or_else(|| (at.to_string(), unknown("rule", name, &self.rules)))
    }
}

fn duplicate(file: &SourceFile, at: &str, what: &str, key: &str) -> LoadError {
    LoadError::new(
        &file.path,
        format!("{what} `{key}` is defined twice in the catalog; keep one definition"),
    )
    .at(at)
}

/// A `must` rule enforces documented behaviour (or a normative standard's MUST), so it must cite
/// `doc` or `standard` evidence.
pub(super) fn must_cite_doc(level: Level, cite: &Cite, at: &str) -> Result<(), Problem> {
    if level == Level::Must && !matches!(cite.evidence, Evidence::Doc | Evidence::Standard) {
        return Err((
            at.to_string(),
            format!(
                "a `must` rule enforces documented behaviour, but this one cites `{}` evidence; \
                 make it `should` or cite a `doc` (or `standard`) statement",
                cite.evidence
            ),
        ));
    }
    Ok(())
}
