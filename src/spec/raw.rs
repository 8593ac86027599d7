//! The spec as written: structs that mirror the YAML one to one, every leaf
//! with its position. Nothing here checks meaning; `Spec::from_raw` does.
//! Top-level sections first, then functions, agent hosts, networks,
//! dashboards, alarms and `policy:` statements.

use super::decode::{Decode, Decoder, Entries, MapReader, Sp};
use super::yaml::{Mark, Node, Value};
use crate::diag::Diagnostic;

/// `read` for a map of the spec whose fields are read one by one, each with
/// the [`MapReader`] method named beside it (`opt`, `req`, `opt_or_default`,
/// `req_or_default`); unknown keys are reported when it is done.
macro_rules! read_map {
    ($t:ident { $($field:ident: $how:ident),* $(,)? }) => {
        impl $t {
            pub(super) fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
                let mut m = MapReader::open(n, d, path)?;
                let r = $t { mark: m.mark, $($field: m.$how(stringify!($field)),)* };
                m.finish();
                Some(r)
            }
        }
    };
}

type S = Sp<String>;

#[derive(Debug, Default)]
pub struct RawSpec {
    pub mark: Mark,
    pub pipeline: Option<S>,
    pub region: Option<S>,
    pub tags: Entries<S>,
    pub buckets: Entries<RawBucket>,
    pub streams: Entries<RawStream>,
    pub databases: Entries<RawDatabase>,
    pub tables: Entries<RawTable>,
    pub firehoses: Entries<RawFirehose>,
    pub functions: Entries<RawFunction>,
    pub agents: Entries<RawAgent>,
    pub networks: Entries<RawNetwork>,
    pub dashboards: Entries<RawDashboard>,
    pub alarms: Entries<RawAlarm>,
    pub metric_filters: Entries<RawMetricFilter>,
    pub timeouts: Entries<Sp<u32>>,
}

/// Reads a section of named resources, giving each its "section.key" path.
fn section<T>(
    m: &mut MapReader,
    key: &'static str,
    read: impl Fn(&Node, &mut Decoder, &str) -> Option<T>,
) -> Entries<T> {
    let Some(node) = m.node(key) else {
        return Vec::new();
    };
    let d = m.decoder();
    let Value::Map(entries) = &node.value else {
        d.error(super::decode::type_diagnostic(key, node, "a mapping of names to resources"));
        return Vec::new();
    };
    let mut out: Entries<T> = Vec::new();
    for (k, v) in entries {
        let Some(name) = S::decode(k, d) else {
            continue;
        };
        if let Some((first, _)) = out.iter().find(|(f, _)| f.v == name.v) {
            let first_line = first.mark.line;
            d.error(
                Diagnostic::new(name.mark, "duplicate-key", format!("`{key}.{}` is defined twice", name.v))
                    .label("defined again here")
                    .related(first.mark, "first defined here")
                    .hint(format!("the first definition is at line {first_line}")),
            );
            continue;
        }
        let path = format!("{key}.{}", name.v);
        if let Some(value) = read(v, d, &path) {
            out.push((name, value));
        }
    }
    out
}

impl RawSpec {
    pub fn decode(root: &Node, d: &mut Decoder) -> RawSpec {
        let mut spec = RawSpec { mark: root.mark, ..RawSpec::default() };
        if root.value == Value::Null {
            d.error(
                Diagnostic::new(root.mark, "missing-field", "the spec is empty")
                    .hint("a spec needs at least `pipeline: <name>` and one resource"),
            );
            return spec;
        }
        let Some(mut m) = MapReader::open(root, d, "") else {
            return spec;
        };
        spec.pipeline = m.req("pipeline");
        spec.region = m.opt("region");
        spec.tags = m.opt("tags").unwrap_or_default();
        spec.buckets = section(&mut m, "buckets", RawBucket::read);
        spec.streams = section(&mut m, "streams", RawStream::read);
        if let Some(catalog) = m.node("catalog") {
            if let Some(mut c) = MapReader::open(catalog, m.decoder(), "catalog") {
                spec.databases = section(&mut c, "databases", RawDatabase::read);
                spec.tables = section(&mut c, "tables", RawTable::read);
                c.finish();
            }
        }
        spec.firehoses = section(&mut m, "firehoses", RawFirehose::read);
        spec.functions = section(&mut m, "functions", RawFunction::read);
        spec.agents = section(&mut m, "agents", RawAgent::read);
        spec.networks = section(&mut m, "networks", RawNetwork::read);
        spec.dashboards = section(&mut m, "dashboards", RawDashboard::read);
        spec.alarms = section(&mut m, "alarms", RawAlarm::read);
        spec.metric_filters = section(&mut m, "metric_filters", RawMetricFilter::read);
        spec.timeouts = m.opt("timeouts").unwrap_or_default();
        // Read and substituted before decoding (`spec::vars`).
        m.node_or_null("vars");
        m.finish();
        spec
    }
}

