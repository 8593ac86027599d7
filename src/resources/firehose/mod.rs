//! Firehose delivery stream to S3 (extended S3 destination).
//!
//! Contract:
//! 1. read: DescribeDeliveryStream + ListTagsForDeliveryStream;
//!    ResourceNotFound, or DELETING, = `None`.
//! 2. attributes: source (`direct` or the stream ARN), role, bucket,
//!    prefix, error_prefix, buffer size and interval, compression,
//!    conversion (Parquet/ORC from a Glue table), logging, processor,
//!    encryption (Direct PUT only), tags.
//!    In place: everything but the source, through UpdateDestination with
//!    the version id and destination id of a fresh describe
//!    (Start/StopDeliveryStreamEncryption, Tag/UntagDeliveryStream for the
//!    rest). The source (or the name) forces a replacement.
//!    A change of the Glue table the stream converts with, in the same
//!    apply, touches the stream (UpdateDestination) so that it reads the new
//!    schema: Firehose reads version LATEST only when the stream is updated.
//! 3. create: CreateDeliveryStream, retried while the new role is not yet
//!    usable by Firehose ("waiting for role to propagate"), then a wait for
//!    ACTIVE; CREATING_FAILED shows AWS's FailureDescription.
//! 4. delete: DeleteDeliveryStream (Firehose flushes), wait until gone;
//!    ResourceNotFound means done.
//! 5. retried: the IAM propagation errors of AWS-NOTES.md (for up to two
//!    minutes), ResourceInUse during an update, throttling, 5xx.

use super::cfn::{self, Part};
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, wait_until, Aws, AwsError, Poll};
use crate::plan::{Address, Kind};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_firehose::types::{
    BufferingHints, CloudWatchLoggingOptions, CompressionFormat, DataFormatConversionConfiguration,
    DeliveryStreamEncryptionConfigurationInput, DeliveryStreamEncryptionStatus, DeliveryStreamStatus,
    DeliveryStreamType, Deserializer, ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate,
    InputFormatConfiguration, KeyType, KinesisStreamSourceConfiguration, OpenXJsonSerDe, OrcCompression, OrcSerDe,
    OutputFormatConfiguration, ParquetCompression, ParquetSerDe, ProcessingConfiguration, Processor,
    ProcessorParameter, ProcessorParameterName, ProcessorType, SchemaConfiguration, Serializer, Tag,
};
use aws_sdk_kinesis::types::StreamStatus;
use serde::{Deserialize, Serialize};
use std::time::Duration;

mod config;
use config::observed_config;
pub use config::{Config, Conversion};

/// The log stream Firehose reports delivery errors to.
pub use super::log_group::FIREHOSE_STREAM as LOG_STREAM;

pub struct Firehose {
    pub base: Base,
    pub config: Option<Config>,
}

/// The errors Firehose returns while a new role has not propagated yet.
pub fn role_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidArgumentException")
        && [
            "Firehose is unable to assume role",
            "is not authorized to",
            "Access was denied",
            "Verify that the IAM role has access",
        ]
        .iter()
        .any(|m| e.message.contains(m))
}

fn in_use(e: &AwsError) -> bool {
    e.code.as_deref() == Some("ResourceInUseException") && !e.message.contains("already exists")
}

const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

impl Firehose {
    async fn describe(
        &self,
        aws: &Aws,
    ) -> Result<Option<aws_sdk_firehose::types::DeliveryStreamDescription>, AwsError> {
        match send!(
            "DescribeDeliveryStream",
            aws.firehose.describe_delivery_stream().delivery_stream_name(&self.base.name)
        )
        .found()?
        {
            Some(o) => Ok(o.delivery_stream_description().cloned()),
            None => Ok(None),
        }
    }

