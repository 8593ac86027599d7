//! The CI examples in `examples/ci/`, run the way their CI runs them: each
//! job's commands in order, in a git clone of a project holding the lab, with
//! `pipectl` on PATH, against the emulator. What only the CI platform can do
//! is not run and is listed here by name: checking out (the project is
//! already a clone), installing pipectl (it is on PATH), and exchanging the
//! OIDC token (static credentials come first in the SDK's chain). Posting
//! the plan goes to a stand-in `gh`/`curl` that keeps what was posted.

use crate::emulator::Moto;
use crate::util::{root, scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

/// Steps a GitHub job may hold that only the platform can run.
const GITHUB_PLATFORM_STEPS: [&str; 2] = ["actions/checkout@v4", "aws-actions/configure-aws-credentials@v4"];

/// What the base branch's policy says once it has moved on.
const TIP: &str = "# the base branch's tip";

fn load(name: &str) -> Yaml {
    let text = std::fs::read_to_string(root().join("examples/ci").join(name)).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn text(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn map(y: &Yaml) -> Vec<(String, String)> {
    y.as_hash().map(|h| h.iter().map(|(k, v)| (text(k), text(v))).collect()).unwrap_or_default()
}

/// A project as a CI job sees it: a clone (with `origin`) of a repository
/// holding the lab spec, its code and the policies.
struct Project {
    dir: PathBuf,
    base_sha: String,
    bin: PathBuf,
    log: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Project {
    fn new(name: &str) -> Project {
        let top = scratch().join(format!("pipectl-workflows-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let upstream = top.join("upstream");
        for part in ["pipelines", "templates", "policies"] {
            copy_dir(&root().join(part), &upstream.join(part));
        }
        git(&upstream, &["init", "--quiet", "-b", "main"]);
        git(&upstream, &["add", "-A"]);
        git(&upstream, &["commit", "--quiet", "-m", "the lab"]);
        git(&top, &["clone", "--quiet", "upstream", "project"]);
        let dir = top.join("project");
        let base_sha = git(&dir, &["rev-parse", "HEAD"]);
        // The base branch moves on after the branch was cut: the policy a
        // job uses is the base branch's as it is now.
        let policy = upstream.join("policies/pull-request.yaml");
        let text = std::fs::read_to_string(&policy).unwrap();
        std::fs::write(&policy, format!("{text}{TIP}\n")).unwrap();
        git(&upstream, &["commit", "--quiet", "-am", "the policy, later"]);

        let bin = top.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pipectl"), bin.join("pipectl")).unwrap();
        let log = top.join("posted.log");
        // Stand-ins for the platform's API clients: keep what would be posted.
        let keep = format!(
            "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> '{log}'\nfor a in \"$@\"; do case \"$a\" in body@*) cat \"${{a#body@}}\" >> '{log}';; esac; done\n\
             prev=\nfor a in \"$@\"; do [ \"$prev\" = --body-file ] && cat \"$a\" >> '{log}'; prev=$a; done\nexit 0\n",
            log = log.display()
        );
        for tool in ["gh", "curl"] {
            let path = bin.join(tool);
            std::fs::write(&path, &keep).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Project { dir, base_sha, bin, log }
    }

    fn posted(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs one shell script as a CI runner would (bash, stop at the first
    /// failure), with exactly `env` on top of the emulator's credentials.
    fn run(&self, moto: &Moto, what: &str, script: &str, env: &BTreeMap<String, String>) -> String {
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new("bash")
            .args(["-eo", "pipefail", "-c", script])
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", &moto.url)
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bash runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        );
        format!("{stdout}{stderr}")
    }

    fn env_name(&self, raw: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_pipectl")).args(["env-name", raw]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// GitHub's `${{ }}` values the jobs read through `env:`; any other is an
/// error, so a new one is added here on purpose.
fn github_expression(expr: &str, context: &BTreeMap<&str, String>) -> String {
    context.get(expr).cloned().unwrap_or_else(|| panic!("the test does not know `${{{{ {expr} }}}}`: add it"))
}

fn github_value(value: &str, context: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        out.push_str(&github_expression(rest[start + 3..end].trim(), context));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs a GitHub Actions job's steps in order; returns their output.
fn github_job(project: &Project, moto: &Moto, doc: &Yaml, job: &str, context: &BTreeMap<&str, String>) -> String {
    let temp = project.dir.parent().unwrap().join(format!("runner-temp-{job}"));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).unwrap();
    let github_env = temp.join("github-env");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("RUNNER_TEMP".into(), temp.display().to_string());
    env.insert("GITHUB_ENV".into(), github_env.display().to_string());
    env.insert("GITHUB_STEP_SUMMARY".into(), temp.join("summary.md").display().to_string());
    for (k, v) in map(&doc["env"]).into_iter().chain(map(&doc["jobs"][job]["env"])) {
        env.insert(k, github_value(&v, context));
    }
    let steps = doc["jobs"][job]["steps"].as_vec().unwrap_or_else(|| panic!("job {job} has steps"));
    let mut output = String::new();
    for step in steps {
        if let Some(uses) = step["uses"].as_str() {
            assert!(GITHUB_PLATFORM_STEPS.contains(&uses), "{job}: a step the test cannot run: {uses}");
            continue;
        }
        let script = step["run"].as_str().unwrap_or_else(|| panic!("{job}: a step without run or uses"));
        assert!(!script.contains("${{"), "{job}: a script reads `${{{{ }}}}` directly: put it in env:\n{script}");
        if script.starts_with("cargo install ") {
            continue;
        }
        let _ = std::fs::write(&github_env, "");
        let name = format!("{job}: {}", step["name"].as_str().unwrap_or("step"));
        output.push_str(&project.run(moto, &name, script, &env));
        for line in std::fs::read_to_string(&github_env).unwrap_or_default().lines() {
            let (k, v) = line.split_once('=').expect("KEY=VALUE in GITHUB_ENV");
            env.insert(k.into(), v.into());
        }
    }
    output
}

#[test]
fn github_actions_workflow_runs_its_commands_in_order() {
    let Some(moto) = Moto::start() else { return };
    let doc = load("github-actions.yml");
    let project = Project::new("github");
    let mut context: BTreeMap<&str, String> = BTreeMap::new();
    context.insert("vars.PIPECTL_REPO", "https://example.com/pipectl.git".into());
    context.insert("github.event.number", "7".into());
    context.insert("github.head_ref", "feature/ABC_1".into());
    context.insert("github.base_ref", "main".into());
    context.insert("github.token", "not-a-token".into());
    let env = project.env_name("pr-7-feature/ABC_1");
    let sdk = moto.sdk();

    // Opened: validate, plan (as a comment), apply that plan, verify.
    github_job(&project, &moto, &doc, "pull-request", &context);
    let policy = project.dir.parent().unwrap().join("runner-temp-pull-request/policy.yaml");
    assert!(std::fs::read_to_string(policy).unwrap().contains(TIP), "the base branch's policy as it is now");
    let posted = project.posted();
    assert!(posted.contains("gh pr comment 7"), "the plan is posted on the pull request:\n{posted}");
    assert!(posted.contains(&format!("taxi-lab-trips-{env}")), "the comment is the plan:\n{posted}");
    let alive = sdk.leftovers();
    assert!(alive.iter().any(|r| r == &format!("stream taxi-lab-trips-{env}")), "{alive:?}");

    // Pushed again without a change: the same commands, nothing to do.
    let again = github_job(&project, &moto, &doc, "pull-request", &context);
    assert!(!again.contains("created"), "a second run changes nothing:\n{again}");

    // Merged: production, from a saved plan.
    github_job(&project, &moto, &doc, "production", &context);
    assert!(sdk.leftovers().iter().any(|r| r == "stream taxi-lab-trips-prod"));

    // The nightly gc: the pull request's copy was just applied, and prod
    // never matches `pr-*`: nothing goes.
    github_job(&project, &moto, &doc, "gc", &context);
    let after_gc = sdk.leftovers();
    assert!(after_gc.iter().any(|r| r == &format!("stream taxi-lab-trips-{env}")), "{after_gc:?}");
    assert!(after_gc.iter().any(|r| r == "stream taxi-lab-trips-prod"), "{after_gc:?}");

    // Closed: the pull request's copy goes, prod stays.
    github_job(&project, &moto, &doc, "pull-request-closed", &context);
    let left = sdk.leftovers();
    assert!(left.iter().all(|r| !r.contains(&env)), "the pull request's copy is gone: {left:?}");
    assert!(left.iter().any(|r| r == "stream taxi-lab-trips-prod"), "{left:?}");
}

/// A GitLab job's script as its runner runs it: `default.before_script`
/// then `script`, in one shell, with the pipeline's and the job's
/// variables (`$NAME` in a variable's value expanded, as GitLab does).
fn gitlab_job(project: &Project, moto: &Moto, doc: &Yaml, job: &str, ci: &BTreeMap<String, String>) -> String {
    let spec = &doc[job];
    assert!(!spec.is_badvalue(), "no job {job}");
    let mut env = ci.clone();
    for (k, v) in map(&doc["variables"]).into_iter().chain(map(&spec["variables"])) {
        let value = match v.strip_prefix('$') {
            Some(name) => env.get(name).cloned().unwrap_or_default(),
            None => v,
        };
        env.insert(k, value);
    }
    let lines = |y: &Yaml| -> Vec<String> { y.as_vec().map(|v| v.iter().map(text).collect()).unwrap_or_default() };
    let mut script = Vec::new();
    for line in lines(&doc["default"]["before_script"]).into_iter().chain(lines(&spec["script"])) {
        if !line.starts_with("cargo install ") {
            script.push(line);
        }
    }
    project.run(moto, &format!("gitlab job {job}"), &script.join("\n"), &env)
}

#[test]
fn gitlab_ci_pipeline_runs_its_commands_in_order() {
    let Some(moto) = Moto::start() else { return };
    let doc = load("gitlab-ci.yml");
    let project = Project::new("gitlab");
    let mut ci: BTreeMap<String, String> = [
        ("CI_PROJECT_DIR", project.dir.display().to_string()),
        ("CI_PROJECT_ID", "1".into()),
        ("CI_API_V4_URL", "https://gitlab.example.com/api/v4".into()),
        ("CI_DEFAULT_BRANCH", "main".into()),
        ("CI_JOB_ID", "1".into()),
        ("AWS_OIDC_TOKEN", "not-a-token".into()),
        ("GITLAB_API_TOKEN", "not-a-token".into()),
        ("PIPECTL_MR_ROLE_ARN", "arn:aws:iam::123456789012:role/pipectl-mr".into()),
        ("PIPECTL_DEPLOY_ROLE_ARN", "arn:aws:iam::123456789012:role/pipectl-deploy".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut mr = ci.clone();
    mr.extend(
        [
            ("CI_PIPELINE_SOURCE", "merge_request_event".to_string()),
            ("CI_MERGE_REQUEST_IID", "7".into()),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/ABC_1".into()),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".into()),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", project.base_sha.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let env = project.env_name("mr-7-feature/ABC_1");
    let sdk = moto.sdk();

    for job in ["plan", "apply", "verify"] {
        gitlab_job(&project, &moto, &doc, job, &mr);
    }
    let policy = std::fs::read_to_string(project.dir.join("policy.yaml")).unwrap();
    assert!(policy.contains(TIP), "the target branch's policy as it is now");
    let posted = project.posted();
    assert!(posted.contains("merge_requests/7/notes"), "the plan is posted on the merge request:\n{posted}");
    assert!(posted.contains(&format!("taxi-lab-trips-{env}")), "the note is the plan:\n{posted}");
    assert!(sdk.leftovers().iter().any(|r| r == &format!("stream taxi-lab-trips-{env}")));

    ci.insert("CI_PIPELINE_SOURCE".into(), "push".into());
    ci.insert("CI_COMMIT_BRANCH".into(), "main".into());
    gitlab_job(&project, &moto, &doc, "production", &ci);
    assert!(sdk.leftovers().iter().any(|r| r == "stream taxi-lab-trips-prod"));

    ci.insert("CI_PIPELINE_SOURCE".into(), "schedule".into());
    gitlab_job(&project, &moto, &doc, "gc", &ci);
    assert!(sdk.leftovers().iter().any(|r| r == &format!("stream taxi-lab-trips-{env}")), "gc spares a live copy");

    // The environment stops (merged or closed).
    gitlab_job(&project, &moto, &doc, "destroy", &mr);
    let left = sdk.leftovers();
    assert!(left.iter().all(|r| !r.contains(&env)), "the merge request's copy is gone: {left:?}");
    assert!(left.iter().any(|r| r == "stream taxi-lab-trips-prod"), "{left:?}");
}

/// Every command the examples run is one the CI role's policy grants
/// (`deployer-policy --include verify`) or one that calls no AWS; gc is
/// kept to the pipeline, whose records alone the role may list.
#[test]
fn the_examples_run_only_what_the_ci_role_may() {
    let offline = ["validate", "policy", "env-name"];
    let granted = ["plan", "apply", "destroy", "gc", "verify"];
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root().join("examples/ci").join(name)).unwrap();
        let mut seen = 0;
        let commands = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        for line in commands {
            for (i, _) in line.match_indices("pipectl ") {
                if !(i == 0 || line[..i].ends_with([' ', '(', '"'])) {
                    continue;
                }
                let rest = &line[i + "pipectl ".len()..];
                let command: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
                seen += 1;
                assert!(
                    offline.contains(&command.as_str()) || granted.contains(&command.as_str()),
                    "{name}: `pipectl {command}` is not granted to the CI role"
                );
                if command == "gc" {
                    assert!(rest.contains("--pipeline"), "{name}: gc without --pipeline lists every pipeline: {line}");
                }
            }
        }
        assert!(seen >= 8, "{name}: the commands were found ({seen})");
    }
}
