//! The commands that fit pipectl into a shell: `completions SHELL` (the
//! script, from the clap definition), `man` (the manual page, roff) and
//! `version`. Offline; see docs/shell.md.

use super::emitln;
use crate::cli::{Cli, CompletionsArgs, Global, ManArgs};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn completions(a: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "pipectl", &mut out);
    if a.shell == clap_complete::Shell::Fish {
        out.extend(fish_positionals(&Cli::command()).into_bytes());
    }
    let _ = std::io::stdout().write_all(&out);
    Ok(ExitCode::SUCCESS)
}

/// fish lines for the positional arguments with a fixed set of values
/// (`init`'s LAB), which clap_complete leaves to file completion: each
/// value offered, with its help, and no file names.
fn fish_positionals(cmd: &clap::Command) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut out = String::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        for arg in sub.get_positionals() {
            for v in arg.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
                let help = v.get_help().map(|h| format!(" -d {}", quote(&h.to_string()))).unwrap_or_default();
                out.push_str(&format!(
                    "complete -c pipectl -n \"__fish_pipectl_using_subcommand {}\" -f -a {}{help}\n",
                    sub.get_name(),
                    quote(v.get_name())
                ));
            }
        }
    }
    out
}

/// One page to standard output (pipectl and the list of its commands),
/// or with `--out` that page and one per command, `pipectl-<command>.1`
/// (`pipectl-export-cloudformation.1` for a nested one).
pub fn man(a: &ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match &a.out {
        None => {
            let _ = std::io::stdout().write_all(&page(cmd)?);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| unwritable(dir, e))?;
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            let mut written = Vec::new();
            write_pages(cmd, dir, &mut written)?;
            for file in written {
                eprintln!("wrote {}", file.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The roff of one command's page, titled by its name in capitals
/// (`.TH PIPECTL 1`, `.TH PIPECTL-PLAN 1`).
fn page(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut cmd = cmd;
    cmd.build();
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_uppercase();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).title(name).manual("pipectl manual").render(&mut out)?;
    Ok(out)
}

fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let file = dir.join(format!("{}.1", cmd.get_display_name().unwrap_or_else(|| cmd.get_name())));
    std::fs::write(&file, page(cmd)?).map_err(|e| unwritable(&file, e))?;
    written.push(file);
    Ok(())
}

fn unwritable(path: &Path, e: std::io::Error) -> anyhow::Error {
    crate::BadInput::error(format!("cannot write `{}`: {e}", path.display()), "give `--out` a folder you can write to")
}

pub fn version(g: &Global) -> anyhow::Result<ExitCode> {
    let v = env!("CARGO_PKG_VERSION");
    if g.json {
        emitln!("{}", serde_json::json!({ "format_version": "1", "version": v }));
    } else {
        emitln!("pipectl {v}");
    }
    Ok(ExitCode::SUCCESS)
}
