//! `pipectl plan`: what apply (or, with `--destroy`, destroy) would do;
//! with `--out FILE`, saved for `apply FILE` (see `saved`).

use super::{conflicts_error, emitln, guard_data, print_plan};
use crate::cli::{Global, PlanArgs, PlanFormat};
use crate::deployment::{Deployment, Reach};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &PlanArgs) -> anyhow::Result<ExitCode> {
    let reach = if a.destroy { Reach::Downstream } else { Reach::Upstream };
    let d = Deployment::open(g, &a.spec, &a.targets.targets, reach).await?;
    let (mut planned, _, read) = if a.destroy {
        let (planned, work) = d.plan_destroy().await?;
        (planned, work, BTreeMap::new())
    } else {
        d.plan_reading().await?
    };
    if !a.destroy {
        let estimate = d.estimate(a.cost.assume_gb_per_day);
        let decisions = d.police(a.cost.assume_gb_per_day).await?;
        planned.plan.cost = Some(estimate);
        planned.plan.policy = Some(super::policy::report(&d, decisions));
    }
    match a.format.unwrap_or(if g.json { PlanFormat::Json } else { PlanFormat::Text }) {
        PlanFormat::Markdown => emitln!("{}", crate::scrub::text(&crate::plan::markdown::render(&planned.plan))),
        f => print_plan(f == PlanFormat::Json, &planned.plan, g.verbose > 0),
    }
    if !a.destroy && planned.plan.conflicts().next().is_some() {
        return Err(conflicts_error(&planned.plan));
    }
    guard_data(&planned.plan, a.guard.allow_data_loss)?;
    if let Some(out) = &a.out {
        super::saved::write(g, a, &d, &planned.plan, read, out)?;
    }
    Ok(if a.detailed_exitcode && !planned.plan.is_empty() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
