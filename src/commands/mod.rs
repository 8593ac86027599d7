//! One file per command, each a plain async function over its arguments
//! (and, for the ones that talk to AWS, a [`Deployment`]). What they share:
//! printing a plan, asking for confirmation, running the executor with its
//! progress display, and rendering an error.
//!
//! Exit codes (part of the interface):
//! - 0: success (`plan --detailed-exitcode`: nothing to change)
//! - 1: an error while running (AWS refused, a wait timed out, a conflict)
//! - 2: bad input (invalid spec or flags); nothing was sent to AWS.
//!   With `plan --detailed-exitcode`, 2 means "changes pending" and every
//!   error exits 1.
//! - 3: `apply FILE` refused a saved plan: something it was made from
//!   moved (spec, code, variables, policy, env, region, account, version,
//!   age, live state) or the file was edited; nothing was changed.
//! - 130: apply, destroy or gc stopped by Ctrl-C or SIGTERM (after the
//!   running changes finished, the record written and the lock released).
//!   A run that lost its lock stops the same way and exits 1 saying so.

mod apply;
mod cost;
mod deployer_policy;
mod destroy;
mod env_name;
mod export;
mod gc;
mod graph;
mod import;
mod init;
mod json;
mod list;
mod outputs;
mod plan;
mod policy;
mod produce;
#[cfg(test)]
mod reference;
mod report_file;
mod saved;
mod schema;
mod shell;
mod status;
mod unlock;
mod validate;
mod verify;
mod warnings;

use crate::cli::{Cli, Command};
use crate::deployment::Deployment;
use crate::engine::walk::{Event, Summary};
use crate::engine::{self, Work};
use crate::plan::{Address, Plan, Planned};
use crate::spec::SpecError;
use crate::Hinted;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// `println!` that does not panic when the reader has gone (`| head`).
macro_rules! emitln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use emitln;

/// Runs the command the line asks for.
pub async fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    if g.json {
        json::refuse(&cli.command)?;
    }
    match &cli.command {
        Command::Validate(a) => validate::run(g, a),
        Command::Graph(a) => graph::run(g, a),
        Command::Plan(a) => plan::run(g, a).await,
        Command::Apply(a) => apply::run(g, a).await,
        Command::Destroy(a) => destroy::run(g, a).await,
        Command::Outputs(a) => outputs::run(g, a).await,
        Command::List(a) => list::run(g, a).await,
        Command::Gc(a) => gc::run(g, a).await,
        Command::Unlock(a) => unlock::run(g, a).await,
        Command::Produce(a) => produce::run(g, a).await,
        Command::Verify(a) => verify::run(g, a).await,
        Command::Status(a) => status::run(g, a).await,
        Command::Export(f) => export::run(g, f).await,
        Command::Import(a) => import::run(g, a).await,
        Command::Policy(crate::cli::PolicyCommand::Check(a)) => policy::check(g, a),
        Command::EnvName(a) => env_name::run(g, a),
        Command::DeployerPolicy(a) => deployer_policy::run(g, a),
        Command::Schema(a) => schema::run(a),
        Command::Init(a) => init::run(g, a),
        Command::Cost(a) => cost::run(g, a),
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(a),
        Command::Version => shell::version(g),
    }
}

/// The env a command without a spec acts on: `--env`, else `default`.
fn env_of(g: &crate::cli::Global) -> String {
    g.env.clone().unwrap_or_else(|| "default".into())
}

/// Releases the lock whatever the run's result was; a lost lock is the
/// error of the run, whatever else happened.
async fn release<T>(lock: crate::lock::Lock, result: anyhow::Result<T>) -> anyhow::Result<T> {
    let lost = lock.lost().is_some();
    let released = crate::cancel::shielded(lock.release()).await;
    match (result, released) {
        (_, Err(e)) if lost => Err(e),
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e.context("releasing the lock")),
        (Err(e), _) => Err(e),
    }
}

/// The exit code of an error, given the command it came from.
pub fn exit_code(cli: &Cli, err: &anyhow::Error) -> ExitCode {
    if crate::cancel::signalled() {
        return ExitCode::from(crate::cancel::EXIT_CODE);
    }
    if let Some(code) = saved::exit_code(err) {
        return ExitCode::from(code);
    }
    let detailed = matches!(&cli.command, Command::Plan(p) if p.detailed_exitcode);
    let bad_input = err.downcast_ref::<SpecError>().is_some() || err.downcast_ref::<crate::BadInput>().is_some();
    ExitCode::from(if bad_input && !detailed { 2 } else { 1 })
}

fn print_plan(json: bool, plan: &Plan, verbose: bool) {
    if json {
        emitln!("{}", serde_json::to_string(plan).expect("plan serializes"));
    } else {
        let colour = crate::term::colour(crate::term::Stream::Stdout);
        let _ = write!(std::io::stdout(), "{}", plan.render_styled(verbose, colour));
    }
}

fn conflicts_error(plan: &Plan) -> anyhow::Error {
    let names: Vec<String> = plan.conflicts().map(|c| format!("`{}` ({})", c.address, c.name)).collect();
    Hinted {
        message: format!("{} resource(s) exist but are not owned by this pipeline and env: {}", names.len(), names.join(", ")),
        hint: "pipectl never modifies what it does not own: give these resources other names in the spec (or use another --env)".into(),
    }
    .into()
}