    async fn wait_active(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("delivery stream `{}`", self.base.name), self.timeout(), super::usual::FIREHOSE, || async {
            let Some(d) = self.describe(aws).await? else {
                return Ok(Poll::NotYet("not visible yet".into()));
            };
            Ok(match d.delivery_stream_status() {
                DeliveryStreamStatus::Active => Poll::Ready,
                DeliveryStreamStatus::CreatingFailed => Poll::Failed(format!(
                    "CREATING_FAILED: {}",
                    d.failure_description().map(|f| f.details()).unwrap_or("no description")
                )),
                s => {
                    p.say(format!("waiting for ACTIVE ({})", s.as_str()));
                    Poll::NotYet(s.as_str().to_string())
                }
            })
        })
        .await
    }

    /// Waits until the source stream is ACTIVE, as Firehose requires: a
    /// stream whose encryption is still starting is UPDATING, readable by
    /// everything else, and the stream's create does not wait for it.
    async fn wait_for_source(&self, aws: &Aws, stream_arn: &str, p: &Progress) -> Result<(), AwsError> {
        let what = format!("source stream of `{}` to be ACTIVE", self.base.name);
        let stream = stream_arn.rsplit('/').next().unwrap_or_default();
        let pace = crate::aws::Pace::since(&format!("stream/{stream}"), super::usual::STREAM_UPDATE);
        wait_until(&what, self.timeout(), pace, || async {
            let out = send!("DescribeStreamSummary", aws.kinesis.describe_stream_summary().stream_arn(stream_arn));
            let status = out.found()?.and_then(|o| o.stream_description_summary().map(|s| s.stream_status().clone()));
            Ok(match status {
                Some(StreamStatus::Active) => Poll::Ready,
                Some(s) => {
                    p.say(format!("waiting for the source stream to be ACTIVE ({})", s.as_str()));
                    Poll::NotYet(s.as_str().to_string())
                }
                None => Poll::NotYet("source stream not visible yet".into()),
            })
        })
        .await
    }

    /// Runs `op`, retrying while the role is not usable by Firehose yet.
    async fn with_role<F, Fut>(&self, p: &Progress, op: F) -> Result<(), AwsError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), AwsError>>,
    {
        crate::aws::retry_paced(
            ROLE_PROPAGATION,
            super::role::propagation(self.config.as_ref().map_or("", |c| &c.role)),
            |e| role_not_ready(e) || in_use(e),
            || async {
                let r = op().await;
                if let Err(e) = &r {
                    if role_not_ready(e) {
                        p.say("waiting for role to propagate");
                    }
                }
                r
            },
        )
        .await
    }
}

