//! The generated IAM of a Firehose, a function or an agent host: its trust
//! policy and exactly the actions it needs on exactly the ARNs it touches,
//! derived from the graph, plus the spec's own `policy:` statements.

use crate::names::{self, Scope, TableId};
use crate::plan::{Address, Kind};
use crate::resources::role::RoleSpec;
use crate::spec::{FirehoseSource, Spec, WriteTarget};
use serde_json::{json, Value};

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// The assume-role policy for an AWS service, narrowed to calls made on
/// behalf of this account (and of one resource, where the service says
/// which) against the confused-deputy problem. EC2 sends neither key when
/// an instance takes its profile's role, so an agent host's trust has no
/// condition.
pub fn trust(service: &str, account: &str, source_arn: Option<String>) -> Value {
    let mut statement = json!({ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" });
    if service != "ec2.amazonaws.com" {
        let mut condition = json!({ "StringEquals": { "aws:SourceAccount": account } });
        if let Some(arn) = source_arn {
            condition["ArnLike"] = json!({ "aws:SourceArn": arn });
        }
        statement["Condition"] = condition;
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// The objects a Firehose may write and read back: under the static part
/// of its prefix and of its error prefix. Without an error prefix, Firehose
/// puts failed records under `<type>-failed/`, with or without the prefix
/// in front, so both are allowed; without a prefix, the whole bucket.
fn delivery_objects(bucket: &crate::names::Arn, prefix: Option<&str>, error_prefix: Option<&str>) -> Vec<String> {
    let under = |p: &str| bucket.with_suffix(&format!("/{}*", p)).to_string();
    let Some(prefix) = prefix.map(crate::spec::static_prefix).filter(|p| !p.is_empty()) else {
        return vec![under("")];
    };
    let mut out = vec![under(prefix)];
    match error_prefix.map(crate::spec::static_prefix) {
        Some("") => return vec![under("")],
        Some(e) => out.push(under(e)),
        None => out.extend(["processing-failed/", "format-conversion-failed/"].map(under)),
    }
    out.sort();
    out.dedup();
    out
}

/// The role of `owner` (a Firehose, function or agent host of the spec).
pub fn role(owner: &Address, spec: &Spec, scope: &Scope) -> Option<RoleSpec> {
    let key = owner.key.as_str();
    let stream_arn = |k: &str| spec.streams.get(k).map(|s| scope.stream(&s.name).to_string());
    let mut st = Vec::new();
    let mut source_arn = None;
    let service = match owner.kind {
        Kind::Firehose => {
            let f = spec.firehoses.get(key)?;
            let bucket = spec.buckets.get(&f.destination.bucket)?;
            let bucket_arn = scope.bucket(&bucket.name);
            st.push(statement(
                "S3Bucket",
                &["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                vec![bucket_arn.to_string()],
            ));
            st.push(statement(
                "S3Delivery",
                &["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                delivery_objects(&bucket_arn, f.destination.prefix.as_deref(), f.destination.error_prefix.as_deref()),
            ));
            if let FirehoseSource::Stream(s) = &f.source {
                st.push(statement(
                    "ReadSourceStream",
                    &["kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
                    stream_arn(s).into_iter().collect(),
                ));
            }
            if let Some(c) = &f.destination.convert {
                let t = spec.tables.get(&c.table)?;
                let db = spec.databases.get(&t.database)?;
                st.push(statement(
                    "ReadConversionSchema",
                    &["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                    vec![
                        scope.glue_catalog().to_string(),
                        scope.glue_database(&db.name).to_string(),
                        scope.glue_table(&TableId { database: db.name.clone(), table: t.name.clone() }).to_string(),
                    ],
                ));
            }
            if f.destination.error_logging {
                st.push(statement(
                    "ErrorLogging",
                    &["logs:PutLogEvents"],
                    vec![scope
                        .log_group(&names::firehose_log_group(&f.name))
                        .with_suffix(&format!(":log-stream:{}", names::FIREHOSE_LOG_STREAM))
                        .to_string()],
                ));
            }
            if let Some(p) = f.processor.as_ref().and_then(|p| spec.functions.get(p)) {
                let fa = scope.function(&p.name);
                st.push(statement(
                    "InvokeProcessor",
                    &["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                    vec![fa.to_string(), fa.with_suffix(":*").to_string()],
                ));
            }
            source_arn = Some(scope.firehose(&f.name).to_string());
            "firehose.amazonaws.com"
        }
        Kind::Function => {
            let f = spec.functions.get(key)?;
            st.push(statement(
                "OwnLogs",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![scope.log_group(&names::function_log_group(&f.name)).with_suffix(":*").to_string()],
            ));
            if let Some(t) = &f.trigger {
                st.push(statement(
                    "ReadTriggerStream",
                    &[
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:ListShards",
                        "kinesis:SubscribeToShard",
                    ],
                    stream_arn(&t.stream).into_iter().collect(),
                ));
            }
            let firehoses: Vec<String> = f
                .writes
                .iter()
                .filter_map(|w| match w {
                    WriteTarget::Firehose(k) => spec.firehoses.get(k).map(|h| scope.firehose(&h.name).to_string()),
                    WriteTarget::Stream(_) => None,
                })
                .collect();
            if !firehoses.is_empty() {
                st.push(statement("WriteFirehoses", &["firehose:PutRecord", "firehose:PutRecordBatch"], firehoses));
            }
            let streams: Vec<String> = f
                .writes
                .iter()
                .filter_map(|w| match w {
                    WriteTarget::Stream(k) => stream_arn(k),
                    WriteTarget::Firehose(_) => None,
                })
                .collect();
            if !streams.is_empty() {
                st.push(statement("WriteStreams", &["kinesis:PutRecord", "kinesis:PutRecords"], streams));
            }
            "lambda.amazonaws.com"
        }
        Kind::Agent => {
            let a = spec.agents.get(key)?;
            let streams: Vec<String> = a.streams().into_iter().filter_map(stream_arn).collect();
            st.push(statement("PutRecords", &["kinesis:PutRecord", "kinesis:PutRecords"], streams));
            // PutMetricData has no resource: the condition keeps the host to
            // the namespaces its service publishes in (the Kinesis Agent's,
            // or the producer's), as the metrics table says.
            let mut namespaces: Vec<&str> = crate::metrics::of_host(spec, key)
                .iter()
                .map(|m| m.namespace)
                .filter(|n| !n.starts_with("AWS/"))
                .collect();
            namespaces.sort_unstable();
            namespaces.dedup();
            let namespace = match namespaces.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            if !namespaces.is_empty() {
                st.push(json!({
                    "Sid": "AgentMetrics",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:PutMetricData"],
                    "Resource": ["*"],
                    "Condition": { "StringEquals": { "cloudwatch:namespace": namespace } }
                }));
            }
            // Session Manager and Run Command (what AWS's
            // AmazonSSMManagedInstanceCore grants them): the host registers
            // itself, then opens the channels a session or a command uses.
            // The channel actions take no resource.
            st.push(statement("SsmRegister", &["ssm:UpdateInstanceInformation"], vec![scope.instances().to_string()]));
            st.push(statement(
                "SsmSessions",
                &[
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                vec!["*".into()],
            ));
            "ec2.amazonaws.com"
        }
        _ => return None,
    };
    let extra = match owner.kind {
        Kind::Firehose => spec.firehoses.get(key).map(|f| f.policy.clone()),
        Kind::Function => spec.functions.get(key).map(|f| f.policy.clone()),
        Kind::Agent => spec.agents.get(key).map(|a| a.policy.clone()),
        _ => None,
    };
    for (i, x) in extra.unwrap_or_default().iter().enumerate() {
        let mut s = json!({ "Sid": format!("FromSpec{}", i + 1), "Effect": "Allow" });
        // NotAction / NotResource only reach here where the operator allowed them.
        match x.not_actions.is_empty() {
            true => s["Action"] = json!(x.actions),
            false => s["NotAction"] = json!(x.not_actions),
        }
        match x.not_resources.is_empty() {
            true => s["Resource"] = json!(x.resources),
            false => s["NotResource"] = json!(x.not_resources),
        }
        st.push(s);
    }
    Some(RoleSpec {
        trust: trust(service, &scope.account, source_arn),
        policy: json!({ "Version": "2012-10-17", "Statement": st }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The namespaces an agent host's role may put metrics in.
    fn metric_namespaces(spec: &str, host: &str) -> Value {
        let opts = crate::spec::Options::default();
        let l = crate::load::load_str(spec, "p.yaml", std::path::Path::new("."), &opts).unwrap();
        let r = role(&Address::new(Kind::Agent, host), &l.spec, &Scope::new("us-east-1", "123456789012")).unwrap();
        let st = r.policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "AgentMetrics").unwrap();
        assert_eq!(st["Action"], json!(["cloudwatch:PutMetricData"]));
        st["Condition"]["StringEquals"]["cloudwatch:namespace"].clone()
    }

    #[test]
    fn producer_host_role_put_metrics_only_in_the_agents_namespace_not_its_own() {
        let producer = "pipeline: p\nstreams: { s: {} }\nagents:\n  h:\n    run: producer\n    producer: { stream: s, generate: taxi }\n";
        assert_eq!(metric_namespaces(producer, "h"), json!(crate::metrics::host::PRODUCER_NAMESPACE));
        let agent =
            "pipeline: p\nstreams: { s: {} }\nagents:\n  h:\n    flows: [{ file_pattern: /tmp/a.csv, stream: s }]\n";
        assert_eq!(metric_namespaces(agent, "h"), json!(crate::metrics::host::AGENT_NAMESPACE));
    }
}
