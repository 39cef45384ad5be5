//! The loader, tested on the shipped cases and on a table of broken ones (snapshots pin the
//! messages).

use super::load::load_cases;
use super::*;
use crate::contract::Contract;
use crate::error::LoadError;
use crate::source::SourceFile;
use crate::source::{embedded_cases, embedded_schemas};
use serde_json::{Value, json};

fn contract() -> Contract {
    Contract::load(&embedded_schemas()).unwrap()
}

fn load_one(name: &str, text: &str) -> Result<Vec<Case>, LoadError> {
    let source = SourceFile {
        path: format!("cases/{name}.json"),
        text: text.to_string(),
    };
    load_cases(&[source], &mut contract())
}

/// A valid case whose first rule's `check` (or any part) the table below patches.
fn base() -> Value {
    json!({
        "summary": "s", "state": "changes",
        "steps": [{"name": "switch",
            "request": {"method": "PUT", "path": "/api/public/coworkers/profiles/current",
                        "query": {"coworkerId": "{{target_profile_id}}"}, "credential": "primary"},
            "rules": [{"id": "status_is_200", "level": "must",
                       "cites": {"source": "SW", "evidence": "doc", "statement": "200 on success"},
                       "check": {"status": {"any_of": [200]}}}]}]
    })
}

fn with(pointer: &str, value: Value) -> String {
    let mut doc = base();
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    }
    serde_json::to_string_pretty(&doc).unwrap()
}

#[test]
fn the_base_case_loads_and_derives_its_fixtures() {
    let cases = load_one("ok", &with("/summary", json!("fine"))).unwrap();
    assert_eq!(
        cases[0]
            .fixtures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["target_profile_id"]
    );
}

#[test]
fn bad_case_files_are_refused_with_file_and_position() {
    let rule = "/steps/0/rules/0";
    let table: Vec<(&str, String)> = vec![
        (
            "syntax",
            "{\n  \"summary\": \"s\",\n  \"state\": \"changes\"\n  \"steps\": []\n}".into(),
        ),
        ("trailing", format!("{} x", with("/summary", json!("s")))),
        (
            "unknown_field",
            with(
                &format!("{rule}/check"),
                json!({"stauts": {"any_of": [200]}}),
            ),
        ),
        (
            "unknown_rule_field",
            with(&format!("{rule}/level"), json!("must")).replace("\"level\"", "\"levle\""),
        ),
        ("bad_level", with(&format!("{rule}/level"), json!("mst"))),
        (
            "unknown_credential",
            with("/steps/0/request/credential", json!("primry")),
        ),
        (
            "unknown_variable",
            with(
                "/steps/0/request/query/coworkerId",
                json!("{{taget_profile_id}}"),
            ),
        ),
        (
            "response_var_in_request",
            with("/steps/0/request/path", json!("/x/{{response.status}}")),
        ),
        (
            "missing_schema",
            with(
                &format!("{rule}/check"),
                json!({"schema": {"ref": "profile.json"}}),
            ),
        ),
        (
            "missing_pointer_target",
            with(
                &format!("{rule}/check"),
                json!({"schema": {"ref": "profiles.json#/$defs/nope"}}),
            ),
        ),
        (
            "bad_inline_schema",
            with(
                &format!("{rule}/check"),
                json!({"schema": {"inline": {"type": "whatever"}}}),
            ),
        ),
        (
            "must_without_doc",
            with(&format!("{rule}/cites/evidence"), json!("infer")),
        ),
        (
            "bad_status",
            with(
                &format!("{rule}/check"),
                json!({"status": {"any_of": ["2xy"]}}),
            ),
        ),
        (
            "two_header_ops",
            with(
                &format!("{rule}/check"),
                json!({"header": {"name": "a", "present": true, "equals": "b"}}),
            ),
        ),
        (
            "no_value_op",
            with(&format!("{rule}/check"), json!({"json": {"pointer": "/a"}})),
        ),
        (
            "bad_pointer",
            with(
                &format!("{rule}/check"),
                json!({"json": {"pointer": "Status", "exists": true}}),
            ),
        ),
        (
            "bad_rule_id",
            with(&format!("{rule}/id"), json!("Status-Is-200")),
        ),
        ("no_steps", with("/steps", json!([]))),
        ("no_rules", with("/steps/0/rules", json!([]))),
        (
            "relative_path",
            with("/steps/0/request/path", json!("api/x")),
        ),
        ("Bad-Name", with("/summary", json!("s"))),
        ("restore", with("/summary", json!("s"))),
        ("sweep_without_sweep_id", {
            let mut doc: Value = serde_json::from_str(&with("/summary", json!("s"))).unwrap();
            doc["steps"][0]["sweep"] = json!({"over": "unowned_ids"});
            doc.to_string()
        }),
        (
            "sweep_id_without_sweep",
            with("/steps/0/request/query/coworkerId", json!("{{sweep_id}}")),
        ),
        ("unknown_sweep_source", {
            let mut doc: Value = serde_json::from_str(&with(
                "/steps/0/request/query/coworkerId",
                json!("{{sweep_id}}"),
            ))
            .unwrap();
            doc["steps"][0]["sweep"] = json!({"over": "owned_ids"});
            doc.to_string()
        }),
    ];
    let mut report = String::new();
    for (name, text) in table {
        let line = match load_one(name, &text) {
            Ok(_) => "loaded (expected an error)".to_string(),
            Err(e) => e.to_string(),
        };
        report.push_str(&format!("{name}: {line}\n"));
    }
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("case_load_errors", report);
    });
}

