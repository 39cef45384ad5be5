//! `openapi`: the document it prints is the one kept at docs/openapi.json.

use crate::support::{args, harness};

#[test]
fn docs_openapi_json_is_current() {
    let run = harness(&args(&["openapi"]));
    assert_eq!(run.code, 0, "{}", run.all_output());
    let kept = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .unwrap_or_default();
    assert!(
        run.stdout == kept,
        "docs/openapi.json is stale (or missing): regenerate it with \
         `cargo run --release -- openapi > docs/openapi.json`"
    );
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}
