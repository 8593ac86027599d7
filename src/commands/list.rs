//! `pipectl list`: the deployments in this account and region, from their
//! records: pipeline, env, region, how many resources, when created, when
//! last changed and by whom, when last applied (changed or not: what `gc`
//! judges), what it costs a month idle (as last applied, see
//! `crate::cost`), and who holds the lock if anyone does. A record that
//! cannot be read is reported beside the others.

use super::emitln;
use crate::cli::{Global, ListArgs};
use crate::lock::{self, rfc3339, rfc3339_f64};
use crate::resources::record;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let aws = crate::deployment::connect(g, None).await?;
    let listing = record::list(&aws, a.pipeline.as_deref()).await?;
    let found = &listing.found;
    for d in &listing.damaged {
        eprintln!("{}", crate::scrub::text(&format!("warning: {}/{}: {}", d.pipeline, d.env, d.why)));
    }
    let mut locks = lock::all(&aws).await?;
    let mut rows = Vec::new();
    for d in found {
        let holder = locks.remove(&(d.pipeline.clone(), d.env.clone()));
        rows.push(serde_json::json!({
            "pipeline": d.pipeline,
            "env": d.env,
            "region": d.content.region,
            "resources": d.content.resources.len(),
            "created": d.content.created.map(rfc3339),
            "last_changed": d.changed().map(rfc3339_f64),
            "last_applied": d.content.stamps.applied.map(rfc3339_f64),
            "by": d.content.by,
            "cost_per_hour": d.content.cost_per_hour,
            "cost_per_month": d.content.cost_per_hour.map(|h| h * crate::cost::HOURS_PER_MONTH),
            "locked_by": holder.map(|h| h.describe()),
        }));
    }
    if g.json {
        let damaged: Vec<serde_json::Value> = listing
            .damaged
            .iter()
            .map(|d| serde_json::json!({ "pipeline": d.pipeline, "env": d.env, "error": d.why }))
            .collect();
        let doc = serde_json::json!({
            "format_version": "1", "account": aws.account, "deployments": rows, "damaged": damaged,
        });
        emitln!("{}", crate::scrub::json(doc));
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("no deployments in {} (account {})", aws.region, aws.account);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_f64() => crate::cost::money(n.as_f64().unwrap_or_default()),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let header = [
        "PIPELINE",
        "ENV",
        "REGION",
        "RESOURCES",
        "COST/MO",
        "CREATED",
        "LAST CHANGED",
        "LAST APPLIED",
        "BY",
        "LOCKED",
    ];
    let keys = [
        "pipeline",
        "env",
        "region",
        "resources",
        "cost_per_month",
        "created",
        "last_changed",
        "last_applied",
        "by",
        "locked_by",
    ];
    let table: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| keys.iter().map(|k| text(&r[*k])).collect()))
        .collect();
    let widths: Vec<usize> = (0..keys.len()).map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    for row in table {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        emitln!("{}", cells.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
