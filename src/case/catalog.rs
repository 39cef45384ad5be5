//! The shared catalog (`cases/_*.json`): the contract's sources, the statements its rules cite,
//! and the rules several cases use — each said once. Case files cite a statement by key and use a
//! rule by name; everything is checked when the catalog is loaded, so a broken definition is
//! reported once, at its own file and pointer.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::checks::resolve_check;
use super::file::{CatalogFile, CiteRef, RuleDef};
use super::model::{Cite, Evidence, Level, Link};
use super::resolve::{Problem, check_identifier};
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
    /// A document shipped with the harness, instead of a URL.
    pub path: Option<String>,
}

impl Source {
    /// Where `section` (`15.5.2`, `10.1-2`, or empty) of this source is read.
    fn target(&self, section: &str) -> Option<String> {
        if let Some(path) = &self.path {
            // The binary carries the document: `contract` prints the section.
            return Some(if section.is_empty() {
                format!("{path} (`nexudus-conformance contract`)")
            } else {
                format!("{path} §{section} (`nexudus-conformance contract {section}`)")
            });
        }
        let url = self.url.as_ref()?;
        // RFC Editor pages anchor every section as `#section-N.N`.
        let first = section.split(['-', ' ']).next().unwrap_or_default();
        Some(
            if !first.is_empty() && url.starts_with("https://www.rfc-editor.org/rfc/") {
                format!("{url}#section-{first}")
            } else {
                url.clone()
            },
        )
    }
}

/// The resolved catalog.
#[derive(Default)]
pub(super) struct Catalog {
    pub(super) sources: BTreeMap<String, Source>,
    pub(super) statements: BTreeMap<String, Cite>,
    rules: BTreeMap<String, RuleDef>,
    /// (file, which list, rule names) of each `invariants` declaration.
    pub(super) invariants: Vec<(Arc<str>, &'static str, Vec<String>)>,
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
                if def.url.is_some() == def.path.is_some() {
                    return Err(LoadError::new(
                        &file.path,
                        "give a source either a `url` or the `path` of a shipped document"
                            .to_string(),
                    )
                    .at(at));
                }
                catalog.sources.insert(
                    key.clone(),
                    Source {
                        key: key.clone(),
                        title: def.title.clone(),
                        url: def.url.clone(),
                        path: def.path.clone(),
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
                        about: def.about.clone(),
                        links: catalog.links(&def.sources),
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
                    .push((path.clone(), "foreign_list", inv.foreign_list.clone()));
                catalog
                    .invariants
                    .push((path, "every_response", inv.every_response.clone()));
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

    /// Where each cited source (`RFC 6750 §3`) is read; a citation of an unknown source is left
    /// out (statements' sources are checked when they are loaded).
    fn links(&self, cited: &[String]) -> Vec<Link> {
        cited
            .iter()
            .filter_map(|c| {
                let source = self.source_of(c)?;
                let section = c[source.key.len()..].trim().trim_start_matches('§').trim();
                Some(Link {
                    cited: c.clone(),
                    target: source.target(section)?,
                })
            })
            .collect()
    }

    /// The statement a rule cites.
    pub(super) fn cite(&self, cites: &CiteRef, at: &str) -> Result<Cite, Problem> {
        match cites {
            CiteRef::Inline(cite) => {
                let cited: Vec<String> = cite.source.split(", ").map(str::to_string).collect();
                Ok(Cite {
                    links: self.links(&cited),
                    ..cite.clone()
                })
            }
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

#[cfg(test)]
mod tests {
    use crate::case::load::load_suite;
    use crate::contract::Contract;
    use crate::source::{contract_section, embedded_cases, embedded_schemas};

    #[test]
    fn every_citation_resolves_to_a_url_or_a_shipped_section() {
        let mut contract = Contract::load(&embedded_schemas()).unwrap();
        let suite = load_suite(&embedded_cases(), &mut contract).unwrap();
        let rules = suite
            .cases
            .iter()
            .flat_map(|c| c.steps.iter().flat_map(|s| s.rules.iter()))
            .chain(&suite.invariants.own_list)
            .chain(&suite.invariants.foreign_list)
            .chain(&suite.invariants.every_response);
        let mut shipped = 0;
        for rule in rules {
            let cited = rule.cite.source.split(", ").count();
            assert_eq!(rule.cite.links.len(), cited, "{}: {:?}", rule.id, rule.cite);
            for link in &rule.cite.links {
                if let Some(rest) = link.target.strip_prefix("docs/contract.md") {
                    shipped += 1;
                    let section = rest
                        .trim()
                        .strip_prefix('§')
                        .and_then(|s| s.split(' ').next())
                        .unwrap_or_default();
                    assert!(
                        contract_section(section).is_some(),
                        "{}: {} names no part of docs/contract.md",
                        rule.id,
                        link.cited
                    );
                } else {
                    assert!(link.target.starts_with("https://"), "{link:?}");
                }
            }
        }
        assert!(shipped > 10, "{shipped}");
        // An RFC section is linked to its anchor.
        assert!(
            suite
                .cases
                .iter()
                .any(|c| c.steps.iter().any(|s| s.rules.iter().any(|r| r
                    .cite
                    .links
                    .iter()
                    .any(|l| l.target == "https://www.rfc-editor.org/rfc/rfc9110#section-9.2.1"))))
        );
    }
}
