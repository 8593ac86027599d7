//! `pipectl verify`: a canary for each path, every path checked at once,
//! one line per hop; exit 0 only when every hop that could be checked
//! delivered; `--clean` takes the canaries out of the objects after
//! (`docs/verify.md`).

use super::emitln;
use crate::cli::{Global, VerifyArgs};
use crate::deployment::{Deployment, Reach};
use crate::verify::canary::{self, Pair};
use crate::verify::check::{self, Outcome};
use crate::verify::clean::{self, Place};
use crate::verify::{self, Check, Hop};
use crate::{BadInput, Hinted};
use futures_util::future::join_all;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

pub async fn run(g: &Global, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let d = Deployment::open_checked(g, &a.spec, Reach::Upstream, true, |offline| {
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
    let timeout = a.timeout.unwrap_or_else(|| verify::default_timeout(&hops));

    let run = format!("{:016x}", fastrand::u64(..));
    let pairs: Vec<Pair> = hops.iter().map(|h| canary::pair(spec, &run, &h.path, &h.shape, h.end())).collect();
    let sends = hops.iter().zip(&pairs).map(|(h, p)| {
        let records = canary::records(spec, &h.shape, h.end(), p, SystemTime::now());
        let aws = &d.aws;
        async move { check::send(aws, &h.entry, &p.keep.id, &records).await }
    });
    let sent: Vec<check::Sent> = join_all(sends).await;
    if !g.json {
        eprintln!("{} canaries sent; waiting up to {}s for {} hops", pairs.len(), timeout.as_secs(), hops.len());
    }
    let deadline = Instant::now() + timeout;
    let checks = hops.iter().zip(&pairs).zip(&sent).map(|((h, p), s)| check::check(&d.aws, h, p, s, deadline));
    let outcomes = join_all(checks).await;

    let cleaned = if a.clean {
        let since = sent.iter().map(|s| s.at).min().unwrap_or_else(SystemTime::now);
        let needles: Vec<_> =
            pairs.iter().flat_map(|p| std::iter::once(p.keep.clone()).chain(p.drop.clone())).collect();
        Some(clean::clean(&d.aws, &places(&hops), since, &needles).await)
    } else {
        None
    };

    let failed: Vec<&str> = hops
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Outcome::NotDelivered(_)))
        .map(|(h, _)| h.path.as_str())
        .collect();
    let unread: Vec<&str> = hops
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Outcome::NotRead(_)))
        .map(|(h, _)| h.path.as_str())
        .collect();
    let passed = failed.is_empty() && (unread.is_empty() || a.accept_unread);
    if g.json {
        let rows: Vec<serde_json::Value> = hops
            .iter()
            .zip(&pairs)
            .zip(&outcomes)
            .map(|((h, p), o)| {
                serde_json::json!({
                    "path": h.path,
                    "canary": p.keep.id,
                    "kind": h.shape.word(),
                    "canaries": { "keep": p.keep.id, "drop": p.drop.as_ref().map(|d| &d.id) },
                    "result": o.word(),
                    "detail": o.why(),
                })
            })
            .collect();
        let mut doc = serde_json::json!({
            "format_version": "1",
            "hops": rows,
            "not_delivered": failed.len(),
            "not_read": unread.len(),
        });
        if let Some(c) = &cleaned {
            doc["clean"] = serde_json::to_value(c).expect("serializes");
        }
        emitln!("{}", crate::scrub::json(doc));
        // The document says it all; exit 1 when a hop did not deliver, or
        // was not read without `--accept-unread`.
        return Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    for ((h, p), o) in hops.iter().zip(&pairs).zip(&outcomes) {
        let drop = match (&p.drop, &h.shape) {
            (Some(d), _) => format!(", drop {}", d.id),
            (None, verify::Shape::Filter(_)) => {
                ", no drop canary: none its rules drop would be recognised where this path ends".to_string()
            }
            _ => String::new(),
        };
        let line = format!("{:<14} {} ({} canary {}{drop})", o.word(), h.path, h.shape.word(), p.keep.id);
        emitln!("{line}\n               {}", crate::scrub::text(o.why()));
    }
    if let Some(c) = &cleaned {
        for r in &c.removed {
            emitln!("cleaned        {}", crate::scrub::text(r));
        }
        for r in &c.not_removed {
            emitln!("not cleaned    {}", crate::scrub::text(r));
        }
        if !c.not_found.is_empty() {
            emitln!("not found      {} (nothing to clean for them yet)", c.not_found.join(", "));
        }
    }
    if !failed.is_empty() {
        return Err(Hinted {
            message: format!("{} of {} hops did not deliver: {}", failed.len(), hops.len(), failed.join("; ")),
            hint: "`pipectl plan` shows what differs from the spec; `pipectl apply` puts it back".into(),
        }
        .into());
    }
    if !passed {
        return Err(Hinted {
            message: format!(
                "{} of {} hops arrived in a form pipectl cannot read, which proves nothing: {}",
                unread.len(),
                hops.len(),
                unread.join("; ")
            ),
            hint: "each line says why; `--accept-unread` exits 0 for such hops (docs/verify.md)".into(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Where this run's canaries may land: every hop's bucket and prefix.
fn places(hops: &[Hop]) -> BTreeSet<Place> {
    hops.iter()
        .filter_map(|h| match &h.check {
            Check::InS3 { bucket, prefix, unread, firehose, .. } => Some(Place {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                unread: unread.clone(),
                firehose: firehose.clone(),
            }),
            _ => None,
        })
        .collect()
}
