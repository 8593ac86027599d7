//! `docs/cli-reference.md`, generated from the clap definition: every
//! command with its arguments and flags (help, defaults, values,
//! environment variables), the global options once, and the exit codes
//! (`docs/exit-codes.md`, written by hand). A unit test fails when the
//! committed file differs, naming the command that writes it again.

use crate::cli::Cli;
use clap::{Arg, Command, CommandFactory};
use std::fmt::Write;

/// The command that writes the reference again.
pub const REGENERATE: &str = "PIPECTL_UPDATE_DOCS=1 cargo test --locked --lib cli_reference";

const EXIT_CODES: &str = include_str!("../../docs/exit-codes.md");

/// The whole reference, as Markdown.
pub fn markdown() -> String {
    let mut root = Cli::command();
    root.build();
    let mut out = String::new();
    let _ = writeln!(out, "# pipectl command-line reference\n");
    let _ = writeln!(out, "<!-- Generated from the command-line definition (src/cli.rs); do not edit.");
    let _ = writeln!(out, "     Write it again with `{REGENERATE}`. -->\n");
    let _ = writeln!(out, "{}\n", text(root.get_about()));
    let _ = writeln!(out, "## Commands\n");
    for (path, cmd) in commands(&root, "pipectl") {
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(out, "- [`{path}`](#{}): {}", anchor(&path), first_sentence(&about));
    }
    let _ = writeln!(out, "\n## Global options\n");
    let _ =
        writeln!(out, "Every command takes these. Completions, the manual page and colour: [shell.md](shell.md).\n");
    for arg in root.get_arguments().filter(|a| a.is_global_set() && !a.is_hide_set()) {
        let _ = writeln!(out, "{}", describe(arg));
    }
    for (path, cmd) in commands(&root, "pipectl") {
        paragraph(&mut out);
        let _ = writeln!(out, "## {path}\n");
        let _ = writeln!(out, "{}\n", text(cmd.get_long_about().or(cmd.get_about())));
        let usage = cmd.clone().bin_name(&path).render_usage().to_string();
        let _ = writeln!(out, "```\n{}\n```\n", usage.trim_start_matches("Usage: "));
        let args: Vec<&Arg> = cmd
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        let (positional, flags): (Vec<&Arg>, Vec<&Arg>) = args.into_iter().partition(|a| a.is_positional());
        for (title, list) in [("Arguments", positional), ("Options", flags)] {
            if !list.is_empty() {
                let _ = writeln!(out, "{title}:\n");
                for arg in list {
                    let _ = writeln!(out, "{}", describe(arg));
                }
                paragraph(&mut out);
            }
        }
    }
    paragraph(&mut out);
    let _ = writeln!(out, "## Exit codes\n");
    out.push_str(EXIT_CODES);
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Ends what was written with exactly one blank line.
fn paragraph(out: &mut String) {
    while out.ends_with('\n') {
        out.pop();
    }
    out.push_str("\n\n");
}

/// Every command below `cmd` (not `help`, not hidden), depth first, with
/// its full name (`pipectl export cloudformation`); a command grouping
/// others is listed for its leaves only.
fn commands(cmd: &Command, path: &str) -> Vec<(String, Command)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            out.extend(commands(sub, &name));
        } else {
            out.push((name, sub.clone()));
        }
    }
    out
}

/// One argument as a list item: its syntax, help, and what it defaults to.
fn describe(arg: &Arg) -> String {
    let names: Vec<String> =
        arg.get_value_names().map(|v| v.iter().map(|n| n.to_string()).collect()).unwrap_or_default();
    let value = if names.is_empty() { arg.get_id().as_str().to_uppercase() } else { names.join(" ") };
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let mut syntax = match (arg.get_long(), arg.get_short()) {
        (Some(l), Some(s)) => format!("-{s}, --{l}"),
        (Some(l), None) => format!("--{l}"),
        (None, Some(s)) => format!("-{s}"),
        (None, None) => format!("<{value}>"),
    };
    if !arg.is_positional() && takes_value {
        let _ = write!(syntax, " <{value}>");
    }
    let help = text(arg.get_long_help().or(arg.get_help()));
    let mut item = if help.is_empty() { format!("- `{syntax}`") } else { format!("- `{syntax}`: {help}") };
    let mut facts = Vec::new();
    let values: Vec<String> =
        arg.get_possible_values().iter().filter(|v| !v.is_hide_set()).map(|v| format!("`{}`", v.get_name())).collect();
    if !values.is_empty() && takes_value {
        facts.push(format!("one of {}", values.join(", ")));
    }
    let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
    if !defaults.is_empty() && takes_value {
        facts.push(format!("default `{}`", defaults.join(" ")));
    }
    if let Some(env) = arg.get_env() {
        facts.push(format!("environment `{}`", env.to_string_lossy()));
    }
    let repeatable = matches!(arg.get_action(), clap::ArgAction::Append | clap::ArgAction::Count);
    if repeatable && !arg.is_positional() && !help.contains("repeat") {
        facts.push("repeatable".into());
    }
    if arg.is_required_set() {
        facts.push("required".into());
    }
    if !facts.is_empty() {
        let _ = write!(item, " ({})", facts.join("; "));
    }
    item
}

/// Help text as one paragraph (clap keeps the doc comment's lines).
fn text(s: Option<&clap::builder::StyledStr>) -> String {
    let s = s.map(|s| s.to_string()).unwrap_or_default();
    s.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n  ")
}

fn first_sentence(s: &str) -> String {
    let one = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.find(". ") {
        Some(i) => one[..=i].to_string(),
        None => one,
    }
}

/// GitHub's anchor of a heading.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .collect::<String>()
        .replace(' ', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_reference_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli-reference.md");
        let want = markdown();
        if std::env::var_os("PIPECTL_UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).expect("docs/cli-reference.md is writable");
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(have == want, "docs/cli-reference.md is stale: write it again with `{REGENERATE}`");
    }

    #[test]
    fn cli_reference_names_every_command_and_flag_once() {
        let doc = markdown();
        let root = Cli::command();
        for (path, cmd) in commands(&root, "pipectl") {
            assert_eq!(doc.matches(&format!("\n## {path}\n")).count(), 1, "{path}");
            for long in
                cmd.get_arguments().filter(|a| !a.is_global_set() && !a.is_hide_set()).filter_map(|a| a.get_long())
            {
                assert!(doc.contains(&format!("`--{long}")), "{path} --{long}");
            }
        }
        for long in root.get_arguments().filter(|a| a.is_global_set()).filter_map(|a| a.get_long()) {
            let flag = format!("--{long}");
            let syntax =
                |l: &str| l.strip_prefix("- `").and_then(|r| r.split('`').next()).unwrap_or_default().to_string();
            let listed = doc.lines().filter(|l| syntax(l).split([' ', ',']).any(|w| w == flag)).count();
            assert_eq!(listed, 1, "global --{long} is listed once");
        }
        assert!(doc.contains("| 130 |"), "the exit codes are included");
    }
}
