//! Saved plans: `plan --out FILE` and `apply FILE` run what was reviewed,
//! or nothing; `plan --format markdown` for the pull request's comment.

use crate::emulator::Moto;
use crate::util::temp_spec;
use pipectl::plan::saved::Saved;
use std::path::{Path, PathBuf};

const SPEC: &str = "pipeline: sv\nbuckets:\n  lake: { name: \"sv-lake-${env}-${account}\", on_destroy: delete }\nstreams:\n  events: { shards: 1, retention_hours: 24, encryption: none }\n";

/// The spec in a folder of `test`'s own, and where its plan is saved.
fn files(test: &str, text: &str) -> (String, String) {
    let spec: PathBuf = temp_spec("saved", test, text);
    let plan = spec.with_file_name("plan.json");
    (spec.display().to_string(), plan.display().to_string())
}

fn retention(moto: &Moto, stream: &str) -> i32 {
    let sdk = moto.sdk();
    let s = sdk.run(sdk.kinesis.describe_stream_summary().stream_name(stream).send()).unwrap();
    s.stream_description_summary().unwrap().retention_period_hours()
}

/// The addresses a saved plan changes.
fn planned(path: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let changes = doc["plan"]["changes"].as_array().unwrap();
    changes.iter().filter(|c| c["action"] != "no_op").map(|c| c["address"].as_str().unwrap().to_string()).collect()
}

#[test]
fn what_was_reviewed_is_not_what_runs() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("reviewed", SPEC);
    let made = moto.pipectl(&["plan", &spec, "--out", &plan]).run().expect_code(0);
    assert!(made.stdout.contains("Plan: 3 to create"), "{}", made.stdout);
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.starts_with("{\n  \"pipectl_plan\": \"1\""), "{text}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(moto.sdk().leftovers().is_empty(), "a plan changes nothing");
    let mut wanted = planned(&plan);
    wanted.sort();
    assert_eq!(wanted, ["bucket.lake", "record.deployment", "stream.events"]);

    // Applied with no prompt (standard input is not a terminal, no `--yes`):
    // the plan was reviewed.
    let run = moto.pipectl(&["apply", &plan]).run().expect_code(0);
    assert!(run.stderr.contains("apply: 3 done, 0 failed, 0 skipped"), "{}", run.stderr);
    assert_eq!(retention(&moto, "sv-events"), 24);
    let left = moto.sdk().leftovers();
    assert!(left.iter().any(|l| l.starts_with("bucket sv-lake-default-")), "{left:?}");
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);

    // It ran once: what it read has moved since (all of it now exists).
    let again = moto.pipectl(&["apply", &plan]).run().expect_code(3);
    assert!(again.stderr.contains("stream.events: exists now; it did not when the plan was made"), "{}", again.stderr);
    assert!(again.stderr.contains("hint: make a new plan"), "{}", again.stderr);
}

#[test]
fn a_saved_plan_is_refused_once_a_resource_was_changed_by_hand() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("by-hand", SPEC);
    moto.apply(&spec);
    std::fs::write(&spec, SPEC.replace("retention_hours: 24", "retention_hours: 48")).unwrap();
    let made = moto.pipectl(&["plan", &spec, "--out", &plan]).run().expect_code(0);
    assert!(made.stdout.contains("retention_hours: 24 -> 48"), "{}", made.stdout);
    let sdk = moto.sdk();
    sdk.run(sdk.kinesis.increase_stream_retention_period().stream_name("sv-events").retention_period_hours(72).send())
        .unwrap();
    let run = moto.pipectl(&["apply", &plan]).run().expect_code(3);
    assert!(
        run.stderr.contains("stream.events: retention_hours 24 -> 72 changed since the plan was made"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("bucket.lake"), "only what moved is named: {}", run.stderr);
    assert_eq!(retention(&moto, "sv-events"), 72, "nothing was changed");
    // The lock was released: a normal apply goes on.
    moto.pipectl(&["apply", &spec, "--yes"]).run().expect_code(0);
    assert_eq!(retention(&moto, "sv-events"), 48);
}

