//! Kinesis Data Stream.
//!
//! Contract:
//! 1. read: DescribeStreamSummary, then ListTagsForStream (where the tag
//!    listing does not answer) for a stream that exists; ResourceNotFound = `None`.
//!    A stream that is DELETING reads as absent once it is gone; while it is
//!    deleting, create waits.
//! 2. attributes: mode, shards (provisioned only), retention_hours,
//!    encryption, tags. All update in place; only the name forces a
//!    replacement (a new address/name pair, handled by the planner).
//! 3. create: CreateStream, wait ACTIVE, then retention (wait ACTIVE),
//!    encryption and tags. Encryption is started, not waited for: the
//!    stream stays readable and writable while UPDATING, and a Firehose
//!    reading it waits for ACTIVE itself (Firehose requires it).
//! 4. update, in this order with ACTIVE between: mode (UpdateStreamMode,
//!    by ARN), shard count (UpdateShardCount, UNIFORM_SCALING), retention
//!    (Increase/DecreaseStreamRetentionPeriod), encryption
//!    (Start/StopStreamEncryption with `alias/aws/kinesis`), tags.
//! 5. delete: DeleteStream with EnforceConsumerDeletion, wait until gone;
//!    ResourceNotFound means done.
//! 6. retried: ResourceInUseException and LimitExceededException (another
//!    update still running, control-plane rate), throttling, 5xx.

use super::cfn::{self, Part};
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, wait_until, Aws, AwsError, Poll};
use crate::spec::{self, StreamEncryption, StreamMode};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_kinesis::types::{EncryptionType, ScalingType, StreamModeDetails, StreamStatus};
use serde::Serialize;

const KMS_KEY: &str = "alias/aws/kinesis";

/// What the diff compares; `shards` only in provisioned mode.
#[derive(Serialize)]
struct Attributes {
    mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shards: Option<i32>,
    retention_hours: i32,
    encryption: &'static str,
    tags: Tags,
}

pub struct Stream {
    pub base: Base,
    pub spec: Option<spec::Stream>,
    /// What reads it (`firehose.raw`, `function.filter`): an on-demand
    /// stream bills each one per GB retrieved.
    pub consumers: Vec<String>,
}

/// ListTagsForStream calls at once: AWS documents 5 a second for the
/// account, a quarter of DescribeStreamSummary's 20 (see
/// [`crate::aws::Service::read_concurrency`]). Only made where the tag
/// listing does not answer.
static TAG_READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(5);

/// The most a shard takes in a day: 1 MB/s for 86,400 s.
const SHARD_GB_PER_DAY: f64 = 86.4;

impl Stream {
    fn in_use(e: &AwsError) -> bool {
        e.code.as_deref() == Some("ResourceInUseException")
    }

