//! The CloudWatch metrics of each kind that data flows through: namespace,
//! name, dimension, statistic, and what a metric says of its hop. One table
//! per kind (`stream.rs`, `firehose.rs`, `function.rs`, `host.rs`); the
//! dashboard, the alarms and `pipectl status` all read their metrics from
//! here, so the three can never disagree on a metric.
//!
//! A row says when the metric exists (`When`): AWS reports some metrics
//! only for some configurations (a stream nobody reads has no iterator
//! age, a Firehose that does not convert no conversion failures).

#[cfg(test)]
mod doc;
pub mod firehose;
pub mod function;
pub mod host;
pub mod stream;

use crate::spec::{AlarmKind, FirehoseSource, Spec};
use serde::Serialize;

/// The statistic a metric is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stat {
    Sum,
    Maximum,
    Average,
}

impl Stat {
    /// CloudWatch's name of the statistic.
    pub fn as_str(self) -> &'static str {
        match self {
            Stat::Sum => "Sum",
            Stat::Maximum => "Maximum",
            Stat::Average => "Average",
        }
    }
}

/// What a metric says of the hop it belongs to: what `status` judges the
/// hop by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Records that came into the hop.
    RecordsIn,
    /// Bytes that came into the hop.
    BytesIn,
    /// Records the hop passed on (read, delivered, sent).
    RecordsOut,
    /// Bytes the hop passed on.
    BytesOut,
    /// How far behind the hop is (an age or a freshness).
    Lag,
    /// Records or calls that failed.
    Failed,
    /// Calls or records AWS refused for their rate (retried, so late).
    Throttled,
    /// A ratio of successful calls, 0 to 1 (below 1: some failed).
    SuccessRatio,
    /// A ratio of successful calls whose failures are retried (below 1:
    /// late, not lost).
    RetriedRatio,
    /// Shown, not judged (a duration, a CPU load).
    Info,
}

/// The unit a metric is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
    Seconds,
    Percent,
    /// A ratio from 0 to 1.
    Ratio,
}

/// When AWS reports a metric for a resource of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Always,
    /// A stream that something of the spec reads (a Firehose, a trigger).
    StreamRead,
    /// A Firehose fed by a stream.
    FromStream,
    /// A Direct-PUT Firehose.
    Direct,
    /// A Firehose that converts records (Parquet or ORC).
    Converts,
    /// A Firehose that transforms records with a function.
    Processes,
    /// A function invoked by a stream's event source mapping.
    Triggered,
    /// A host that runs the Kinesis Agent (per destination stream).
    AgentRuns,
    /// A host that runs pipectl's producer (per stream).
    ProducerRuns,
}

/// Which panel of the dashboard's row a metric is drawn in: what comes in
/// and goes out (left) or what lags and fails (right), or not drawn. A
/// panel holds lines of two units at most (one per axis): success ratios
/// (0 to 1) are not drawn beside counts and bytes; `status` judges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Panel {
    Flow,
    Health,
    None,
}

/// One metric of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Metric {
    pub namespace: &'static str,
    pub name: &'static str,
    /// The dimension the metric is reported under; its value is the
    /// resource's (a stream's name, an instance's id).
    pub dimension: &'static str,
    pub stat: Stat,
    pub role: Role,
    pub unit: Unit,
    pub when: When,
    pub panel: Panel,
}

/// A metric row, written compactly in the tables: one argument per column,
/// so a row reads as a line of its table.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn m(
    namespace: &'static str,
    dimension: &'static str,
    name: &'static str,
    stat: Stat,
    role: Role,
    unit: Unit,
    when: When,
    panel: Panel,
) -> Metric {
    Metric { namespace, name, dimension, stat, role, unit, when, panel }
}

/// The metric of `table` called `name`: every metric named outside the
/// tables (an alarm's) is found through this, so it cannot name a metric
/// the table does not have.
pub fn named(table: &'static [Metric], name: &str) -> &'static Metric {
    table.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("metric {name} is not in its kind's table"))
}