#[test]
fn a_saved_plan_is_refused_once_its_spec_changed() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("spec-changed", SPEC);
    moto.pipectl(&["plan", &spec, "--out", &plan]).run().expect_code(0);
    std::fs::write(&spec, format!("{SPEC}# reviewed? no\n")).unwrap();
    let run = moto.pipectl(&["apply", &plan]).run().expect_code(3);
    assert!(run.stderr.contains(&format!("the spec `{spec}` changed since the plan was made")), "{}", run.stderr);
    // Refused before any AWS call.
    assert!(moto.sdk().leftovers().is_empty(), "{:?}", moto.sdk().leftovers());
}

#[test]
fn an_edited_plan_file_is_refused() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("edited", SPEC);
    moto.pipectl(&["plan", &spec, "--out", &plan]).run().expect_code(0);
    let text = std::fs::read_to_string(&plan).unwrap();
    // Edited by hand: the checksum no longer matches.
    let edited = Path::new(&plan).with_file_name("edited.json");
    std::fs::write(&edited, text.replacen("\"action\": \"create\"", "\"action\": \"no_op\"", 1)).unwrap();
    let run = moto.pipectl(&["apply", edited.to_str().unwrap()]).run().expect_code(3);
    assert!(run.stderr.contains("edited or damaged"), "{}", run.stderr);
    // Edited and sealed again: the plan made from AWS now is not it.
    let mut doc: Saved = serde_json::from_str(&text).unwrap();
    doc.plan["changes"][0]["action"] = "no_op".into();
    let first = doc.plan["changes"][0]["address"].as_str().unwrap().to_string();
    std::fs::write(&edited, serde_json::to_string(&doc.seal()).unwrap()).unwrap();
    let run = moto.pipectl(&["apply", edited.to_str().unwrap()]).run().expect_code(3);
    assert!(run.stderr.contains(&format!("{first}: planned now as create, saved as no-op")), "{}", run.stderr);
    assert!(moto.sdk().leftovers().is_empty(), "{:?}", moto.sdk().leftovers());
    // Not JSON at all, though it says it is a plan: bad input.
    std::fs::write(&edited, "{\"pipectl_plan\": \"1\", ").unwrap();
    moto.pipectl(&["apply", edited.to_str().unwrap()]).run().expect_code(2);
}

#[test]
fn a_plan_for_one_env_is_refused_in_another_env_or_region() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("elsewhere", SPEC);
    moto.pipectl(&["plan", &spec, "--env", "pr-1", "--out", &plan]).run().expect_code(0);
    let run = moto.pipectl(&["apply", &plan, "--env", "pr-2"]).run().expect_code(3);
    assert!(run.stderr.contains("the plan was made for env `pr-1`; this run is for env `pr-2`"), "{}", run.stderr);
    let run = moto.pipectl(&["apply", &plan]).run().expect_code(3);
    assert!(run.stderr.contains("env `default`"), "{}", run.stderr);
    let run = moto.pipectl(&["apply", &plan, "--env", "pr-1", "--region", "eu-west-1"]).run().expect_code(3);
    assert!(
        run.stderr.contains("the plan was made for region us-east-1; this run is connected to eu-west-1"),
        "{}",
        run.stderr
    );
    let run = moto.pipectl(&["apply", &plan, "--env", "pr-1", "--var", "x=1"]).run().expect_code(3);
    assert!(
        run.stderr.contains("the variables (`--var`, `--var-file`, `PIPECTL_VAR_*`, defaults) differ"),
        "{}",
        run.stderr
    );
    assert!(moto.sdk().leftovers().is_empty(), "{:?}", moto.sdk().leftovers());
    moto.pipectl(&["apply", &plan, "--env", "pr-1"]).run().expect_code(0);
    // Too old for the limit given.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = moto.pipectl(&["apply", &plan, "--env", "pr-1", "--max-age", "1s"]).run().expect_code(3);
    assert!(run.stderr.contains("more than --max-age 1s"), "{}", run.stderr);
}

