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

/// A request's header, by name.
fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The canary a Firehose PutRecord into `firehose` carries: its id and its
/// record's bytes, if the request is one.
fn firehose_canary(head: &[String], body: &[u8], firehose: &str) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    if !header(head, "x-amz-target").is_some_and(|t| t.ends_with("Firehose_20150804.PutRecord")) {
        return None;
    }
    let req: Value = serde_json::from_slice(body).ok()?;
    if req["DeliveryStreamName"] != firehose {
        return None;
    }
    let data = base64::engine::general_purpose::STANDARD.decode(req["Record"]["Data"].as_str()?).ok()?;
    let record: Value = serde_json::from_slice(&data).ok()?;
    Some((record["pipectl_canary"].as_str()?.to_string(), data))
}

/// A URL path, percent-decoded.
fn decoded(path: &str) -> String {
    let (mut out, bytes) = (Vec::new(), path.as_bytes());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// That PutRecord with `data` as its record.
fn with_data(body: &[u8], data: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut req: Value = serde_json::from_slice(body).unwrap();
    req["Record"]["Data"] = base64::engine::general_purpose::STANDARD.encode(data).into();
    serde_json::to_vec(&req).unwrap()
}

/// The key under `prefix` whose body holds `id`.
fn key_holding(sdk: &Sdk, bucket: &str, prefix: &str, id: &str) -> String {
    let found = objects(sdk, bucket, prefix).into_iter().find(|(_, body)| body.contains(id));
    found.unwrap_or_else(|| panic!("no object under {prefix} holds {id}")).0
}

#[test]
fn clean_keeps_concatenated_records_a_quoted_id_and_the_objects_attributes() {
    use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption, StorageClass};
    use std::sync::{Arc, Mutex};
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    let (bucket, prefix) = ("taxi-lab-default-123456789012", "nyctaxitrips/");
    let sdk = Arc::new(moto.sdk());
    // A producer that adds no newline: Firehose concatenates its records as
    // they come, so the canary lands between user records on one line; a
    // user record quotes the canary's id in a note.
    let id: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = id.clone();
    let before = crate::faults::Hook(Arc::new(move |head, body| {
        let (canary, data) = firehose_canary(head, body, "taxi-lab-to-lake")?;
        let mut mixed = b"{\"user\":1}{\"user\":2}".to_vec();
        mixed.extend(&data);
        mixed.extend(format!("{{\"user\":3}}\n{{\"note\":\"retry of {canary} failed\"}}\n").as_bytes());
        *seen.lock().unwrap() = Some(canary);
        Some(with_data(body, &mixed))
    }));
    // Once the object is written, a user gives it its own attributes.
    let (s, seen) = (sdk.clone(), id.clone());
    let after = crate::faults::Hook(Arc::new(move |head, body| {
        let put = header(head, "x-amz-target").is_some_and(|t| t.ends_with("Firehose_20150804.PutRecord"));
        if !put || !String::from_utf8_lossy(body).contains("\"taxi-lab-to-lake\"") {
            return None;
        }
        let canary = seen.lock().unwrap().clone()?;
        let key = key_holding(&s, bucket, prefix, &canary);
        let copy =
            s.s3.copy_object()
                .bucket(bucket)
                .key(&key)
                .copy_source(format!("{bucket}/{key}"))
                .metadata_directive(MetadataDirective::Replace)
                .content_type("application/x-ndjson")
                .metadata("owner", "team-a")
                .storage_class(StorageClass::StandardIa)
                .server_side_encryption(ServerSideEncryption::Aes256);
        s.run(copy.send()).unwrap();
        None
    }));
    let faults = crate::faults::Faults { before: Some(before), after: Some(after), ..Default::default() };
    let proxy = crate::faults::Proxy::start(&moto.url, faults);
    let run = crate::util::pipectl(&["verify", lab, "--clean", "--json"]).aws_env(&proxy.url).run().expect_code(0);
    let doc = run.json();
    let canary = id.lock().unwrap().clone().expect("the direct canary went through the proxy");
    expect(&doc, "firehose taxi-lab-to-lake", "delivered", "plain", &[]);
    let removed = doc["clean"]["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{doc}");
    let said = removed[0].as_str().unwrap();
    assert!(said.ends_with("1 canary record removed, 4 other records kept (rewritten)"), "{doc}");

    let key = said.strip_prefix(&format!("s3://{bucket}/")).unwrap().split(": ").next().unwrap().to_string();

    // Every byte but the canary's as it was; the quote of its id kept.
    let out = sdk.run(sdk.s3.get_object().bucket(bucket).key(&key).send()).unwrap();
    let (content_type, metadata) = (out.content_type().map(str::to_string), out.metadata().cloned());
    let (class, sse) = (out.storage_class().cloned(), out.server_side_encryption().cloned());
    let body = sdk.run(out.body.collect()).unwrap().into_bytes();
    let expected = format!("{{\"user\":1}}{{\"user\":2}}\n{{\"user\":3}}\n{{\"note\":\"retry of {canary} failed\"}}\n");
    assert_eq!(String::from_utf8_lossy(&body), expected);
    // The object's attributes, as the user set them.
    assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
    assert_eq!(metadata.unwrap_or_default().get("owner").map(String::as_str), Some("team-a"));
    assert_eq!(class, Some(StorageClass::StandardIa));
    assert_eq!(sse, Some(ServerSideEncryption::Aes256));
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

#[test]
fn clean_leaves_an_object_changed_since_it_was_read() {
    use std::sync::{Arc, Mutex};
    let Some(moto) = Moto::start() else { return };
    let lab = "pipelines/lab.yaml";
    moto.apply(lab);
    let (bucket, prefix) = ("taxi-lab-default-123456789012", "nyctaxitrips/");
    let sdk = Arc::new(moto.sdk());
    // The canary lands beside a user record: the object is to be rewritten.
    let before_put = crate::faults::Hook(Arc::new(|head, body| {
        let (_, data) = firehose_canary(head, body, "taxi-lab-to-lake")?;
        Some(with_data(body, &[&b"{\"user\":1}\n"[..], &data].concat()))
    }));
    // Between clean's read and its write, a user writes the object.
    let changed: Arc<Mutex<Option<String>>> = Arc::default();
    let (s, c) = (sdk.clone(), changed.clone());
    let writer = crate::faults::Hook(Arc::new(move |head, body| {
        if !head[0].starts_with("PUT ") || header(head, "if-match").is_none() || c.lock().unwrap().is_some() {
            return (before_put.0)(head, body);
        }
        let path = head[0].split(' ').nth(1)?;
        let key = decoded(path.split_once(&format!("/{bucket}/"))?.1.split('?').next()?);
        let put = s.s3.put_object().bucket(bucket).key(&key).body(b"{\"user\":\"changed\"}\n".to_vec().into());
        s.run(put.send()).unwrap();
        *c.lock().unwrap() = Some(key);
        None
    }));
    let faults = crate::faults::Faults { before: Some(writer), ..Default::default() };
    let proxy = crate::faults::Proxy::start(&moto.url, faults);
    let run = crate::util::pipectl(&["verify", lab, "--clean", "--json"]).aws_env(&proxy.url).run().expect_code(0);
    let doc = run.json();
    let key = changed.lock().unwrap().clone().expect("clean wrote the object back conditionally");
    assert_eq!(doc["clean"]["removed"].as_array().unwrap().len(), 0, "{doc}");
    let not = doc["clean"]["not_removed"].as_array().unwrap();
    let said = not.iter().map(|n| n.as_str().unwrap()).find(|n| n.contains(&key)).unwrap_or_else(|| panic!("{doc}"));
    assert!(said.contains("changed since it was read (ETag"), "{said}");
    assert!(said.ends_with("left as it is, with any canary in it"), "{said}");
    // The user's write stands.
    let left = objects(&sdk, bucket, prefix);
    let body = &left.iter().find(|(k, _)| *k == key).unwrap().1;
    assert_eq!(body, "{\"user\":\"changed\"}\n");
    moto.pipectl(&["destroy", lab, "--yes"]).run().expect_code(0);
}

/// The Parquet lab converting to ORC instead: pipectl reads no ORC, so its
/// objects arriving prove nothing. Their hops are `not read` (never
/// `delivered`, never excused as `not checkable`), verify fails, and
/// `--accept-unread` lets them pass.
#[test]
fn objects_that_cannot_be_read_are_not_read_and_fail_verify_unless_accepted() {
    let Some(moto) = Moto::start() else { return };
    let lab = std::fs::read_to_string(crate::util::root().join("pipelines/lambda-firehose-parquet-glue.yaml")).unwrap();
    let handler = crate::util::root().join("templates/lambda/filter_to_firehose.py");
    let text = lab
        .replace("convert: { format: parquet, table: nyctaxitrips }", "convert: { format: orc, table: nyctaxitrips }")
        .replace("      format: parquet\n", "      format: orc\n")
        .replace("../templates/lambda/filter_to_firehose.py", handler.to_str().unwrap());
    assert!(text.contains("format: orc"));
    let spec = crate::util::temp_spec("canaries", "orc", &text);
    let spec = spec.to_str().unwrap();
    let root = crate::util::root();
    let root = root.to_str().unwrap();
    moto.pipectl(&["apply", spec, "--yes", "--code-root", root]).run().expect_code(0);
    let run = moto.pipectl(&["verify", spec, "--code-root", root, "--timeout", "10s", "--json"]).run();
    let doc = run.expect_code(1).json();
    expect(
        &doc,
        "firehose nyc-taxi-trips",
        "not read",
        "plain",
        &["arrived, content not read", "ORC content is not read"],
    );
    assert_eq!((doc["not_delivered"].as_u64(), doc["not_read"].as_u64()), (Some(0), Some(1)), "{doc}");
    let run = moto.pipectl(&["verify", spec, "--code-root", root, "--timeout", "10s"]).run();
    assert!(run.stderr.contains("1 of 3 hops arrived in a form pipectl cannot read"), "{}", run.stderr);
    assert!(run.stderr.contains("--accept-unread"), "{}", run.stderr);
    moto.pipectl(&["verify", spec, "--code-root", root, "--timeout", "10s", "--accept-unread"]).run().expect_code(0);
    moto.pipectl(&["destroy", spec, "--yes", "--code-root", root]).run().expect_code(0);
}

/// A Firehose that transforms with a function: the hop names the function,
/// and a canary the emulator delivered around it (moto runs no transform)
/// shows nothing of the transform: not checkable, quoting the service,
/// never `delivered`.
#[test]
fn a_firehose_transform_function_is_part_of_its_hop() {
    let Some(moto) = Moto::start() else { return };
    let handler = crate::util::root().join("templates/lambda/decode_and_log.py");
    let text = format!(
        "pipeline: proc
buckets:
  out:
    name: 'proc-out-${{account}}'
functions:
  enrich:
    runtime: python3.12
    code: {}
    handler: decode_and_log.handler
firehoses:
  direct:
    source: direct
    destination: {{ bucket: out, prefix: data/, buffer: {{ size_mb: 1, interval_seconds: 60 }} }}
    processor: {{ function: enrich }}
",
        handler.display()
    );
    let spec = crate::util::temp_spec("canaries", "processor", &text);
    let (spec, root) = (spec.to_str().unwrap(), crate::util::root());
    let root = root.to_str().unwrap();
    moto.pipectl(&["apply", spec, "--yes", "--code-root", root]).run().expect_code(0);
    let doc =
        moto.pipectl(&["verify", spec, "--code-root", root, "--timeout", "10s", "--json"]).run().expect_code(0).json();
    let path = "firehose proc-direct (transformed by function proc-enrich) → s3://";
    expect(
        &doc,
        path,
        "not checkable",
        "plain",
        &["the service does not run the Firehose's transform function proc-enrich"],
    );
    moto.pipectl(&["destroy", spec, "--yes", "--code-root", root, "--delete-data", "--allow-data-loss"])
        .run()
        .expect_code(0);
}
