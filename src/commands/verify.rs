//! `pipectl verify`: one canary per entry, every path checked at once, one
//! line per hop; exit 0 only when every hop that could be checked
//! delivered (see `verify`).

use super::emitln;
use crate::cli::{Global, VerifyArgs};
use crate::deployment::{Deployment, Reach};
use crate::verify::check::{self, Outcome};
use crate::verify::{self, Entry};
use crate::{BadInput, Hinted};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

pub async fn run(g: &Global, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let d = Deployment::open_checked(g, &a.spec, Reach::Upstream, |offline| {
        if verify::hops(&offline.spec).is_empty() {
            return Err(BadInput::error(
                "the spec has no stream and no Direct-PUT Firehose to send a canary into",
                "verify follows data from `streams:` and from `firehoses:` with `source: direct`",
            ));
        }
        Ok(())
    })
    .await?;
    crate::cancel::install();
    let spec = &d.loaded.as_ref().expect("opened from a spec").spec;
    let hops = verify::hops(spec);
    let longest = spec.firehoses.values().map(|f| f.destination.buffer_interval_seconds).max().unwrap_or(0);
    let timeout = a.timeout.unwrap_or(Duration::from_secs(u64::from(longest) + 120));
    let emulator = d.aws.endpoint.is_some();

    let run = format!("{:016x}", fastrand::u64(..));
    let mut entries: Vec<Entry> = hops.iter().map(|h| h.entry.clone()).collect();
    entries.dedup();
    let sends = entries.iter().map(|e| {
        let id = verify::canary_id(&run, e);
        let record = verify::canary(spec, &id, SystemTime::now());
        let aws = &d.aws;
        async move { (e.clone(), check::send(aws, e, &id, &record).await) }
    });
    let sent: BTreeMap<Entry, check::Sent> = join_all(sends).await.into_iter().collect();
    if !g.json {
        eprintln!("{} canaries sent; waiting up to {}s for {} hops", sent.len(), timeout.as_secs(), hops.len());
    }
    let deadline = Instant::now() + timeout;
    let checks = hops.iter().map(|h| {
        let s = &sent[&h.entry];
        check::check(&d.aws, h, s, deadline, emulator)
    });
    let outcomes = join_all(checks).await;

    let failed = outcomes.iter().filter(|o| matches!(o, Outcome::NotDelivered(_))).count();
    if g.json {
        let rows: Vec<serde_json::Value> = hops
            .iter()
            .zip(&outcomes)
            .map(|(h, o)| {
                serde_json::json!({ "path": h.path, "canary": sent[&h.entry].id, "result": o.word(), "detail": o.why() })
            })
            .collect();
        let doc = serde_json::json!({ "format_version": "1", "hops": rows, "not_delivered": failed });
        emitln!("{}", crate::scrub::json(doc));
        // The document says it all; exit 1 when a hop did not deliver.
        return Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    } else {
        for (h, o) in hops.iter().zip(&outcomes) {
            emitln!("{:<14} {}\n               {}", o.word(), h.path, crate::scrub::text(o.why()));
        }
    }
    if failed > 0 {
        let broken: Vec<&str> = hops
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Outcome::NotDelivered(_)))
            .map(|(h, _)| h.path.as_str())
            .collect();
        return Err(Hinted {
            message: format!("{failed} of {} hops did not deliver: {}", hops.len(), broken.join("; ")),
            hint: "`pipectl plan` shows what differs from the spec; `pipectl apply` puts it back".into(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
