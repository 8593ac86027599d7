//! `pipectl schema`: the JSON Schema of the spec and the spec reference,
//! both made from the table of fields, and the specs that show the schema
//! and `pipectl validate` agree (tests/schema/test_schema.py runs the same
//! specs through a real JSON Schema validator).

use crate::util::{pipectl, root};
use std::fs;

fn yaml_files(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no specs in {dir}");
    out
}

#[test]
fn there_is_no_json_schema_of_the_spec_for_editors() {
    let run = pipectl(&["schema"]).run().expect_code(0);
    let schema = run.json();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false, "unknown top-level keys are refused");
    assert_eq!(schema["required"], serde_json::json!(["pipeline"]));
    let stream = &schema["properties"]["streams"]["additionalProperties"];
    assert_eq!(stream["additionalProperties"], false);
    assert_eq!(stream["properties"]["retention_hours"]["default"], 24);
    let hover = stream["properties"]["shards"]["description"].as_str().unwrap();
    assert!(hover.contains("Shards of a provisioned stream") && hover.contains("A change: in place."), "{hover}");
    // What is committed, and what editors read through each pipeline's first line.
    let committed = fs::read_to_string(root().join("schema/pipectl.schema.json")).unwrap();
    assert_eq!(run.stdout, committed, "regenerate: pipectl schema > schema/pipectl.schema.json");
    // The output is JSON either way.
    assert_eq!(pipectl(&["schema", "--json"]).run().expect_code(0).stdout, committed);
}

#[test]
fn no_reference_names_trigger_enabled_and_ssh_key_name() {
    let run = pipectl(&["schema", "--markdown"]).run().expect_code(0);
    let committed = fs::read_to_string(root().join("docs/spec-reference.md")).unwrap();
    assert_eq!(run.stdout, committed, "regenerate: pipectl schema --markdown > docs/spec-reference.md");
    for field in ["functions.*.trigger.enabled", "agents.*.ssh.key_name"] {
        let line = committed.lines().find(|l| l.starts_with(&format!("| `{field}` |")));
        let line = line.unwrap_or_else(|| panic!("`{field}` is not in docs/spec-reference.md"));
        assert!(line.contains("boolean") || line.contains("string"), "{line}");
    }
    // Type, default, range and what a change does, per field.
    let shards = committed.lines().find(|l| l.starts_with("| `streams.*.shards` |")).unwrap();
    assert_eq!(
        shards,
        "| `streams.*.shards` | integer | no | `1` | 1 to 10000 | in place | Shards of a provisioned stream \
         (each 1 MB/s or 1,000 records/s in); not allowed with `mode: on_demand`. |"
    );
    let source = committed.lines().find(|l| l.starts_with("| `firehoses.*.source` |")).unwrap();
    assert!(source.contains("| replace |"), "{source}");
}

#[test]
fn every_pipeline_names_the_schema_on_its_first_line() {
    for p in yaml_files("pipelines") {
        let text = fs::read_to_string(root().join(&p)).unwrap();
        assert_eq!(text.lines().next(), Some("# yaml-language-server: $schema=../schema/pipectl.schema.json"), "{p}");
    }
}

/// Each spec the schema refuses (tests/schema) pipectl refuses too, for
/// the rule its first line names.
#[test]
fn what_the_schema_refuses_validate_refuses() {
    for p in yaml_files("tests/fixtures/schema-invalid") {
        let text = fs::read_to_string(root().join(&p)).unwrap();
        let rule =
            text.lines().next().and_then(|l| l.strip_prefix("# rule: ")).unwrap_or_else(|| panic!("{p}: no rule"));
        let run = pipectl(&["validate", "--json", &p]).run().expect_code(2);
        let doc = run.json();
        let rules: Vec<&str> =
            doc["diagnostics"].as_array().unwrap().iter().filter_map(|d| d["rule"].as_str()).collect();
        assert!(rules.contains(&rule), "{p}: expected `{rule}`, got {rules:?}");
    }
}

/// Each spec the schema must accept (whole variables in fields of any
/// type, interpolated names, plain scalars as strings) pipectl accepts.
#[test]
fn what_the_schema_accepts_validate_accepts() {
    for p in yaml_files("tests/fixtures/schema-valid") {
        pipectl(&["validate", &p]).run().expect_code(0);
    }
}
