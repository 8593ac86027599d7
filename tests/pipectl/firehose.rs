//! Firehose delivery streams against the emulator: every option of the
//! spec's `firehoses` section, created, re-planned, updated in place,
//! replaced, deleted, and records delivered to S3.

use crate::emulator::{Moto, Sdk};
use crate::faults::{Faults, Proxy};

const BASE: &str = "
pipeline: fh
buckets:
  lake: { name: fh-lake, on_destroy: delete }
streams:
  trips: { shards: 1 }
catalog:
  databases: { db: { name: fhdb } }
  tables:
    trips:
      database: db
      location: { bucket: lake, prefix: trips/ }
      format: parquet
      columns: { trip_id: bigint, total_amount: double }
    trips_orc:
      database: db
      location: { bucket: lake, prefix: orc/ }
      format: orc
      columns: { trip_id: bigint }
firehoses:
  to-lake:
    source: { stream: trips }
    destination:
      bucket: lake
      prefix: \"trips/year=!{timestamp:yyyy}/\"
      error_prefix: \"errors/!{firehose:error-output-type}/\"
      buffer: { size_mb: 128, interval_seconds: 180 }
      convert: { format: parquet, table: trips }
      error_logging: true
";

fn spec(test: &str, text: &str) -> String {
    crate::util::temp_spec("fh", test, text).display().to_string()
}

fn describe(sdk: &Sdk, name: &str) -> aws_sdk_firehose::types::DeliveryStreamDescription {
    sdk.run(sdk.firehose.describe_delivery_stream().delivery_stream_name(name).send())
        .unwrap()
        .delivery_stream_description()
        .unwrap()
        .clone()
}

fn s3_config(
    d: &aws_sdk_firehose::types::DeliveryStreamDescription,
) -> aws_sdk_firehose::types::ExtendedS3DestinationDescription {
    d.destinations()[0].extended_s3_destination_description().unwrap().clone()
}

