//! pipectl in a shell: completions loaded by a real bash, the manual page
//! rendered by man, colour only where it is wanted, `--json` honoured or
//! refused by every command, global options under their own heading,
//! `version`, and `validate` over several files and standard input.

use crate::emulator::Moto;
use crate::util::{pipectl, root, scratch, temp_spec, Run};
use clap::CommandFactory;
use std::io::Write;
use std::process::{Command, Stdio};

const STREAM: &str = "pipeline: shellcheck\nstreams:\n  s: { shards: 1 }\n";

fn exists(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs a shell script, `$PIPECTL` naming the binary; its standard output.
fn shell(program: &str, script: &str) -> String {
    let out = Command::new(program)
        .args(["-c", script])
        .env("PIPECTL", env!("CARGO_BIN_EXE_pipectl"))
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// pipectl with `input` on its standard input, offline as `pipectl()` is.
fn with_stdin(args: &[&str], input: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipectl"))
        .current_dir(root())
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("PIPECTL_CODE_ROOT", root())
        .env_remove("PIPECTL_ENV")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipectl starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    crate::util::finish(child)
}

#[test]
fn completions_bash_loaded_by_bash_completes_subcommands_and_their_flags() {
    let complete = |words: &str, cword: usize| {
        shell(
            "bash",
            &format!(
                "source <(\"$PIPECTL\" completions bash)
                 COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}
                 _pipectl pipectl \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"
                 echo \"${{COMPREPLY[@]}}\""
            ),
        )
    };
    assert_eq!(complete("pipectl ap", 1).trim(), "apply");
    let versions = complete("pipectl ver", 1);
    assert!(versions.split_whitespace().eq(["verify", "version"]), "{versions}");
    assert_eq!(complete("pipectl plan --det", 2).trim(), "--detailed-exitcode");
    let colors = complete("pipectl plan --color ", 3);
    assert!(colors.split_whitespace().eq(["auto", "always", "never"]), "{colors}");
}

#[test]
fn completions_for_zsh_fish_powershell_and_elvish_are_produced() {
    for (shell_name, marker) in [
        ("zsh", "#compdef pipectl"),
        ("fish", "complete -c pipectl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[pipectl]"),
    ] {
        let run = pipectl(&["completions", shell_name]).run().expect_code(0);
        assert!(run.stdout.contains(marker), "{shell_name}: {}", &run.stdout[..run.stdout.len().min(400)]);
        assert!(run.stdout.contains("deployer-policy") && run.stdout.contains("detailed-exitcode"), "{shell_name}");
    }
    let dir = scratch().join(format!("completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (program, check) in [("zsh", "zsh -n"), ("fish", "fish --no-execute")] {
        if !exists(program) {
            eprintln!("{program} is not installed: its script is checked by content only");
            continue;
        }
        let file = dir.join(program);
        std::fs::write(&file, pipectl(&["completions", program]).run().expect_code(0).stdout).unwrap();
        shell("sh", &format!("{check} '{}'", file.display()));
    }
    // fish completes as it would at a prompt.
    if exists("fish") {
        let script = format!(
            "source '{}'; complete -C 'pipectl ap'; complete -C 'pipectl plan --det'",
            dir.join("fish").display()
        );
        let out = shell("fish", &script);
        assert!(out.contains("apply\t") && out.contains("--detailed-exitcode\t"), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    pipectl(&["completions", "tcsh"]).run().expect_code(2);
}

/// Every command a user can type, by its full name (`export cloudformation`).
fn leaf_commands() -> Vec<String> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            let name = if path.is_empty() { sub.get_name().to_string() } else { format!("{path} {}", sub.get_name()) };
            if sub.has_subcommands() {
                walk(sub, &name, out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(&pipectl::cli::Cli::command(), "", &mut out);
    out
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let page = pipectl(&["man"]).run().expect_code(0).stdout;
    assert!(page.contains(".TH PIPECTL 1"), "{}", &page[..page.len().min(300)]);
    for cmd in leaf_commands() {
        let top = cmd.split(' ').next().unwrap();
        assert!(page.contains(&top.replace('-', "\\-")), "the page names `{top}`");
    }
    if exists("man") {
        let text = shell("sh", "\"$PIPECTL\" man | MANWIDTH=100 man -l - 2>/dev/null | cat");
        assert!(text.contains("PIPECTL(1)") && text.contains("deployer-policy"), "{text}");
    }
    let dir = scratch().join(format!("man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    pipectl(&["man", "--out", dir.to_str().unwrap()]).run().expect_code(0);
    for cmd in leaf_commands() {
        let file = dir.join(format!("pipectl-{}.1", cmd.replace(' ', "-")));
        let page = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(page.contains(&format!(".TH {} 1", format!("pipectl-{}", cmd.replace(' ', "-")).to_uppercase())));
    }
    assert!(dir.join("pipectl.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_symbols_plain_even_on_a_terminal_are_coloured_only_where_wanted() {
    let Some(moto) = Moto::start() else { return };
    let spec = temp_spec("shell", "colour", STREAM);
    let spec = spec.to_str().unwrap();
    let plan = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["plan", spec];
        args.extend_from_slice(extra);
        let mut p = moto.pipectl(&args).env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("TERM");
        for (k, v) in env {
            p = p.env(k, v);
        }
        p.run().expect_code(0).stdout
    };
    let green_plus = "\u{1b}[32m  +\u{1b}[0m stream.s";
    let forced = plan(&[], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains(green_plus), "{forced}");
    assert!(plan(&["--color", "always"], &[("NO_COLOR", "1")]).contains(green_plus), "the flag wins");
    for (extra, env) in [
        (&[][..], &[][..]),
        (&[][..], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")][..]),
        (&["--color", "never"][..], &[("CLICOLOR_FORCE", "1")][..]),
        (&["--json"][..], &[("CLICOLOR_FORCE", "1")][..]),
        (&["--format", "markdown"][..], &[("CLICOLOR_FORCE", "1")][..]),
        (&[][..], &[("CLICOLOR_FORCE", "1"), ("TERM", "dumb"), ("NO_COLOR", "x")][..]),
    ] {
        let out = plan(extra, env);
        assert!(out.contains("stream.s") && !out.contains('\u{1b}'), "{extra:?} {env:?}:\n{out}");
    }
}

/// How to run each command, in an order that works against one emulator
/// (apply before what reads the deployment, destroy last).
fn invocations(spec: &str, out: &str, imported: &str, dir: &str) -> Vec<(&'static str, Vec<String>)> {
    let html = std::path::Path::new(out).with_file_name("status.html").display().to_string();
    let list: Vec<(&str, Vec<&str>)> = vec![
        ("version", vec!["version"]),
        ("schema", vec!["schema"]),
        ("init", vec!["init", "--list"]),
        ("init", vec!["init", "minimal", "--dir", dir]),
        ("cost", vec!["cost", spec, "--region", "us-east-1"]),
        ("cost", vec!["cost", spec, "--region", "us-east-1", "--format", "markdown"]),
        ("validate", vec!["validate", spec]),
        ("validate", vec!["validate", spec, "pipelines/lab.yaml"]),
        ("graph", vec!["graph", spec]),
        ("graph", vec!["graph", spec, "--format", "mermaid"]),
        ("graph", vec!["graph", spec, "--format", "svg"]),
        ("policy check", vec!["policy", "check", spec]),
        ("env-name", vec!["env-name", "feature/ABC_1"]),
        ("deployer-policy", vec!["deployer-policy", spec, "--region", "us-east-1"]),
        ("export cloudformation", vec!["export", "cloudformation", spec, "--out", out]),
        ("export cloudformation", vec!["export", "cloudformation", spec]),
        ("completions", vec!["completions", "bash"]),
        ("man", vec!["man"]),
        ("plan", vec!["plan", spec]),
        ("plan", vec!["plan", spec, "--format", "markdown"]),
        ("apply", vec!["apply", spec, "--yes"]),
        ("outputs", vec!["outputs", spec]),
        ("list", vec!["list"]),
        ("produce", vec!["produce", spec, "--stream", "s", "--generate", "sensor", "--limit", "3"]),
        (
            "produce",
            vec!["produce", spec, "--stream", "s", "--generate", "sensor", "--limit", "3", "--output", out, "--force"],
        ),
        ("verify", vec!["verify", spec, "--timeout", "60s"]),
        ("status", vec!["status", spec, "--html", &html]),
        ("import", vec!["import", spec]),
        ("import", vec!["import", "--from-stream", "shellcheck-s", "--out", imported]),
        ("unlock", vec!["unlock", spec]),
        ("gc", vec!["gc", "--older-than", "1d", "--env-pattern", "pr-*"]),
        ("destroy", vec!["destroy", spec, "--yes"]),
    ];
    list.into_iter().map(|(name, args)| (name, args.iter().map(|a| a.to_string()).collect())).collect()
}

#[test]
fn every_command_honours_json_or_refuses_it_graph_and_export_out_included() {
    let Some(moto) = Moto::start() else { return };
    let spec = temp_spec("shell", "json", STREAM);
    let out = spec.with_file_name("out.yaml");
    let (spec, out) = (spec.to_str().unwrap(), out.to_str().unwrap());
    let imported = std::path::Path::new(out).with_file_name("imported.yaml");
    let dir = std::path::Path::new(out).with_file_name("init");
    let runs = invocations(spec, out, imported.to_str().unwrap(), dir.to_str().unwrap());
    let missing: Vec<String> =
        leaf_commands().into_iter().filter(|c| !runs.iter().any(|(name, _)| name == c)).collect();
    assert!(missing.is_empty(), "add an invocation of {missing:?} to `invocations` in tests/pipectl/shell.rs");
    let mut refused = Vec::new();
    for (name, mut args) in runs {
        args.push("--json".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = moto.pipectl(&args).run();
        // One document, or JSON lines (the progress of apply and destroy).
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&run.stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
        assert!(!docs.is_empty(), "{args:?} printed nothing on stdout:\n{}", run.stderr);
        if run.code == 2 {
            let error = docs[0]["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with(&format!("`--json` is not supported by `{}", name.split(' ').next().unwrap())),
                "{args:?}: {error}"
            );
            refused.push(args.join(" "));
        } else {
            assert_eq!(run.code, 0, "{args:?}:\n{}\n{}", run.stdout, run.stderr);
            assert!(docs.iter().all(|d| d.get("error").is_none()), "{args:?}: {}", run.stdout);
        }
    }
    assert_eq!(refused.len(), 8, "{refused:#?}");
    assert!(imported.exists(), "import --from-stream --json wrote its spec");
    assert!(dir.join("pipeline.yaml").exists(), "init --json wrote its spec");
}

#[test]
fn graph_json_is_the_graph_not_dot() {
    let doc = pipectl(&["graph", "pipelines/lab.yaml", "--json"]).run().expect_code(0).json();
    assert_eq!(doc["format_version"], "1");
    let nodes = doc["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["address"] == "stream.trips" && n["kind"] == "stream"), "{doc}");
    let edges = doc["edges"].as_array().unwrap();
    assert!(edges.iter().any(|e| e["from"] == "stream.trips"), "{doc}");
}

#[test]
fn export_out_json_is_a_summary_of_what_was_written() {
    let spec = temp_spec("shell", "export", STREAM);
    let out = spec.with_file_name("template.yaml");
    let run = pipectl(&["export", "cloudformation", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]);
    let doc = run.run().expect_code(0).json();
    assert_eq!(doc["file"], out.to_str().unwrap());
    assert_eq!(doc["bytes"].as_u64().unwrap(), std::fs::metadata(&out).unwrap().len());
    assert!(doc["resources"].as_u64().unwrap() >= 1, "{doc}");
}

#[test]
fn global_options_mixed_in_every_help_have_their_own_heading() {
    for (cmd, own) in [("plan", "--detailed-exitcode"), ("validate", "-h, --help"), ("destroy", "--wait")] {
        let help = pipectl(&[cmd, "--help"]).run().expect_code(0).stdout;
        let heading = help.find("\nGlobal options:\n").unwrap_or_else(|| panic!("{cmd}: no heading\n{help}"));
        let (mine, global) = help.split_at(heading);
        assert!(mine.contains(own) && !mine.contains("--request-timeout"), "{cmd}:\n{help}");
        for flag in ["--env <ENV>", "--json", "--region", "--color <WHEN>", "--code-root"] {
            assert!(global.contains(flag), "{cmd}: {flag} under Global options\n{help}");
        }
    }
}

#[test]
fn pipectl_version_is_a_command_not_a_suggestion_of_verify() {
    let run = pipectl(&["version"]).run().expect_code(0);
    assert_eq!(run.stdout, format!("pipectl {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(pipectl(&["version", "--json"]).run().expect_code(0).json()["version"], env!("CARGO_PKG_VERSION"));
    // A typo is refused with a suggestion; nothing runs.
    let typo = pipectl(&["verion", "pipelines/lab.yaml"]).run().expect_code(2);
    assert!(typo.stderr.contains("'version'") && typo.stdout.is_empty(), "{}", typo.stderr);
}

#[test]
fn validate_takes_several_files_and_stdin() {
    let bad = temp_spec("shell", "bad", "pipeline: p\nstreamz: {}\n");
    let bad = bad.to_str().unwrap();
    let run = pipectl(&["validate", "pipelines/lab.yaml", bad]).run().expect_code(2);
    assert!(run.stdout.contains("pipelines/lab.yaml: valid"), "{}", run.stdout);
    assert!(run.stderr.contains(bad) && run.stderr.contains("1 of 2 specs are invalid"), "{}", run.stderr);
    let doc = pipectl(&["validate", "pipelines/lab.yaml", bad, "--json"]).run().expect_code(2).json();
    assert_eq!(doc["valid"], false);
    let files = doc["files"].as_array().unwrap();
    assert_eq!((files[0]["valid"].as_bool(), files[1]["valid"].as_bool()), (Some(true), Some(false)));
    assert!(files[1]["diagnostics"].as_array().is_some_and(|d| !d.is_empty()), "{doc}");
    pipectl(&["validate", "pipelines/lab.yaml", "pipelines/sensor-streaming-lab.yaml"]).run().expect_code(0);
    // One file keeps its one document.
    let one = pipectl(&["validate", "pipelines/lab.yaml", "--json"]).run().expect_code(0).json();
    assert_eq!((one["valid"].as_bool(), one["file"].as_str()), (Some(true), Some("pipelines/lab.yaml")));

    // Standard input: relative code paths start from the current folder
    // (the repository, where `templates/` is).
    let function = "pipeline: p\nstreams: { s: {} }\nfunctions:\n  fn:\n    runtime: python3.12\n    code: templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n    trigger: { stream: s }\n";
    let run = with_stdin(&["validate", "-"], function).expect_code(0);
    assert!(run.stdout.starts_with("<stdin>: valid"), "{}", run.stdout);
    let run = with_stdin(&["validate", "-", "--json"], "pipeline: p\nstreamz: {}\n").expect_code(2);
    assert_eq!(run.json()["file"], "<stdin>");
    let run = with_stdin(&["validate", "-"], "pipeline: p\nstreamz: {}\n").expect_code(2);
    assert!(run.stderr.contains("<stdin>:2"), "{}", run.stderr);
    with_stdin(&["validate", "-", "-"], STREAM).expect_code(2);
}
