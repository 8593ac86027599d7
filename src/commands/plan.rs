//! `pipectl plan`: what apply (or, with `--destroy`, destroy) would do.

use super::{conflicts_error, guard_data, print_plan};
use crate::cli::{Global, PlanArgs};
use crate::deployment::{Deployment, Reach};
use std::process::ExitCode;

pub async fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let reach = if a.destroy { Reach::Downstream } else { Reach::Upstream };
    let d = Deployment::open(g, &a.spec, &a.targets.targets, reach).await?;
    let (mut planned, _) = if a.destroy { d.plan_destroy().await? } else { d.plan().await? };
    if !a.destroy {
        let estimate = d.estimate(a.cost.assume_gb_per_day);
        let decisions = d.police(a.cost.assume_gb_per_day).await?;
        planned.plan.cost = Some(estimate);
        planned.plan.policy = Some(super::policy::report(&d, decisions));
    }
    print_plan(g.json, &planned.plan, g.verbose > 0);
    if !a.destroy && planned.plan.conflicts().next().is_some() {
        return Err(conflicts_error(&planned.plan));
    }
    guard_data(&planned.plan, a.guard.allow_data_loss)?;
    Ok(if a.detailed_exitcode && !planned.plan.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
