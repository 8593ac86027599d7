//! `pipectl outputs`: names, ARNs, console links and whether each resource
//! exists, for people and (with `--json`) for CI.

use super::emitln;
use crate::cli::{Global, SpecArg};
use crate::deployment::{Deployment, Reach};
use crate::resources::locate;
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(g: &Global, a: &SpecArg) -> anyhow::Result<ExitCode> {
    let d = Deployment::open(g, &a.spec, &[], Reach::Upstream).await?;
    let resources = d.resources();
    let reads = resources.iter().map(|(a, r)| (a.clone(), r.clone())).collect();
    let exists: BTreeMap<_, _> =
        crate::engine::read_all(&d.aws, reads, crate::engine::MAX_READS, crate::engine::Depth::Owner)
            .await?
            .into_iter()
            .map(|(a, o)| (a, o.is_some()))
            .collect();
    let scope = d.aws.scope();
    let mut rows = serde_json::Map::new();
    for addr in d.graph.topo_order() {
        let Some(r) = resources.get(&addr) else { continue };
        let (arn, console) = locate(addr.kind, &r.record_name(), &scope);
        let exists = exists.get(&addr).copied().unwrap_or(false);
        let mut row = serde_json::json!({ "name": r.name(), "arn": arn, "console": console, "exists": exists });
        if exists {
            for (label, text) in r.outputs(&d.aws).await? {
                row[label] = text.into();
            }
        }
        rows.insert(addr.to_string(), row);
    }
    let (m, aws) = (&d.meta, &d.aws);
    if g.json {
        let doc = serde_json::json!({
            "format_version": "1",
            "pipeline": m.pipeline,
            "env": m.env,
            "region": aws.region,
            "account": aws.account,
            "resources": rows,
        });
        emitln!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    emitln!("pipeline `{}`, env `{}`, region {}, account {}\n", m.pipeline, m.env, aws.region, aws.account);
    for (addr, v) in &rows {
        let mark = if v["exists"] == true { " " } else { "?" };
        emitln!("{mark} {addr}  {}", v["name"].as_str().unwrap_or_default());
        for (key, x) in v.as_object().into_iter().flatten() {
            if let (false, Some(x)) = (["name", "exists"].contains(&key.as_str()), x.as_str()) {
                emitln!("      {key}: {x}");
            }
        }
    }
    emitln!("\n(? = not deployed)");
    Ok(ExitCode::SUCCESS)
}
