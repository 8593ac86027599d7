//! `pipectl init`: every built-in template written into a folder outside
//! any git work tree, then validated (and, for two, deployed and taken
//! down) as is; refusing to overwrite, refusing symlinks, `--list`; and the
//! hint of a lab copied out of the repository.

use crate::emulator::Moto;
use crate::util::{pipectl, root};
use std::path::{Path, PathBuf};

/// A fresh folder under the system's temporary folder, which no git work
/// tree holds (checked).
fn fresh(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pipectl-init-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let git = std::process::Command::new("git").arg("-C").arg(&dir).args(["rev-parse", "--show-toplevel"]).output();
    assert!(git.map(|o| !o.status.success()).unwrap_or(true), "{} is inside a git work tree", dir.display());
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `pipectl init NAME --dir DIR`, which must succeed; returns the spec.
fn init(name: &str, dir: &Path) -> PathBuf {
    let run = pipectl(&["init", name, "--dir", &s(dir)]).run().expect_code(0);
    let spec = if name == "minimal" { "pipeline.yaml".to_string() } else { format!("{name}.yaml") };
    assert!(run.stdout.contains(&format!("pipectl validate {}", s(&dir.join(&spec)))), "{}", run.stdout);
    // The next commands keep a spec's own region.
    let region = std::fs::read_to_string(dir.join(&spec)).unwrap().lines().any(|l| l.starts_with("region:"));
    let flag = if region { "" } else { " --region us-east-1" };
    for cmd in ["cost", "apply"] {
        let want = format!("pipectl {cmd} {}{flag}\n", s(&dir.join(&spec)));
        assert!(run.stdout.contains(&want), "{want}: {}", run.stdout);
    }
    dir.join(spec)
}

fn names() -> Vec<String> {
    let run = pipectl(&["init", "--list", "--json"]).run().expect_code(0);
    run.json()["templates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn init_list_names_the_minimal_pipeline_and_the_five_labs_each_with_a_line() {
    let names = names();
    let want = [
        "minimal",
        "lab",
        "firehose-tenant-metrics",
        "kinesis-agent-lambda-s3",
        "lambda-firehose-parquet-glue",
        "sensor-streaming-lab",
        "stream-data-processor",
    ];
    assert_eq!(names, want);
    let run = pipectl(&["init", "--list"]).run().expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), want.len(), "{}", run.stdout);
    for (line, name) in lines.iter().zip(want) {
        let about = line.strip_prefix(name).unwrap_or_else(|| panic!("{line}")).trim();
        assert!(about.len() > 20, "{line}");
    }
    assert!(lines[0].ends_with("(default)"), "{}", lines[0]);
}