/// The rows of `table` AWS reports for a resource, by what holds for it.
fn reported(table: &'static [Metric], holds: impl Fn(When) -> bool) -> Vec<&'static Metric> {
    table.iter().filter(|m| holds(m.when)).collect()
}

/// Whether anything of the spec reads the stream (a Firehose or a
/// function's trigger): GetRecords metrics and the iterator age exist only
/// then.
pub fn is_read(spec: &Spec, stream: &str) -> bool {
    spec.firehoses.values().any(|f| matches!(&f.source, FirehoseSource::Stream(s) if s == stream))
        || spec.functions.values().any(|f| f.trigger.as_ref().is_some_and(|t| t.stream == stream))
}

/// The metrics AWS reports for the stream `key` of the spec.
pub fn of_stream(spec: &Spec, key: &str) -> Vec<&'static Metric> {
    let read = is_read(spec, key);
    reported(stream::METRICS, |w| w == When::Always || (w == When::StreamRead && read))
}

/// The metrics AWS reports for the Firehose `key` of the spec.
pub fn of_firehose(spec: &Spec, key: &str) -> Vec<&'static Metric> {
    let Some(f) = spec.firehoses.get(key) else { return Vec::new() };
    reported(firehose::METRICS, |w| match w {
        When::Always => true,
        When::FromStream => matches!(f.source, FirehoseSource::Stream(_)),
        When::Direct => f.source == FirehoseSource::Direct,
        When::Converts => f.destination.convert.is_some(),
        When::Processes => f.processor.is_some(),
        _ => false,
    })
}

/// The metrics AWS reports for the function `key` of the spec.
pub fn of_function(spec: &Spec, key: &str) -> Vec<&'static Metric> {
    let triggered = spec.functions.get(key).is_some_and(|f| f.trigger.is_some());
    reported(function::METRICS, |w| w == When::Always || (w == When::Triggered && triggered))
}

/// The metrics of the agent host `key`: the instance's, then the Kinesis
/// Agent's (each for every stream it sends to) or the producer's.
pub fn of_host(spec: &Spec, key: &str) -> Vec<&'static Metric> {
    let Some(a) = spec.agents.get(key) else { return Vec::new() };
    let producer = a.producer.is_some();
    let holds = |w: When| match w {
        When::Always => true,
        When::ProducerRuns => producer,
        When::AgentRuns => !producer && !a.flows.is_empty(),
        _ => false,
    };
    let mut rows = reported(host::EC2, holds);
    rows.extend(reported(host::AGENT, holds));
    rows.extend(reported(host::PRODUCER, holds));
    rows
}

/// The row an alarm of the kind watches: its namespace, metric, dimension
/// and statistic are the ones the dashboard draws and `status` reads.
pub fn of_alarm(kind: &AlarmKind) -> &'static Metric {
    match kind {
        AlarmKind::StreamIteratorAge { .. } => named(stream::METRICS, "GetRecords.IteratorAgeMilliseconds"),
        AlarmKind::FunctionIteratorAge { .. } => named(function::METRICS, "IteratorAge"),
        AlarmKind::DeliveryFreshness { .. } => named(firehose::METRICS, "DeliveryToS3.DataFreshness"),
        AlarmKind::FunctionErrors { .. } => named(function::METRICS, "Errors"),
    }
}

/// Every row of every table.
pub fn all() -> &'static [Metric] {
    static ALL: std::sync::OnceLock<Vec<Metric>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        [stream::METRICS, firehose::METRICS, function::METRICS, host::AGENT, host::EC2, host::PRODUCER].concat()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_row_is_unique_and_in_one_namespace_per_table() {
        for table in [stream::METRICS, firehose::METRICS, function::METRICS, host::AGENT, host::EC2, host::PRODUCER] {
            let ns = table[0].namespace;
            let dim = table[0].dimension;
            for (i, m) in table.iter().enumerate() {
                assert_eq!((m.namespace, m.dimension), (ns, dim), "{}", m.name);
                assert!(table[i + 1..].iter().all(|o| o.name != m.name), "{} twice", m.name);
                // A ratio is averaged, a count summed, an age at its worst.
                match m.unit {
                    Unit::Ratio | Unit::Percent => assert_eq!(m.stat, Stat::Average, "{}", m.name),
                    Unit::Count | Unit::Bytes => assert_eq!(m.stat, Stat::Sum, "{}", m.name),
                    Unit::Milliseconds | Unit::Seconds => assert_ne!(m.stat, Stat::Sum, "{}", m.name),
                }
            }
        }
    }

    #[test]
    fn named_finds_a_row_and_refuses_a_metric_outside_the_table() {
        assert_eq!(named(stream::METRICS, "IncomingRecords").role, Role::RecordsIn);
        assert!(std::panic::catch_unwind(|| named(stream::METRICS, "Invocations")).is_err());
    }
}
