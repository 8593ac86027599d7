//! Where a deployed resource can be found: its ARN (when its name gives it)
//! and its page in the AWS console, for `pipectl outputs`.

use crate::names::{Partition, Scope, TableId};
use crate::plan::Kind;

/// The console's host for a region's partition.
fn console_host(scope: &Scope) -> &'static str {
    match scope.partition() {
        Partition::Aws => "console.aws.amazon.com",
        Partition::AwsCn => "console.amazonaws.cn",
        Partition::AwsUsGov => "console.amazonaws-us-gov.com",
    }
}

/// The ARN and console link of a resource of `kind`, named as the
/// deployment record names it.
pub fn locate(kind: Kind, record_name: &str, scope: &Scope) -> (Option<String>, Option<String>) {
    let name = record_name;
    let region = &scope.region;
    let host = console_host(scope);
    let console = format!("https://{region}.{host}");
    let page = |path: String| Some(format!("{console}/{path}"));
    let (arn, link) = match kind {
        Kind::Record => (
            Some(scope.parameter(name)),
            page(format!("systems-manager/parameters/{name}/description?region={region}")),
        ),
        Kind::Bucket => {
            (Some(scope.bucket(name)), Some(format!("https://s3.{host}/s3/buckets/{name}?region={region}")))
        }
        Kind::Stream => {
            (Some(scope.stream(name)), page(format!("kinesis/home?region={region}#/streams/details/{name}/monitoring")))
        }
        Kind::GlueDatabase => (
            Some(scope.glue_database(name)),
            page(format!("glue/home?region={region}#/v2/data-catalog/databases/view/{name}")),
        ),
        Kind::GlueTable => (Some(scope.glue_table(&TableId::from_record(name))), None),
        Kind::Role => (Some(scope.role(name)), Some(format!("https://{host}/iam/home#/roles/details/{name}"))),
        Kind::InstanceProfile => (Some(scope.instance_profile(name)), None),
        Kind::LogGroup => (
            Some(scope.log_group(name)),
            page(format!("cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}", name.replace('/', "$252F"))),
        ),
        Kind::Firehose => {
            (Some(scope.firehose(name)), page(format!("firehose/home?region={region}#/details/{name}/monitoring")))
        }
        Kind::Function => (Some(scope.function(name)), page(format!("lambda/home?region={region}#/functions/{name}"))),
        Kind::Dashboard => {
            (Some(scope.dashboard(name)), page(format!("cloudwatch/home?region={region}#dashboards/dashboard/{name}")))
        }
        Kind::Alarm => {
            (Some(scope.alarm(name)), page(format!("cloudwatch/home?region={region}#alarmsV2:alarm/{name}")))
        }
        Kind::Trigger | Kind::Network | Kind::SecurityGroup | Kind::Agent | Kind::MetricFilter => (None, None),
    };
    (arn.map(|a| a.to_string()), link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_links_follow_the_partition() {
        let cn = Scope::new("cn-north-1", "123456789012");
        let (arn, link) = locate(Kind::Stream, "s", &cn);
        assert_eq!(arn.as_deref(), Some("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s"));
        assert!(link.unwrap().starts_with("https://cn-north-1.console.amazonaws.cn/kinesis/"));
        let us = Scope::new("us-east-1", "1");
        let (arn, _) = locate(Kind::GlueTable, "db/t", &us);
        assert_eq!(arn.as_deref(), Some("arn:aws:glue:us-east-1:1:table/db/t"));
        assert_eq!(locate(Kind::Agent, "h", &us), (None, None));
    }
}
