//! `pipectl destroy`: the deletion plan (the graph reversed, or the record's
//! listing by kind), printed, confirmed and executed under the deployment's
//! lock. Resources pipectl does not own are left alone; what is gone
//! already is done.

use super::{confirm, emitln, execute, finish, guard_data, release};
use crate::cli::{DestroyArgs, Global};
use crate::deployment::{Deployment, Locking, Reach};
use crate::engine::Wait;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let locking = Locking { command: "destroy", wait: a.lock.lock_timeout };
    let (mut d, lock) = match (&a.which.spec, &a.which.pipeline) {
        (Some(path), _) => Deployment::open_locked(g, path, &a.targets.targets, Reach::Downstream, locking).await?,
        (None, Some(pipeline)) => Deployment::from_record(g, pipeline, &super::env_of(g), locking).await?,
        (None, None) => anyhow::bail!("give a spec or `--pipeline`"),
    };
    d.meta.delete_data = a.delete_data;
    crate::cancel::install();
    if d.loaded.is_none() && d.record.is_none() {
        eprintln!(
            "nothing to destroy: no deployment record `{}` in {} (account {})",
            d.record_name, d.aws.region, d.aws.account
        );
        return release(lock, Ok(ExitCode::SUCCESS)).await;
    }
    let wait = if a.wait { Wait::Gone } else { Wait::Accepted };
    release(lock, destroy(g, &d, a.yes, a.guard.allow_data_loss, a.targets.parallelism, wait).await).await
}

/// Plans, shows, confirms and runs the destroy of `d`.
pub(super) async fn destroy(
    g: &Global,
    d: &Deployment,
    yes: bool,
    allow_data_loss: bool,
    parallelism: u16,
    wait: Wait,
) -> anyhow::Result<ExitCode> {
    let (planned, work) = d.plan_destroy().await?;
    if g.json {
        emitln!("{}", serde_json::to_string(&planned.plan).expect("plan serializes"));
    } else {
        let colour = crate::term::colour(crate::term::Stream::Stderr);
        eprint!("{}", planned.plan.render_styled(g.verbose > 0, colour));
    }
    if planned.plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    guard_data(&planned.plan, allow_data_loss)?;
    confirm("destroy these resources", yes)?;
    let summary = execute(d, &planned, &work, parallelism, wait, g.json).await;
    finish("destroy", &summary, g.json)
}
