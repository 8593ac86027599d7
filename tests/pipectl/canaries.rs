//! `verify` against moto: a canary per path, each hop's outcome from what
//! the service answers (moto runs neither a Firehose's stream reader nor a
//! function), content searched, `--clean`, a broken hop named.

use crate::emulator::{Moto, Sdk};
use serde_json::Value;

fn hop<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let hops = doc["hops"].as_array().unwrap();
    hops.iter().find(|h| h["path"].as_str().unwrap().starts_with(path)).unwrap_or_else(|| panic!("{path}: {doc}"))
}

#[track_caller]
fn expect(doc: &Value, path: &str, result: &str, kind: &str, says: &[&str]) {
    let h = hop(doc, path);
    assert_eq!((h["result"].as_str().unwrap(), h["kind"].as_str().unwrap()), (result, kind), "{path}: {h}");
    let detail = h["detail"].as_str().unwrap();
    for s in says {
        assert!(detail.contains(s), "{path}: {detail:?} does not say {s:?}");
    }
}

/// What moto answers for a stream-sourced Firehose and for a function.
const NO_DELIVERY_START: &str = "no Source.KinesisStreamSourceDescription.DeliveryStartTimestamp";
const NO_PROCESSING: &str = "reports no LastProcessingResult (ListEventSourceMappings)";

/// Every key under `prefix` of `bucket` with its body.
fn objects(sdk: &Sdk, bucket: &str, prefix: &str) -> Vec<(String, String)> {
    sdk.run(async {
        let list = sdk.s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
        let mut out = Vec::new();
        for o in list.contents() {
            let key = o.key().unwrap().to_string();
            let body = sdk.s3.get_object().bucket(bucket).key(&key).send().await.unwrap();
            let bytes = body.body.collect().await.unwrap().into_bytes();
            out.push((key, String::from_utf8_lossy(&bytes).into_owned()));
        }
        out
    })
}

