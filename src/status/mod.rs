//! `pipectl status`: the pipeline's hops, the paths data takes through
//! them, and for each hop its metrics over a window from CloudWatch and a
//! verdict with its reason (`docs/status.md`).
//!
//! `hops` (pure) turns the spec into hops, paths and the metrics each is
//! judged by, all from the tables of `crate::metrics`; `read` reads them
//! (GetMetricData, 500 queries a call) and the alarms' states; `verdict`
//! (pure) judges each hop; `text`, `watch` and `html` draw a `Report`.

pub mod chart;
pub mod figures;
pub mod hops;
pub mod html;
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
    let (mut planned, mut paths) = hops::plan(spec, &scope);
    let more_paths = paths.len() > hops::MAX_PATHS;
    paths.truncate(hops::MAX_PATHS);
    let mut calls = Calls::default();
    // A host's instance metrics need its instance id; a host that is not
    // running cannot send.
    let mut down: Vec<(String, String)> = Vec::new();
    for h in planned.iter_mut().filter(|h| h.kind == HopKind::Host) {
        calls.describe_instances += 1;
        let address = Address::new(Kind::Agent, &h.key);
        let found = crate::resources::ec2::find_instance(&d.aws, &d.meta.owner(), &address).await?;
        let id = found.as_ref().and_then(|i| i.instance_id()).map(str::to_string);
        let state = found.as_ref().and_then(|i| i.state()).and_then(|s| s.name()).map(|s| s.as_str().to_string());
        match (id, state) {
            (Some(id), state) => {
                for (_, v) in h.metrics.iter_mut().filter(|(_, v)| v == hops::INSTANCE) {
                    *v = id.clone();
                }
                if let Some(state) = state.filter(|s| s != "running") {
                    down.push((h.id.clone(), format!("instance {id} is {state}")));
                }
            }
            (None, _) => {
                h.metrics.retain(|(_, v)| v != hops::INSTANCE);
                down.push((h.id.clone(), "no instance is running".into()));
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
        // What the stream a consumer reads took in.
        let offered = h.consumes.as_ref().and_then(|(stream, _)| {
            let up = hops_out.iter().find(|x| &x.id == stream)?;
            up.metrics.iter().find(|s| s.role == Role::RecordsIn)
        });
        let (mut verdict, mut reason) = verdict::judge(h, &series, offered, w, now);
        if let Some((_, why)) = down.iter().find(|(id, _)| id == &h.id) {
            reason = format!("{why}; {reason}");
            if matches!(verdict, Verdict::Idle | Verdict::Flowing) {
                verdict = Verdict::Unknown;
            }
        }
        if d.record.is_none() && verdict == Verdict::Idle && series.iter().all(|s| s.total.is_none()) {
            verdict = Verdict::Unknown;
            reason = "no metrics, and pipectl has no record of deploying it here (another --env, --region or account?)"
                .into();
        }
        // The spec's own alarms: one in ALARM makes the hop at least as bad
        // as what it watches says.
        for a in spec.alarms.values() {
            let (hop, _) = hops::alarm_hop(&a.kind);
            let Some(l) = live.get(&a.name).filter(|l| hop == h.id && l.state == "ALARM") else { continue };
            let says = match a.kind {
                crate::spec::AlarmKind::FunctionErrors { .. } => Verdict::Failing,
                _ => Verdict::Lagging,
            };
            let why = format!("alarm {} is in ALARM", a.name);
            if says < verdict {
                verdict = says;
                reason = match &l.reason {
                    Some(r) => format!("{why}: {}", crate::diag::value::terminal_safe(r)),
                    None => why,
                };
            } else {
                reason = format!("{reason}; {why}");
            }
        }
        let minutes = w.minutes(now);
        let per_minute = |role: Role| {
            let of: Vec<&Series> = series.iter().filter(|s| s.role == role).collect();
            (!of.is_empty()).then(|| of.iter().filter_map(|s| s.total).fold(0.0, |a, b| a + b) / minutes)
        };
        hops_out.push(Hop {
            id: h.id.clone(),
            kind: h.kind,
            counts_in: h.counts_in,
            // What reaches a terminal is shown, never obeyed.
            name: crate::diag::value::terminal_safe(&h.name),
            label: crate::diag::value::terminal_safe(&h.label),
            verdict,
            reason: crate::diag::value::terminal_safe(&reason),
            console: h.console.clone(),
            records_in_per_minute: per_minute(Role::RecordsIn),
            records_out_per_minute: per_minute(Role::RecordsOut),
            bytes_in_per_minute: per_minute(Role::BytesIn),
            bytes_out_per_minute: per_minute(Role::BytesOut),
            metrics: series,
        });
    }
    // An idle hop fed by one that is flowing: data stops before it.
    for i in 0..hops_out.len() {
        if hops_out[i].verdict != Verdict::Idle {
            continue;
        }
        let id = hops_out[i].id.clone();
        let feeders: Vec<String> = planned
            .iter()
            .filter(|p| p.feeds.contains(&id))
            .filter_map(|p| hops_out.iter().find(|h| h.id == p.id && h.verdict == Verdict::Flowing))
            .map(|h| h.label.clone())
            .collect();
        if !feeders.is_empty() {
            let h = &mut hops_out[i];
            h.reason = format!("{}, though {} sent (or ran) lately", h.reason, feeders.join(" and "));
        }
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
        deployed: d.record.is_some(),
        start: rfc3339(w.start),
        end: rfc3339(w.end()),
        start_epoch: w.start,
        end_epoch: w.end(),
        period_seconds: w.period,
        hops: hops_out,
        paths,
        more_paths,
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
