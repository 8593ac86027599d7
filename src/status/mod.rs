//! `pipectl status`: the pipeline's hops, the paths data takes through
//! them, and for each hop its metrics over a window from CloudWatch and a
//! verdict with its reason (`docs/status.md`).
//!
//! `hops` (pure) turns the spec into hops, paths and the metrics each is
//! judged by, all from the tables of `crate::metrics`; `read` reads them
//! (GetMetricData, 500 queries a call) and the alarms' states; `verdict`
//! (pure) judges each hop; `text`, `watch` and `html` draw a `Report`.

pub mod hops;
pub mod model;
pub mod read;
pub mod text;
pub mod verdict;
pub mod view;
pub mod watch;

pub use model::{AlarmState, Calls, Hop, HopKind, Report, Series, Verdict};

use crate::deployment::Deployment;
use crate::metrics::Role;
use crate::plan::{Address, Kind};
use crate::resources::locate;
use std::time::{Duration, SystemTime};

/// Reads the report of the window of `since` ending now.
pub async fn read(d: &Deployment, since: Duration) -> anyhow::Result<Report> {
    let spec = &d.loaded.as_ref().expect("opened from a spec").spec;
    let scope = d.aws.scope();
    let (mut planned, paths) = hops::plan(spec, &scope);
    let mut calls = Calls::default();
    let resources = d.resources();
    // A host's instance metrics need its instance id.
    let mut no_instance = Vec::new();
    for h in planned.iter_mut().filter(|h| h.kind == HopKind::Host) {
        let Some(r) = resources.get(&Address::new(Kind::Agent, &h.key)) else { continue };
        calls.describe_instances += 1;
        let outputs = r.outputs(&d.aws).await?;
        match outputs.iter().find(|(k, _)| *k == "instance") {
            Some((_, id)) => {
                for (_, v) in h.metrics.iter_mut().filter(|(_, v)| v == hops::INSTANCE) {
                    *v = id.clone();
                }
            }
            None => {
                h.metrics.retain(|(_, v)| v != hops::INSTANCE);
                no_instance.push(h.id.clone());
            }
        }
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let w = read::Window::ending(now, since.as_secs());
    let asked: Vec<_> = planned.iter().flat_map(|h| h.metrics.iter().cloned()).collect();
    let mut values = read::metrics(&d.aws, &asked, w, &mut calls).await?.into_iter();
    let names: Vec<String> = spec.alarms.values().map(|a| a.name.clone()).collect();
    let live = if names.is_empty() { Default::default() } else { read::alarms(&d.aws, &names, &mut calls).await? };

    let mut hops_out: Vec<Hop> = Vec::new();
    for h in &planned {
        let mut series: Vec<Series> =
            h.metrics.iter().map(|(m, v)| Series::new(m, v, values.next().unwrap_or_default())).collect();
        if h.kind == HopKind::Bucket {
            // What a bucket receives is what its Firehoses delivered.
            for from in &h.delivered_by {
                let Some(up) = hops_out.iter().find(|x| &x.id == from) else { continue };
                for s in up.metrics.iter().filter(|s| s.role == Role::RecordsOut) {
                    series.push(Series { role: Role::RecordsIn, ..s.clone() });
                }
            }
        }
        let (mut verdict, mut reason) = verdict::judge(h, &series, w, now);
        if no_instance.contains(&h.id) {
            reason = format!("no running instance found; {reason}");
            if verdict == Verdict::Idle {
                verdict = Verdict::Unknown;
            }
        }
        for a in spec.alarms.values() {
            let (hop, _) = hops::alarm_hop(&a.kind);
            if hop == h.id && live.get(&a.name).is_some_and(|l| l.state == "ALARM") {
                reason = format!("{reason}; alarm {} is in ALARM", a.name);
            }
        }
        let minutes = w.points as f64 * w.period as f64 / 60.0;
        let per_minute = |role: Role| {
            let of: Vec<&Series> = series.iter().filter(|s| s.role == role).collect();
            (!of.is_empty()).then(|| of.iter().filter_map(|s| s.total).fold(0.0, |a, b| a + b) / minutes)
        };
        hops_out.push(Hop {
            id: h.id.clone(),
            kind: h.kind,
            name: h.name.clone(),
            label: h.label.clone(),
            verdict,
            reason,
            console: h.console.clone(),
            records_in_per_minute: per_minute(Role::RecordsIn),
            records_out_per_minute: per_minute(Role::RecordsOut),
            bytes_in_per_minute: per_minute(Role::BytesIn),
            bytes_out_per_minute: per_minute(Role::BytesOut),
            metrics: series,
        });
    }
    let alarms = spec
        .alarms
        .iter()
        .map(|(key, a)| {
            let (hop, metric) = hops::alarm_hop(&a.kind);
            let l = live.get(&a.name);
            AlarmState {
                key: key.clone(),
                name: a.name.clone(),
                state: l.map_or_else(|| "missing".to_string(), |l| l.state.clone()),
                reason: l.and_then(|l| l.reason.clone()),
                hop: hops_out.iter().any(|h| h.id == hop).then_some(hop),
                metric,
                threshold: hops::limit_of(&a.kind),
                console: locate(Kind::Alarm, &a.name, &scope).1,
            }
        })
        .collect();
    Ok(Report {
        format_version: "1",
        pipeline: spec.pipeline.clone(),
        env: spec.env.clone(),
        region: d.aws.region.clone(),
        account: d.aws.account.clone(),
        start: rfc3339(w.start),
        end: rfc3339(w.end()),
        start_epoch: w.start,
        end_epoch: w.end(),
        period_seconds: w.period,
        hops: hops_out,
        paths,
        alarms,
        calls,
    })
}

/// A time in seconds since the epoch as RFC 3339, UTC.
fn rfc3339(at: i64) -> String {
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64)).to_string()
}

impl Report {
    /// The hops whose verdict is one of `verdicts`.
    pub fn with(&self, verdicts: &[Verdict]) -> Vec<&Hop> {
        self.hops.iter().filter(|h| verdicts.contains(&h.verdict)).collect()
    }

    pub fn hop(&self, id: &str) -> Option<&Hop> {
        self.hops.iter().find(|h| h.id == id)
    }
}