#[test]
fn emulator_endpoint_alone_does_not_make_a_hop_not_checkable() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    let doc = moto.pipectl(&["verify", lab, "--json"]).run().expect_code(0).json();
    assert_eq!(doc["hops"].as_array().unwrap().len(), 4, "{doc}");
    expect(&doc, "stream taxi-lab-trips", "delivered", "plain", &["read back from"]);
    // Not "this endpoint is an emulator": what the service answered, quoted.
    expect(&doc, "stream taxi-lab-trips → firehose taxi-lab-raw", "not checkable", "plain", &[NO_DELIVERY_START]);
    let function = "stream taxi-lab-trips → function taxi-lab-filter";
    expect(&doc, function, "not checkable", "filter", &[NO_PROCESSING, "Invoke (DryRun) answered a function error"]);
    // Delivered once the object's content was opened and the canary found in it.
    expect(
        &doc,
        "firehose taxi-lab-to-lake",
        "delivered",
        "plain",
        &["s3://taxi-lab-default-123456789012/nyctaxitrips/"],
    );
    assert!(hop(&doc, "firehose taxi-lab-to-lake")["detail"].as_str().unwrap().ends_with("(text)"), "{doc}");
    // Each path its own canary; the filter's pair.
    let ids: std::collections::BTreeSet<&str> =
        doc["hops"].as_array().unwrap().iter().map(|h| h["canaries"]["keep"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{doc}");
    let filter = &hop(&doc, function)["canaries"];
    assert!(filter["drop"].as_str().unwrap().starts_with("pipectl-canary-"), "{doc}");
    assert_eq!(hop(&doc, "stream taxi-lab-trips")["canaries"]["drop"], Value::Null);

    // The text form: the kind of canary on the hop's line, the answer under it.
    let run = moto.pipectl(&["verify", lab]).run().expect_code(0);
    assert!(run.stdout.contains(&format!("not checkable  {function} → firehose taxi-lab-to-lake")), "{}", run.stdout);
    assert!(run.stdout.contains("(filter canary pipectl-canary-"), "{}", run.stdout);
    assert!(run.stdout.contains(", drop pipectl-canary-"), "{}", run.stdout);
    assert!(run.stdout.contains(NO_DELIVERY_START), "{}", run.stdout);

    // Its reads of the lake name the account as the bucket's owner.
    let faults = crate::faults::Faults { require_owner: Some("123456789012"), ..Default::default() };
    let proxy = crate::faults::Proxy::start(&moto.url, faults);
    crate::util::pipectl(&["verify", lab, "--clean"]).aws_env(&proxy.url).run().expect_code(0);
    let ownerless = proxy.stats.ownerless.lock().unwrap().clone();
    assert!(ownerless.is_empty(), "S3 calls without the expected owner:\n{}", ownerless.join("\n"));
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

#[test]
fn verify_clean_removes_the_canaries_and_leaves_the_users_records() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    let sdk = moto.sdk();
    let bucket = "taxi-lab-default-123456789012";
    // The user's own records: into the stream with produce, into the Firehose directly.
    moto.pipectl(&["produce", lab, "--stream", "trips", "--generate", "taxi", "--limit", "20"]).run().expect_code(0);
    let user = aws_sdk_firehose::types::Record::builder()
        .data(aws_sdk_firehose::primitives::Blob::new(&b"{\"vendor_id\":\"user-1\"}\n"[..]))
        .build()
        .unwrap();
    sdk.run(sdk.firehose.put_record().delivery_stream_name("taxi-lab-to-lake").record(user).send()).unwrap();

    let doc = moto.pipectl(&["verify", lab, "--clean", "--json"]).run().expect_code(0).json();
    let clean = &doc["clean"];
    let removed: Vec<&str> = clean["removed"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(removed.len(), 1, "{doc}");
    assert!(removed[0].starts_with(&format!("s3://{bucket}/nyctaxitrips/")), "{doc}");
    assert!(removed[0].ends_with("1 canary record removed, nothing else in it (deleted)"), "{doc}");
    // The canaries moto never carried on (the stream's, the function's) are named, not claimed.
    let not_found = clean["not_found"].as_array().unwrap();
    assert_eq!(not_found.len(), 4, "stream, raw Firehose, filter keep and drop: {doc}");
    let direct = hop(&doc, "firehose taxi-lab-to-lake")["canaries"]["keep"].as_str().unwrap();
    assert!(!not_found.iter().any(|n| n == direct), "{doc}");

    let left = objects(&sdk, bucket, "nyctaxitrips/");
    assert!(left.iter().all(|(_, body)| !body.contains("pipectl-canary-")), "{left:?}");
    assert!(left.iter().any(|(_, body)| body.contains("\"user-1\"")), "{left:?}");
    let records = sdk.records("taxi-lab-trips");
    let users = records.iter().filter(|r| !String::from_utf8_lossy(r).contains("pipectl-canary-")).count();
    assert_eq!(users, 20, "the produced records stay in the stream");

    // Text: what was removed and what was not found.
    let run = moto.pipectl(&["verify", lab, "--clean"]).run().expect_code(0);
    assert!(run.stdout.contains(&format!("cleaned        s3://{bucket}/nyctaxitrips/")), "{}", run.stdout);
    assert!(run.stdout.contains("not found      pipectl-canary-"), "{}", run.stdout);
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

#[test]
fn a_deleted_firehose_is_not_delivered_and_named() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    let sdk = moto.sdk();
    sdk.run(sdk.firehose.delete_delivery_stream().delivery_stream_name("taxi-lab-to-lake").send()).unwrap();
    let run = moto.pipectl(&["verify", lab, "--timeout", "5s"]).run().expect_code(1);
    assert!(run.stdout.contains("not delivered  firehose taxi-lab-to-lake"), "{}", run.stdout);
    assert!(run.stdout.contains("delivered      stream taxi-lab-trips"), "{}", run.stdout);
    assert!(run.stderr.contains("1 of 4 hops did not deliver: firehose taxi-lab-to-lake"), "{}", run.stderr);

    sdk.run(sdk.kinesis.delete_stream().stream_name("taxi-lab-trips").send()).unwrap();
    let doc = moto.pipectl(&["verify", lab, "--timeout", "5s", "--json"]).run().expect_code(1).json();
    assert_eq!(doc["not_delivered"], 4, "nothing gets past a stream that is gone: {doc}");
    let stream = hop(&doc, "stream taxi-lab-trips");
    assert!(stream["detail"].as_str().unwrap().contains("could not be sent"), "{doc}");
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

#[test]
fn parquet_lab_function_hop_is_not_delivered_by_the_direct_canary() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lambda-firehose-parquet-glue.yaml";
    moto.apply(lab);
    let doc = moto.pipectl(&["verify", lab, "--json"]).run().expect_code(0).json();
    expect(&doc, "stream ingest-taxi-trips", "delivered", "plain", &[]);
    // The direct canary lands under the prefix the function writes to; the
    // function's hop still says the service did not run the function.
    let function = "stream ingest-taxi-trips → function NYCTaxiTrips-KDSLambdaTrigger → firehose nyc-taxi-trips";
    expect(&doc, function, "not checkable", "filter", &[NO_PROCESSING]);
    expect(&doc, "firehose nyc-taxi-trips", "delivered", "plain", &["nyctaxitrips/"]);
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

#[test]
fn sensor_lab_function_hop_sends_a_reading_the_aggregator_keys_on() {
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/sensor-streaming-lab.yaml";
    moto.apply(lab);
    let doc = moto.pipectl(&["verify", lab, "--json"]).run().expect_code(0).json();
    let function = "stream sensor-data-stream → function sensor-data-analytics → firehose processed-sensor-data";
    expect(&doc, function, "not checkable", "aggregate", &[NO_PROCESSING]);
    expect(
        &doc,
        "stream sensor-data-stream → firehose sensor-data-delivery",
        "not checkable",
        "plain",
        &[NO_DELIVERY_START],
    );
    expect(&doc, "firehose processed-sensor-data", "delivered", "plain", &["processed-stream/"]);
    // The reading in the stream carries its id as the key the aggregator groups by.
    let keep = hop(&doc, function)["canaries"]["keep"].as_str().unwrap().to_string();
    let sdk = moto.sdk();
    let records = sdk.records("sensor-data-stream");
    let reading =
        records.iter().map(|r| serde_json::from_slice::<Value>(r).unwrap()).find(|r| r["pipectl_canary"] == *keep);
    let reading = reading.expect("the aggregate canary is in the stream");
    assert_eq!(reading["sensor_id"], *keep);
    assert!(reading["temperature"].is_number() && reading["humidity"].is_number(), "{reading}");
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}
