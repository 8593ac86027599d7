//! IAM role with one inline policy, generated from the graph.
//!
//! Contract:
//! 1. read: GetRole (NoSuchEntity = `None`), ListRoleTags, GetRolePolicy
//!    `pipectl` (documents come URL-encoded from IAM and are decoded).
//! 2. attributes: trust (the assume-role policy), policy (the inline
//!    policy), tags; all in place (UpdateAssumeRolePolicy, PutRolePolicy,
//!    TagRole/UntagRole). Policies compare as JSON, not as text. The name
//!    forces a replacement.
//! 3. create: CreateRole with tags, PutRolePolicy. A new role is not
//!    assumable by Firehose, Lambda or EC2 for a while: the resources that
//!    use it retry the propagation errors of AWS-NOTES.md.
//! 4. delete: inline policies deleted, managed policies detached, the role
//!    removed from its instance profiles, then DeleteRole; NoSuchEntity
//!    means done.
//!
//! Policies name exact actions on exact ARNs. The one `*` resource is
//! `cloudwatch:PutMetricData` for agent hosts, which has no resource-level
//! permissions; a condition limits it to the agent's metric namespace.

use super::{tag_delta, tags_attr, Attrs, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, Aws, AwsError};
use crate::plan::{Address, Kind};
use crate::spec::{FirehoseSource, Spec, WriteTarget};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

pub const POLICY_NAME: &str = "pipectl";
pub const AGENT_METRIC_NAMESPACE: &str = "AWSKinesisAgent";

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub service: &'static str,
    pub policy: Value,
}

pub struct Role {
    address: Address,
    name: String,
    spec: Option<RoleSpec>,
    tags: Tags,
}

