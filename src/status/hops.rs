//! The hops of a spec and the paths data takes through them, with the
//! metrics each hop is judged by: pure, from the spec and the names.

use super::model::HopKind;
use crate::metrics::{self, Metric};
use crate::names::Scope;
use crate::plan::{Address, Kind};
use crate::resources::locate;
use crate::spec::{AlarmKind, FirehoseSource, Spec, WriteTarget};
use std::collections::BTreeMap;

/// At most this many paths are drawn (a spec whose hops fan out widely
/// would otherwise draw thousands).
pub const MAX_PATHS: usize = 64;

/// The time a Kinesis consumer takes to read what was put, at most.
const READ_SECONDS: u32 = 60;

/// What a Firehose's transform adds: its processing buffer (60 s by
/// default) and the function's run.
const PROCESSING_SECONDS: u32 = 120;

/// One hop, before its metrics are read.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub id: String,
    pub kind: HopKind,
    pub key: String,
    pub name: String,
    pub label: String,
    pub console: Option<String>,
    /// Each metric it is judged by, with the value of its dimension;
    /// a host's instance id is filled in once read (`INSTANCE`).
    pub metrics: Vec<(&'static Metric, String)>,
    /// How long it may hold records before passing them on: beyond it,
    /// records in and none out is a stall.
    pub holds_seconds: u32,
    /// The threshold of each lag metric, by name: the spec's alarm's when
    /// it has one on the metric, else pipectl's default.
    pub lag_limits: Vec<(&'static str, f64)>,
    /// How many failures a point may hold before the hop is failing, by
    /// metric: the spec's alarm's threshold where it has one (else none).
    pub fail_limits: Vec<(&'static str, f64)>,
    /// What its records in are: `records`, or `invocations` for a function.
    pub counts_in: &'static str,
    /// Where its data goes, by hop id.
    pub feeds: Vec<String>,
    /// Ids of the hops that deliver into it (a bucket's Firehoses).
    pub delivered_by: Vec<String>,
    /// A stream's consumer (a triggered function, a Firehose reading a
    /// stream): the stream's id and how long the consumer may take to
    /// take what the stream got.
    pub consumes: Option<(String, u32)>,
}

/// Stands for a host's instance id until it is read.
pub const INSTANCE: &str = "${instance_id}";

/// The default iterator-age limit: records a minute old.
const ITERATOR_AGE_MS: f64 = 60_000.0;

fn id(kind: Kind, key: &str) -> String {
    Address::new(kind, key).to_string()
}

fn console(kind: Kind, name: &str, scope: &Scope) -> Option<String> {
    locate(kind, name, scope).1
}

/// The hops of a spec, sources first, and their paths.
pub fn plan(spec: &Spec, scope: &Scope) -> (Vec<Planned>, Vec<Vec<String>>) {
    let mut hops: Vec<Planned> = Vec::new();
    let hop = |kind: HopKind, graph: Kind, key: &str, name: &str, label: String| Planned {
        id: id(graph, key),
        kind,
        key: key.to_string(),
        name: name.to_string(),
        label,
        console: console(graph, name, scope),
        metrics: Vec::new(),
        holds_seconds: READ_SECONDS,
        lag_limits: Vec::new(),
        fail_limits: Vec::new(),
        counts_in: "records",
        feeds: Vec::new(),
        delivered_by: Vec::new(),
        consumes: None,
    };
    for (key, a) in &spec.agents {
        let what = if a.producer.is_some() { "producer" } else { "Kinesis Agent" };
        let mut h = hop(HopKind::Host, Kind::Agent, key, &a.name, format!("host {key} ({what})"));
        for m in metrics::of_host(spec, key) {
            match m.namespace {
                metrics::host::AGENT_NAMESPACE => {
                    for s in a.streams() {
                        if let Some(s) = spec.streams.get(s) {
                            h.metrics.push((m, metrics::host::agent_destination(&s.name)));
                        }
                    }
                }
                metrics::host::PRODUCER_NAMESPACE => {
                    for s in a.streams() {
                        if let Some(s) = spec.streams.get(s) {
                            h.metrics.push((m, s.name.clone()));
                        }
                    }
                }
                _ => h.metrics.push((m, INSTANCE.to_string())),
            }
        }
        h.feeds = a.streams().iter().map(|s| id(Kind::Stream, s)).collect();
        hops.push(h);
    }
    for (key, s) in &spec.streams {
        let mut h = hop(HopKind::Stream, Kind::Stream, key, &s.name, format!("stream {key}"));
        h.metrics = metrics::of_stream(spec, key).into_iter().map(|m| (m, s.name.clone())).collect();
        let age = alarm_limit(spec, |k| matches!(k, AlarmKind::StreamIteratorAge { stream, .. } if stream == key));
        h.lag_limits.push(("GetRecords.IteratorAgeMilliseconds", age.unwrap_or(ITERATOR_AGE_MS)));
        for (fk, f) in &spec.functions {
            if let Some(t) = f.trigger.as_ref().filter(|t| &t.stream == key) {
                let window = t.batching_window_seconds.max(t.tumbling_window_seconds.unwrap_or(0));
                h.holds_seconds = h.holds_seconds.max(READ_SECONDS + window);
                h.feeds.push(id(Kind::Function, fk));
            }
        }
        for (fk, f) in &spec.firehoses {
            if matches!(&f.source, FirehoseSource::Stream(x) if x == key) {
                h.feeds.push(id(Kind::Firehose, fk));
            }
        }
        hops.push(h);
    }
    for (key, f) in &spec.functions {
        let mut h = hop(HopKind::Function, Kind::Function, key, &f.name, format!("function {key}"));
        h.metrics = metrics::of_function(spec, key).into_iter().map(|m| (m, f.name.clone())).collect();
        let age =
            alarm_limit(spec, |k| matches!(k, AlarmKind::FunctionIteratorAge { function, .. } if function == key));
        h.lag_limits.push(("IteratorAge", age.unwrap_or(ITERATOR_AGE_MS)));
        let errors = alarm_limit(spec, |k| matches!(k, AlarmKind::FunctionErrors { function, .. } if function == key));
        h.fail_limits.extend(errors.map(|e| ("Errors", e)));
        h.counts_in = "invocations";
        if let Some(t) = &f.trigger {
            let window = t.batching_window_seconds.max(t.tumbling_window_seconds.unwrap_or(0));
            h.consumes = Some((id(Kind::Stream, &t.stream), READ_SECONDS + window));
        }
        for w in &f.writes {
            h.feeds.push(match w {
                WriteTarget::Stream(s) => id(Kind::Stream, s),
                WriteTarget::Firehose(x) => id(Kind::Firehose, x),
            });
        }
        // A Firehose's transform: what it returns goes where the Firehose
        // delivers.
        for fh in spec.firehoses.values().filter(|fh| fh.processor.as_deref() == Some(key.as_str())) {
            h.feeds.push(id(Kind::Bucket, &fh.destination.bucket));
        }
        hops.push(h);
    }
    for (key, f) in &spec.firehoses {
        let d = &f.destination;
        let label = match &d.convert {
            Some(c) => format!("firehose {key} ({})", format_name(c.format)),
            None => format!("firehose {key}"),
        };
        let mut h = hop(HopKind::Firehose, Kind::Firehose, key, &f.name, label);
        h.metrics = metrics::of_firehose(spec, key).into_iter().map(|m| (m, f.name.clone())).collect();
        // A transform adds its own buffering (60 s by default) and run.
        let transform = if f.processor.is_some() { PROCESSING_SECONDS } else { 0 };
        h.holds_seconds = d.buffer_interval_seconds + READ_SECONDS + transform;
        let fresh =
            alarm_limit(spec, |k| matches!(k, AlarmKind::DeliveryFreshness { firehose, .. } if firehose == key));
        h.lag_limits
            .push(("DeliveryToS3.DataFreshness", fresh.unwrap_or(2.0 * d.buffer_interval_seconds as f64 + 60.0)));
        h.lag_limits.push(("KinesisMillisBehindLatest", ITERATOR_AGE_MS));
        if let FirehoseSource::Stream(s) = &f.source {
            h.consumes = Some((id(Kind::Stream, s), READ_SECONDS));
        }
        h.feeds.push(match &f.processor {
            Some(p) => id(Kind::Function, p),
            None => id(Kind::Bucket, &d.bucket),
        });
        hops.push(h);
    }
    for (key, b) in &spec.buckets {
        let mut h = hop(HopKind::Bucket, Kind::Bucket, key, &b.name, format!("bucket {key}"));
        h.delivered_by = spec
            .firehoses
            .iter()
            .filter(|(_, f)| &f.destination.bucket == key)
            .map(|(k, _)| id(Kind::Firehose, k))
            .collect();
        hops.push(h);
    }
    // Only hops data goes through: a bucket nothing delivers to (a table's
    // own, a log bucket) is not a hop.
    let fed: std::collections::BTreeSet<String> = hops.iter().flat_map(|h| h.feeds.clone()).collect();
    hops.retain(|h| h.kind != HopKind::Bucket || fed.contains(&h.id));
    for h in &mut hops {
        h.feeds.sort();
        h.feeds.dedup();
    }
    let paths = paths(&hops);
    (hops, paths)
}

fn format_name(f: crate::spec::ConvertFormat) -> &'static str {
    match f {
        crate::spec::ConvertFormat::Parquet => "Parquet",
        crate::spec::ConvertFormat::Orc => "ORC",
    }
}

/// The threshold of the spec's alarm on a metric, if it has one.
fn alarm_limit(spec: &Spec, on: impl Fn(&AlarmKind) -> bool) -> Option<f64> {
    spec.alarms.values().filter(|a| on(&a.kind)).map(|a| limit_of(&a.kind)).reduce(f64::min)
}

/// An alarm's threshold in its metric's unit.
pub fn limit_of(kind: &AlarmKind) -> f64 {
    match kind {
        AlarmKind::StreamIteratorAge { max_ms, .. } | AlarmKind::FunctionIteratorAge { max_ms, .. } => *max_ms as f64,
        AlarmKind::DeliveryFreshness { max_seconds, .. } => *max_seconds as f64,
        AlarmKind::FunctionErrors { max_errors, .. } => *max_errors as f64,
    }
}

/// The hop an alarm watches and the metric it watches there.
pub fn alarm_hop(kind: &AlarmKind) -> (String, &'static str) {
    match kind {
        AlarmKind::StreamIteratorAge { stream, .. } => (id(Kind::Stream, stream), "GetRecords.IteratorAgeMilliseconds"),
        AlarmKind::FunctionIteratorAge { function, .. } => (id(Kind::Function, function), "IteratorAge"),
        AlarmKind::DeliveryFreshness { firehose, .. } => (id(Kind::Firehose, firehose), "DeliveryToS3.DataFreshness"),
        AlarmKind::FunctionErrors { function, .. } => (id(Kind::Function, function), "Errors"),
    }
}

/// Every path from a hop nothing feeds to one that feeds nothing, at most
/// `MAX_PATHS`; a hop that feeds one already on the path ends it there.
fn paths(hops: &[Planned]) -> Vec<Vec<String>> {
    let by_id: BTreeMap<&str, &Planned> = hops.iter().map(|h| (h.id.as_str(), h)).collect();
    let fed: std::collections::BTreeSet<&str> = hops.iter().flat_map(|h| h.feeds.iter().map(String::as_str)).collect();
    let mut out = Vec::new();
    let mut starts: Vec<&Planned> = hops.iter().filter(|h| !fed.contains(h.id.as_str())).collect();
    if starts.is_empty() {
        // Everything is fed by something: a loop; start anywhere.
        starts.extend(hops.first());
    }
    fn walk<'a>(
        h: &'a Planned,
        by_id: &BTreeMap<&str, &'a Planned>,
        path: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        // One more than drawn: the report says there were more.
        if out.len() > MAX_PATHS {
            return;
        }
        path.push(h.id.clone());
        let next: Vec<&Planned> =
            h.feeds.iter().filter(|f| !path.contains(f)).filter_map(|f| by_id.get(f.as_str()).copied()).collect();
        if next.is_empty() {
            out.push(path.clone());
        }
        for n in next {
            walk(n, by_id, path, out);
        }
        path.pop();
    }
    for s in starts {
        walk(s, &by_id, &mut Vec::new(), &mut out);
    }
    // A hop on no path (fed only from inside a loop) still gets a line.
    let on: std::collections::BTreeSet<String> = out.iter().flatten().cloned().collect();
    for h in hops {
        if !on.contains(&h.id) && out.len() <= MAX_PATHS {
            out.push(vec![h.id.clone()]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> (Vec<Planned>, Vec<Vec<String>>) {
        let l = crate::load::load_pipeline("lab");
        plan(&l.spec, &Scope::new("us-east-1", "123456789012"))
    }

    #[test]
    fn the_labs_paths_go_from_its_host_through_its_stream_to_its_bucket() {
        let (hops, paths) = lab();
        assert!(!paths.is_empty());
        for p in &paths {
            assert!(p[0].starts_with("agent."), "{p:?}");
            assert!(p.last().unwrap().starts_with("bucket.") || p.last().unwrap().starts_with("function."), "{p:?}");
        }
        let kinds: Vec<HopKind> = hops.iter().map(|h| h.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted, "sources first");
        assert!(hops.iter().all(|h| h.kind == HopKind::Bucket || !h.metrics.is_empty()));
    }

    #[test]
    fn every_hop_metric_is_a_row_of_its_kinds_table_with_the_resources_name() {
        let (hops, _) = lab();
        for h in &hops {
            for (m, value) in &h.metrics {
                assert!(crate::metrics::all().contains(m), "{}", m.name);
                match m.namespace {
                    "AWS/EC2" => assert_eq!(value, INSTANCE),
                    "AWSKinesisAgent" => assert!(value.starts_with("KinesisStream:")),
                    _ => assert_eq!(value, &h.name, "{}", m.name),
                }
            }
        }
    }

    #[test]
    fn a_loop_of_hops_still_draws_every_hop() {
        let mk = |id: &str, feeds: &[&str]| Planned {
            id: id.into(),
            kind: HopKind::Stream,
            key: id.into(),
            name: id.into(),
            label: id.into(),
            console: None,
            metrics: vec![],
            holds_seconds: 0,
            lag_limits: vec![],
            fail_limits: vec![],
            counts_in: "records",
            feeds: feeds.iter().map(|s| s.to_string()).collect(),
            delivered_by: vec![],
            consumes: None,
        };
        let hops = vec![mk("a", &["b"]), mk("b", &["a"])];
        let p = paths(&hops);
        assert_eq!(p, [vec!["a".to_string(), "b".to_string()]]);
    }
}
