//! The five labs of `pipelines/`, each end to end on the emulator: the
//! spec applied, the lab's own data sent with `pipectl produce`, the path
//! checked where the emulator runs it (records read back from the stream;
//! what the lab's function would send, through its Direct-PUT Firehose into
//! S3), `verify`, and a destroy that leaves nothing behind.
//!
//! Every command runs in one region, whatever the spec's `region:` says,
//! so the SDK's checks read where pipectl wrote.

use crate::emulator::{Moto, Sdk};
use crate::util::Run;
use serde_json::Value;

const REGION: &str = "us-east-1";

fn pipectl(moto: &Moto, args: &[&str]) -> Run {
    let mut args = args.to_vec();
    args.extend(["--region", REGION]);
    moto.pipectl(&args).run()
}

/// `pipectl produce SPEC --stream KEY ...`, which must deliver `count`
/// records and fail none.
fn produce(moto: &Moto, spec: &str, stream: &str, source: &[&str], count: u64) {
    let mut args = vec!["produce", spec, "--stream", stream, "--json"];
    args.extend(source);
    let summary = pipectl(moto, &args).expect_code(0).json();
    assert_eq!(summary["delivered"], count, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
}

/// Every record of `stream`, as JSON, each ending in the newline the
/// producer adds.
fn read_back(sdk: &Sdk, stream: &str) -> Vec<Value> {
    let records = sdk.records(stream);
    for r in &records {
        assert_eq!(r.last(), Some(&b'\n'), "{}", String::from_utf8_lossy(r));
    }
    records.iter().map(|r| serde_json::from_slice(r).unwrap()).collect()
}

/// `verify` passes, and each hop says what the emulator lets it say: the
/// stream's own hop and every Direct-PUT Firehose delivered (their content
/// searched); a Firehose reading the stream, and every function path, not
/// checkable on the service's own answer (moto gives no delivery start and
/// runs no function), never on the endpoint alone.
fn verify(moto: &Moto, spec: &str, stream: &str) {
    let doc = pipectl(moto, &["verify", spec, "--timeout", "20s", "--json"]).expect_code(0).json();
    let hops = doc["hops"].as_array().unwrap();
    let own = format!("stream {stream}");
    assert!(hops.iter().any(|h| h["path"] == own.as_str()), "no hop for `{own}`: {doc}");
    for h in hops {
        let (path, result, detail) = (h["path"].as_str().unwrap(), &h["result"], h["detail"].as_str().unwrap());
        let through_function = path.contains("→ function ");
        let from_stream = path.starts_with("stream ");
        if !path.contains('→') || path.starts_with("firehose ") {
            assert_eq!(result, "delivered", "{h}");
        } else if through_function {
            assert_eq!(result, "not checkable", "{h}");
            assert!(detail.contains("the service does not run function"), "{h}");
        } else if from_stream {
            assert_eq!(result, "not checkable", "{h}");
            assert!(detail.contains("DeliveryStartTimestamp"), "{h}");
        }
    }
    assert_eq!(doc["not_delivered"], 0, "{doc}");
}

/// Destroyed with its data, nothing is left.
fn destroy(moto: &Moto, spec: &str) {
    pipectl(moto, &["destroy", spec, "--yes", "--delete-data", "--allow-data-loss"]).expect_code(0);
    let left = moto.sdk().leftovers();
    assert!(left.is_empty(), "left behind:\n{}", left.join("\n"));
}

/// What the lab's function does with what it keeps: PutRecordBatch of the
/// records' original bytes into its Direct-PUT Firehose (the emulator runs
/// no Lambda function); returns the bytes of every object under `prefix`.
fn through_firehose(sdk: &Sdk, firehose: &str, records: &[Vec<u8>], bucket: &str, prefix: &str) -> Vec<u8> {
    use aws_sdk_firehose::primitives::Blob;
    use aws_sdk_firehose::types::Record;
    sdk.run(async {
        let entries = records.iter().map(|r| Record::builder().data(Blob::new(r.clone())).build().unwrap());
        let out = sdk
            .firehose
            .put_record_batch()
            .delivery_stream_name(firehose)
            .set_records(Some(entries.collect()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_put_count(), 0);
        let listed = sdk.s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
        assert!(!listed.contents().is_empty(), "nothing under {bucket}/{prefix}");
        let mut bytes = Vec::new();
        for o in listed.contents() {
            let got = sdk.s3.get_object().bucket(bucket).key(o.key().unwrap()).send().await.unwrap();
            bytes.extend(got.body.collect().await.unwrap().into_bytes());
        }
        bytes
    })
}

#[test]
fn kinesis_agent_lab_takes_the_agents_17_field_csv_end_to_end() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipelines/kinesis-agent-lambda-s3.yaml";
    pipectl(&moto, &["apply", spec, "--yes"]).expect_code(0);
    // The lab's taxi CSV: no header, the 17 fields the agent's CSVTOJSON names.
    let csv = crate::util::temp_spec("labs", "agent", "").with_file_name("yellow_tripdata.csv");
    let rows: String = (0..40)
        .map(|i| {
            format!(
                "2,2017-12-02 03:{m:02}:43,2017-12-02 03:{e:02}:24,1,{d}.10,1,N,249,234,1,7.0,0.5,0.5,1.65,0.0,0.3,{t}.95\n",
                m = i % 50,
                e = i % 50 + 8,
                d = i % 9,
                t = 10 + i
            )
        })
        .collect();
    std::fs::write(&csv, rows).unwrap();
    produce(&moto, spec, "taxi", &["--file", &csv.display().to_string()], 40);

    let sdk = moto.sdk();
    let records = read_back(&sdk, "agent-lab-stream");
    assert_eq!(records.len(), 40);
    for r in &records {
        assert_eq!(r.as_object().unwrap().len(), 17, "{r}");
        assert_eq!(r["VendorID"], "2");
        assert_eq!(r["store_and_fwd_flag"], "N");
    }
    let mut totals: Vec<&str> = records.iter().map(|r| r["total_amount"].as_str().unwrap()).collect();
    totals.sort_unstable();
    assert_eq!(totals.first(), Some(&"10.95"));
    assert_eq!(totals.len(), 40);
    verify(&moto, spec, "agent-lab-stream");
    destroy(&moto, spec);
}

#[test]
fn tenant_metrics_lab_takes_the_generators_telemetry_end_to_end() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipelines/firehose-tenant-metrics.yaml";
    pipectl(&moto, &["apply", spec, "--yes"]).expect_code(0);
    produce(&moto, spec, "metrics", &["--generate", "tenant-metrics", "--limit", "60"], 60);
    let records = read_back(&moto.sdk(), "tenant-metrics-stream");
    assert_eq!(records.len(), 60);
    for r in &records {
        assert_eq!(r["type"], "Application", "{r}");
        for field in ["workload", "context", "tenant", "metric", "timestamp"] {
            assert!(!r[field].is_null(), "{field} missing: {r}");
        }
    }
    verify(&moto, spec, "tenant-metrics-stream");
    destroy(&moto, spec);
}