#[async_trait]
impl Resource for Firehose {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(c) = &self.config else { return Ok(Vec::new()) };
        Ok(vec![Part::new("AWS::KinesisFirehose::DeliveryStream", c.cloudformation(&self.base))])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        use crate::cost::Usage;
        let Some(c) = &self.config else { return Vec::new() };
        let mut u = vec![Usage::per_gb("firehose.ingest_gb", "ingested")];
        if let Some(conv) = &c.conversion {
            u.push(Usage::per_gb("firehose.conversion_gb", format!("converted to {}", conv.format)));
        }
        u.push(Usage::per_gb("s3.standard_gb_month", "S3 storage of a month's deliveries"));
        u
    }
    fn desired(&self) -> Option<Attrs> {
        Some(self.config.as_ref()?.attrs(&self.base.tags))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["source"]
    }
    fn refresh_on_change_of(&self, upstream: &Address) -> bool {
        upstream.kind == Kind::GlueTable
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let arn = aws.scope().firehose(&self.base.name).to_string();
        let tags = async {
            let req = aws.firehose.list_tags_for_delivery_stream().delivery_stream_name(&self.base.name);
            let out = send!("ListTagsForDeliveryStream", req)?;
            Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
        };
        let Some((d, tags)) = super::with_tags(aws, &arn, self.describe(aws), tags).await? else {
            return Ok(None);
        };
        if *d.delivery_stream_status() == DeliveryStreamStatus::Deleting {
            return Ok(None);
        }
        Ok(Some(Observed::with_attrs(observed_config(&d).attrs(&tags), Some(tags))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let c = self.config.as_ref().expect("create needs a spec");
        // A stream of the same name still deleting blocks the create.
        wait_until(
            &format!("old delivery stream `{}` to be deleted", self.base.name),
            self.timeout(),
            super::usual::FIREHOSE_DELETE,
            || async {
                Ok(match self.describe(aws).await? {
                    Some(d) if *d.delivery_stream_status() == DeliveryStreamStatus::Deleting => {
                        p.say("waiting for the old stream to finish DELETING");
                        Poll::NotYet("DELETING".into())
                    }
                    _ => Poll::Ready,
                })
            },
        )
        .await?;
        if c.source != "direct" {
            self.wait_for_source(aws, &c.source, p).await?;
        }
        let dest = ExtendedS3DestinationConfiguration::builder()
            .role_arn(&c.role)
            .bucket_arn(&c.bucket)
            .set_prefix(Config::opt(&c.prefix))
            .set_error_output_prefix(Config::opt(&c.error_prefix))
            .buffering_hints(c.buffering())
            .compression_format(CompressionFormat::from(c.compression.as_str()))
            .cloud_watch_logging_options(c.logging_options())
            .processing_configuration(c.processing())
            .data_format_conversion_configuration(c.conversion_config())
            .build()
            .expect("role and bucket set");
        let tags: Vec<Tag> =
            self.base.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key set")).collect();
        self.with_role(p, || async {
            let mut req = aws
                .firehose
                .create_delivery_stream()
                .delivery_stream_name(&self.base.name)
                .extended_s3_destination_configuration(dest.clone())
                .set_tags(Some(tags.clone()));
            if c.source == "direct" {
                req = req.delivery_stream_type(DeliveryStreamType::DirectPut);
                if c.encryption {
                    req = req.delivery_stream_encryption_configuration_input(
                        DeliveryStreamEncryptionConfigurationInput::builder()
                            .key_type(KeyType::AwsOwnedCmk)
                            .build()
                            .expect("key type set"),
                    );
                }
            } else {
                req = req
                    .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
                    .kinesis_stream_source_configuration(
                        KinesisStreamSourceConfiguration::builder()
                            .kinesis_stream_arn(&c.source)
                            .role_arn(&c.role)
                            .build()
                            .expect("arns set"),
                    );
            }
            match send!("CreateDeliveryStream", req) {
                Ok(_) => Ok(()),
                // A retried create whose first response was lost.
                Err(e)
                    if e.code.as_deref() == Some("ResourceInUseException") && self.describe(aws).await?.is_some() =>
                {
                    super::adopt_earlier_attempt(self, aws).await
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        self.wait_active(aws, p).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], p: &Progress) -> Result<(), AwsError> {
        let c = self.config.as_ref().expect("update needs a spec");
        let destination_fields = [
            "role",
            "bucket",
            "prefix",
            "error_prefix",
            "buffer_size_mb",
            "buffer_interval_seconds",
            "compression",
            "conversion",
            "logging",
            "processor",
            "schema",
        ];
        if changed.iter().any(|f| destination_fields.contains(&f.as_str())) {
            p.say("updating destination");
            self.with_role(p, || async {
                let d = self.describe(aws).await?.ok_or_else(|| {
                    AwsError::fatal("UpdateDestination", format!("delivery stream `{}` disappeared", self.base.name))
                        .mark_transient()
                })?;
                let destination_id =
                    d.destinations().first().map(|x| x.destination_id().to_string()).unwrap_or_default();
                let update = ExtendedS3DestinationUpdate::builder()
                    .role_arn(&c.role)
                    .bucket_arn(&c.bucket)
                    .prefix(&c.prefix)
                    .error_output_prefix(&c.error_prefix)
                    .buffering_hints(c.buffering())
                    .compression_format(CompressionFormat::from(c.compression.as_str()))
                    .cloud_watch_logging_options(c.logging_options())
                    .processing_configuration(c.processing())
                    .data_format_conversion_configuration(c.conversion_config())
                    .build();
                send!(
                    "UpdateDestination",
                    aws.firehose
                        .update_destination()
                        .delivery_stream_name(&self.base.name)
                        .current_delivery_stream_version_id(d.version_id())
                        .destination_id(destination_id)
                        .extended_s3_destination_update(update)
                )
                .map(drop)
            })
            .await?;
            self.wait_active(aws, p).await?;
        }
        if changed.iter().any(|f| f == "encryption") {
            if c.encryption {
                send!(
                    "StartDeliveryStreamEncryption",
                    aws.firehose
                        .start_delivery_stream_encryption()
                        .delivery_stream_name(&self.base.name)
                        .delivery_stream_encryption_configuration_input(
                            DeliveryStreamEncryptionConfigurationInput::builder()
                                .key_type(KeyType::AwsOwnedCmk)
                                .build()
                                .expect("key type set"),
                        )
                )?;
            } else {
                send!(
                    "StopDeliveryStreamEncryption",
                    aws.firehose.stop_delivery_stream_encryption().delivery_stream_name(&self.base.name)
                )?;
            }
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        send!(
            "TagDeliveryStream",
            aws.firehose.tag_delivery_stream().delivery_stream_name(&self.base.name).set_tags(Some(
                set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key set")).collect(),
            ))
        )?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        gone!(
            "UntagDeliveryStream",
            aws.firehose
                .untag_delivery_stream()
                .delivery_stream_name(&self.base.name)
                .set_tag_keys(Some(remove.to_vec()))
        )?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let req = aws.firehose.delete_delivery_stream().delivery_stream_name(&self.base.name);
        if retry(self.timeout(), in_use, || async { gone!("DeleteDeliveryStream", req.clone()) })
            .await
            .found()?
            .is_none()
        {
            return Ok(Deleted::Gone);
        }
        // A DELETING stream takes no records: what it reads from and lands
        // in may go now (the bucket empties again if a last flush lands).
        p.release();
        if p.may_leave_to_aws() {
            match self.describe(aws).await? {
                None => return Ok(Deleted::Gone),
                Some(d) if *d.delivery_stream_status() == DeliveryStreamStatus::Deleting => {
                    return Ok(Deleted::Finishing("DELETING".into()))
                }
                Some(_) => {}
            }
        }
        wait_until(
            &format!("delivery stream `{}` to be deleted", self.base.name),
            self.timeout(),
            super::usual::FIREHOSE_DELETE,
            || async {
                Ok(match self.describe(aws).await? {
                    None => Poll::Ready,
                    Some(d) if *d.delivery_stream_status() == DeliveryStreamStatus::DeletingFailed => {
                        Poll::Failed(format!(
                            "DELETING_FAILED: {}",
                            d.failure_description().map(|f| f.details()).unwrap_or("no description")
                        ))
                    }
                    Some(d) => {
                        p.say(format!("waiting for deletion ({})", d.delivery_stream_status().as_str()));
                        Poll::NotYet(d.delivery_stream_status().as_str().to_string())
                    }
                })
            },
        )
        .await?;
        Ok(Deleted::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> AwsError {
        AwsError {
            op: "CreateDeliveryStream",
            code: Some(code.into()),
            message: message.into(),
            class: crate::aws::Class::Fatal,
        }
    }

    #[test]
    fn role_propagation_errors_are_recognized() {
        assert!(role_not_ready(&err(
            "InvalidArgumentException",
            "Firehose is unable to assume role arn:aws:iam::1:role/x"
        )));
        assert!(role_not_ready(&err("InvalidArgumentException", "Access was denied when calling glue:GetTable")));
        assert!(!role_not_ready(&err("InvalidArgumentException", "BufferingHints.SizeInMBs must be at least 64")));
        assert!(!role_not_ready(&err("AccessDeniedException", "Firehose is unable to assume role")));
    }
}
