//! Reading the pipeline around a stream, from AWS.

use super::*;
use crate::aws::{Aws, AwsError};
use crate::send;
use aws_sdk_firehose::types::DeliveryStreamType;

fn tags_of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tags {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The name in an ARN's last segment (`...:role/service-role/x` -> `x`).
fn last(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// The spec's compression name for Firehose's `CompressionFormat`.
fn compression(aws: &str) -> String {
    match aws {
        "GZIP" => "gzip",
        "ZIP" => "zip",
        "Snappy" => "snappy",
        "HADOOP_SNAPPY" => "hadoop_snappy",
        _ => "uncompressed",
    }
    .into()
}

/// Reads the pipeline around stream `name`.
pub async fn discover(aws: &Aws, name: &str, pipeline: &str) -> Result<Found, AwsError> {
    let mut f = Found { pipeline: pipeline.to_string(), ..Found::default() };
    let mut all_tags: Vec<Tags> = Vec::new();
    let mut taken = BTreeSet::new();

    let s = send!("DescribeStreamSummary", aws.kinesis.describe_stream_summary().stream_name(name))?;
    let s = s.stream_description_summary().ok_or_else(|| AwsError::fatal("DescribeStreamSummary", "no summary"))?;
    let stream_arn = s.stream_arn().to_string();
    let on_demand = s.stream_mode_details().map(|m| m.stream_mode().as_str() == "ON_DEMAND").unwrap_or(false);
    let key = key_of(name, &taken);
    taken.insert(key.clone());
    f.stream = FoundStream {
        key,
        name: name.to_string(),
        shards: (!on_demand).then(|| s.open_shard_count()),
        retention_hours: s.retention_period_hours(),
        kms: s.encryption_type().is_some_and(|e| e.as_str() == "KMS"),
    };
    if f.stream.kms && s.key_id().is_some_and(|k| k != "alias/aws/kinesis") {
        f.notes.push(format!(
            "stream `{name}` is encrypted with key `{}`; pipectl uses alias/aws/kinesis: apply will change it",
            s.key_id().unwrap_or_default()
        ));
    }
    let t = send!("ListTagsForStream", aws.kinesis.list_tags_for_stream().stream_name(name))?;
    all_tags.push(tags_of(t.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()))));

    // The Firehoses reading it.
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let req = aws
            .firehose
            .list_delivery_streams()
            .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
            .limit(100)
            .set_exclusive_start_delivery_stream_name(start.clone());
        let out = send!("ListDeliveryStreams", req)?;
        names.extend(out.delivery_stream_names().iter().cloned());
        if !out.has_more_delivery_streams() || out.delivery_stream_names().is_empty() {
            break;
        }
        start = names.last().cloned();
    }
    let mut processors = BTreeSet::new();
    for fh in names {
        let d = send!("DescribeDeliveryStream", aws.firehose.describe_delivery_stream().delivery_stream_name(&fh))?;
        let Some(d) = d.delivery_stream_description() else { continue };
        let source =
            d.source().and_then(|s| s.kinesis_stream_source_description()).and_then(|k| k.kinesis_stream_arn());
        if source != Some(stream_arn.as_str()) {
            continue;
        }
        let Some(dest) = d.destinations().first().and_then(|x| x.extended_s3_destination_description()) else {
            f.notes.push(format!("Firehose `{fh}` does not deliver to S3 the way pipectl does: left out"));
            continue;
        };
        let bucket_name = last(dest.bucket_arn()).to_string();
        let bucket_key = match f.buckets.iter().find(|(_, n)| **n == bucket_name) {
            Some((k, _)) => k.clone(),
            None => {
                let k = key_of(&bucket_name, &taken);
                taken.insert(k.clone());
                f.buckets.insert(k.clone(), bucket_name.clone());
                let req = aws.s3.get_bucket_tagging().bucket(&bucket_name);
                let tags = send!("GetBucketTagging", req.set_expected_bucket_owner(aws.bucket_owner()));
                let tags = match tags {
                    Ok(t) => tags_of(t.tag_set().iter().map(|t| (t.key(), t.value()))),
                    Err(e) if e.code.as_deref() == Some("NoSuchTagSet") || e.is_not_found() => Tags::new(),
                    Err(e) => return Err(e),
                };
                all_tags.push(tags);
                k
            }
        };
        let logging = dest.cloud_watch_logging_options();
        let error_logging = logging.is_some_and(|l| l.enabled() == Some(true));
        let default_group = crate::names::firehose_log_group(&fh);
        if error_logging && logging.and_then(|l| l.log_group_name()) != Some(default_group.as_str()) {
            f.notes.push(format!(
                "Firehose `{fh}` logs errors to `{}`; pipectl logs to `{default_group}`: apply will change it",
                logging.and_then(|l| l.log_group_name()).unwrap_or_default()
            ));
        }
        let processor = dest
            .processing_configuration()
            .filter(|p| p.enabled() == Some(true))
            .and_then(|p| p.processors().first())
            .and_then(|p| p.parameters().iter().find(|x| x.parameter_name().as_str() == "LambdaArn"))
            .map(|x| x.parameter_value().to_string());
        if let Some(p) = &processor {
            processors.insert(p.clone());
        }
        let mut convert = None;
        if let Some(c) = dest.data_format_conversion_configuration().filter(|c| c.enabled() == Some(true)) {
            let schema = c.schema_configuration();
            let db = schema.and_then(|s| s.database_name()).unwrap_or_default().to_string();
            let table = schema.and_then(|s| s.table_name()).unwrap_or_default().to_string();
            let serializer = c.output_format_configuration().and_then(|o| o.serializer());
            let (format, comp) = match serializer {
                Some(s) if s.orc_ser_de().is_some() => (
                    "orc",
                    s.orc_ser_de().and_then(|o| o.compression()).map_or("snappy".into(), |c| c.as_str().to_lowercase()),
                ),
                Some(s) => (
                    "parquet",
                    s.parquet_ser_de()
                        .and_then(|p| p.compression())
                        .map_or("snappy".into(), |c| c.as_str().to_lowercase()),
                ),
                None => ("parquet", "snappy".into()),
            };
            let table_key = discover_table(aws, &mut f, &mut taken, &db, &table, &mut all_tags).await?;
            convert = Some((format.to_string(), table_key, comp));
        }
        let t =
            send!("ListTagsForDeliveryStream", aws.firehose.list_tags_for_delivery_stream().delivery_stream_name(&fh))?;
        all_tags.push(tags_of(t.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()))));
        let hints = dest.buffering_hints();
        let key = key_of(&fh, &taken);
        taken.insert(key.clone());
        f.firehoses.insert(
            key,
            FoundFirehose {
                name: fh.clone(),
                role: dest.role_arn().to_string(),
                bucket: bucket_key,
                prefix: dest.prefix().unwrap_or_default().to_string(),
                error_prefix: dest.error_output_prefix().unwrap_or_default().to_string(),
                buffer_mb: hints.and_then(|h| h.size_in_mbs()).unwrap_or(5),
                buffer_seconds: hints.and_then(|h| h.interval_in_seconds()).unwrap_or(300),
                compression: compression(dest.compression_format().as_str()),
                convert,
                error_logging,
                processor,
            },
        );
    }

    // The functions it triggers, and the Firehoses' transforms.
    let mappings =
        send!("ListEventSourceMappings", aws.lambda.list_event_source_mappings().event_source_arn(&stream_arn))?;
    let mut functions: BTreeMap<String, Option<FoundTrigger>> = BTreeMap::new();
    for m in mappings.event_source_mappings() {
        let Some(arn) = m.function_arn() else { continue };
        if functions.get(arn).is_some_and(Option::is_some) {
            f.notes.push(format!("function `{}` has more than one trigger on the stream: one is kept", last(arn)));
            continue;
        }
        if m.destination_config().and_then(|d| d.on_failure()).and_then(|o| o.destination()).is_some() {
            f.notes
                .push(format!("the trigger of `{}` sends failures to a destination the spec cannot name", last(arn)));
        }
        functions.insert(
            arn.to_string(),
            Some(FoundTrigger {
                batch_size: m.batch_size().unwrap_or(100),
                batching_window_seconds: m.maximum_batching_window_in_seconds().unwrap_or(0),
                starting_position: m.starting_position().map_or("LATEST".into(), |p| p.as_str().to_string()),
                tumbling_window_seconds: m.tumbling_window_in_seconds().unwrap_or(0),
                parallelization_factor: m.parallelization_factor().unwrap_or(1),
                bisect: m.bisect_batch_on_function_error().unwrap_or(false),
                max_retries: m.maximum_retry_attempts().unwrap_or(-1),
                max_record_age_seconds: m.maximum_record_age_in_seconds().unwrap_or(-1),
                enabled: m.state().is_none_or(|s| s == "Enabled" || s == "Enabling" || s == "Creating"),
            }),
        );
    }
    for p in processors {
        functions.entry(p).or_insert(None);
    }
    let mut keys_by_arn = BTreeMap::new();
    for (arn, trigger) in functions {
        let out = send!("GetFunction", aws.lambda.get_function().function_name(&arn))?;
        let Some(c) = out.configuration() else { continue };
        let name = c.function_name().unwrap_or(last(&arn)).to_string();
        all_tags.push(out.tags().cloned().unwrap_or_default().into_iter().collect());
        let group = crate::names::function_log_group(&name);
        let groups = send!("DescribeLogGroups", aws.logs.describe_log_groups().log_group_name_prefix(&group))?;
        let log_retention_days = match groups.log_groups().iter().find(|g| g.log_group_name() == Some(group.as_str())) {
            Some(g) => {
                if g.retention_in_days().is_none() {
                    f.notes.push(format!("log group `{group}` keeps events forever; apply will set 14 days"));
                }
                g.retention_in_days()
            }
            None => {
                f.notes.push(format!("log group `{group}` does not exist yet: apply will create it"));
                None
            }
        };
        let key = key_of(&name, &taken);
        taken.insert(key.clone());
        keys_by_arn.insert(arn.clone(), key.clone());
        f.functions.insert(
            key,
            FoundFunction {
                name,
                runtime: c.runtime().map(|r| r.as_str().to_string()).unwrap_or_default(),
                handler: c.handler().unwrap_or_default().to_string(),
                memory_mb: c.memory_size().unwrap_or(128),
                timeout_seconds: c.timeout().unwrap_or(3),
                environment: c
                    .environment()
                    .and_then(|e| e.variables())
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                role: c.role().unwrap_or_default().to_string(),
                code_sha256: c.code_sha256().unwrap_or_default().to_string(),
                reserved_concurrency: out.concurrency().and_then(|x| x.reserved_concurrent_executions()),
                log_retention_days,
                trigger,
            },
        );
    }
    for fh in f.firehoses.values_mut() {
        if let Some(p) = &fh.processor {
            fh.processor = keys_by_arn.get(p).cloned();
        }
    }
    let owner_or_aws = |k: &String| k.starts_with("aws:") || k.starts_with("pipectl:");
    let mut common: Option<Tags> = None;
    for t in &all_tags {
        let t: Tags = t.iter().filter(|(k, _)| !owner_or_aws(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        common = Some(match common {
            None => t,
            Some(c) => c.into_iter().filter(|(k, v)| t.get(k) == Some(v)).collect(),
        });
    }
    f.tags = common.unwrap_or_default();
    if all_tags.iter().any(|t| t.keys().any(|k| !owner_or_aws(k) && !f.tags.contains_key(k))) {
        f.notes.push("tags not on every resource are not in the spec: apply will remove them".into());
    }
    Ok(f)
}

async fn discover_table(
    aws: &Aws,
    f: &mut Found,
    taken: &mut BTreeSet<String>,
    db: &str,
    table: &str,
    all_tags: &mut Vec<Tags>,
) -> Result<String, AwsError> {
    if let Some((k, _)) =
        f.tables.iter().find(|(_, t)| t.name == table && f.databases.get(&t.database).is_some_and(|d| d.0 == db))
    {
        return Ok(k.clone());
    }
    let db_key = match f.databases.iter().find(|(_, d)| d.0 == db) {
        Some((k, _)) => k.clone(),
        None => {
            let d = send!("GetDatabase", aws.glue.get_database().name(db))?;
            let description = d.database().and_then(|d| d.description()).map(str::to_string);
            let k = key_of(db, taken);
            taken.insert(k.clone());
            f.databases.insert(k.clone(), (db.to_string(), description));
            k
        }
    };
    let t = send!("GetTable", aws.glue.get_table().database_name(db).name(table))?;
    let t = t.table().ok_or_else(|| AwsError::fatal("GetTable", format!("no table `{db}.{table}`")))?;
    let sd = t.storage_descriptor();
    let cols = |c: &[aws_sdk_glue::types::Column]| -> Vec<(String, String)> {
        c.iter().map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string())).collect()
    };
    let location = sd.and_then(|s| s.location()).unwrap_or_default();
    let (bucket_name, prefix) = location.trim_start_matches("s3://").split_once('/').unwrap_or((location, ""));
    let bucket = match f.buckets.iter().find(|(_, n)| n.as_str() == bucket_name) {
        Some((k, _)) => k.clone(),
        None => {
            let k = key_of(bucket_name, taken);
            taken.insert(k.clone());
            f.buckets.insert(k.clone(), bucket_name.to_string());
            all_tags.push(Tags::new());
            k
        }
    };
    let serde = sd.and_then(|s| s.serde_info()).and_then(|s| s.serialization_library()).unwrap_or_default();
    let format = if serde.contains("Orc") {
        "orc"
    } else if serde.contains("Parquet") {
        "parquet"
    } else {
        "json"
    };
    let key = key_of(table, taken);
    taken.insert(key.clone());
    f.tables.insert(
        key.clone(),
        FoundTable {
            name: table.to_string(),
            database: db_key,
            bucket,
            prefix: prefix.to_string(),
            format: format.into(),
            columns: sd.map(|s| cols(s.columns())).unwrap_or_default(),
            partition_keys: cols(t.partition_keys()),
            description: t.description().map(str::to_string),
        },
    );
    Ok(key)
}