#[test]
fn parquet_lab_takes_the_replays_trips_end_to_end() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipelines/lambda-firehose-parquet-glue.yaml";
    pipectl(&moto, &["apply", spec, "--yes"]).expect_code(0);
    produce(&moto, spec, "ingest", &["--generate", "taxi", "--limit", "300"], 300);

    let sdk = moto.sdk();
    let raw = sdk.records("ingest-taxi-trips");
    let records = read_back(&sdk, "ingest-taxi-trips");
    assert_eq!(records.len(), 300);
    let watermarks = records.iter().filter(|r| r["type"] == "watermark").count();
    assert_eq!(watermarks, 3, "one watermark every 100 records");
    // What the lab's filter keeps: trips with all four coordinates non-zero.
    let coordinates = ["pickup_longitude", "pickup_latitude", "dropoff_latitude", "dropoff_longitude"];
    let kept: Vec<Vec<u8>> = raw
        .iter()
        .zip(&records)
        .filter(|(_, r)| r["type"] == "trip" && coordinates.iter().all(|c| r[c].as_f64() != Some(0.0)))
        .map(|(bytes, _)| bytes.clone())
        .collect();
    assert!(kept.len() < 297, "the replay's data has trips without a position");
    let bucket = "kinesislab-nyctaxitrips-123456789012";
    let landed = through_firehose(&sdk, "nyc-taxi-trips", &kept, bucket, "nyctaxitrips/year=");
    assert_eq!(landed, kept.concat(), "the original bytes, each record once");
    verify(&moto, spec, "ingest-taxi-trips");
    destroy(&moto, spec);
}

#[test]
fn sensor_lab_takes_the_producers_readings_end_to_end() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipelines/sensor-streaming-lab.yaml";
    pipectl(&moto, &["apply", spec, "--yes"]).expect_code(0);
    let source = ["--generate", "sensor", "--limit", "50", "--partition-key", "sensor_id"];
    produce(&moto, spec, "sensors", &source, 50);

    let sdk = moto.sdk();
    let records = read_back(&sdk, "sensor-data-stream");
    assert_eq!(records.len(), 50);
    for r in &records {
        assert!(r["sensor_id"].as_str().unwrap().starts_with("sensor-0"), "{r}");
        for field in ["timestamp", "temperature", "humidity", "pressure"] {
            assert!(!r[field].is_null(), "{field} missing: {r}");
        }
    }
    // The aggregating function's output, one row per sensor and window,
    // through the processed-data Firehose.
    let row = b"{\"sensor_id\":\"sensor-001\",\"avg_temperature\":21.5,\"min_temperature\":20.0,\
\"max_temperature\":23.0,\"avg_humidity\":55.0,\"window_start_time\":\"2026-01-01 00:00:00\",\
\"window_end_time\":\"2026-01-01 00:01:00\"}\n"
        .to_vec();
    let landed = through_firehose(
        &sdk,
        "processed-sensor-data",
        std::slice::from_ref(&row),
        "sensor-stream-data-123456789012",
        "processed-stream/",
    );
    assert_eq!(landed, row);
    verify(&moto, spec, "sensor-data-stream");
    destroy(&moto, spec);
}

#[test]
fn stream_processor_lab_takes_the_hosts_readings_end_to_end() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipelines/stream-data-processor.yaml";
    pipectl(&moto, &["apply", spec, "--yes"]).expect_code(0);
    // The host's producer, run here (the emulator starts no instance).
    produce(&moto, spec, "data", &["--generate", "sensor", "--limit", "30"], 30);
    let records = read_back(&moto.sdk(), "stream-data-processor");
    assert_eq!(records.len(), 30);
    assert!(records.iter().all(|r| r["sensor_id"].is_string() && r["temperature"].is_number()));
    verify(&moto, spec, "stream-data-processor");
    destroy(&moto, spec);
}