#[test]
fn stream_source_with_parquet_conversion_and_logging() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("create", BASE);
    moto.apply(&s);
    let sdk = moto.sdk();
    let d = describe(&sdk, "fh-to-lake");
    assert_eq!(d.delivery_stream_type().as_str(), "KinesisStreamAsSource");
    let src = d.source().unwrap().kinesis_stream_source_description().unwrap();
    assert_eq!(src.kinesis_stream_arn(), Some("arn:aws:kinesis:us-east-1:123456789012:stream/fh-trips"));
    assert_eq!(src.role_arn(), Some("arn:aws:iam::123456789012:role/fh-to-lake-firehose-us-east-1"));
    let c = s3_config(&d);
    assert_eq!(c.bucket_arn(), "arn:aws:s3:::fh-lake");
    assert_eq!(c.prefix(), Some("trips/year=!{timestamp:yyyy}/"));
    assert_eq!(c.error_output_prefix(), Some("errors/!{firehose:error-output-type}/"));
    let b = c.buffering_hints().unwrap();
    assert_eq!((b.size_in_mbs(), b.interval_in_seconds()), (Some(128), Some(180)));
    assert_eq!(c.compression_format().as_str(), "UNCOMPRESSED");
    let conv = c.data_format_conversion_configuration().unwrap();
    let schema = conv.schema_configuration().unwrap();
    assert_eq!(
        (schema.database_name(), schema.table_name(), schema.region(), schema.version_id()),
        (Some("fhdb"), Some("trips"), Some("us-east-1"), Some("LATEST"))
    );
    assert!(conv.input_format_configuration().unwrap().deserializer().unwrap().open_x_json_ser_de().is_some());
    let parquet = conv.output_format_configuration().unwrap().serializer().unwrap().parquet_ser_de().unwrap();
    assert_eq!(parquet.compression().map(|c| c.as_str()), Some("SNAPPY"));
    let log = c.cloud_watch_logging_options().unwrap();
    assert_eq!(
        (log.enabled(), log.log_group_name(), log.log_stream_name()),
        (Some(true), Some("/aws/kinesisfirehose/fh-to-lake"), Some("DestinationDelivery"))
    );
    let streams =
        sdk.run(sdk.logs.describe_log_streams().log_group_name("/aws/kinesisfirehose/fh-to-lake").send()).unwrap();
    assert_eq!(streams.log_streams()[0].log_stream_name(), Some("DestinationDelivery"));
    // The role reads exactly this stream and this table, writes exactly this bucket and log stream.
    let p = sdk
        .run(sdk.iam.get_role_policy().role_name("fh-to-lake-firehose-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document()).to_string();
    for arn in [
        "arn:aws:kinesis:us-east-1:123456789012:stream/fh-trips",
        "arn:aws:glue:us-east-1:123456789012:table/fhdb/trips",
        "arn:aws:s3:::fh-lake/trips/year=*",
        "arn:aws:s3:::fh-lake/errors/*",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/kinesisfirehose/fh-to-lake:log-stream:DestinationDelivery",
    ] {
        assert!(doc.contains(arn), "{arn} not in {doc}");
    }
    assert!(!doc.contains("arn:aws:s3:::fh-lake/*"), "objects only under the prefixes: {doc}");
    // Only Firehose, for this account and this delivery stream, may take the role.
    let role = sdk.run(sdk.iam.get_role().role_name("fh-to-lake-firehose-us-east-1").send()).unwrap();
    let trust = pipectl::resources::role::decode_document(role.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Condition"],
        serde_json::json!({
            "StringEquals": { "aws:SourceAccount": "123456789012" },
            "ArnLike": { "aws:SourceArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/fh-to-lake" }
        })
    );
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    let left = sdk.run(sdk.firehose.list_delivery_streams().send()).unwrap();
    assert!(left.delivery_stream_names().is_empty());
    assert!(sdk.run(sdk.logs.describe_log_groups().send()).unwrap().log_groups().is_empty());
}

#[test]
fn every_destination_option_updates_in_place() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("update", BASE);
    moto.apply(&s);
    let sdk = moto.sdk();
    let steps: [(&str, &str, &str); 6] = [
        ("buffer", "buffer: { size_mb: 128, interval_seconds: 180 }", "buffer: { size_mb: 64, interval_seconds: 60 }"),
        (
            "prefix",
            "prefix: \"trips/year=!{timestamp:yyyy}/\"",
            "prefix: \"trips/y=!{timestamp:yyyy}/m=!{timestamp:MM}/\"",
        ),
        (
            "error_prefix",
            "error_prefix: \"errors/!{firehose:error-output-type}/\"",
            "error_prefix: \"failed/!{firehose:error-output-type}/\"",
        ),
        (
            "conversion",
            "convert: { format: parquet, table: trips }",
            "convert: { format: orc, table: trips_orc, compression: zlib }",
        ),
        ("logging", "error_logging: true", "error_logging: false"),
        ("conversion", "convert: { format: orc, table: trips_orc, compression: zlib }\n", "compression: gzip\n"),
    ];
    let mut text = BASE.to_string();
    for (field, from, to) in steps {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
        std::fs::write(&s, &text).unwrap();
        let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
        assert!(plan.stdout.contains("~ firehose.to-lake"), "{field}:\n{}", plan.stdout);
        assert!(!plan.stdout.contains("-/+"), "{field} must not replace:\n{}", plan.stdout);
        moto.apply(&s);
        moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    }
    let c = s3_config(&describe(&sdk, "fh-to-lake"));
    assert_eq!(c.compression_format().as_str(), "GZIP");
    assert_eq!(c.prefix(), Some("trips/y=!{timestamp:yyyy}/m=!{timestamp:MM}/"));
    assert_eq!(c.buffering_hints().unwrap().size_in_mbs(), Some(64));
    assert_eq!(c.cloud_watch_logging_options().and_then(|l| l.enabled()), Some(false));
}

#[test]
fn source_change_replaces_and_table_change_touches_the_stream() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("replace", BASE);
    moto.apply(&s);
    // A new column: the table updates, the delivery stream is touched.
    std::fs::write(&s, BASE.replace("total_amount: double }", "total_amount: double, vendor: string }")).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ glue_table.trips"), "{}", plan.stdout);
    assert!(plan.stdout.contains("+ [\"vendor\",\"string\"]"), "{}", plan.stdout);
    assert!(plan.stdout.contains("~ firehose.to-lake"), "{}", plan.stdout);
    assert!(plan.stdout.contains("re-read: `glue_table.trips` changes"), "{}", plan.stdout);
    moto.apply(&s);
    // Source from the stream to Direct PUT: replaced.
    std::fs::write(&s, BASE.replace("source: { stream: trips }", "source: direct")).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("-/+ firehose.to-lake"), "{}", plan.stdout);
    assert!(plan.stdout.contains("(replace: source cannot change in place)"), "{}", plan.stdout);
    moto.apply(&s);
    let sdk = moto.sdk();
    assert_eq!(describe(&sdk, "fh-to-lake").delivery_stream_type().as_str(), "DirectPut");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
}

