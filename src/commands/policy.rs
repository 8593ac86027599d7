//! `pipectl policy check SPEC`: every decision of the operator's policy on
//! a spec, offline (what needs AWS is shown as decided at plan time).

use super::emitln;
use crate::cli::{Global, PolicyCheckArgs};
use crate::deployment::{options, Deployment};
use crate::plan::diff::PolicyReport;
use crate::policy::{Decision, Verdict};
use std::process::ExitCode;

/// The policy part of a plan.
pub fn report(d: &Deployment, decisions: Vec<Decision>) -> PolicyReport {
    PolicyReport {
        file: d.operator.policy.as_ref().map(|p| p.file.clone()),
        permissions_boundary: d.meta.permissions_boundary.clone(),
        decisions,
    }
}

pub fn check(g: &Global, a: &PolicyCheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::load::load(&a.spec, &options(g))?;
    let operator = crate::deployment::operator(g)?;
    let region = loaded.spec.region.clone();
    let vars = crate::policy::Vars::of(&loaded.spec, None, region.as_deref());
    let mut decisions = crate::load::decisions(&loaded, &operator, None, region.as_deref());
    // The region and the cost, where the region (and so the prices) is known.
    match &region {
        Some(region) => {
            let estimate = crate::deployment::offline_estimate(&loaded, region, a.cost.assume_gb_per_day);
            decisions.extend(crate::policy::cost(&operator, estimate.monthly, &estimate.missing_prices));
        }
        None if operator.policy.is_some() => {
            decisions.push(crate::policy::region(&operator, None));
            decisions.extend(crate::policy::cost_at_plan(&operator));
        }
        None => {}
    }
    let report = PolicyReport {
        file: operator.policy.as_ref().map(|p| p.file.clone()),
        permissions_boundary: operator.boundary(&vars),
        decisions,
    };
    if g.json {
        emitln!("{}", serde_json::json!({ "format_version": "1", "spec": loaded.file, "policy": report }));
    } else {
        let _ = std::io::Write::write_all(&mut std::io::stdout(), report.render(true).as_bytes());
        if report.decisions.is_empty() {
            emitln!("\n{}: reaches for nothing beyond its own pipeline.", loaded.file);
        }
    }
    if report.decisions.iter().any(|d| d.verdict == Verdict::Refused) {
        if g.json {
            return Ok(ExitCode::from(2));
        }
        crate::load::refuse(&loaded, report.decisions)?;
    }
    Ok(ExitCode::SUCCESS)
}
