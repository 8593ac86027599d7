//! An agent host's metrics: the Kinesis Agent's own (per destination
//! stream), the built-in producer's own (per stream), and the instance's
//! (AWS/EC2, by `InstanceId`).

use super::{m, Metric, Panel, Role, Stat, Unit, When};

/// The Kinesis Agent's namespace (its `cloudwatch.namespace` default).
pub const AGENT_NAMESPACE: &str = "AWSKinesisAgent";

/// The namespace pipectl's producer publishes its own metrics in.
pub const PRODUCER_NAMESPACE: &str = "PipectlProducer";

/// The Kinesis Agent's metrics as its sender emits them on every
/// PutRecords call: one dimension, `Destination` = `KinesisStream:<stream>`
/// (and `Instance` only with `cloudwatch.tagInstance`, which pipectl does
/// not set).
pub const AGENT: &[Metric] = &[
    m(A, "Destination", "RecordSendAttempts", Stat::Sum, Role::RecordsOut, Unit::Count, When::AgentRuns, Panel::Flow),
    m(A, "Destination", "BytesSent", Stat::Sum, Role::BytesOut, Unit::Bytes, When::AgentRuns, Panel::Flow),
    m(A, "Destination", "RecordSendErrors", Stat::Sum, Role::Failed, Unit::Count, When::AgentRuns, Panel::Health),
    m(A, "Destination", "ServiceErrors", Stat::Sum, Role::Failed, Unit::Count, When::AgentRuns, Panel::Health),
];
const A: &str = AGENT_NAMESPACE;

/// The value of the agent's `Destination` dimension for a stream.
pub fn agent_destination(stream: &str) -> String {
    format!("KinesisStream:{stream}")
}

/// The instance's own metrics. The producer's puts show as its network
/// out as well as in its own metrics. A saturated CPU is why a host falls
/// behind, so it is drawn with what lags.
pub const EC2: &[Metric] = &[
    m("AWS/EC2", "InstanceId", "CPUUtilization", Stat::Average, Role::Info, Unit::Percent, When::Always, Panel::Health),
    m("AWS/EC2", "InstanceId", "NetworkOut", Stat::Sum, Role::Info, Unit::Bytes, When::ProducerRuns, Panel::Flow),
];

/// What pipectl's producer (`templates/agent/producer.py`) publishes once
/// a minute, by `StreamName`: records it sent, and records still refused
/// after its retries.
pub const PRODUCER: &[Metric] = &[
    m(P, "StreamName", "RecordsSent", Stat::Sum, Role::RecordsOut, Unit::Count, When::ProducerRuns, Panel::Flow),
    m(P, "StreamName", "RecordsFailed", Stat::Sum, Role::Failed, Unit::Count, When::ProducerRuns, Panel::Health),
];
const P: &str = PRODUCER_NAMESPACE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_producer_publishes_in_the_namespace_and_dimension_of_its_rows() {
        let py = include_str!("../../templates/agent/producer.py");
        assert!(py.contains(&format!("NAMESPACE = \"{PRODUCER_NAMESPACE}\"")), "producer.py's NAMESPACE");
        for (constant, row) in ["SENT", "FAILED"].iter().zip(PRODUCER) {
            assert!(py.contains(&format!("DIMENSION = \"{}\"", row.dimension)), "producer.py's DIMENSION");
            assert!(py.contains(&format!("{constant} = \"{}\"", row.name)), "producer.py's {constant}");
        }
        assert_eq!(PRODUCER.len(), 2, "producer.py publishes exactly these two");
    }
}
