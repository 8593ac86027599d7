//! How long AWS usually takes to make each kind usable (or gone): where a
//! wait starts looking ([`crate::aws::Pace`]: the first look after the
//! immediate one at a tenth of this). The figures are AWS's own where it
//! gives one, else what AWS-NOTES.md and the labs measured.

use std::time::Duration;

/// CreateStream to ACTIVE: "typically 10-30 s" (AWS-NOTES.md).
pub const STREAM: Duration = Duration::from_secs(12);
/// An UPDATING stream (retention, encryption, scaling) to ACTIVE again.
pub const STREAM_UPDATE: Duration = Duration::from_secs(10);
/// DeleteStream to gone.
pub const STREAM_DELETE: Duration = Duration::from_secs(10);
/// CreateDeliveryStream to ACTIVE: "often about a minute" (AWS-NOTES.md).
pub const FIREHOSE: Duration = Duration::from_secs(60);
/// DeleteDeliveryStream to gone.
pub const FIREHOSE_DELETE: Duration = Duration::from_secs(30);
/// A new role usable by Firehose, Lambda or EC2 (IAM's eventual
/// consistency, "a few seconds", AWS-NOTES.md).
pub const ROLE_PROPAGATION: Duration = Duration::from_secs(8);
/// A function's State from Pending to Active.
pub const FUNCTION: Duration = Duration::from_secs(2);
/// An event source mapping from Creating to Enabled, or Deleting to gone.
pub const TRIGGER: Duration = Duration::from_secs(30);
/// RunInstances to `running`.
pub const INSTANCE: Duration = Duration::from_secs(15);
/// TerminateInstances to `terminated`.
pub const INSTANCE_STOP: Duration = Duration::from_secs(15);
/// A host's service active after boot (packages installed, agent up).
pub const HOST_SERVICE: Duration = Duration::from_secs(60);
/// CreateVpc to available.
pub const VPC: Duration = Duration::from_secs(2);
/// CreateNatGateway to available, or DeleteNatGateway to deleted.
pub const NAT_GATEWAY: Duration = Duration::from_secs(90);

/// What AWS takes for a create (or, `deleting`, a delete) of `kind`,
/// in milliseconds, with a tenth of a second for its calls: the weight
/// of a change on its path, by which the executor starts the longest path
/// first.
pub fn weight_ms(kind: crate::plan::Kind, deleting: bool) -> u64 {
    use crate::plan::Kind;
    let aws = match (kind, deleting) {
        (Kind::Stream, false) => STREAM,
        (Kind::Stream, true) => STREAM_DELETE,
        (Kind::Firehose, false) => FIREHOSE,
        (Kind::Firehose, true) => FIREHOSE_DELETE,
        (Kind::Role | Kind::InstanceProfile, false) => ROLE_PROPAGATION,
        (Kind::Function, false) => FUNCTION,
        (Kind::Trigger, _) => TRIGGER,
        (Kind::Agent, false) => INSTANCE,
        (Kind::Agent, true) => INSTANCE_STOP,
        (Kind::Network, _) => VPC,
        _ => Duration::ZERO,
    };
    aws.as_millis() as u64 + 100
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;

    #[test]
    fn a_firehose_weighs_more_than_a_stream_and_a_bucket_only_its_calls() {
        assert!(weight_ms(Kind::Firehose, false) > weight_ms(Kind::Stream, false));
        assert_eq!(weight_ms(Kind::Bucket, false), 100);
        assert_eq!(weight_ms(Kind::Stream, true), 10_100);
    }
}
