//! `pipectl apply`: lock, plan, confirm, execute; deleted orphans (and the
//! old names of renamed resources, once deleted) leave the record; a run
//! whose every change succeeded, a no-op one included, marks the record
//! applied (what `gc` judges liveness by); the lock is released whatever
//! happens. Given a saved plan (`plan --out`), that plan or nothing (see
//! `saved`).

use super::{confirm, conflicts_error, execute, finish, guard_data, print_plan, release};
use crate::cli::{ApplyArgs, Global};
use crate::deployment::{Deployment, Locking, Reach};
use crate::engine::Work;
use crate::plan::{Action, Address, Planned};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    if let Some(saved) = super::saved::sniff(&a.spec)? {
        return super::saved::apply(g, a, saved).await;
    }
    let locking = Locking { command: "apply", wait: a.lock.lock_timeout };
    let (d, lock) = Deployment::open_locked(g, &a.spec, &a.targets.targets, Reach::Upstream, locking).await?;
    crate::cancel::install();
    release(lock, apply(g, a, &d).await).await
}

async fn apply(g: &Global, a: &ApplyArgs, d: &Deployment) -> anyhow::Result<ExitCode> {
    let (planned, work) = d.plan().await?;
    carry_out(g, a, d, planned, &work, true).await
}

/// Prices and polices a plan, prints it, and runs it: confirmed first
/// when `ask` (a saved plan was reviewed already), after the checks every
/// apply makes (conflicts, protected data).
pub(super) async fn carry_out(
    g: &Global,
    a: &ApplyArgs,
    d: &Deployment,
    mut planned: Planned,
    work: &BTreeMap<Address, Work>,
    ask: bool,
) -> anyhow::Result<ExitCode> {
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
        d.mark_applied(true).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if ask {
        confirm("apply these changes", a.yes)?;
    }
    let summary = execute(d, &planned, work, a.targets.parallelism, crate::engine::Wait::Gone, g.json).await;
    let settled = d.settled(&planned.plan, &summary);
    let deleted: Vec<&Address> = summary
        .done
        .iter()
        .filter(|x| planned.change(x).is_some_and(|c| c.action == Action::Delete))
        .chain(&settled)
        .collect();
    if !deleted.is_empty() {
        // What was deleted leaves the record even when the run is stopping.
        crate::cancel::shielded(d.forget(&deleted)).await?;
    }
    if summary.ok() {
        let record = format!("{}.", crate::plan::Kind::Record.as_str());
        let untouched = deleted.is_empty()
            && planned.plan.changes.iter().all(|c| c.action == Action::NoOp || !c.address.starts_with(&record));
        d.mark_applied(untouched).await?;
    }
    finish("apply", &summary, g.json)
}
