//! Offline: every pipeline validates, every invalid fixture is rejected with
//! its rule at its exact line:column, and the graph command draws the graph.

use crate::util::{pipectl, root};
use std::fs;

fn pipelines() -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| format!("pipelines/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_pipeline_validates() {
    let all = pipelines();
    assert!(all.len() >= 6, "lab.yaml and one spec per lab: {all:?}");
    for p in all {
        let run = pipectl(&["validate", &p]).run().expect_code(0);
        assert!(run.stdout.contains("valid"), "{p}: {}", run.stdout);
        let text = fs::read_to_string(root().join(&p)).unwrap();
        // After the line naming the schema for editors (`schema.rs` checks it).
        let opening = text.lines().find(|l| !l.starts_with("# yaml-language-server:")).unwrap_or_default();
        assert!(opening.starts_with("# "), "{p} opens with a comment saying what it deploys");
    }
}

#[test]
fn lab_validates_under_an_env() {
    let run = pipectl(&["validate", "pipelines/lab.yaml", "--env", "pr-42", "--json"]).run().expect_code(0);
    assert_eq!(run.json()["valid"], true);
}

/// Each fixture says what it expects in its first lines:
/// `# expect: <rule> <line>:<col>` and optionally `# args: <flags>`.
#[test]
fn each_invalid_fixture_names_its_rule_and_position() {
    let dir = root().join("tests/fixtures/invalid");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()));
        let (rule, pos) = expect.split_once(' ').unwrap();
        let (line, col) = pos.split_once(':').unwrap();
        let rel = format!("tests/fixtures/invalid/{}", path.file_name().unwrap().to_string_lossy());
        let mut args = vec!["validate", "--json", rel.as_str()];
        if let Some(extra) = text.lines().find_map(|l| l.strip_prefix("# args: ")) {
            args.extend(extra.split_whitespace());
        }
        let run = pipectl(&args).run().expect_code(2);
        let doc = run.json();
        assert_eq!(doc["valid"], false);
        let diags = doc["diagnostics"].as_array().unwrap();
        let found = diags.iter().any(|d| {
            d["rule"] == rule && d["line"].to_string().as_str() == line && d["col"].to_string().as_str() == col
        });
        assert!(found, "{rel}: expected {rule} at {line}:{col}, got {diags:#?}");
        for d in diags {
            assert!(!d["message"].as_str().unwrap().is_empty());
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} fixtures");
}

#[test]
fn all_errors_are_listed_in_one_run_in_file_order() {
    let run = pipectl(&["validate", "tests/fixtures/multi/many-errors.yaml"]).run().expect_code(2);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error[")).collect();
    let rules: Vec<&str> = lines.iter().map(|l| &l[6..l.find(']').unwrap()]).collect();
    assert_eq!(
        rules,
        ["unknown-key", "range", "undefined-reference", "type", "runtime", "unknown-variable"],
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(" --> tests/fixtures/multi/many-errors.yaml:4:5"), "{}", run.stderr);
    assert!(run.stderr.contains("= hint: did you mean `shards`?"), "{}", run.stderr);
    assert!(run.stderr.contains("error: 6 errors in"), "{}", run.stderr);
}

#[test]
fn a_missing_file_is_bad_input() {
    let run = pipectl(&["validate", "pipelines/nope.yaml"]).run().expect_code(2);
    assert!(run.stderr.contains("cannot read spec `pipelines/nope.yaml`"), "{}", run.stderr);
}

#[test]
fn unknown_flags_are_bad_input() {
    pipectl(&["validate", "--nope", "pipelines/lab.yaml"]).run().expect_code(2);
    pipectl(&["validate", "--env", "Bad_Env", "pipelines/lab.yaml"]).run().expect_code(2);
}

#[test]
fn graph_shows_generated_resources_and_edges() {
    let run = pipectl(&["graph", "pipelines/lab.yaml"]).run().expect_code(0);
    let dot = run.stdout;
    for node in [
        "record.deployment",
        "bucket.lake",
        "stream.trips",
        "glue_database.taxi",
        "glue_table.nyctaxitrips",
        "role.firehose-to-lake",
        "role.firehose-raw",
        "role.function-filter",
        "role.agent-producer",
        "log_group.firehose-to-lake",
        "log_group.function-filter",
        "firehose.to-lake",
        "firehose.raw",
        "function.filter",
        "trigger.filter",
        "instance_profile.producer",
        "security_group.producer",
        "agent.producer",
        "dashboard.main",
        "alarm.iterator_age",
    ] {
        assert!(dot.contains(&format!("\"{node}\" [label=")), "{node} missing:\n{dot}");
    }
    for (from, to) in [
        ("glue_database.taxi", "glue_table.nyctaxitrips"),
        ("bucket.lake", "glue_table.nyctaxitrips"),
        ("role.firehose-to-lake", "firehose.to-lake"),
        ("glue_table.nyctaxitrips", "firehose.to-lake"),
        ("log_group.firehose-to-lake", "firehose.to-lake"),
        ("stream.trips", "firehose.raw"),
        ("role.function-filter", "function.filter"),
        ("function.filter", "trigger.filter"),
        ("stream.trips", "trigger.filter"),
        ("firehose.to-lake", "trigger.filter"),
        ("role.agent-producer", "instance_profile.producer"),
        ("instance_profile.producer", "agent.producer"),
        ("security_group.producer", "agent.producer"),
        ("stream.trips", "agent.producer"),
        ("record.deployment", "stream.trips"),
    ] {
        assert!(dot.contains(&format!("\"{from}\" -> \"{to}\";")), "edge {from} -> {to} missing:\n{dot}");
    }
    // The function only names the Firehose it writes to: it is created
    // alongside it; its trigger, which starts the calls, waits for it.
    assert!(!dot.contains("\"firehose.to-lake\" -> \"function.filter\";"), "{dot}");
    let mermaid = pipectl(&["graph", "--format", "mermaid", "pipelines/lab.yaml"]).run().expect_code(0).stdout;
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("trigger.filter"));
}

#[test]
fn an_error_renders_its_causes_and_hint_in_text_and_json() {
    // No AWS to reach: the error names what pipectl was doing, what AWS (or
    // the network) said, and what to do about it, the same in both forms.
    let fast = [("AWS_MAX_ATTEMPTS", "1"), ("AWS_REGION", "us-east-1")];
    let mut text = pipectl(&["plan", "pipelines/lab.yaml"]);
    let mut json = pipectl(&["plan", "pipelines/lab.yaml", "--json"]);
    for (k, v) in fast {
        text = text.env(k, v);
        json = json.env(k, v);
    }
    let text = text.run().expect_code(1);
    assert!(text.stderr.starts_with("error: cannot find out which AWS account"), "{}", text.stderr);
    assert!(text.stderr.contains("\nCaused by:\n  GetCallerIdentity failed"), "{}", text.stderr);
    assert!(text.stderr.contains("\nhint: set credentials"), "{}", text.stderr);
    let doc = json.run().expect_code(1).json();
    assert_eq!(doc["format_version"], "1");
    assert!(doc["error"].as_str().unwrap().starts_with("cannot find out which AWS account"), "{doc}");
    assert!(doc["caused_by"][0].as_str().unwrap().starts_with("GetCallerIdentity failed"), "{doc}");
    assert!(doc["hint"].as_str().unwrap().starts_with("set credentials"), "{doc}");
}
