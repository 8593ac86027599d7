//! A delivery stream's configuration in AWS's terms: built from the spec
//! for the create and update calls, and read back from a describe, so the
//! diff compares like with like.

use super::*;

/// Everything the diff compares, in AWS's terms, built from the spec or
/// from a describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `direct`, or the source stream's ARN.
    pub source: String,
    pub role: String,
    pub bucket: String,
    pub prefix: String,
    pub error_prefix: String,
    pub buffer_size_mb: i32,
    pub buffer_interval_seconds: i32,
    pub compression: String,
    pub conversion: Option<Conversion>,
    /// The log group, when error logging is on.
    pub logging: Option<String>,
    /// The transform function's ARN.
    pub processor: Option<String>,
    pub encryption: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    /// `parquet` or `orc`.
    pub format: String,
    pub database: String,
    pub table: String,
    pub region: String,
    /// The serializer's own compression, in AWS's terms.
    pub compression: String,
}

/// The tags beside a configuration in the diff.
#[derive(Serialize)]
struct Tagged<'a> {
    tags: &'a Tags,
}

impl Config {
    pub(super) fn attrs(&self, tags: &Tags) -> Attrs {
        let mut a = to_attrs(self);
        a.extend(to_attrs(&Tagged { tags }));
        a
    }

    pub(super) fn buffering(&self) -> BufferingHints {
        BufferingHints::builder()
            .size_in_mbs(self.buffer_size_mb)
            .interval_in_seconds(self.buffer_interval_seconds)
            .build()
    }

    pub(super) fn logging_options(&self) -> CloudWatchLoggingOptions {
        match &self.logging {
            Some(group) => CloudWatchLoggingOptions::builder()
                .enabled(true)
                .log_group_name(group)
                .log_stream_name(LOG_STREAM)
                .build(),
            None => CloudWatchLoggingOptions::builder().enabled(false).build(),
        }
    }

    pub(super) fn processing(&self) -> ProcessingConfiguration {
        match &self.processor {
            Some(arn) => ProcessingConfiguration::builder()
                .enabled(true)
                .processors(
                    Processor::builder()
                        .r#type(ProcessorType::Lambda)
                        .parameters(
                            ProcessorParameter::builder()
                                .parameter_name(ProcessorParameterName::LambdaArn)
                                .parameter_value(arn)
                                .build()
                                .expect("name and value set"),
                        )
                        .build()
                        .expect("type set"),
                )
                .build(),
            None => ProcessingConfiguration::builder().enabled(false).build(),
        }
    }

    pub(super) fn conversion_config(&self) -> DataFormatConversionConfiguration {
        let Some(c) = &self.conversion else {
            return DataFormatConversionConfiguration::builder().enabled(false).build();
        };
        let serializer = if c.format == "orc" {
            Serializer::builder()
                .orc_ser_de(OrcSerDe::builder().compression(OrcCompression::from(c.compression.as_str())).build())
                .build()
        } else {
            Serializer::builder()
                .parquet_ser_de(
                    ParquetSerDe::builder().compression(ParquetCompression::from(c.compression.as_str())).build(),
                )
                .build()
        };
        DataFormatConversionConfiguration::builder()
            .enabled(true)
            .schema_configuration(
                SchemaConfiguration::builder()
                    .role_arn(&self.role)
                    .database_name(&c.database)
                    .table_name(&c.table)
                    .region(&c.region)
                    .version_id("LATEST")
                    .build(),
            )
            .input_format_configuration(
                InputFormatConfiguration::builder()
                    .deserializer(Deserializer::builder().open_x_json_ser_de(OpenXJsonSerDe::builder().build()).build())
                    .build(),
            )
            .output_format_configuration(OutputFormatConfiguration::builder().serializer(serializer).build())
            .build()
    }