#[test]
fn direct_put_records_arrive_under_the_prefix() {
    let Some(moto) = Moto::start() else { return };
    let s = spec(
        "data",
        "pipeline: fd\nbuckets:\n  lake: { name: fd-lake, on_destroy: delete }\nfirehoses:\n  direct:\n    source: direct\n    destination:\n      bucket: lake\n      prefix: events/\n      buffer: { size_mb: 1, interval_seconds: 60 }\n      compression: gzip\n      encryption: aws_owned\n",
    );
    moto.apply(&s);
    let sdk = moto.sdk();
    let d = describe(&sdk, "fd-direct");
    assert_eq!(d.delivery_stream_type().as_str(), "DirectPut");
    for i in 0..3 {
        let rec = aws_sdk_firehose::types::Record::builder()
            .data(format!("{{\"n\":{i}}}\n").into_bytes().into())
            .build()
            .unwrap();
        sdk.run(sdk.firehose.put_record().delivery_stream_name("fd-direct").record(rec).send()).unwrap();
    }
    let objects = sdk.run(sdk.s3.list_objects_v2().bucket("fd-lake").send()).unwrap();
    let keys: Vec<&str> = objects.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!keys.is_empty(), "no object delivered");
    assert!(keys.iter().all(|k| k.starts_with("events/")), "{keys:?}");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // Server-side encryption of the delivery stream turns off in place.
    let text = std::fs::read_to_string(&s).unwrap().replace("encryption: aws_owned", "encryption: none");
    std::fs::write(&s, text).unwrap();
    let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
    assert!(plan.stdout.contains("encryption: true -> false"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(
        sdk.run(sdk.s3.head_bucket().bucket("fd-lake").send()).is_err(),
        "emptied and deleted (on_destroy: delete)"
    );
}

#[test]
fn create_waits_for_the_role_to_propagate() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(
        &moto.url,
        Faults {
            reject_first: Some(("CreateDeliveryStream", 2, "InvalidArgumentException", "Firehose is unable to assume role arn:aws:iam::123456789012:role/fh-to-lake-firehose. Please check the role provided.")),
            ..Faults::default()
        },
    );
    let s = spec("propagate", BASE);
    let run = crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert!(run.stderr.contains("waiting for role to propagate"), "{}", run.stderr);
    let sdk = moto.sdk();
    assert_eq!(describe(&sdk, "fh-to-lake").delivery_stream_status().as_str(), "ACTIVE");
}

#[test]
fn tenant_metrics_lab_applies_and_destroys() {
    let Some(moto) = Moto::start() else { return };
    moto.pipectl(&["apply", "pipelines/firehose-tenant-metrics.yaml", "--yes"]).run().expect_code(0);
    let sdk = moto.sdk();
    let c = s3_config(&describe(&sdk, "tenant_metrics_firehose"));
    assert_eq!(c.prefix(), Some("stream/"));
    assert_eq!(c.compression_format().as_str(), "GZIP");
    let b = c.buffering_hints().unwrap();
    assert_eq!((b.size_in_mbs(), b.interval_in_seconds()), (Some(1), Some(60)));
    moto.pipectl(&["plan", "pipelines/firehose-tenant-metrics.yaml", "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", "pipelines/firehose-tenant-metrics.yaml", "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.firehose.list_delivery_streams().send()).unwrap().delivery_stream_names().is_empty());
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
}

/// The labs whose other parts (functions, agent hosts) are not deployable
/// yet: their Firehose part, with everything it depends on.
#[test]
fn firehose_part_of_every_lab_applies_and_destroys() {
    for lab in ["lab", "kinesis-agent-lambda-s3", "lambda-firehose-parquet-glue", "sensor-streaming-lab"] {
        let Some(moto) = Moto::start() else { return };
        let path = format!("pipelines/{lab}.yaml");
        let run = moto.pipectl(&["apply", &path, "--yes", "--target", "firehose"]).run().expect_code(0);
        assert!(run.stdout.contains("+ firehose."), "{lab}: {}", run.stdout);
        moto.pipectl(&["plan", &path, "--target", "firehose", "--detailed-exitcode"]).run().expect_code(0);
        let pipeline = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("pipeline: ").map(str::to_string))
            .unwrap();
        let region = if lab == "lambda-firehose-parquet-glue" { "us-west-2" } else { "us-east-1" };
        moto.pipectl(&["destroy", "--pipeline", &pipeline, "--yes", "--region", region]).run().expect_code(0);
        moto.pipectl(&["plan", &path, "--target", "firehose", "--detailed-exitcode"]).run().expect_code(2);
    }
}