    async fn status(&self, aws: &Aws) -> Result<Option<(StreamStatus, String)>, AwsError> {
        let out = send!("DescribeStreamSummary", aws.kinesis.describe_stream_summary().stream_name(&self.base.name));
        match out {
            Ok(o) => {
                Ok(o.stream_description_summary().map(|s| (s.stream_status().clone(), s.stream_arn().to_string())))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn wait_active(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("stream `{}`", self.base.name), self.timeout(), super::usual::STREAM, || async {
            Ok(match self.status(aws).await? {
                Some((StreamStatus::Active, _)) => Poll::Ready,
                Some((s, _)) => {
                    p.say(format!("waiting for ACTIVE ({})", s.as_str()));
                    Poll::NotYet(s.as_str().to_string())
                }
                None => Poll::NotYet("not visible yet".into()),
            })
        })
        .await
    }

    /// Runs one stream mutation: retried while the stream is busy, then
    /// waited on until the stream is ACTIVE again.
    async fn mutate<F, Fut>(&self, aws: &Aws, p: &Progress, what: &str, op: F) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), AwsError>>,
    {
        p.say(what.to_string());
        retry(self.timeout(), Stream::in_use, op).await?;
        self.wait_active(aws, p).await
    }

    async fn set_retention(&self, aws: &Aws, p: &Progress, from: i64, to: u32) -> Result<(), AwsError> {
        let (name, hours) = (&self.base.name, to as i32);
        if i64::from(hours) > from {
            let req = aws.kinesis.increase_stream_retention_period().stream_name(name).retention_period_hours(hours);
            self.mutate(aws, p, "increasing retention", || async {
                send!("IncreaseStreamRetentionPeriod", req.clone()).map(drop)
            })
            .await
        } else {
            let req = aws.kinesis.decrease_stream_retention_period().stream_name(name).retention_period_hours(hours);
            self.mutate(aws, p, "decreasing retention", || async {
                send!("DecreaseStreamRetentionPeriod", req.clone()).map(drop)
            })
            .await
        }
    }

    /// Starts or stops encryption without waiting for it: the stream is
    /// UPDATING meanwhile but reads and writes go on, so what uses the
    /// stream starts now. What needs it ACTIVE waits for that itself: the
    /// next mutation here (retried while in use) and a Firehose reading it.
    async fn set_encryption(&self, aws: &Aws, p: &Progress, on: bool) -> Result<(), AwsError> {
        let (name, kms) = (&self.base.name, EncryptionType::Kms);
        if on {
            p.say("starting encryption");
            crate::aws::settling::mark(format!("stream/{name}"));
            let req = aws.kinesis.start_stream_encryption().stream_name(name).encryption_type(kms).key_id(KMS_KEY);
            retry(self.timeout(), Stream::in_use, || async { send!("StartStreamEncryption", req.clone()).map(drop) })
                .await
        } else {
            p.say("stopping encryption");
            let req = aws.kinesis.stop_stream_encryption().stream_name(name).encryption_type(kms).key_id(KMS_KEY);
            retry(self.timeout(), Stream::in_use, || async { send!("StopStreamEncryption", req.clone()).map(drop) })
                .await
        }
    }
}

fn mode_attr(mode: StreamMode) -> (&'static str, Option<u32>) {
    match mode {
        StreamMode::Provisioned { shards } => ("PROVISIONED", Some(shards)),
        StreamMode::OnDemand => ("ON_DEMAND", None),
    }
}

#[async_trait]
impl Resource for Stream {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let mut props = serde_json::json!({
            "Name": self.base.name,
            "RetentionPeriodHours": s.retention_hours,
            "Tags": cfn::tags(&self.base.tags),
        });
        match s.mode {
            StreamMode::Provisioned { shards } => {
                props["StreamModeDetails"] = serde_json::json!({ "StreamMode": "PROVISIONED" });
                props["ShardCount"] = shards.into();
            }
            StreamMode::OnDemand => props["StreamModeDetails"] = serde_json::json!({ "StreamMode": "ON_DEMAND" }),
        }
        if s.encryption == StreamEncryption::Kms {
            props["StreamEncryption"] = serde_json::json!({ "EncryptionType": "KMS", "KeyId": KMS_KEY });
        }
        Ok(vec![Part::new("AWS::Kinesis::Stream", props).retain(s.protect)])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        use crate::cost::Usage;
        let Some(s) = &self.spec else { return Vec::new() };
        match s.mode {
            spec::StreamMode::Provisioned { shards } => {
                let n = f64::from(shards);
                let mut u = vec![Usage::hourly("kinesis.shard_hour", n, plural(shards, "shard"))];
                if s.retention_hours > 24 {
                    let what = format!("{} retention {} h", plural(shards, "shard"), s.retention_hours);
                    u.push(Usage::hourly("kinesis.extended_retention_shard_hour", n, what));
                }
                u.push(Usage::unpriced("PUT payload units (per 25 KB of each record put)"));
                // A shard takes in at most 1 MB/s: 86.4 GB a day.
                let what = format!("{} at 1 MB/s each", plural(shards, "shard"));
                u.push(Usage::capacity(n * SHARD_GB_PER_DAY, what));
                u
            }
            spec::StreamMode::OnDemand => {
                let mut u = vec![
                    Usage::hourly("kinesis.on_demand_stream_hour", 1.0, "on-demand stream"),
                    Usage::per_gb("kinesis.on_demand_ingest_gb", "data in"),
                ];
                // Each consumer retrieves every GB put: billed per reader.
                for c in &self.consumers {
                    u.push(Usage::per_gb("kinesis.on_demand_retrieval_gb", format!("data read by `{c}`")));
                }
                if s.retention_hours > 24 {
                    u.push(Usage::unpriced("on-demand retention past 24 h"));
                }
                u
            }
        }
    }
    fn deletes_data(&self) -> bool {
        true
    }
    fn protected(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.protect)
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let (mode, shards) = mode_attr(s.mode);
        let encryption = match s.encryption {
            StreamEncryption::Kms => "KMS",
            StreamEncryption::None => "NONE",
        };
        let tags = self.base.tags.clone();
        let (mode, retention_hours) = (mode.to_string(), s.retention_hours as i32);
        Some(to_attrs(&Attributes { mode, shards: shards.map(|n| n as i32), retention_hours, encryption, tags }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // The summary and the tags side by side (the tags from the tag
        // listing when it has them): a missing stream answers "not found"
        // to both.
        let summary = async {
            send!("DescribeStreamSummary", aws.kinesis.describe_stream_summary().stream_name(&self.base.name))
        };
        let own = async {
            let _turn = TAG_READS.acquire().await.expect("never closed");
            let out = send!("ListTagsForStream", aws.kinesis.list_tags_for_stream().stream_name(&self.base.name))?;
            Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
        };
        // The tags from the tag listing beside the summary; where it does
        // not answer, ListTagsForStream only for a stream that exists
        // (5 a second: an apply of many new streams would spend seconds
        // of it on streams not made yet).
        let arn = aws.scope().stream(&self.base.name).to_string();
        let listed = async {
            aws.known.tags.settled().await;
            aws.known.tags(&arn)
        };
        let (out, listed) = tokio::join!(summary, listed);
        let s = match out {
            Ok(o) => match o.stream_description_summary() {
                Some(s) => s.clone(),
                None => return Ok(None),
            },
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        if *s.stream_status() == StreamStatus::Deleting {
            return Ok(None);
        }
        let tags = match listed {
            Some(t) => t,
            None => own.await?,
        };
        let mode = s
            .stream_mode_details()
            .map(|m| m.stream_mode().as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".into());
        let encryption = match s.encryption_type() {
            Some(EncryptionType::Kms) => "KMS",
            _ => "NONE",
        };
        let shards = (mode == "PROVISIONED").then(|| s.open_shard_count());
        let retention_hours = s.retention_period_hours();
        let attrs = Attributes { mode, shards, retention_hours, encryption, tags: tags.clone() };
        let created = Some(s.stream_creation_timestamp().as_secs_f64());
        if let Some(claim) = super::untagged_claim(&self.base.meta, created, &tags) {
            return Ok(Some(Observed { tags: None, marker: Some(claim), ..Observed::of(&attrs, None) }));
        }
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let (mode, shards) = mode_attr(s.mode);
        let details = StreamModeDetails::builder().stream_mode(mode.into()).build().expect("mode set");
        // A stream of the same name still DELETING blocks the create: wait.
        retry(self.timeout(), Stream::in_use, || async {
            let mut req = aws
                .kinesis
                .create_stream()
                .stream_name(&self.base.name)
                .stream_mode_details(details.clone())
                .set_tags(Some(self.base.tags.clone().into_iter().collect()));
            if let Some(n) = shards {
                req = req.shard_count(n as i32);
            }
            match send!("CreateStream", req) {
                Ok(_) => Ok(()),
                // A lost response: the create went through before.
                Err(e)
                    if Stream::in_use(&e)
                        && self.status(aws).await?.is_some_and(|(s, _)| s != StreamStatus::Deleting) =>
                {
                    super::adopt_earlier_attempt(self, aws).await
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        self.wait_active(aws, p).await?;
        // Retention, encryption (and tags, where the endpoint ignored them)
        // from what the stream has now.
        super::converge(self, aws, p).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("update needs a spec");
        let has = |k: &str| changed.iter().any(|c| c == k);
        let (mode, shards) = mode_attr(s.mode);
        if has("mode") {
            let arn = self.status(aws).await?.map(|(_, arn)| arn).unwrap_or_default();
            let details = StreamModeDetails::builder().stream_mode(mode.into()).build().expect("mode set");
            self.mutate(aws, p, &format!("switching to {mode}"), || async {
                send!(
                    "UpdateStreamMode",
                    aws.kinesis.update_stream_mode().stream_arn(&arn).stream_mode_details(details.clone())
                )
                .map(drop)
            })
            .await?;
        }
        if let Some(n) = shards {
            // After a switch to provisioned, the shard count is whatever
            // on-demand left: compare again.
            let current = match self.read(aws).await? {
                Some(o) => o.attrs.get("shards").and_then(|v| v.as_u64()),
                None => None,
            };
            if current != Some(u64::from(n)) {
                self.mutate(aws, p, &format!("scaling to {n} shards"), || async {
                    send!(
                        "UpdateShardCount",
                        aws.kinesis
                            .update_shard_count()
                            .stream_name(&self.base.name)
                            .target_shard_count(n as i32)
                            .scaling_type(ScalingType::UniformScaling)
                    )
                    .map(drop)
                })
                .await?;
            }
        }
        if has("retention_hours") {
            let from = before.attrs.get("retention_hours").and_then(|v| v.as_i64()).unwrap_or(24);
            self.set_retention(aws, p, from, s.retention_hours).await?;
        }
        if has("encryption") {
            self.set_encryption(aws, p, s.encryption == StreamEncryption::Kms).await?;
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        retry(self.timeout(), Stream::in_use, || async {
            send!(
                "AddTagsToStream",
                aws.kinesis
                    .add_tags_to_stream()
                    .stream_name(&self.base.name)
                    .set_tags(Some(set.clone().into_iter().collect()))
            )
            .map(drop)
        })
        .await?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        retry(self.timeout(), Stream::in_use, || async {
            gone!(
                "RemoveTagsFromStream",
                aws.kinesis.remove_tags_from_stream().stream_name(&self.base.name).set_tag_keys(Some(remove.to_vec()))
            )
            .map(drop)
        })
        .await?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let req = aws.kinesis.delete_stream().stream_name(&self.base.name).enforce_consumer_deletion(true);
        let sent = retry(self.timeout(), Stream::in_use, || async { gone!("DeleteStream", req.clone()) }).await;
        if sent.found()?.is_none() {
            return Ok(Deleted::Gone);
        }
        if p.may_leave_to_aws() {
            match self.status(aws).await? {
                None => return Ok(Deleted::Gone),
                Some((StreamStatus::Deleting, _)) => return Ok(Deleted::Finishing("DELETING".into())),
                Some(_) => {}
            }
        }
        wait_until(
            &format!("stream `{}` to be deleted", self.base.name),
            self.timeout(),
            super::usual::STREAM_DELETE,
            || async {
                Ok(match self.status(aws).await? {
                    None => Poll::Ready,
                    Some((s, _)) => {
                        p.say(format!("waiting for deletion ({})", s.as_str()));
                        Poll::NotYet(s.as_str().to_string())
                    }
                })
            },
        )
        .await?;
        Ok(Deleted::Gone)
    }
}

/// `1 shard`, `2 shards`.
fn plural(n: u32, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
