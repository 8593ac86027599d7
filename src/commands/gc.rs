//! `pipectl gc --older-than 24h`: destroys the deployments whose record has
//! not changed for that long (branch copies CI forgot). A dry run unless
//! `--yes`; each deployment is destroyed from its record, under its lock,
//! the way `destroy --pipeline P --env E` would.

use super::{destroy, release};
use crate::cli::{GcArgs, Global};
use crate::cost::{money, HOURS_PER_MONTH};
use crate::deployment::{Deployment, Locking};
use crate::lock::{now_secs, rfc3339};
use crate::resources::record;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &GcArgs) -> anyhow::Result<ExitCode> {
    let aws = crate::deployment::connect(g, None).await?;
    let cutoff = now_secs().saturating_sub(a.older_than.as_secs());
    let stale: Vec<record::Listed> = record::list(&aws, a.pipeline.as_deref())
        .await?
        .into_iter()
        .filter(|d| d.changed().is_some_and(|c| c <= cutoff))
        .collect();
    if stale.is_empty() {
        eprintln!("no deployment in {} unchanged for {}", aws.region, humantime::format_duration(a.older_than));
        return Ok(ExitCode::SUCCESS);
    }
    for d in &stale {
        let changed = d.changed().map(rfc3339).unwrap_or_default();
        let verb = if a.yes { "destroying" } else { "would destroy" };
        let cost = d.content.cost_per_hour.map(|h| format!(", {}/mo idle", money(h * HOURS_PER_MONTH)));
        eprintln!(
            "{verb} {}/{} ({} resources{}, last changed {changed})",
            d.pipeline,
            d.env,
            d.content.resources.len(),
            cost.unwrap_or_default()
        );
    }
    let saved: f64 = stale.iter().filter_map(|d| d.content.cost_per_hour).sum::<f64>() * HOURS_PER_MONTH;
    let unknown = stale.iter().filter(|d| d.content.cost_per_hour.is_none()).count();
    let unknown = match unknown {
        0 => String::new(),
        n => format!(" (and what {n} deployment(s) applied before cost estimates cost)"),
    };
    if !a.yes {
        eprintln!(
            "\ndry run: pass `--yes` to destroy these {} deployment(s), saving {}/mo{unknown}",
            stale.len(),
            money(saved)
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("saving {}/mo{unknown}", money(saved));
    crate::cancel::install();
    let mut failed = Vec::new();
    for s in &stale {
        if crate::cancel::requested() {
            break;
        }
        eprintln!("\n== {}/{}", s.pipeline, s.env);
        let locking = Locking { command: "gc", wait: a.lock.lock_timeout };
        let result = match Deployment::from_record(g, &s.pipeline, &s.env, locking).await {
            Ok((mut d, lock)) => {
                d.meta.delete_data = a.delete_data;
                release(
                    lock,
                    destroy::destroy(g, &d, true, a.guard.allow_data_loss, 10, crate::engine::Wait::Accepted).await,
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            eprintln!("{}", crate::scrub::text(&format!("{}/{}: {e:#}", s.pipeline, s.env)));
            failed.push(format!("{}/{}", s.pipeline, s.env));
        }
    }
    if crate::cancel::requested() {
        anyhow::bail!("gc was interrupted");
    }
    if !failed.is_empty() {
        return Err(crate::Hinted {
            message: format!(
                "{} of {} deployments were not destroyed: {}",
                failed.len(),
                stale.len(),
                failed.join(", ")
            ),
            hint: "see the errors above; run `pipectl gc` again once fixed".into(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