/// Refuses a plan that deletes the data of protected resources, unless
/// `--allow-data-loss` says so.
fn guard_data(plan: &Plan, allow: bool) -> anyhow::Result<()> {
    let names: Vec<String> = plan
        .protected_losses()
        .map(|c| format!("`{}` ({})", c.address, c.previous_name.as_ref().unwrap_or(&c.name)))
        .collect();
    if names.is_empty() || allow {
        return Ok(());
    }
    Err(Hinted {
        message: format!("refusing to delete {} protected resource(s) holding data: {}", names.len(), names.join(", ")),
        hint: "undo the spec change that replaces or removes them, or pass `--allow-data-loss` if their data may go"
            .into(),
    }
    .into())
}

fn confirm(what: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Hinted {
            message: format!("refusing to {what} without confirmation: standard input is not a terminal"),
            hint: "pass `--yes` to confirm non-interactively (e.g. in CI)".into(),
        }
        .into());
    }
    eprint!("\nDo you want to {what}? Only `yes` is accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        anyhow::bail!("cancelled: nothing was changed");
    }
    Ok(())
}

/// Executes a plan with its progress display (lines, spinners or JSON).
async fn execute(
    d: &Deployment,
    planned: &Planned,
    work: &BTreeMap<Address, Work>,
    parallelism: u16,
    wait: engine::Wait,
    json: bool,
) -> Summary {
    let labels = planned.mutations().into_iter().map(|(a, action)| (a, action.verb().to_string())).collect();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let reporter = tokio::spawn(crate::report::render(rx, labels, crate::report::Style::detect(json)));
    let summary = engine::execute(&d.aws, planned, work, parallelism as usize, wait, &tx).await;
    drop(tx);
    let _ = reporter.await;
    summary
}

/// The summary line, and the error when anything did not finish.
fn finish(what: &str, s: &Summary, json: bool) -> anyhow::Result<ExitCode> {
    let counts = [("done", s.done.len()), ("failed", s.failed.len()), ("skipped", s.skipped.len())];
    if json {
        let mut doc = serde_json::json!({"event": "summary", "command": what, "not_started": s.not_started.len()});
        for (k, n) in counts {
            doc[k] = n.into();
        }
        emitln!("{}", crate::scrub::json(doc));
    } else {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        eprintln!(
            "\n{}",
            crate::scrub::text(&format!("{what}: {}, {} not started", parts.join(", "), s.not_started.len()))
        );
    }
    if crate::cancel::requested() && !s.ok() {
        return Err(Hinted {
            message: format!("{what} was interrupted: {} done, the rest not started", s.done.len()),
            hint: format!("run `{what}` again: it picks up from what exists now"),
        }
        .into());
    }
    if s.ok() {
        return Ok(ExitCode::SUCCESS);
    }
    let errors: Vec<String> = s.failed.iter().map(|(a, e)| format!("{a}: {e:#}")).collect();
    Err(Hinted {
        message: crate::scrub::text(&format!("{what} did not finish: {}", errors.join("; "))),
        hint: format!("fix the cause and run `{what}` again: it picks up from what exists now"),
    }
    .into())
}

/// Prints an error the way cargo does (`error:`, `Caused by:`, `hint:`),
/// or as one JSON object with the same parts; every part scrubbed of the
/// values that must not be shown (`scrub`), AWS's messages included.
pub fn report(err: &anyhow::Error, json: bool) {
    use crate::scrub;
    let mut stderr = std::io::stderr().lock();
    if let Some(SpecError::Invalid { file, diagnostics }) = err.downcast_ref::<SpecError>() {
        if json {
            let doc =
                serde_json::json!({ "format_version": "1", "valid": false, "file": file, "diagnostics": diagnostics });
            emitln!("{}", scrub::json(doc));
        } else {
            let colour = crate::term::colour(crate::term::Stream::Stderr);
            for d in diagnostics {
                let _ = write!(stderr, "{}", scrub::text(&d.render_styled(file, colour)));
            }
            let summary = crate::diag::value::terminal_safe(&scrub::text(&err.to_string()));
            let _ = writeln!(stderr, "error: {summary}; nothing was sent to AWS");
        }
        return;
    }
    let message = scrub::text(&err.to_string());
    let causes: Vec<String> = err.chain().skip(1).map(|c| scrub::text(&c.to_string())).collect();
    // A hint given as context is found by `downcast_ref`; one inside a cause by the chain.
    let hinted = err
        .downcast_ref::<Hinted>()
        .or_else(|| err.downcast_ref::<crate::BadInput>().map(|b| &b.0))
        .or_else(|| err.chain().find_map(|c| c.downcast_ref::<Hinted>()));
    let hint = hinted.map(|h| scrub::text(&h.hint)).or_else(|| {
        err.downcast_ref::<crate::plan::saved::Refused>().map(|_| crate::plan::saved::Refused::HINT.to_string())
    });
    if json {
        let doc = serde_json::json!({ "format_version": "1", "error": message, "caused_by": causes, "hint": hint });
        emitln!("{}", scrub::json(doc));
        return;
    }
    // Text to a terminal: no control character in it acts on the terminal.
    let safe = crate::diag::value::terminal_safe;
    let _ = writeln!(stderr, "error: {}", safe(&message));
    if !causes.is_empty() {
        let _ = writeln!(stderr, "\nCaused by:");
        for c in causes {
            let _ = writeln!(stderr, "  {}", safe(&c));
        }
    }
    if let Some(h) = hint {
        let _ = writeln!(stderr, "hint: {}", safe(&h));
    }
}