mod bucket;
mod hosts;
pub use bucket::RawBucket;
pub use hosts::*;

#[derive(Debug)]
pub struct RawStream {
    pub mark: Mark,
    pub name: Option<S>,
    pub mode: Option<S>,
    pub shards: Option<Sp<u32>>,
    pub retention_hours: Option<Sp<u32>>,
    pub encryption: Option<S>,
    pub protect: Option<Sp<bool>>,
}

read_map!(RawStream { name: opt, mode: opt, shards: opt, retention_hours: opt, encryption: opt, protect: opt });

#[derive(Debug)]
pub struct RawDatabase {
    pub mark: Mark,
    pub name: Option<S>,
    pub description: Option<S>,
}

read_map!(RawDatabase { name: opt, description: opt });

#[derive(Debug)]
pub struct RawLocation {
    pub mark: Mark,
    pub bucket: Option<S>,
    pub prefix: Option<S>,
}

read_map!(RawLocation { bucket: req, prefix: opt });

#[derive(Debug)]
pub struct RawTable {
    pub mark: Mark,
    pub name: Option<S>,
    pub database: Option<S>,
    pub location: Option<RawLocation>,
    pub format: Option<S>,
    pub columns: Entries<S>,
    pub partition_keys: Entries<S>,
    pub description: Option<S>,
    pub protect: Option<Sp<bool>>,
}