fn arn(aws: &Aws, service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{}:{}:{resource}", aws.region, aws.account)
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

pub fn trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// The role a graph node needs, from its owner in the spec.
pub fn desired(address: &Address, spec: &Spec, aws: &Aws) -> Option<RoleSpec> {
    let (owner, key) = address.key.split_once('-')?;
    let stream_arn = |k: &str| spec.streams.get(k).map(|s| arn(aws, "kinesis", &format!("stream/{}", s.name)));
    let mut st = Vec::new();
    let service = match Kind::parse(owner)? {
        Kind::Firehose => {
            let f = spec.firehoses.get(key)?;
            let bucket = spec.buckets.get(&f.destination.bucket)?;
            st.push(statement(
                "S3Delivery",
                &[
                    "s3:AbortMultipartUpload",
                    "s3:GetBucketLocation",
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                    "s3:PutObject",
                ],
                vec![format!("arn:aws:s3:::{}", bucket.name), format!("arn:aws:s3:::{}/*", bucket.name)],
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
                        arn(aws, "glue", "catalog"),
                        arn(aws, "glue", &format!("database/{}", db.name)),
                        arn(aws, "glue", &format!("table/{}/{}", db.name, t.name)),
                    ],
                ));
            }
            if f.destination.error_logging {
                st.push(statement(
                    "ErrorLogging",
                    &["logs:PutLogEvents"],
                    vec![arn(
                        aws,
                        "logs",
                        &format!(
                            "log-group:/aws/kinesisfirehose/{}:log-stream:{}",
                            f.name,
                            super::log_group::FIREHOSE_STREAM
                        ),
                    )],
                ));
            }
            if let Some(p) = f.processor.as_ref().and_then(|p| spec.functions.get(p)) {
                let fa = arn(aws, "lambda", &format!("function:{}", p.name));
                st.push(statement(
                    "InvokeProcessor",
                    &["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                    vec![fa.clone(), format!("{fa}:*")],
                ));
            }
            "firehose.amazonaws.com"
        }
        Kind::Function => {
            let f = spec.functions.get(key)?;
            st.push(statement(
                "OwnLogs",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![arn(aws, "logs", &format!("log-group:/aws/lambda/{}:*", f.name))],
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
                    WriteTarget::Firehose(k) => {
                        spec.firehoses.get(k).map(|h| arn(aws, "firehose", &format!("deliverystream/{}", h.name)))
                    }
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
            let mut streams: Vec<String> = a.flows.iter().filter_map(|f| stream_arn(&f.stream)).collect();
            streams.sort();
            streams.dedup();
            st.push(statement("PutRecords", &["kinesis:PutRecord", "kinesis:PutRecords"], streams));
            st.push(json!({
                "Sid": "AgentMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": ["*"],
                "Condition": { "StringEquals": { "cloudwatch:namespace": AGENT_METRIC_NAMESPACE } }
            }));
            "ec2.amazonaws.com"
        }
        _ => return None,
    };
    let extra = match Kind::parse(owner)? {
        Kind::Firehose => spec.firehoses.get(key).map(|f| f.policy.clone()),
        Kind::Function => spec.functions.get(key).map(|f| f.policy.clone()),
        Kind::Agent => spec.agents.get(key).map(|a| a.policy.clone()),
        _ => None,
    };
    for (i, x) in extra.unwrap_or_default().iter().enumerate() {
        let actions: Vec<&str> = x.actions.iter().map(String::as_str).collect();
        st.push(statement(&format!("FromSpec{}", i + 1), &actions, x.resources.clone()));
    }
    Some(RoleSpec { service, policy: json!({ "Version": "2012-10-17", "Statement": st }) })
}

/// IAM returns policy documents URL-encoded (RFC 3986).
pub fn decode_document(doc: &str) -> Value {
    let decoded = percent_decode(doc);
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Role {
    pub fn new(address: Address, name: String, spec: Option<RoleSpec>, meta: &Meta) -> Self {
        Role { address, name, spec, tags: meta.tags() }
    }

    async fn put_policy(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        aws.iam
            .put_role_policy()
            .role_name(&self.name)
            .policy_name(POLICY_NAME)
            .policy_document(s.policy.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("PutRolePolicy"))
    }
}

fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

#[async_trait]
impl Resource for Role {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(Attrs::from([
            ("trust".into(), trust(s.service)),
            ("policy".into(), s.policy.clone()),
            ("tags".into(), tags_attr(&self.tags)),
        ]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let role = match aws.iam.get_role().role_name(&self.name).send().await.map_err(aws_err("GetRole")) {
            Ok(o) => o.role().cloned(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(role) = role else { return Ok(None) };
        let trust = role.assume_role_policy_document().map(decode_document).unwrap_or(Value::Null);
        let tags: Tags = aws
            .iam
            .list_role_tags()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws_err("ListRoleTags"))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let policy = match aws
            .iam
            .get_role_policy()
            .role_name(&self.name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(aws_err("GetRolePolicy"))
        {
            Ok(o) => decode_document(o.policy_document()),
            Err(e) if e.is_not_found() => Value::Null,
            Err(e) => return Err(e),
        };
        Ok(Some(Observed {
            attrs: Attrs::from([("trust".into(), trust), ("policy".into(), policy), ("tags".into(), tags_attr(&tags))]),
            tags: Some(tags),
        }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        match aws
            .iam
            .create_role()
            .role_name(&self.name)
            .assume_role_policy_document(trust(s.service).to_string())
            .description("created by pipectl")
            .set_tags(Some(iam_tags(&self.tags)))
            .send()
            .await
            .map_err(aws_err("CreateRole"))
        {
            Ok(_) => {}
            // A retried create whose first response was lost: ours if tagged so.
            Err(e)
                if e.code.as_deref() == Some("EntityAlreadyExists")
                    && self.read(aws).await?.is_some_and(|o| o.tags.as_ref() == Some(&self.tags)) => {}
            Err(e) => return Err(e),
        }
        self.put_policy(aws).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        for c in changed {
            match c.as_str() {
                "trust" => {
                    aws.iam
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(trust(s.service).to_string())
                        .send()
                        .await
                        .map_err(aws_err("UpdateAssumeRolePolicy"))?;
                }
                "policy" => self.put_policy(aws).await?,
                "tags" => {
                    let (set, remove) = tag_delta(before.tags.as_ref().unwrap_or(&Tags::new()), &self.tags);
                    if !set.is_empty() {
                        aws.iam
                            .tag_role()
                            .role_name(&self.name)
                            .set_tags(Some(iam_tags(&set)))
                            .send()
                            .await
                            .map_err(aws_err("TagRole"))?;
                    }
                    if !remove.is_empty() {
                        aws.iam
                            .untag_role()
                            .role_name(&self.name)
                            .set_tag_keys(Some(remove))
                            .send()
                            .await
                            .map_err(aws_err("UntagRole"))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let gone = |e: AwsError| {
            if e.is_not_found() {
                Ok(Deleted::Gone)
            } else {
                Err(e)
            }
        };
        let inline = match aws
            .iam
            .list_role_policies()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws_err("ListRolePolicies"))
        {
            Ok(o) => o.policy_names().to_vec(),
            Err(e) => return gone(e),
        };
        for p in inline {
            aws.iam
                .delete_role_policy()
                .role_name(&self.name)
                .policy_name(p)
                .send()
                .await
                .map_err(aws_err("DeleteRolePolicy"))?;
        }
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws_err("ListAttachedRolePolicies"))?;
        for p in attached.attached_policies() {
            if let Some(arn) = p.policy_arn() {
                aws.iam
                    .detach_role_policy()
                    .role_name(&self.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(aws_err("DetachRolePolicy"))?;
            }
        }
        let profiles = aws
            .iam
            .list_instance_profiles_for_role()
            .role_name(&self.name)
            .send()
            .await
            .map_err(aws_err("ListInstanceProfilesForRole"))?;
        for ip in profiles.instance_profiles() {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(ip.instance_profile_name())
                .role_name(&self.name)
                .send()
                .await
                .map_err(aws_err("RemoveRoleFromInstanceProfile"))?;
        }
        match aws.iam.delete_role().role_name(&self.name).send().await.map_err(aws_err("DeleteRole")) {
            Ok(_) => Ok(Deleted::Gone),
            Err(e) => gone(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_decoded() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(decode_document(doc), json!({"Version": "2012-10-17"}));
        assert_eq!(decode_document("{\"a\":1}"), json!({"a": 1}));
    }
}
