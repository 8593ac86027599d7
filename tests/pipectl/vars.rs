//! Typed variables (`vars:`, `--var-file`, `PIPECTL_VAR_`, `--var`),
//! `env-name`, and the bound on what anchors copy.

use crate::emulator::Moto;
use crate::util::{pipectl, temp_spec};
use std::path::Path;

const SPEC: &str = "\
pipeline: vp
vars:
  shards:
    type: integer
    description: shards of the ingest stream
    default: 1
  tier:
    type: string
    allowed: [pr, prod]
streams:
  s:
    name: \"vp-${var.tier}-${env}\"
    shards: ${var.shards}
";

/// The spec and var files beside it; returns the spec's path.
fn project(test: &str, spec: &str, files: &[(&str, &str)]) -> String {
    let path = temp_spec("vars", test, spec);
    for (name, text) in files {
        let p = path.parent().unwrap().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    path.to_str().unwrap().to_string()
}

fn beside(spec: &str, name: &str) -> String {
    Path::new(spec).parent().unwrap().join(name).to_str().unwrap().to_string()
}

#[test]
fn no_per_env_values() {
    let spec = project(
        "per-env",
        SPEC,
        &[("vars/pr.yaml", "tier: pr\n"), ("vars/prod.yaml", "# production\ntier: prod\nshards: 4\n")],
    );
    let (pr, prod) = (beside(&spec, "vars/pr.yaml"), beside(&spec, "vars/prod.yaml"));
    let doc = pipectl(&["validate", &spec, "--json", "--var-file", &prod]).run().expect_code(0).json();
    assert_eq!(doc["vars"]["shards"]["value"], 4);
    assert_eq!(doc["vars"]["shards"]["source"]["kind"], "file");
    assert_eq!(
        (doc["vars"]["shards"]["source"]["line"].as_u64(), doc["vars"]["shards"]["source"]["col"].as_u64()),
        (Some(3), Some(9))
    );
    let Some(moto) = Moto::start() else { return };
    moto.pipectl(&["apply", &spec, "--yes", "--env", "pr-1", "--var-file", &pr]).run().expect_code(0);
    moto.pipectl(&["apply", &spec, "--yes", "--env", "prod", "--var-file", &prod]).run().expect_code(0);
    let sdk = moto.sdk();
    let shards = |name: &str| {
        let out = sdk.run(sdk.kinesis.describe_stream_summary().stream_name(name).send()).unwrap();
        out.stream_description_summary().unwrap().open_shard_count()
    };
    assert_eq!((shards("vp-pr-pr-1"), shards("vp-prod-prod")), (1, 4), "one spec, two envs");
}

#[test]
fn precedence_is_default_then_files_then_environment_then_flag() {
    let spec = project("precedence", SPEC, &[("a.yaml", "tier: pr\nshards: 2\n"), ("b.yaml", "shards: 3\n")]);
    let (a, b) = (beside(&spec, "a.yaml"), beside(&spec, "b.yaml"));
    let shards = |extra: &[&str], env: Option<&str>| {
        let mut args = vec!["validate", spec.as_str(), "--json"];
        args.extend(extra);
        let mut cmd = pipectl(&args);
        if let Some(v) = env {
            cmd = cmd.env("PIPECTL_VAR_shards", v);
        }
        let doc = cmd.run().expect_code(0).json();
        (
            doc["vars"]["shards"]["value"].as_i64().unwrap(),
            doc["vars"]["shards"]["source"]["kind"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(shards(&["--var", "tier=pr"], None), (1, "default".into()));
    assert_eq!(shards(&["--var-file", &a], None), (2, "file".into()));
    assert_eq!(shards(&["--var-file", &a, "--var-file", &b], None), (3, "file".into()), "the later file wins");
    assert_eq!(shards(&["--var-file", &b, "--var-file", &a], None), (2, "file".into()));
    assert_eq!(shards(&["--var-file", &a], Some("5")), (5, "env".into()));
    assert_eq!(shards(&["--var-file", &a, "--var", "shards=6"], Some("5")), (6, "flag".into()));
}

#[test]
fn variable_errors_name_the_place_and_exit_2() {
    let spec =
        project("errors", SPEC, &[("v.yaml", "tier: pr\nshard: 4\n"), ("big.yaml", "tier: pr\nshards: 20000\n")]);
    // An unknown name in a var file: the file's line and column, and a did-you-mean.
    let run = pipectl(&["validate", &spec, "--var-file", &beside(&spec, "v.yaml")]).run().expect_code(2);
    assert!(run.stderr.contains("v.yaml:2:1") && run.stderr.contains("did you mean `shards`?"), "{}", run.stderr);
    // A required variable not set: where it is declared, and how to set it.
    let run = pipectl(&["validate", &spec, "--json"]).run().expect_code(2);
    let d = &run.json()["diagnostics"][0];
    assert_eq!((d["rule"].as_str(), d["line"].as_u64()), (Some("missing-variable"), Some(8)), "{d}");
    assert!(d["hint"].as_str().unwrap().contains("PIPECTL_VAR_tier"), "{d}");
    // A value of the wrong type names the variable, its source and the type.
    let run = pipectl(&["validate", &spec, "--var", "tier=pr", "--var", "shards=many"]).run().expect_code(2);
    assert!(run.stderr.contains("var.shards (set by --var shards): `many` is not an integer"), "{}", run.stderr);
    let run = pipectl(&["validate", &spec, "--var", "tier=qa"]).run().expect_code(2);
    assert!(run.stderr.contains("not one of the allowed values"), "{}", run.stderr);
    // The field's own rule judges the value, at the place it is used, naming the variable.
    let run = pipectl(&["validate", &spec, "--var-file", &beside(&spec, "big.yaml")]).run().expect_code(2);
    assert!(run.stderr.contains("(from var.shards, set in ") && run.stderr.contains("big.yaml:2:9)"), "{}", run.stderr);
    assert!(run.stderr.contains("spec.yaml:13:"), "at the use: {}", run.stderr);
    // A use of an undeclared variable: its place and a did-you-mean.
    let typo = project("typo", &SPEC.replace("${var.shards}", "${var.shard}"), &[]);
    let run = pipectl(&["validate", &typo, "--var", "tier=pr"]).run().expect_code(2);
    assert!(
        run.stderr.contains("spec.yaml:13:") && run.stderr.contains("did you mean `var.shards`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_a_vars_section_var_flags_work_as_before() {
    let spec = project("legacy", "pipeline: vl\nbuckets: { b: { name: \"vl-${var.team}-b\" } }\n", &[]);
    pipectl(&["validate", &spec, "--var", "team=data"]).run().expect_code(0);
    let run = pipectl(&["validate", &spec]).run().expect_code(2);
    assert!(run.stderr.contains("variable `team` is not set"), "{}", run.stderr);
}

#[test]
fn the_policy_judges_what_a_variable_brings_in() {
    let text = "pipeline: vr\nvars:\n  role: { type: string, default: ci-firehose }\nbuckets: { b: {} }\nfirehoses:\n  f: { source: direct, role: \"${var.role}\", destination: { bucket: b } }\n";
    let spec = project("policy", text, &[("policy.yaml", "roles: [ci-*]\n"), ("admin.yaml", "role: admin\n")]);
    let policy = beside(&spec, "policy.yaml");
    pipectl(&["validate", &spec, "--policy", &policy]).run().expect_code(0);
    let run = pipectl(&["validate", &spec, "--policy", &policy, "--var", "role=admin"]).run().expect_code(2);
    assert!(run.stderr.contains("error[policy]") && run.stderr.contains("admin"), "{}", run.stderr);
    assert!(run.stderr.contains("from var.role, set by --var role"), "names the variable: {}", run.stderr);
    let admin = beside(&spec, "admin.yaml");
    pipectl(&["validate", &spec, "--policy", &policy, "--var-file", &admin]).run().expect_code(2);
    // A value is never a reference nor a secret.
    let run = pipectl(&["validate", &spec, "--policy", &policy, "--var", "role=${ssm:/x}"]).run().expect_code(2);
    assert!(run.stderr.contains("plain text"), "{}", run.stderr);
}

#[test]
fn no_way_to_turn_a_branch_name_into_an_env_name() {
    let run = pipectl(&["env-name", "feature/ABC_1"]).run().expect_code(0);
    assert_eq!(run.stdout, "feature-abc-1\n");
    let long = "feature/an-extremely-long-branch-name-that-goes-on-and-on";
    let env = pipectl(&["env-name", long]).run().expect_code(0).stdout.trim().to_string();
    assert!(env.len() <= 32 && env.starts_with("feature-an-extremely-lo"), "{env}");
    // Its own env name, and one pipectl takes.
    assert_eq!(pipectl(&["env-name", &env]).run().expect_code(0).stdout.trim(), env);
    // Given the spec, short enough that every name derived from it fits.
    let fits = pipectl(&["env-name", long, "pipelines/lab.yaml"]).run().expect_code(0).stdout.trim().to_string();
    assert!(fits.len() < env.len() && fits.starts_with("feature-an"), "{fits}");
    pipectl(&["validate", "pipelines/lab.yaml", "--env", &fits]).run().expect_code(0);
    assert_eq!(pipectl(&["env-name", "pr-7", "pipelines/lab.yaml"]).run().expect_code(0).stdout, "pr-7\n");
    let doc = pipectl(&["env-name", "default", "--json"]).run().expect_code(0).json();
    assert!(doc["env"].as_str().unwrap().starts_with("default-"), "{doc}");
}

#[test]
fn anchored_yaml_nodes_do_not_count_toward_the_expansion_limit() {
    // No alias at all: sixty nested anchors over one list keep sixty copies.
    let items = vec!["x"; 2_000].join(", ");
    let mut text = String::from("pipeline: va\ntags:\n  k: ");
    for i in 0..60 {
        text.push_str(&format!("&a{i} ["));
    }
    text.push_str(&items);
    text.push_str(&"]".repeat(60));
    text.push('\n');
    let spec = project("anchors", &text, &[]);
    let run = pipectl(&["validate", &spec, "--json"]).run().expect_code(2);
    let d = &run.json()["diagnostics"][0];
    assert_eq!((d["rule"].as_str(), d["line"].as_u64()), (Some("yaml-alias"), Some(3)), "{d}");
    assert!(d["message"].as_str().unwrap().contains("anchors and aliases"), "{d}");
}

/// A pull request's close job has no checkout, so no spec: with the same
/// `--max-length` it names the same env as the job that applied with one.
#[test]
fn a_job_without_the_spec_names_the_same_env_with_max_length() {
    let branch = "pr-123-feature/a-very-long-branch-name-for-the-lab";
    let with = pipectl(&["env-name", "--max-length", "24", branch, "pipelines/lab.yaml"]).run().expect_code(0);
    let without = pipectl(&["env-name", "--max-length", "24", branch]).run().expect_code(0);
    assert_eq!(with.stdout, without.stdout);
    assert!(with.stdout.trim().len() <= 24, "{}", with.stdout);
    pipectl(&["validate", "pipelines/lab.yaml", "--env", with.stdout.trim()]).run().expect_code(0);
    pipectl(&["env-name", "--max-length", "9", branch]).run().expect_code(2);
}