impl RawTable {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let location = m.req_node("location", None);
        let location = location.and_then(|l| RawLocation::read(l, m.decoder(), &format!("{path}.location")));
        let r = RawTable {
            mark: m.mark,
            name: m.opt("name"),
            database: m.req("database"),
            location,
            format: m.opt("format"),
            columns: m.req("columns").unwrap_or_default(),
            partition_keys: m.opt("partition_keys").unwrap_or_default(),
            description: m.opt("description"),
            protect: m.opt("protect"),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub enum RawSource {
    Stream(S),
    Direct,
}

#[derive(Debug)]
pub struct RawBuffer {
    pub mark: Mark,
    pub size_mb: Option<Sp<u32>>,
    pub interval_seconds: Option<Sp<u32>>,
}

#[derive(Debug)]
pub struct RawConvert {
    pub mark: Mark,
    pub format: Option<S>,
    pub table: Option<S>,
    pub compression: Option<S>,
}

read_map!(RawBuffer { size_mb: opt, interval_seconds: opt });
read_map!(RawConvert { format: req, table: req, compression: opt });

#[derive(Debug)]
pub struct RawDestination {
    pub mark: Mark,
    pub bucket: Option<S>,
    pub prefix: Option<S>,
    pub error_prefix: Option<S>,
    pub buffer: Option<RawBuffer>,
    pub compression: Option<S>,
    pub convert: Option<RawConvert>,
    pub error_logging: Option<Sp<bool>>,
    pub encryption: Option<S>,
}

#[derive(Debug)]
pub struct RawFirehose {
    pub mark: Mark,
    pub name: Option<S>,
    pub source: Option<Sp<RawSource>>,
    pub destination: Option<RawDestination>,
    pub processor: Option<S>,
    pub role: Option<S>,
    pub policy: Vec<RawStatement>,
}

impl RawFirehose {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let hint = "write `source: direct` for Direct PUT, or `source: { stream: <key> }`";
        let source = m.req_node("source", Some(hint)).and_then(|s| {
            let v = match &s.value {
                Value::Scalar { text, .. } if text == "direct" => Some(RawSource::Direct),
                Value::Map(_) => {
                    let mut sm = MapReader::open(s, m.decoder(), format!("{path}.source"))?;
                    let stream = sm.req("stream");
                    sm.finish();
                    stream.map(RawSource::Stream)
                }
                _ => {
                    m.decoder().error(
                        Diagnostic::new(s.mark, "type", "`source` must be `direct` or `{ stream: <key> }`")
                            .hint("write `source: direct` for Direct PUT, or `source: { stream: trips }`"),
                    );
                    None
                }
            };
            v.map(|v| Sp { v, mark: s.mark, path: format!("{path}.source") })
        });
        let destination = m.req_node("destination", None);
        let destination =
            destination.and_then(|dn| RawDestination::read(dn, m.decoder(), &format!("{path}.destination")));
        let processor = m.node("processor").and_then(|p| {
            let mut pm = MapReader::open(p, m.decoder(), format!("{path}.processor"))?;
            let f = pm.req("function");
            pm.finish();
            f
        });
        let policy = RawStatement::list(&mut m, path);
        let role = m.opt("role");
        let r = RawFirehose { mark: m.mark, name: m.opt("name"), source, destination, processor, role, policy };
        m.finish();
        Some(r)
    }
}

impl RawDestination {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let buffer = m.node("buffer").and_then(|b| RawBuffer::read(b, m.decoder(), &format!("{path}.buffer")));
        let convert = m.node("convert").and_then(|c| RawConvert::read(c, m.decoder(), &format!("{path}.convert")));
        let r = RawDestination {
            mark: m.mark,
            bucket: m.req("bucket"),
            prefix: m.opt("prefix"),
            error_prefix: m.opt("error_prefix"),
            buffer,
            compression: m.opt("compression"),
            convert,
            error_logging: m.opt("error_logging"),
            encryption: m.opt("encryption"),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub struct RawOnFailure {
    pub mark: Mark,
    pub bisect: Option<Sp<bool>>,
    pub max_retries: Option<Sp<i64>>,
    pub max_record_age_seconds: Option<Sp<i64>>,
}

read_map!(RawOnFailure { bisect: opt, max_retries: opt, max_record_age_seconds: opt });

#[derive(Debug)]
pub struct RawTrigger {
    pub mark: Mark,
    pub stream: Option<S>,
    pub batch_size: Option<Sp<u32>>,
    pub batching_window_seconds: Option<Sp<u32>>,
    pub starting_position: Option<S>,
    pub tumbling_window_seconds: Option<Sp<u32>>,
    pub parallelization_factor: Option<Sp<u32>>,
    pub on_failure: Option<RawOnFailure>,
    pub enabled: Option<Sp<bool>>,
}

#[derive(Debug)]
pub struct RawFunction {
    pub mark: Mark,
    pub name: Option<S>,
    pub runtime: Option<S>,
    pub code: Option<S>,
    pub handler: Option<S>,
    pub memory_mb: Option<Sp<u32>>,
    pub timeout_seconds: Option<Sp<u32>>,
    pub environment: Entries<S>,
    pub writes: Vec<S>,
    pub trigger: Option<RawTrigger>,
    pub log_retention_days: Option<Sp<u32>>,
    pub reserved_concurrency: Option<Sp<u32>>,
    pub role: Option<S>,
    pub policy: Vec<RawStatement>,
}

impl RawFunction {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let trigger = m.node("trigger").and_then(|t| {
            let mut tm = MapReader::open(t, m.decoder(), format!("{path}.trigger"))?;
            let on_failure = tm.node("on_failure");
            let on_failure =
                on_failure.and_then(|o| RawOnFailure::read(o, tm.decoder(), &format!("{path}.trigger.on_failure")));
            let r = RawTrigger {
                mark: tm.mark,
                stream: tm.req("stream"),
                batch_size: tm.opt("batch_size"),
                batching_window_seconds: tm.opt("batching_window_seconds"),
                starting_position: tm.opt("starting_position"),
                tumbling_window_seconds: tm.opt("tumbling_window_seconds"),
                parallelization_factor: tm.opt("parallelization_factor"),
                on_failure,
                enabled: tm.opt("enabled"),
            };
            tm.finish();
            Some(r)
        });
        let r = RawFunction {
            mark: m.mark,
            name: m.opt("name"),
            runtime: m.req("runtime"),
            code: m.req("code"),
            handler: m.req("handler"),
            memory_mb: m.opt("memory_mb"),
            timeout_seconds: m.opt("timeout_seconds"),
            environment: m.opt("environment").unwrap_or_default(),
            writes: m.opt("writes").unwrap_or_default(),
            trigger,
            log_retention_days: m.opt("log_retention_days"),
            reserved_concurrency: m.opt("reserved_concurrency"),
            role: m.opt("role"),
            policy: RawStatement::list(&mut m, path),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub struct RawDashboard {
    pub mark: Mark,
    pub name: Option<S>,
}

read_map!(RawDashboard { name: opt });

#[derive(Debug)]
pub struct RawMetricFilter {
    pub mark: Mark,
    pub name: Option<S>,
    pub function: Option<S>,
    pub pattern: Option<S>,
    pub metric: Option<RawMetric>,
}

impl RawMetricFilter {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let metric = m.req_node("metric", Some("`metric: { namespace: <ns>, name: <metric> }`"));
        let metric = metric.and_then(|x| RawMetric::read(x, m.decoder(), &format!("{path}.metric")));
        let r = RawMetricFilter {
            mark: m.mark,
            name: m.opt("name"),
            function: m.req("function"),
            pattern: m.req("pattern"),
            metric,
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub struct RawMetric {
    pub mark: Mark,
    pub namespace: Option<S>,
    pub name: Option<S>,
    pub value: Option<S>,
    pub default: Option<Sp<f64>>,
}

read_map!(RawMetric { namespace: req, name: req, value: opt, default: opt });

#[derive(Debug)]
pub struct RawAlarm {
    pub mark: Mark,
    pub name: Option<S>,
    pub kind: Option<S>,
    pub stream: Option<S>,
    pub firehose: Option<S>,
    pub function: Option<S>,
    pub max_ms: Option<Sp<u64>>,
    pub max_seconds: Option<Sp<u64>>,
    pub max_errors: Option<Sp<u64>>,
    pub period_seconds: Option<Sp<u32>>,
    pub evaluation_periods: Option<Sp<u32>>,
}

read_map!(RawAlarm {
    name: opt,
    kind: opt,
    stream: opt,
    firehose: opt,
    function: opt,
    max_ms: opt,
    max_seconds: opt,
    max_errors: opt,
    period_seconds: opt,
    evaluation_periods: opt
});

/// An extra IAM statement for a generated role (`policy:`).
#[derive(Debug)]
pub struct RawStatement {
    pub mark: Mark,
    pub actions: Vec<S>,
    /// `NotAction`: every action but these (only where the operator allows it).
    pub not_actions: Vec<S>,
    pub resources: Vec<S>,
    /// `NotResource`: every resource but these (only where the operator allows it).
    pub not_resources: Vec<S>,
    pub allow_privilege_escalation: Option<Sp<bool>>,
}

impl RawStatement {
    /// The `policy:` list of the mapping `m` reads.
    fn list(m: &mut MapReader, path: &str) -> Vec<RawStatement> {
        let Some(node) = m.node("policy") else { return Vec::new() };
        let d = m.decoder();
        let Value::Seq(items) = &node.value else {
            d.error(
                super::decode::type_diagnostic(&format!("{path}.policy"), node, "a list of statements")
                    .hint("`policy: [{ actions: [s3:GetObject], resources: [\"arn:aws:s3:::bucket/*\"] }]`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(mut sm) = MapReader::open(item, d, format!("{path}.policy[{i}]")) else { continue };
            let r = RawStatement {
                mark: sm.mark,
                actions: sm.opt_or_default("actions"),
                not_actions: sm.opt_or_default("not_actions"),
                resources: sm.opt_or_default("resources"),
                not_resources: sm.opt_or_default("not_resources"),
                allow_privilege_escalation: sm.opt("allow_privilege_escalation"),
            };
            sm.finish();
            out.push(r);
        }
        out
    }
}
