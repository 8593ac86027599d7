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
    assert!(run.stderr.contains(&format!("`{}` is a symbolic link", s(&link))), "{}", run.stderr);
    assert!(!dir.join("nowhere").exists(), "written through the link");
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
    for format in ["mermaid", "dot"] {
        let run = pipectl(&["graph", "pipelines/lab.yaml", "--format", format, "--json"]).run().expect_code(2);
        let error = run.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.starts_with("`--json` is not supported by `graph --format dot|mermaid`"), "{error}");
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
    let _ = temp_spec;
}