/// Catalog files by stem.
type Catalogs<'a> = Vec<(&'a str, Value)>;

/// A small catalog for the `use`/`cites` tests.
fn catalog() -> Value {
    json!({
        "sources": {"SW": {"title": "Switch", "url": "https://example.invalid/sw"}, "RFC 6750": {"title": "Bearer", "url": "https://www.rfc-editor.org/rfc/rfc6750"}},
        "statements": {
            "switch_200": {"sources": ["SW"], "evidence": "doc", "text": "200 on success", "about": ["status"]},
            "challenge": {"sources": ["RFC 6750 §3"], "evidence": "gap", "text": "a 401 carries a challenge", "about": ["headers"]}
        },
        "rules": {"status_is_200": {"level": "must", "cites": "switch_200", "check": {"status": {"any_of": [200]}}}}
    })
}

fn load_with(catalogs: &[(&str, Value)], case: Value) -> Result<Vec<Case>, LoadError> {
    let mut sources: Vec<SourceFile> = catalogs
        .iter()
        .map(|(name, c)| SourceFile {
            path: format!("cases/{name}.json"),
            text: serde_json::to_string_pretty(c).unwrap(),
        })
        .collect();
    sources.push(SourceFile {
        path: "cases/case.json".into(),
        text: serde_json::to_string_pretty(&case).unwrap(),
    });
    load_cases(&sources, &mut contract())
}

#[test]
fn catalog_rules_statements_and_for_each_resolve_to_the_same_cases() {
    let mut doc = base();
    doc["steps"][0]["rules"][0] = json!({"use": "status_is_200"});
    let used = load_with(&[("_contract", catalog())], doc).unwrap();
    let inline = load_one("case", &with("/summary", json!("s"))).unwrap();
    let (a, b) = (&used[0].steps[0].rules[0], &inline[0].steps[0].rules[0]);
    assert_eq!(
        (&a.id, a.level, &a.cite.source),
        (&b.id, b.level, &b.cite.source)
    );
    let mut doc = base();
    doc["steps"][0]["rules"][0] =
        json!({"use": "status_is_200", "id": "still_200", "cites": "switch_200"});
    doc["steps"][0]["for_each"] = json!([
        {"name": "one", "query": {"coworkerId": "1"}},
        {"name": "two", "credential": "foreign"}
    ]);
    doc["steps"][0].as_object_mut().unwrap().remove("name");
    let cases = load_with(&[("_contract", catalog())], doc).unwrap();
    let steps: Vec<(&str, String, &str)> = cases[0]
        .steps
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.request.query[0].1.as_value().to_string(),
                s.request.credential.name(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("one", "\"1\"".to_string(), "primary"),
            ("two", "\"{{target_profile_id}}\"".to_string(), "foreign"),
        ]
    );
    assert_eq!(cases[0].steps[1].rules[0].id, "still_200");
    assert_eq!(cases[0].steps[0].origin.pointer, "/steps/0/for_each/0");
}

