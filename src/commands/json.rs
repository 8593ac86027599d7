//! `--json` is honoured by every command or refused: a command line whose
//! output cannot be JSON says so (exit 2) before anything is read or sent,
//! rather than printing text a script would take for a document.

use crate::cli::{Command, ExportFormat, PlanFormat, PolicyCommand};

/// The command and why it cannot honour `--json`, when it cannot. Every
/// command is named, so a new one is a decision, not a default.
pub fn unsupported(cmd: &Command) -> Option<(&'static str, &'static str)> {
    match cmd {
        Command::Gc(_) => Some((
            "gc",
            "its report of what it destroys is for people, on standard error; `pipectl list --json` gives the deployments and when each was last applied",
        )),
        Command::Export(ExportFormat::Cloudformation(a)) if a.out.is_none() => Some((
            "export cloudformation",
            "without `--out` the template itself (YAML) is the output; give `--out FILE` for a JSON summary of what was written",
        )),
        Command::Plan(p) if matches!(p.format, Some(PlanFormat::Text | PlanFormat::Markdown)) => Some((
            "plan --format text|markdown",
            "`--format` asks for another rendering; leave it out (or give `--format json`)",
        )),
        Command::Cost(c) if matches!(c.format, Some(PlanFormat::Text | PlanFormat::Markdown)) => Some((
            "cost --format text|markdown",
            "`--format` asks for another rendering; leave it out (or give `--format json`)",
        )),
        Command::Graph(a) if a.format.is_some() => Some((
            "graph --format dot|mermaid|svg",
            "`--format` asks for a drawing; leave it out for the graph's nodes and edges as JSON",
        )),
        Command::Completions(_) => Some(("completions", "the script is for the shell to read")),
        Command::Man(_) => Some(("man", "the page is roff, for `man` to read")),
        Command::Validate(_)
        | Command::Plan(_)
        | Command::Apply(_)
        | Command::Destroy(_)
        | Command::Graph(_)
        | Command::Outputs(_)
        | Command::List(_)
        | Command::Unlock(_)
        | Command::Produce(_)
        | Command::Verify(_)
        | Command::Status(_)
        | Command::Import(_)
        | Command::Export(_)
        | Command::Policy(PolicyCommand::Check(_))
        | Command::EnvName(_)
        | Command::DeployerPolicy(_)
        | Command::Init(_)
        | Command::Cost(_)
        | Command::Schema(_)
        | Command::Version => None,
    }
}

/// The error for a command line that cannot honour `--json`.
pub fn refuse(cmd: &Command) -> anyhow::Result<()> {
    match unsupported(cmd) {
        None => Ok(()),
        Some((name, why)) => Err(crate::BadInput::error(
            format!("`--json` is not supported by `{name}`: {why}"),
            "run it without `--json`",
        )),
    }
}
