//! What `pipectl status` found: the hops of the pipeline, the paths data
//! takes through them, each hop's metrics over the window and its verdict,
//! and the alarms' states. Every renderer (text, `--json`, `--watch`,
//! `--html`) draws a `Report`; none reads AWS.

use crate::metrics::{Metric, Role, Stat, Unit};
use serde::Serialize;

/// Everything `status` shows, for one window.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub pipeline: String,
    pub env: String,
    pub region: String,
    pub account: String,
    /// Whether pipectl has a record of deploying this pipeline and env
    /// here; without one, the metrics are still read by the spec's names.
    pub deployed: bool,
    /// The window's start and end, RFC 3339 (UTC), on period boundaries.
    pub start: String,
    pub end: String,
    /// The window's start and end, seconds since the epoch.
    pub start_epoch: i64,
    pub end_epoch: i64,
    /// The length of one point of every series.
    pub period_seconds: u32,
    /// Every hop, sources first (the order paths are drawn in).
    pub hops: Vec<Hop>,
    /// Each path from where data enters to where it ends, by hop id; at
    /// most `hops::MAX_PATHS`.
    pub paths: Vec<Vec<String>>,
    /// Whether there were more paths than those listed (every hop is in
    /// `hops` all the same).
    pub more_paths: bool,
    pub alarms: Vec<AlarmState>,
    /// The calls made to read this report.
    pub calls: Calls,
}

/// The kinds of hop data goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopKind {
    /// An agent host: the Kinesis Agent or pipectl's producer.
    Host,
    Stream,
    Function,
    Firehose,
    /// A bucket (and the table over it) where a Firehose delivers.
    Bucket,
}

impl HopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HopKind::Host => "host",
            HopKind::Stream => "stream",
            HopKind::Function => "function",
            HopKind::Firehose => "firehose",
            HopKind::Bucket => "bucket",
        }
    }
}

/// How data goes through a hop, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Errors or failed records in the window.
    Failing,
    /// Records in, none out for longer than the hop may hold them.
    Stalled,
    /// Behind: an iterator age or freshness over its threshold, or
    /// calls throttled.
    Lagging,
    /// Its metrics cannot be read (a host not running).
    Unknown,
    /// Records in and out.
    Flowing,
    /// Nothing sent to it in the window.
    Idle,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Failing => "failing",
            Verdict::Stalled => "stalled",
            Verdict::Lagging => "lagging",
            Verdict::Unknown => "unknown",
            Verdict::Flowing => "flowing",
            Verdict::Idle => "idle",
        }
    }
}

/// One hop of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// The graph address of its resource (`stream.trips`, `agent.producer`).
    pub id: String,
    pub kind: HopKind,
    /// What its records in are: `records`, or `invocations` for a function.
    pub counts_in: &'static str,
    /// Its physical name.
    pub name: String,
    /// `stream trips`, `firehose to_lake (table trips)`.
    pub label: String,
    pub verdict: Verdict,
    /// Why: the figures the verdict rests on, in words.
    pub reason: String,
    /// Its page in the AWS console.
    pub console: Option<String>,
    /// Records in and out per minute over the window (None: the hop has
    /// no such metric).
    pub records_in_per_minute: Option<f64>,
    pub records_out_per_minute: Option<f64>,
    pub bytes_in_per_minute: Option<f64>,
    pub bytes_out_per_minute: Option<f64>,
    pub metrics: Vec<Series>,
}

/// One metric of a hop over the window.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimension: &'static str,
    pub dimension_value: String,
    pub stat: Stat,
    pub role: Role,
    pub unit: Unit,
    /// One value per period from the window's start; `None` where
    /// CloudWatch has no data point.
    pub values: Vec<Option<f64>>,
    /// Over the window: the sum of a `Sum` metric, the maximum of a
    /// `Maximum` one, the mean of the points of an `Average` one; `None`
    /// without any data point.
    pub total: Option<f64>,
    /// The last point with data.
    pub latest: Option<f64>,
}

impl Series {
    pub fn new(m: &Metric, dimension_value: &str, values: Vec<Option<f64>>) -> Series {
        let points: Vec<f64> = values.iter().flatten().copied().collect();
        let total = (!points.is_empty()).then(|| match m.stat {
            Stat::Sum => points.iter().fold(0.0, |a, b| a + b),
            Stat::Maximum => points.iter().copied().fold(f64::MIN, f64::max),
            Stat::Average => points.iter().fold(0.0, |a, b| a + b) / points.len() as f64,
        });
        Series {
            namespace: m.namespace,
            metric: m.name,
            dimension: m.dimension,
            dimension_value: dimension_value.to_string(),
            stat: m.stat,
            role: m.role,
            unit: m.unit,
            latest: points.last().copied(),
            values,
            total,
        }
    }
}

/// The state of one alarm of the spec.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmState {
    /// The alarm's key in the spec, and its name in CloudWatch.
    pub key: String,
    pub name: String,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`, or `missing` (not deployed).
    pub state: String,
    pub reason: Option<String>,
    /// The hop whose metric it watches.
    pub hop: Option<String>,
    pub metric: &'static str,
    pub threshold: f64,
    pub console: Option<String>,
}

/// The calls a report took.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Calls {
    pub get_metric_data: u32,
    /// Metric queries sent (at most 500 per GetMetricData).
    pub metric_queries: u32,
    pub describe_alarms: u32,
    pub describe_instances: u32,
}