#[test]
fn the_lab_plan_renders_as_a_pull_request_comment() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    let run = moto.pipectl(&["plan", lab, "--env", "pr-7", "--format", "markdown"]).run().expect_code(0);
    let md = &run.stdout;
    assert!(md.starts_with("### pipectl plan: `taxi-lab` · env `pr-7` · us-east-1\n"), "{md}");
    assert!(md.contains("to create, 0 to update, 0 to replace, 0 to delete"), "{md}");
    assert!(md.contains("| `+` | `stream.trips` | `taxi-lab-trips-pr-7` | create |"), "{md}");
    assert!(md.contains("**Cost while deployed:**"), "{md}");
    assert!(md.contains("<details><summary>Cost by resource</summary>"), "{md}");
    // A change of fields, once deployed: in a collapsed diff block.
    moto.pipectl(&["apply", lab, "--env", "pr-7", "--yes"]).run().expect_code(0);
    let text = std::fs::read_to_string(pipectl_root().join(lab)).unwrap();
    let (spec, _) = files("lab", &text.replace("retention_hours: 24", "retention_hours: 36"));
    let code = pipectl_root().join("templates/lambda/filter_to_firehose.py").display().to_string();
    std::fs::write(
        &spec,
        std::fs::read_to_string(&spec).unwrap().replace("../templates/lambda/filter_to_firehose.py", &code),
    )
    .unwrap();
    let run = moto.pipectl(&["plan", &spec, "--env", "pr-7", "--format", "markdown"]).run().expect_code(0);
    let md = &run.stdout;
    assert!(md.contains("| `~` | `stream.trips` |"), "{md}");
    assert!(md.contains("```diff\n"), "{md}");
    assert!(md.contains("~ stream.trips\n-   retention_hours: 24\n+   retention_hours: 36\n"), "{md}");
    // The record follows the cost the longer retention brings.
    assert!(md.contains("~ record.deployment\n-   cost_per_hour:"), "{md}");
    assert!(!md.contains("vendor_id,pickup_datetime,total_amount"), "plain environment values stay hidden: {md}");
    // `--json` still prints the JSON plan.
    let json = moto.pipectl(&["plan", &spec, "--env", "pr-7", "--json"]).run().expect_code(0).json();
    assert_eq!(json["format_version"], "1");
}

fn pipectl_root() -> PathBuf {
    crate::util::root()
}

#[test]
fn a_saved_plan_is_refused_once_a_var_file_changed() {
    let Some(moto) = Moto::start() else { return };
    let text = "pipeline: svv\nvars:\n  shards: { type: integer, default: 1 }\nstreams:\n  events:\n    shards: ${var.shards}\n    encryption: none\n";
    let (spec, plan) = files("var-file", text);
    let vars = Path::new(&spec).with_file_name("pr.yaml");
    std::fs::write(&vars, "shards: 2\n").unwrap();
    let vars = vars.display().to_string();
    moto.pipectl(&["plan", &spec, "--var-file", &vars, "--out", &plan]).run().expect_code(0);
    std::fs::write(&vars, "shards: 3\n").unwrap();
    let run = moto.pipectl(&["apply", &plan, "--var-file", &vars]).run().expect_code(3);
    assert!(run.stderr.contains("the variables"), "{}", run.stderr);
    // The same value from the environment instead of the file: the same plan.
    std::fs::write(&vars, "{}\n").unwrap();
    moto.pipectl(&["apply", &plan, "--var-file", &vars]).env("PIPECTL_VAR_shards", "2").run().expect_code(0);
    let sdk = moto.sdk();
    let s = sdk.run(sdk.kinesis.describe_stream_summary().stream_name("svv-events").send()).unwrap();
    assert_eq!(s.stream_description_summary().unwrap().open_shard_count(), 2);
}

/// A saved plan given where a spec goes read as an empty spec
/// (`error[empty]`), which says nothing of what to do.
#[test]
fn a_saved_plan_where_a_spec_goes_says_so() {
    let Some(moto) = Moto::start() else { return };
    let (spec, plan) = files("where-a-spec-goes", SPEC);
    moto.pipectl(&["plan", &spec, "--out", &plan]).run().expect_code(0);
    for command in ["plan", "validate", "destroy", "outputs"] {
        let run = moto.pipectl(&[command, &plan]).run().expect_code(2);
        assert!(run.stderr.contains("is a saved plan") && run.stderr.contains("pipectl apply FILE"), "{}", run.stderr);
    }
}