#[test]
fn every_template_inits_outside_a_git_work_tree_and_validates_as_is() {
    for name in names() {
        let dir = fresh(&format!("every-{name}"));
        let spec = init(&name, &dir);
        let text = std::fs::read_to_string(&spec).unwrap();
        assert!(!text.contains("../"), "{name}: {text}");
        // Every code path names a file written beside the spec.
        for line in text.lines().filter_map(|l| l.trim().strip_prefix("code: ")) {
            assert!(dir.join(line).exists(), "{name}: {line} not written");
        }
        let run = pipectl(&["validate", &s(&spec)]).env_remove("PIPECTL_CODE_ROOT").run();
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        // The first line names the schema written beside the spec, which
        // is the one `pipectl schema` prints.
        assert!(text.starts_with("# yaml-language-server: $schema=pipectl.schema.json\n"), "{name}: {text}");
        let schema = std::fs::read_to_string(dir.join("pipectl.schema.json")).unwrap();
        assert_eq!(schema, pipectl(&["schema"]).run().expect_code(0).stdout, "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn init_without_a_name_writes_the_minimal_pipeline_into_the_current_folder() {
    let dir = fresh("default");
    let run = pipectl(&["init", "--dir", &s(&dir)]).run().expect_code(0);
    assert!(run.stdout.contains("`minimal`"), "{}", run.stdout);
    let text = std::fs::read_to_string(dir.join("pipeline.yaml")).unwrap();
    assert!(text.contains("code: templates/lambda/decode_and_log.py"), "{text}");
    assert_eq!(
        std::fs::read(dir.join("templates/lambda/decode_and_log.py")).unwrap(),
        std::fs::read(root().join("templates/lambda/decode_and_log.py")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// apply, a plan with nothing to do, destroy: the written folder deploys
/// as is, with no code root given and no git work tree.
fn deploys_as_is(name: &str) {
    let Some(moto) = Moto::start() else { return };
    let dir = fresh(&format!("deploy-{name}"));
    let spec = s(&init(name, &dir));
    let run = |args: &[&str]| moto.pipectl(args).env_remove("PIPECTL_CODE_ROOT").run();
    run(&["apply", &spec, "--yes"]).expect_code(0);
    run(&["plan", &spec, "--detailed-exitcode"]).expect_code(0);
    run(&["destroy", &spec, "--yes"]).expect_code(0);
    let left = moto.sdk().leftovers();
    assert!(left.is_empty(), "{name}: left behind: {left:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn minimal_init_applies_plans_nothing_and_destroys_on_the_emulator() {
    deploys_as_is("minimal");
}

#[test]
fn a_lab_init_applies_plans_nothing_and_destroys_on_the_emulator() {
    deploys_as_is("sensor-streaming-lab");
}

#[test]
fn init_refuses_to_overwrite_naming_every_file_and_writes_nothing() {
    let dir = fresh("overwrite");
    init("lab", &dir);
    let spec = dir.join("lab.yaml");
    std::fs::write(&spec, "edited").unwrap();
    std::fs::remove_file(dir.join("templates/lambda/filter_to_firehose.py")).unwrap();
    std::fs::remove_file(dir.join("pipectl.schema.json")).unwrap();
    let run = pipectl(&["init", "lab", "--dir", &s(&dir)]).run().expect_code(2);
    assert!(run.stderr.contains(&format!("`{}` already exists: nothing written", s(&spec))), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "edited");
    assert!(!dir.join("templates/lambda/filter_to_firehose.py").exists(), "written although refused");
    // --force replaces what exists and writes what is missing.
    pipectl(&["init", "lab", "--dir", &s(&dir), "--force"]).run().expect_code(0);
    assert!(
        std::fs::read_to_string(&spec).unwrap().lines().nth(1)
            == Some("# lab.yaml: the full pipeline pipectl is built to deploy.")
    );
    assert!(dir.join("templates/lambda/filter_to_firehose.py").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn init_refuses_to_write_through_a_symlink_even_with_force() {
    let dir = fresh("symlink");
    let elsewhere = fresh("symlink-target");
    // A folder on the way that is a link.
    std::os::unix::fs::symlink(&elsewhere, dir.join("templates")).unwrap();
    let run = pipectl(&["init", "--dir", &s(&dir), "--force"]).run().expect_code(2);
    assert!(run.stderr.contains("is a symbolic link"), "{}", run.stderr);
    assert!(!dir.join("pipeline.yaml").exists(), "the spec was written before the refusal");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "written through the link");
    // The spec itself a link (dangling or not).
    std::fs::remove_file(dir.join("templates")).unwrap();
    let target = elsewhere.join("kept.yaml");
    std::fs::write(&target, "kept").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("pipeline.yaml")).unwrap();
    let run = pipectl(&["init", "--dir", &s(&dir), "--force"]).run().expect_code(2);
    assert!(run.stderr.contains(&format!("`{}` is a symbolic link", s(&dir.join("pipeline.yaml")))), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// Issue: copying `pipelines/lab.yaml` and `templates/` into a folder that
/// is not a git work tree failed with a code-path error whose hint did not
/// say which `--code-root` to pass.
#[test]
fn a_lab_copied_outside_a_git_work_tree_is_told_which_code_root_to_pass() {
    let dir = fresh("copied");
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::copy(root().join("pipelines/lab.yaml"), dir.join("pipelines/lab.yaml")).unwrap();
    let lambda = dir.join("templates/lambda");
    std::fs::create_dir_all(&lambda).unwrap();
    std::fs::copy(root().join("templates/lambda/filter_to_firehose.py"), lambda.join("filter_to_firehose.py")).unwrap();
    let spec = s(&dir.join("pipelines/lab.yaml"));
    let run = pipectl(&["validate", &spec]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(2);
    let want = format!("add `--code-root {}` to the command", s(&dir));
    assert!(run.stderr.contains(&want), "{}", run.stderr);
    assert!(run.stderr.contains("no git work tree holds the spec"), "{}", run.stderr);
    // What the hint says to run works.
    pipectl(&["validate", &spec, "--code-root", &s(&dir)]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(0);
    let _ = std::fs::remove_dir_all(&dir);
}
