//! pipectl: deploy a streaming-data pipeline on AWS from one YAML file.
//!
//! Exit codes (part of the interface):
//! - 0: success (`plan --detailed-exitcode`: nothing to change)
//! - 1: an error while running (AWS refused, a wait timed out, ...)
//! - 2: bad input (invalid spec or flags); nothing was sent to AWS.
//!   With `plan --detailed-exitcode`, 2 means "changes pending" and every
//!   error exits 1.

use clap::Parser;
use pipectl::cli::{Cli, Command, GraphFormat};
use pipectl::spec::{self, Options, SpecError};
use std::io::Write;
use std::process::ExitCode;

/// An error with advice for the person reading it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            let json = cli.global.json;
            let code = report(&err, json);
            if detailed {
                ExitCode::from(1)
            } else {
                code
            }
        }
    }
}

fn options(cli: &Cli) -> Options {
    Options {
        env: cli.global.env.clone(),
        vars: cli.global.vars.iter().cloned().collect(),
        region: cli.global.region.clone(),
        account: None,
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let opts = options(cli);
    match &cli.command {
        Command::Validate(a) => {
            let loaded = spec::load(&a.spec, &opts)?;
            let n = loaded.graph.nodes.len();
            if cli.global.json {
                let doc = serde_json::json!({
                    "format_version": "1",
                    "valid": true,
                    "file": loaded.file,
                    "resources": n,
                    "diagnostics": [],
                });
                println!("{doc}");
            } else {
                println!("{}: valid, {n} resources (pipeline `{}`, env `{}`)", loaded.file, loaded.spec.pipeline, loaded.spec.env);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph(a) => {
            let loaded = spec::load(&a.spec, &opts)?;
            let out = match a.format {
                GraphFormat::Dot => loaded.graph.to_dot(),
                GraphFormat::Mermaid => loaded.graph.to_mermaid(),
            };
            std::io::stdout().write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(a) => not_yet("plan", &a.spec, &opts),
        Command::Apply(a) => not_yet("apply", &a.spec, &opts),
        Command::Outputs(a) => not_yet("outputs", &a.spec, &opts),
        Command::Destroy(a) => match &a.spec {
            Some(s) => not_yet("destroy", s, &opts),
            None => Err(Hinted {
                message: "`destroy` is not implemented yet".into(),
                hint: "this build can validate specs and draw their graph".into(),
            }
            .into()),
        },
    }
}

/// Commands whose AWS side is not built yet: the spec is still validated,
/// and the command fails (exit 1) instead of pretending.
fn not_yet(command: &str, path: &std::path::Path, opts: &Options) -> anyhow::Result<ExitCode> {
    spec::load(path, opts)?;
    Err(Hinted {
        message: format!("`{command}` is not implemented yet"),
        hint: "this build can validate specs (`pipectl validate`) and draw their graph (`pipectl graph`)".into(),
    }
    .into())
}

/// Prints an error the way cargo does (`error:`, `Caused by:`, `hint:`) and
/// returns the exit code for it.
fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    if let Some(SpecError::Invalid { file, diagnostics }) = err.downcast_ref::<SpecError>() {
        if json {
            let doc = serde_json::json!({
                "format_version": "1",
                "valid": false,
                "file": file,
                "diagnostics": diagnostics,
            });
            println!("{doc}");
        } else {
            for d in diagnostics {
                let _ = write!(stderr, "{}", d.render(file));
            }
            let _ = writeln!(stderr, "error: {err}; nothing was sent to AWS");
        }
        return ExitCode::from(2);
    }
    let _ = writeln!(stderr, "error: {err}");
    let mut causes = err.chain().skip(1).peekable();
    if causes.peek().is_some() {
        let _ = writeln!(stderr, "\nCaused by:");
        for c in causes {
            let _ = writeln!(stderr, "  {c}");
        }
    }
    if let Some(h) = err.downcast_ref::<Hinted>() {
        let _ = writeln!(stderr, "hint: {}", h.hint);
    }
    if err.downcast_ref::<SpecError>().is_some() {
        return ExitCode::from(2);
    }
    ExitCode::from(1)
}
