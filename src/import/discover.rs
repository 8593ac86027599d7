//! Reading the pipeline around a stream, from AWS.

use super::environment::{self, Named};
use super::*;
use crate::aws::{Aws, AwsError, Outcome};
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
        let bucket_key = discover_bucket(aws, &mut f, &mut taken, &mut all_tags, last(dest.bucket_arn())).await?;
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
    // Each function's live environment, by key, until it is made references.
    let mut values = BTreeMap::new();
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
        let environment = c.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
        values.insert(key.clone(), environment.into_iter().collect::<BTreeMap<_, _>>());
        f.functions.insert(
            key,
            FoundFunction {
                name,
                runtime: c.runtime().map(|r| r.as_str().to_string()).unwrap_or_default(),
                handler: c.handler().unwrap_or_default().to_string(),
                memory_mb: c.memory_size().unwrap_or(128),
                timeout_seconds: c.timeout().unwrap_or(3),
                environment: BTreeMap::new(),
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
    environments(aws, &mut f, values);
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

/// Writes each function's environment as references, never values (see
/// `environment.rs`), and notes the SSM parameters to create.
fn environments(aws: &Aws, f: &mut Found, values: BTreeMap<String, BTreeMap<String, String>>) {
    let scope = aws.scope();
    let named = |section, key: &String, name: &str, arn: crate::names::Arn| Named {
        section,
        key: key.clone(),
        name: name.to_string(),
        arn: arn.to_string(),
    };
    let mut all = vec![named("streams", &f.stream.key, &f.stream.name, scope.stream(&f.stream.name))];
    all.extend(f.buckets.iter().map(|(k, b)| named("buckets", k, &b.name, scope.bucket(&b.name))));
    all.extend(f.databases.iter().map(|(k, (n, _))| named("databases", k, n, scope.glue_database(n))));
    for (k, t) in &f.tables {
        let database = f.databases.get(&t.database).map(|d| d.0.clone()).unwrap_or_default();
        let id = crate::names::TableId { database, table: t.name.clone() };
        all.push(named("tables", k, &t.name, scope.glue_table(&id)));
    }
    all.extend(f.firehoses.iter().map(|(k, h)| named("firehoses", k, &h.name, scope.firehose(&h.name))));
    all.extend(f.functions.iter().map(|(k, x)| named("functions", k, &x.name, scope.function(&x.name))));
    let builtins: Vec<(String, &str)> = [(aws.account.clone(), "${account}"), (aws.region.clone(), "${region}")]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .collect();
    // What refers to what among Firehoses and functions, which the spec
    // makes graph edges: a reference that would close a cycle is not made.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, h) in &f.firehoses {
        edges.entry(k.clone()).or_default().extend(h.processor.clone());
    }
    let mut commands = Vec::new();
    for (key, vars) in values {
        let may_refer =
            |n: &Named| !matches!(n.section, "functions" | "firehoses") || !environment::reaches(&edges, &n.key, &key);
        let (sources, referred) = environment::sources(&f.pipeline, &key, &vars, &all, &builtins, may_refer);
        edges.entry(key.clone()).or_default().extend(referred);
        let Some(function) = f.functions.get_mut(&key) else { continue };
        for (var, source) in &sources {
            if let EnvSource::Parameter(p) = source {
                commands.push(environment::put_parameter(&function.name, var, p));
            }
        }
        function.environment = sources;
    }
    if !commands.is_empty() {
        f.notes.push(format!(
            "environment values are not in the spec (it is meant to be committed): before `pipectl import` of it, \
             copy each into its SSM parameter:\n  {}",
            commands.join("\n  ")
        ));
    }
}

/// The key of the bucket `name`, read the first time it is seen: its
/// tags, encryption and public access block side by side, each call
/// naming the account as the bucket's owner. Its settings are written as
/// they are (the plan after import is then empty); another account's
/// bucket is named and noted, and import and apply leave it alone.
async fn discover_bucket(
    aws: &Aws,
    f: &mut Found,
    taken: &mut BTreeSet<String>,
    all_tags: &mut Vec<Tags>,
    name: &str,
) -> Result<String, AwsError> {
    if let Some((k, _)) = f.buckets.iter().find(|(_, b)| b.name == name) {
        return Ok(k.clone());
    }
    let key = key_of(name, taken);
    taken.insert(key.clone());
    let owner = aws.bucket_owner();
    let (tags, sse, block) = tokio::join!(
        async {
            let req = aws.s3.get_bucket_tagging().bucket(name).set_expected_bucket_owner(owner.clone());
            send!("GetBucketTagging", req).found()
        },
        async {
            let req = aws.s3.get_bucket_encryption().bucket(name).set_expected_bucket_owner(owner.clone());
            send!("GetBucketEncryption", req).found()
        },
        async {
            let req = aws.s3.get_public_access_block().bucket(name).set_expected_bucket_owner(owner.clone());
            send!("GetPublicAccessBlock", req).found()
        },
    );
    let mut bucket = FoundBucket { name: name.to_string(), encryption: "aes256".into(), public_access_block: true };
    match tags {
        Err(e) if e.denied() => {
            let crate::aws::s3::AnotherAccount = aws.refused_bucket(name, e).await?;
            f.notes.push(format!(
                "bucket `{name}` belongs to another AWS account: the spec names it, but import and apply leave it alone"
            ));
            f.buckets.insert(key.clone(), bucket);
            return Ok(key);
        }
        tags => {
            all_tags.push(tags?.map_or_else(Tags::new, |t| tags_of(t.tag_set().iter().map(|t| (t.key(), t.value())))))
        }
    }
    bucket.encryption = match crate::aws::s3::default_encryption(sse?.as_ref()).as_deref() {
        None => "none".into(),
        Some("AES256") => "aes256".into(),
        Some(other) => {
            f.notes.push(format!(
                "bucket `{name}` is encrypted with `{other}`, which pipectl does not manage: the spec says \
                 `encryption: aes256`, and the plan after import shows the change; leave the bucket out of the \
                 spec if its key must stay"
            ));
            "aes256".into()
        }
    };
    bucket.public_access_block =
        crate::aws::s3::blocks_all(block?.as_ref().and_then(|b| b.public_access_block_configuration()));
    if bucket.encryption == "none" || !bucket.public_access_block {
        f.notes.push(format!(
            "bucket `{name}` is written as it is (`encryption: {}`, `public_access_block: {}`): hardening it \
             (`encryption: aes256`, `public_access_block: true`) is a change of its own, after the import",
            bucket.encryption, bucket.public_access_block
        ));
    }
    f.buckets.insert(key.clone(), bucket);
    Ok(key)
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
    let bucket = discover_bucket(aws, f, taken, all_tags, bucket_name).await?;
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
