//! `pipectl apply`: lock, plan, confirm, execute; deleted orphans leave the
//! record; the lock is released whatever happens.

use super::{confirm, conflicts_error, execute, finish, guard_data, print_plan, release};
use crate::cli::{ApplyArgs, Global};
use crate::deployment::{Deployment, Locking, Reach};
use crate::plan::{Action, Address};
use std::process::ExitCode;

pub async fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let locking = Locking { command: "apply", wait: a.lock.lock_timeout };
    let (d, lock) = Deployment::open_locked(g, &a.spec, &a.targets.targets, Reach::Upstream, locking).await?;
    crate::cancel::install();
    release(lock, apply(g, a, &d).await).await
}

async fn apply(g: &Global, a: &ApplyArgs, d: &Deployment) -> anyhow::Result<ExitCode> {
    let (mut planned, work) = d.plan().await?;
    let estimate = d.estimate(a.cost.assume_gb_per_day);
    // Before anything changes: the record is written by the first change.
    let decisions = d.police(a.cost.assume_gb_per_day).await?;
    planned.plan.cost = Some(estimate);
    planned.plan.policy = Some(super::policy::report(d, decisions));
    print_plan(g.json, &planned.plan, g.verbose > 0);
    if planned.plan.conflicts().next().is_some() {
        return Err(conflicts_error(&planned.plan));
    }
    guard_data(&planned.plan, a.guard.allow_data_loss)?;
    if planned.plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    confirm("apply these changes", a.yes)?;
    let summary = execute(d, &planned, &work, a.targets.parallelism, crate::engine::Wait::Gone, g.json).await;
    let deleted: Vec<&Address> =
        summary.done.iter().filter(|x| planned.change(x).is_some_and(|c| c.action == Action::Delete)).collect();
    if !deleted.is_empty() {
        // What was deleted leaves the record even when the run is stopping.
        crate::cancel::shielded(d.forget(&deleted)).await?;
    }
    finish("apply", &summary, g.json)
}