    /// The delivery stream's CloudFormation properties: the same
    /// configuration as its create call.
    pub(super) fn cloudformation(&self, base: &Base) -> serde_json::Value {
        use serde_json::json;
        let logging = match &self.logging {
            Some(group) => json!({ "Enabled": true, "LogGroupName": group, "LogStreamName": LOG_STREAM }),
            None => json!({ "Enabled": false }),
        };
        let mut dest = json!({
            "RoleARN": self.role,
            "BucketARN": self.bucket,
            "BufferingHints": { "SizeInMBs": self.buffer_size_mb, "IntervalInSeconds": self.buffer_interval_seconds },
            "CompressionFormat": self.compression,
            "CloudWatchLoggingOptions": logging,
        });
        for (key, value) in [("Prefix", &self.prefix), ("ErrorOutputPrefix", &self.error_prefix)] {
            if !value.is_empty() {
                dest[key] = value.clone().into();
            }
        }
        if let Some(arn) = &self.processor {
            dest["ProcessingConfiguration"] = json!({
                "Enabled": true,
                "Processors": [{ "Type": "Lambda", "Parameters": [{ "ParameterName": "LambdaArn", "ParameterValue": arn }] }],
            });
        }
        if let Some(c) = &self.conversion {
            let serializer = if c.format == "orc" {
                json!({ "OrcSerDe": { "Compression": c.compression } })
            } else {
                json!({ "ParquetSerDe": { "Compression": c.compression } })
            };
            dest["DataFormatConversionConfiguration"] = json!({
                "Enabled": true,
                "SchemaConfiguration": {
                    "RoleARN": self.role, "DatabaseName": c.database, "TableName": c.table,
                    "Region": c.region, "VersionId": "LATEST",
                },
                "InputFormatConfiguration": { "Deserializer": { "OpenXJsonSerDe": {} } },
                "OutputFormatConfiguration": { "Serializer": serializer },
            });
        }
        let mut props = json!({
            "DeliveryStreamName": base.name,
            "ExtendedS3DestinationConfiguration": dest,
            "Tags": super::cfn::tags(&base.tags),
        });
        if self.source == "direct" {
            props["DeliveryStreamType"] = "DirectPut".into();
            if self.encryption {
                props["DeliveryStreamEncryptionConfigurationInput"] = json!({ "KeyType": "AWS_OWNED_CMK" });
            }
        } else {
            props["DeliveryStreamType"] = "KinesisStreamAsSource".into();
            props["KinesisStreamSourceConfiguration"] =
                json!({ "KinesisStreamARN": self.source, "RoleARN": self.role });
        }
        props
    }

    pub(super) fn opt(s: &str) -> Option<String> {
        (!s.is_empty()).then(|| s.to_string())
    }
}

/// The configuration a describe shows, in the same terms as [`config`].
pub(super) fn observed_config(d: &aws_sdk_firehose::types::DeliveryStreamDescription) -> Config {
    let source = match d.delivery_stream_type() {
        DeliveryStreamType::KinesisStreamAsSource => d
            .source()
            .and_then(|s| s.kinesis_stream_source_description())
            .and_then(|k| k.kinesis_stream_arn())
            .unwrap_or_default()
            .to_string(),
        DeliveryStreamType::DirectPut => "direct".into(),
        other => other.as_str().to_string(),
    };
    let s3 = d.destinations().first().and_then(|x| x.extended_s3_destination_description());
    let conversion =
        s3.and_then(|s| s.data_format_conversion_configuration()).filter(|c| c.enabled().unwrap_or(true)).map(|c| {
            let schema = c.schema_configuration();
            let ser = c.output_format_configuration().and_then(|o| o.serializer());
            let (format, compression) = match ser {
                Some(s) if s.orc_ser_de().is_some() => {
                    ("orc", s.orc_ser_de().and_then(|o| o.compression()).map_or("SNAPPY", |c| c.as_str()).to_string())
                }
                Some(s) => (
                    "parquet",
                    s.parquet_ser_de().and_then(|o| o.compression()).map_or("SNAPPY", |c| c.as_str()).to_string(),
                ),
                None => ("parquet", "SNAPPY".to_string()),
            };
            Conversion {
                format: format.into(),
                database: schema.and_then(|s| s.database_name()).unwrap_or_default().into(),
                table: schema.and_then(|s| s.table_name()).unwrap_or_default().into(),
                region: schema.and_then(|s| s.region()).unwrap_or_default().into(),
                compression,
            }
        });
    let logging = s3
        .and_then(|s| s.cloud_watch_logging_options())
        .filter(|l| l.enabled().unwrap_or(false))
        .and_then(|l| l.log_group_name().map(str::to_string));
    let processor = s3
        .and_then(|s| s.processing_configuration())
        .filter(|p| p.enabled().unwrap_or(false))
        .and_then(|p| p.processors().first())
        .and_then(|p| p.parameters().iter().find(|x| x.parameter_name() == &ProcessorParameterName::LambdaArn))
        .map(|x| x.parameter_value().to_string());
    // On: ENABLED or ENABLING; a configuration with a key type but no status
    // yet (as some emulators report it) counts as on too.
    let encryption = d.delivery_stream_encryption_configuration().is_some_and(|e| match e.status() {
        Some(s) => matches!(s, DeliveryStreamEncryptionStatus::Enabled | DeliveryStreamEncryptionStatus::Enabling),
        None => e.key_type().is_some(),
    });
    Config {
        source,
        role: s3.map(|s| s.role_arn().to_string()).unwrap_or_default(),
        bucket: s3.map(|s| s.bucket_arn().to_string()).unwrap_or_default(),
        prefix: s3.and_then(|s| s.prefix()).unwrap_or_default().into(),
        error_prefix: s3.and_then(|s| s.error_output_prefix()).unwrap_or_default().into(),
        buffer_size_mb: s3.and_then(|s| s.buffering_hints()).and_then(|b| b.size_in_mbs()).unwrap_or(5),
        buffer_interval_seconds: s3
            .and_then(|s| s.buffering_hints())
            .and_then(|b| b.interval_in_seconds())
            .unwrap_or(300),
        compression: s3.map_or("UNCOMPRESSED", |s| s.compression_format().as_str()).to_string(),
        conversion,
        logging,
        processor,
        encryption,
    }
}
