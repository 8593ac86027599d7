//! Defects found in the offline commands that help adoption: `init`'s odd
//! folders and quoting, `--color` on clap's own help, `graph`'s `--json`
//! with `--format`, the completion of `init`'s templates, and `validate`'s
//! warnings against `cost`.

use crate::util::{pipectl, scratch, temp_spec};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fresh(test: &str) -> PathBuf {
    let dir = scratch().join(format!("adoption-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Issue: a `--dir` with spaces or non-ASCII letters was printed unquoted
/// in the next commands, which a shell splits.
#[test]
fn init_paths_with_spaces_are_printed_unquoted_in_the_next_commands() {
    let dir = fresh("quote").join("my café's dir");
    let run = pipectl(&["init", "--dir", &s(&dir)]).run().expect_code(0);
    let spec = s(&dir.join("pipeline.yaml"));
    let quoted = format!("'{}'", spec.replace('\'', "'\\''"));
    assert!(run.stdout.contains(&format!("pipectl validate {quoted}\n")), "{}", run.stdout);
    // The command as printed runs in a shell.
    let line = run.stdout.lines().find(|l| l.trim().starts_with("pipectl validate")).unwrap().trim().to_string();
    let out = Command::new("sh")
        .arg("-c")
        .arg(line.replacen("pipectl", "\"$PIPECTL\"", 1))
        .env("PIPECTL", env!("CARGO_BIN_EXE_pipectl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Issue: `--dir` a dangling symbolic link failed with exit 1 "File exists
/// (os error 17)"; `--dir` naming a file hinted at permissions.
#[cfg(unix)]
#[test]
fn init_dir_a_dangling_symlink_or_a_file_is_refused_as_such() {
    let dir = fresh("odd-dir");
    let link = dir.join("link");
    std::os::unix::fs::symlink(dir.join("nowhere"), &link).unwrap();
    let run = pipectl(&["init", "--dir", &s(&link)]).run().expect_code(2);
    assert!(run.stderr.contains(&format!("`{}` is a symbolic link to nothing", s(&link))), "{}", run.stderr);
    assert!(!dir.join("nowhere").exists(), "written through the link");
    // A link to a folder is the user's choice, followed.
    std::fs::create_dir(dir.join("real")).unwrap();
    let to_folder = dir.join("to-folder");
    std::os::unix::fs::symlink(dir.join("real"), &to_folder).unwrap();
    pipectl(&["init", "--dir", &s(&to_folder)]).run().expect_code(0);
    assert!(dir.join("real/pipeline.yaml").is_file());
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let run = pipectl(&["init", "--dir", &s(&file)]).run().expect_code(2);
    assert!(run.stderr.contains(&format!("`{}` is a file, not a folder", s(&file))), "{}", run.stderr);
    assert!(!run.stderr.contains("permissions"), "{}", run.stderr);
}

/// Issue: `--color` had no effect on clap's own help and usage.
#[test]
fn color_has_no_effect_on_clap_help_and_usage() {
    let help = pipectl(&["--color", "always", "validate", "--help"]).run().expect_code(0);
    assert!(help.stdout.contains("\u{1b}["), "no colour into a pipe with --color always:\n{}", help.stdout);
    let help = pipectl(&["validate", "--help", "--color=never"]).env("CLICOLOR_FORCE", "1").run().expect_code(0);
    assert!(!help.stdout.contains('\u{1b}'), "coloured with --color never:\n{}", help.stdout);
    // Usage errors too.
    let usage = pipectl(&["--color", "always", "validate"]).run().expect_code(2);
    assert!(usage.stderr.contains("\u{1b}["), "{}", usage.stderr);
    let usage = pipectl(&["--color", "never", "validate"]).env("CLICOLOR_FORCE", "1").run().expect_code(2);
    assert!(!usage.stderr.contains('\u{1b}'), "{}", usage.stderr);
}

/// Issue: `graph --format mermaid --json` printed JSON, ignoring `--format`.
#[test]
fn graph_format_mermaid_json_silently_prints_json() {
    for format in ["mermaid", "dot", "svg"] {
        let run = pipectl(&["graph", "pipelines/lab.yaml", "--format", format, "--json"]).run().expect_code(2);
        let error = run.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.starts_with("`--json` is not supported by `graph --format dot|mermaid|svg`"), "{error}");
    }
    let mermaid = pipectl(&["graph", "pipelines/lab.yaml", "--format", "mermaid"]).run().expect_code(0);
    assert!(mermaid.stdout.starts_with("flowchart") || mermaid.stdout.contains("-->"), "{}", mermaid.stdout);
    pipectl(&["graph", "pipelines/lab.yaml", "--json"]).run().expect_code(0).json();
}

fn names() -> Vec<String> {
    let run = pipectl(&["init", "--list", "--json"]).run().expect_code(0);
    run.json()["templates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

fn exists(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Issue: fish completed `pipectl init ` with file names, not the
/// templates' names.
#[test]
fn fish_completion_of_init_offers_files_not_template_names() {
    let dir = fresh("complete");
    let mut checked = 0;
    for shell in ["bash", "fish"] {
        if !exists(shell) {
            eprintln!("{shell} is not installed: not checked");
            continue;
        }
        let file = dir.join(shell);
        std::fs::write(&file, pipectl(&["completions", shell]).run().expect_code(0).stdout).unwrap();
        let script = match shell {
            "bash" => format!(
                "source '{}'; COMP_WORDS=(pipectl init ''); COMP_CWORD=2; COMP_LINE='pipectl init '; COMP_POINT=13; \
                 _pipectl pipectl '' init; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                file.display()
            ),
            _ => format!("source '{}'; complete -C 'pipectl init '", file.display()),
        };
        let out = Command::new(shell).args(["-c", &script]).current_dir(&dir).output().unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let offered: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
        for name in names() {
            assert!(offered.contains(&name.as_str()), "{shell} does not offer `{name}`: {out}");
        }
        // No file names: the folder holds the completion scripts.
        assert!(!offered.contains(&shell), "{shell} offers files: {out}");
        checked += 1;
    }
    assert!(checked > 0, "neither bash nor fish is installed");
}

/// pipectl with no AWS settings from the environment (no region).
fn offline(args: &[&str]) -> crate::util::Pipectl {
    let mut p = pipectl(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        p = p.env_remove(&k);
    }
    p.env_remove("AWS_REGION").env_remove("AWS_DEFAULT_REGION").env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
}

const SHARDS_900: &str = "pipeline: w1\nstreams:\n  s:\n    shards: 900\n";

/// The hint of the first warning in `stderr`, between backquotes.
fn hinted_command(stderr: &str) -> String {
    let hint = stderr.lines().find(|l| l.contains("= hint: `pipectl cost")).unwrap_or_else(|| panic!("{stderr}"));
    hint.split('`').nth(1).unwrap().to_string()
}

/// Runs a command line as a shell would, `pipectl` being this build.
fn run_in_shell(line: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line.replacen("pipectl", "\"$PIPECTL\"", 1)).env("PIPECTL", env!("CARGO_BIN_EXE_pipectl"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        cmd.env_remove(k);
    }
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").output().unwrap()
}

/// Issue: `shards: 900` warned in us-east-1 and said nothing in a region
/// the price table lacks (an empty estimate is never above the threshold).
#[test]
fn the_monthly_cost_warning_disappears_in_every_region_the_price_table_lacks() {
    let spec = s(&temp_spec("adoption", "unpriced-region", SHARDS_900));
    let run = offline(&["validate", &spec, "--region", "eu-central-1"]).run().expect_code(0);
    assert!(
        run.stderr.contains("warning[monthly-cost]")
            && run
                .stderr
                .contains("in eu-central-1 (priced at eu-west-1's list prices; eu-central-1 is not in the table)"),
        "{}",
        run.stderr
    );
    // cost refuses the region, and its hint is a command that works.
    let run = offline(&["cost", &spec, "--region", "eu-central-1"]).run().expect_code(2);
    let hint = run.stderr.lines().find(|l| l.starts_with("hint:")).unwrap();
    let line = hint.split('`').nth(1).unwrap();
    let out = run_in_shell(line);
    assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    // The warning's hint is that same command.
    let warned = offline(&["validate", &spec, "--region", "eu-central-1"]).run().expect_code(0);
    assert_eq!(hinted_command(&warned.stderr), line);
}

/// Issue: with no region, `validate` assumed us-east-1 and hinted
/// `pipectl cost FILE`, which failed: "no region to price in".
#[test]
fn the_warnings_hint_does_not_work() {
    let spec = s(&temp_spec("adoption", "hint", SHARDS_900));
    let run = offline(&["validate", &spec, "--assume-gb-per-day", "2"]).run().expect_code(0);
    assert!(run.stderr.contains("us-east-1 assumed"), "{}", run.stderr);
    let line = hinted_command(&run.stderr);
    assert_eq!(line, format!("pipectl cost {spec} --region us-east-1 --assume-gb-per-day 2"));
    let out = run_in_shell(&line);
    assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    // It prices what the warning said.
    let total = String::from_utf8_lossy(&out.stdout).lines().find(|l| l.contains("/month,")).unwrap().to_string();
    let warned = run.stderr.split("costs about ").nth(1).unwrap().split(' ').next().unwrap().replace(',', "");
    assert!(total.starts_with(&warned), "{total} vs {warned}");
}

/// Issue: quota warnings could not be silenced for an account whose
/// quotas were raised.
#[test]
fn quota_warnings_cannot_be_silenced() {
    let text = "pipeline: big\nregion: us-east-2\nstreams:\n  s:\n    shards: 5000\n";
    let spec = s(&temp_spec("adoption", "silence", text));
    let rules = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["validate", spec.as_str(), "--json"];
        args.extend(extra);
        let doc = offline(&args).run().expect_code(0).json();
        doc["diagnostics"].as_array().unwrap().iter().map(|d| d["rule"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(rules(&[]), ["monthly-cost", "default-quota"]);
    assert_eq!(rules(&["--ignore-warning", "default-quota"]), ["monthly-cost"]);
    assert_eq!(rules(&["--ignore-warning", "kinesis.shards"]), ["monthly-cost"]);
    assert_eq!(rules(&["--ignore-warning", "firehose.streams"]), ["monthly-cost", "default-quota"]);
    assert!(rules(&["--ignore-warning", "kinesis.shards", "--ignore-warning", "monthly-cost"]).is_empty());
    let run = offline(&["validate", &spec, "--ignore-warning", "kinesis.shard"]).run().expect_code(2);
    assert!(run.stderr.contains("kinesis.shards"), "{}", run.stderr);
    // The warning names how to silence it.
    let run = offline(&["validate", &spec]).run().expect_code(0);
    assert!(run.stderr.contains("`--ignore-warning kinesis.shards` silences it"), "{}", run.stderr);
}

fn hosts(types: &[&str]) -> String {
    let mut text = "pipeline: hosts\nregion: us-east-1\nstreams:\n  s: {}\nagents:\n".to_string();
    for (i, t) in types.iter().enumerate() {
        text.push_str(&format!(
            "  h{i}:\n    instance_type: {t}\n    ami: al2023\n    run: producer\n    producer: {{ stream: s, generate: taxi, rate: 1 }}\n"
        ));
    }
    text
}

/// Issue: instance types missing from quotas.json counted as 0 vCPUs and
/// $0: three large hosts passed without a word.
#[test]
fn instance_types_missing_from_quotas_json_count_as_0_vcpus_and_0_dollars() {
    let spec = s(&temp_spec("adoption", "big-hosts", &hosts(&["c5.4xlarge", "c5.4xlarge", "c5.24xlarge"])));
    let run = offline(&["validate", &spec]).run().expect_code(0);
    let err = &run.stderr;
    // 16 + 16 + 96 vCPUs.
    assert!(err.contains("this spec alone needs 128 vCPUs, above AWS's default quota of 5"), "{err}");
    assert_eq!(err.matches("warning[no-price]").count(), 3, "{err}");
    assert!(err.contains("`c5.24xlarge` has no price in the table"), "{err}");
    // A size the rule does not know is said, not counted as 0.
    let spec = s(&temp_spec("adoption", "metal", &hosts(&["m5.metal"])));
    let run = offline(&["validate", &spec]).run().expect_code(0);
    assert!(run.stderr.contains("warning[unknown-vcpus]: vCPUs of `m5.metal` unknown"), "{}", run.stderr);
    // cost lists them as not estimated and its total as a floor.
    let run = offline(&["cost", &spec]).run().expect_code(0);
    assert!(run.stdout.contains("no price for `ec2.m5.metal`"), "{}", run.stdout);
    assert!(run.stdout.contains("\nat least $"), "{}", run.stdout);
}

/// Issue: `cost` left out what an on-demand stream bills per GB each
/// consumer reads, and priced any volume into one shard.
#[test]
fn cost_leaves_out_on_demand_kinesis_retrieval_without_saying_so() {
    let text = std::fs::read_to_string(crate::util::root().join("pipelines/sensor-streaming-lab.yaml")).unwrap();
    assert!(text.contains("on-demand") || text.contains("on_demand"), "the lab's stream is no longer on-demand");
    let doc = offline(&["cost", "pipelines/sensor-streaming-lab.yaml", "--region", "us-east-1", "--json"])
        .run()
        .expect_code(0)
        .json();
    let reads: Vec<&serde_json::Value> =
        doc["items"].as_array().unwrap().iter().filter(|i| i["price"] == "kinesis.on_demand_retrieval_gb").collect();
    assert!(!reads.is_empty(), "{doc}");
    for r in &reads {
        assert!(r["what"].as_str().unwrap().starts_with("data read by `"), "{r}");
        // 1 GB/day for 730/24 days at $0.04.
        assert!((r["monthly"].as_f64().unwrap() - 730.0 / 24.0 * 0.04).abs() < 1e-9, "{r}");
    }
    // A volume a provisioned stream cannot take is noted.
    let spec = s(&temp_spec("adoption", "one-shard", "pipeline: one\nstreams:\n  s:\n    shards: 1\n"));
    let run = offline(&["cost", &spec, "--region", "us-east-1", "--assume-gb-per-day", "1000"]).run().expect_code(0);
    assert!(
        run.stdout.contains(
            "note: stream.s cannot take in the 1000 GB/day assumed: at most 86.4 GB/day (1 shard at 1 MB/s each)"
        ),
        "{}",
        run.stdout
    );
    let run = offline(&["cost", &spec, "--region", "us-east-1", "--assume-gb-per-day", "80"]).run().expect_code(0);
    assert!(!run.stdout.contains("note:"), "{}", run.stdout);
}

/// Issue: `validate --json` listed every warning twice (`diagnostics` and
/// `warnings`), and `cost --json` named `resource` and `prices.version`
/// what `plan --json` names `address` and `prices_version`.
#[test]
fn validate_json_lists_every_warning_twice() {
    let spec = s(&temp_spec("adoption", "json-once", SHARDS_900));
    let doc = offline(&["validate", &spec, "--json"]).run().expect_code(0).json();
    assert!(doc.get("warnings").is_none(), "{doc}");
    let d = doc["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{doc}");
    assert_eq!((d[0]["rule"].as_str(), d[0]["severity"].as_str()), (Some("monthly-cost"), Some("warning")));
    let cost = offline(&["cost", &spec, "--region", "us-east-1", "--json"]).run().expect_code(0).json();
    let plan = crate::util::root().join("prices/aws.json");
    let table: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    assert_eq!(cost["prices_version"], table["version"]);
    assert!(cost["items"][0]["address"].is_string() && cost["items"][0].get("resource").is_none(), "{cost}");
    assert!(cost.get("prices").is_none() && cost["prices_version"].is_string(), "{cost}");
}