#[test]
fn catalog_and_use_mistakes_are_refused_where_they_are_written() {
    let rule = |r: Value| {
        let mut doc = base();
        doc["steps"][0]["rules"][0] = r;
        doc
    };
    let step = |f: &dyn Fn(&mut Value)| {
        let mut doc = base();
        f(&mut doc["steps"][0]);
        doc
    };
    let with_catalog = |f: &dyn Fn(&mut Value)| {
        let mut c = catalog();
        f(&mut c);
        c
    };
    let table: Vec<(&str, Catalogs, Value)> = vec![
        (
            "unknown_rule",
            vec![("_contract", catalog())],
            rule(json!({"use": "status_is_20"})),
        ),
        (
            "unknown_statement",
            vec![("_contract", catalog())],
            rule(json!({"use": "status_is_200", "cites": "switch_20"})),
        ),
        ("no_catalog", vec![], rule(json!({"use": "status_is_200"}))),
        (
            // The statement speaks of the headers; the rule checks the status.
            "check_off_its_statement",
            vec![("_contract", catalog())],
            rule(json!({"use": "status_is_200", "cites": "challenge", "level": "should"})),
        ),
        (
            "use_and_check",
            vec![("_contract", catalog())],
            rule(json!({"use": "status_is_200", "check": {"status": {"any_of": [201]}}})),
        ),
        (
            "half_a_rule",
            vec![("_contract", catalog())],
            rule(json!({"id": "x", "level": "must"})),
        ),
        (
            "must_cites_gap",
            vec![("_contract", catalog())],
            rule(json!({"use": "status_is_200", "cites": "challenge"})),
        ),
        (
            "no_step_name",
            vec![("_contract", catalog())],
            step(&|s| {
                s.as_object_mut().unwrap().remove("name");
            }),
        ),
        (
            "for_each_and_name",
            vec![("_contract", catalog())],
            step(&|s| s["for_each"] = json!([{"name": "a"}])),
        ),
        (
            "for_each_empty",
            vec![("_contract", catalog())],
            step(&|s| {
                s.as_object_mut().unwrap().remove("name");
                s["for_each"] = json!([]);
            }),
        ),
        (
            "for_each_bad_variable",
            vec![("_contract", catalog())],
            step(&|s| {
                s.as_object_mut().unwrap().remove("name");
                s["for_each"] = json!([{"name": "a", "query": {"coworkerId": "{{nope}}"}}]);
            }),
        ),
        (
            "for_each_same_names",
            vec![("_contract", catalog())],
            step(&|s| {
                s.as_object_mut().unwrap().remove("name");
                s["for_each"] = json!([{"name": "a"}, {"name": "a"}]);
            }),
        ),
        (
            "catalog_unknown_source",
            vec![(
                "_contract",
                with_catalog(&|c| c["statements"]["challenge"]["sources"] = json!(["RFC 675 §3"])),
            )],
            base(),
        ),
        (
            "catalog_source_without_link",
            vec![(
                "_contract",
                with_catalog(&|c| c["sources"]["SW"] = json!({"title": "Switch"})),
            )],
            base(),
        ),
        (
            "catalog_must_gap",
            vec![(
                "_contract",
                with_catalog(&|c| c["rules"]["status_is_200"]["cites"] = json!("challenge")),
            )],
            base(),
        ),
        (
            "catalog_bad_check",
            vec![(
                "_contract",
                with_catalog(&|c| c["rules"]["status_is_200"]["check"] = json!({"status": {}})),
            )],
            base(),
        ),
        (
            "catalog_duplicate",
            vec![
                ("_contract", catalog()),
                (
                    "_more",
                    json!({"statements": {"switch_200": {"sources": ["SW"], "evidence": "doc", "text": "again", "about": ["status"]}}}),
                ),
            ],
            base(),
        ),
        (
            "catalog_unknown_field",
            vec![("_contract", with_catalog(&|c| c["rulez"] = json!({})))],
            base(),
        ),
    ];
    let mut report = String::new();
    for (name, catalogs, case) in table {
        let line = match load_with(&catalogs, case) {
            Ok(_) => "loaded (expected an error)".to_string(),
            Err(e) => e.to_string(),
        };
        report.push_str(&format!("{name}: {line}\n"));
    }
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("catalog_errors", report);
    });
}

#[test]
fn duplicate_ids_across_folders_are_refused() {
    let text = with("/summary", json!("s"));
    let sources = [
        SourceFile {
            path: "cases/a/dup.json".into(),
            text: text.clone(),
        },
        SourceFile {
            path: "cases/b/dup.json".into(),
            text,
        },
    ];
    let err = load_cases(&sources, &mut contract()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cases/b/dup.json: duplicate case id `dup`: cases/a/dup.json has the same file name; rename one of the files"
    );
}

#[test]
fn shipped_cases_load_and_match_the_case_schema() {
    let mut contract = contract();
    let cases = load_cases(&embedded_cases(), &mut contract).unwrap();
    assert!(cases.len() >= 14, "{} cases", cases.len());
    let validator = contract.compile_ref("case.schema.json").unwrap();
    let catalog_validator = contract.compile_ref("catalog.schema.json").unwrap();
    for source in embedded_cases() {
        let value: Value = serde_json::from_str(&source.text).unwrap();
        let which = if source.stem().starts_with('_') {
            &catalog_validator
        } else {
            &validator
        };
        let errors: Vec<String> = which.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", source.path);
    }
    // The editor schema rejects what the loader rejects, for the common mistakes.
    for bad in [
        with(
            "/steps/0/rules/0/check",
            json!({"stauts": {"any_of": [200]}}),
        ),
        with("/steps/0/rules/0/cites/evidence", json!("infer")),
        with("/steps/0/request/credential", json!("primry")),
        with(
            "/steps/0/rules/0",
            json!({"use": "status_is_401", "check": {"status": {"any_of": [401]}}}),
        ),
        with("/steps/0/name", json!(null)),
    ] {
        let value: Value = serde_json::from_str(&bad).unwrap();
        assert!(!validator.is_valid(&value), "{bad}");
    }
}
