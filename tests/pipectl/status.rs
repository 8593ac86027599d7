//! `pipectl status` on the emulator: metrics seeded with PutMetricData for
//! a deployed `lab.yaml`, each verdict read back (flowing, idle, stalled,
//! lagging, failing), every figure in `--json`, `--fail-on`'s exit code,
//! and the GetMetricData calls a report takes.

use crate::emulator::Moto;
use crate::util::temp_spec;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

const LAB: &str = "pipelines/lab.yaml";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Puts `value` of a metric `minutes_ago`, as AWS would have reported it.
fn seed(moto: &Moto, namespace: &str, metric: &str, dimension: (&str, &str), minutes_ago: i64, value: f64) {
    let sdk = moto.sdk();
    let datum = MetricDatum::builder()
        .metric_name(metric)
        .dimensions(Dimension::builder().name(dimension.0).value(dimension.1).build())
        .timestamp(DateTime::from_secs(now() - minutes_ago * 60))
        .value(value)
        .build();
    sdk.run(sdk.cloudwatch.put_metric_data().namespace(namespace).metric_data(datum).send()).unwrap();
}

fn hop<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["hops"].as_array().unwrap().iter().find(|h| h["id"] == id).unwrap_or_else(|| panic!("no hop {id} in {doc}"))
}

fn verdict(doc: &Value, id: &str) -> String {
    hop(doc, id)["verdict"].as_str().unwrap().to_string()
}

/// The values of one metric of a hop.
fn series<'a>(doc: &'a Value, id: &str, metric: &str) -> &'a Value {
    let h = hop(doc, id);
    h["metrics"].as_array().unwrap().iter().find(|s| s["metric"] == metric).unwrap_or_else(|| panic!("{id}: {metric}"))
}

#[test]
fn status_of_the_lab_judges_each_hop_by_its_seeded_metrics() {
    let Some(moto) = Moto::start() else { return };
    moto.apply(LAB);

    // Nothing sent yet: every hop idle, the alarms read, one call.
    let doc = moto.pipectl(&["status", LAB, "--json"]).run().expect_code(0).json();
    for h in doc["hops"].as_array().unwrap() {
        assert_eq!(h["verdict"], "idle", "{h}");
    }
    assert_eq!(doc["calls"]["get_metric_data"], 1, "{}", doc["calls"]);
    assert_eq!(doc["deployed"], true);
    eprintln!(
        "status of lab.yaml: {} GetMetricData call(s) for {} metrics",
        doc["calls"]["get_metric_data"], doc["calls"]["metric_queries"]
    );
    let states: Vec<&str> = doc["alarms"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert_eq!(states.len(), 3, "{doc}");
    assert!(states.iter().all(|s| *s != "missing"), "{states:?}");
    moto.pipectl(&["status", LAB, "--fail-on", "stalled,failing"]).run().expect_code(0);

    // The spec's own alarm in ALARM makes its hop lagging, with the
    // alarm's reason; a stopped host is unknown, not idle.
    let sdk = moto.sdk();
    let set = |state: aws_sdk_cloudwatch::types::StateValue| {
        let req = sdk.cloudwatch.set_alarm_state().alarm_name("taxi-lab-iterator_age").state_value(state);
        sdk.run(req.state_reason("Threshold Crossed: 1 datapoint (90000.0) > 60000.0").send()).unwrap();
    };
    set(aws_sdk_cloudwatch::types::StateValue::Alarm);
    let instance = hop(&doc, "agent.producer")["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["namespace"] == "AWS/EC2")
        .map(|s| s["dimension_value"].as_str().unwrap().to_string())
        .expect("the host's instance metrics carry its id");
    sdk.run(sdk.ec2.stop_instances().instance_ids(&instance).send()).unwrap();
    let doc = moto.pipectl(&["status", LAB, "--json"]).run().expect_code(0).json();
    assert_eq!(verdict(&doc, "stream.trips"), "lagging", "{}", hop(&doc, "stream.trips"));
    let why = hop(&doc, "stream.trips")["reason"].as_str().unwrap().to_string();
    assert_eq!(why, "alarm taxi-lab-iterator_age is in ALARM: Threshold Crossed: 1 datapoint (90000.0) > 60000.0");
    moto.pipectl(&["status", LAB, "--fail-on", "lagging"]).run().expect_code(4);
    assert_eq!(verdict(&doc, "agent.producer"), "unknown", "{}", hop(&doc, "agent.producer"));
    assert!(hop(&doc, "agent.producer")["reason"]
        .as_str()
        .unwrap()
        .starts_with(&format!("instance {instance} is stopped")));
    set(aws_sdk_cloudwatch::types::StateValue::Ok);
    sdk.run(sdk.ec2.start_instances().instance_ids(&instance).send()).unwrap();

    // The stream: records in and read a few minutes ago: flowing.
    let stream = ("StreamName", "taxi-lab-trips");
    seed(&moto, "AWS/Kinesis", "IncomingRecords", stream, 3, 600.0);
    seed(&moto, "AWS/Kinesis", "IncomingBytes", stream, 3, 120_000.0);
    seed(&moto, "AWS/Kinesis", "GetRecords.Records", stream, 2, 600.0);
    // Firehose raw: read from the stream ten minutes ago, nothing
    // delivered since, past its 60 s buffer: stalled.
    let raw = ("DeliveryStreamName", "taxi-lab-raw");
    seed(&moto, "AWS/Firehose", "DataReadFromKinesisStream.Records", raw, 10, 250.0);
    // The filter: errors: failing.
    let filter = ("FunctionName", "taxi-lab-filter");
    seed(&moto, "AWS/Lambda", "Invocations", filter, 4, 12.0);
    seed(&moto, "AWS/Lambda", "Errors", filter, 4, 3.0);
    // Firehose to-lake: delivering, but its oldest record is older than
    // the lab's freshness alarm (900 s): lagging.
    let lake = ("DeliveryStreamName", "taxi-lab-to-lake");
    seed(&moto, "AWS/Firehose", "IncomingRecords", lake, 5, 40.0);
    seed(&moto, "AWS/Firehose", "DeliveryToS3.Records", lake, 2, 40.0);
    seed(&moto, "AWS/Firehose", "DeliveryToS3.DataFreshness", lake, 2, 2000.0);

    let run = moto.pipectl(&["status", LAB, "--json"]).run().expect_code(0);
    let doc = run.json();
    assert_eq!(verdict(&doc, "stream.trips"), "flowing", "{}", hop(&doc, "stream.trips"));
    assert_eq!(verdict(&doc, "firehose.raw"), "stalled", "{}", hop(&doc, "firehose.raw"));
    assert_eq!(verdict(&doc, "function.filter"), "failing", "{}", hop(&doc, "function.filter"));
    assert_eq!(verdict(&doc, "firehose.to-lake"), "lagging", "{}", hop(&doc, "firehose.to-lake"));
    assert_eq!(verdict(&doc, "agent.producer"), "idle", "{}", hop(&doc, "agent.producer"));
    // What the bucket received is what its Firehoses delivered.
    assert_eq!(verdict(&doc, "bucket.lake"), "flowing", "{}", hop(&doc, "bucket.lake"));

    // Each reason gives the figures it rests on.
    let reason = |id: &str| hop(&doc, id)["reason"].as_str().unwrap().to_string();
    assert!(reason("firehose.raw").contains("250 records in from "), "{}", reason("firehose.raw"));
    assert!(reason("firehose.raw").contains("none out (DeliveryToS3.Records)"), "{}", reason("firehose.raw"));
    assert!(reason("function.filter").starts_with("3 Errors, the last at "), "{}", reason("function.filter"));
    assert!(
        reason("firehose.to-lake").contains("DeliveryToS3.DataFreshness 2.0k s over 900 s"),
        "{}",
        reason("firehose.to-lake")
    );
    assert!(reason("stream.trips").contains("600 records in, 600 out"), "{}", reason("stream.trips"));

    // Every figure is in the JSON: the seeded points, the totals, the
    // per-minute rates, the console link.
    let incoming = series(&doc, "stream.trips", "IncomingRecords");
    assert_eq!(incoming["total"], 600.0);
    assert_eq!(incoming["values"].as_array().unwrap().iter().filter(|v| !v.is_null()).count(), 1);
    assert_eq!(incoming["stat"], "Sum");
    assert_eq!(incoming["dimension"], "StreamName");
    assert_eq!(series(&doc, "stream.trips", "IncomingBytes")["total"], 120_000.0);
    assert_eq!(series(&doc, "firehose.to-lake", "DeliveryToS3.DataFreshness")["latest"], 2000.0);
    let trips = hop(&doc, "stream.trips");
    // 600 records over the minutes of the hour that have passed.
    let per_minute = trips["records_in_per_minute"].as_f64().unwrap();
    assert!((10.0..10.2).contains(&per_minute), "{per_minute}");
    let bytes = trips["bytes_in_per_minute"].as_f64().unwrap();
    assert!((bytes / per_minute - 200.0).abs() < 1e-6, "{bytes}");
    assert!(trips["console"].as_str().unwrap().contains("taxi-lab-trips"));
    assert_eq!(doc["period_seconds"], 60);
    assert_eq!(doc["end_epoch"].as_i64().unwrap() - doc["start_epoch"].as_i64().unwrap(), 3600);

    // The text view draws the paths and says the same.
    let text = moto.pipectl(&["status", LAB]).run().expect_code(0).stdout;
    assert!(
        text.contains("host producer (Kinesis Agent) [idle] ─▶ stream trips [flowing] ─▶ firehose raw [stalled]"),
        "{text}"
    );
    assert!(text.contains("3 Errors, the last at"), "{text}");
    assert!(text.contains("read with 1 GetMetricData call"), "{text}");

    // CI's gate: exit 4, naming each hop and why.
    let gate = moto.pipectl(&["status", LAB, "--fail-on", "stalled,failing"]).run().expect_code(4);
    assert!(gate.stderr.contains("firehose.raw is stalled"), "{}", gate.stderr);
    assert!(gate.stderr.contains("function.filter is failing: 3 Errors"), "{}", gate.stderr);
    assert!(!gate.stderr.contains("to-lake"), "lagging was not asked for: {}", gate.stderr);
    moto.pipectl(&["status", LAB, "--fail-on", "idle"]).run().expect_code(4);

    // An iterator age over the lab's alarm makes the stream lagging.
    seed(&moto, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream, 1, 120_000.0);
    let doc = moto.pipectl(&["status", LAB, "--json"]).run().expect_code(0).json();
    assert_eq!(verdict(&doc, "stream.trips"), "lagging", "{}", hop(&doc, "stream.trips"));
    moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(0);
}

#[test]
fn status_reads_five_hundred_metrics_a_call_and_says_how_many_calls() {
    let Some(moto) = Moto::start() else { return };
    // 101 streams nothing reads: 5 metrics each, 505 in all: two calls.
    let mut text = String::from("pipeline: many\nstreams:\n");
    for i in 0..101 {
        text.push_str(&format!("  s{i}: {{}}\n"));
    }
    let spec = temp_spec("status", "many", &text);
    let spec = spec.to_str().unwrap();
    let proxy = crate::faults::Proxy::start(&moto.url, Default::default());
    let doc = crate::util::pipectl(&["status", spec, "--json"]).aws_env(&proxy.url).run().expect_code(0).json();
    assert_eq!(doc["calls"]["metric_queries"], 505, "{}", doc["calls"]);
    assert_eq!(doc["calls"]["get_metric_data"], 2, "{}", doc["calls"]);
    assert_eq!(proxy.stats.calls("GetMetricData"), 2, "the report counts the calls made");
    assert_eq!(doc["hops"].as_array().unwrap().len(), 101);
    assert_eq!(doc["deployed"], false, "never applied");
    let text = crate::util::pipectl(&["status", spec]).aws_env(&moto.url).run().expect_code(0).stdout;
    assert!(text.contains("note: pipectl has no record of deploying `many`"), "{text}");
    // The last stream's metrics came back from the second call.
    seed(&moto, "AWS/Kinesis", "IncomingRecords", ("StreamName", "many-s99"), 2, 5.0);
    let doc = moto.pipectl(&["status", spec, "--json"]).run().expect_code(0).json();
    let s99 = doc["hops"].as_array().unwrap().iter().find(|h| h["id"] == "stream.s99").unwrap();
    assert_eq!(s99["verdict"], "flowing", "{s99}");
}

#[test]
fn status_rides_out_throttling_and_server_errors() {
    let Some(moto) = Moto::start() else { return };
    let spec = temp_spec("status", "faults", "pipeline: faulty\nstreams:\n  s: {}\n");
    let spec = spec.to_str().unwrap();
    seed(&moto, "AWS/Kinesis", "IncomingRecords", ("StreamName", "faulty-s"), 2, 5.0);
    let faults = crate::faults::Faults { throttle_every: 2, server_error_every: 3, ..Default::default() };
    let proxy = crate::faults::Proxy::start(&moto.url, faults);
    let doc = crate::util::pipectl(&["status", spec, "--json"]).aws_env(&proxy.url).run().expect_code(0).json();
    assert_eq!(doc["hops"][0]["verdict"], "flowing", "{doc}");
    assert!(proxy.stats.throttled.load(std::sync::atomic::Ordering::SeqCst) > 0);
}

#[test]
fn status_refuses_a_window_outside_what_cloudwatch_keeps_before_any_call() {
    for since in ["1m", "16d", "soon"] {
        let run = crate::util::pipectl(&["status", LAB, "--since", since]).run().expect_code(2);
        assert!(run.stderr.contains("--since"), "{}", run.stderr);
    }
    let run = crate::util::pipectl(&["status", LAB, "--fail-on", "broken"]).run().expect_code(2);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
    // Nothing for data to go through: refused offline (no endpoint is set,
    // so a call would fail differently).
    let spec = temp_spec("status", "buckets-only", "pipeline: still\nbuckets: { b: {} }\n");
    let run = crate::util::pipectl(&["status", spec.to_str().unwrap()]).run().expect_code(2);
    assert!(run.stderr.contains("nothing for data to flow through"), "{}", run.stderr);
}

#[test]
fn a_firehose_that_reads_nothing_its_stream_got_is_stalled_where_it_stops() {
    let Some(moto) = Moto::start() else { return };
    let text = "pipeline: reads\nbuckets: { lake: {} }\nstreams: { s: {} }\nfirehoses:\n  \
                copy: { source: { stream: s }, destination: { bucket: lake, buffer: { interval_seconds: 60 } } }\n";
    let spec = temp_spec("status", "consumer", text);
    let spec = spec.to_str().unwrap();
    seed(&moto, "AWS/Kinesis", "IncomingRecords", ("StreamName", "reads-s"), 10, 50.0);
    let run = moto.pipectl(&["status", spec, "--json", "--fail-on", "stalled"]).run().expect_code(4);
    let doc = run.json();
    assert_eq!(verdict(&doc, "firehose.copy"), "stalled", "{doc}");
    let reason = hop(&doc, "firehose.copy")["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("stream s took 50 records from "), "{reason}");
    assert!(reason.contains("none reached it (DataReadFromKinesisStream.Records)"), "{reason}");
    // The stream too: nothing read what it got.
    assert_eq!(verdict(&doc, "stream.s"), "stalled", "nothing read them: {}", hop(&doc, "stream.s"));
    assert!(run.stderr.contains("no record of deploying `reads`"), "not deployed: {}", run.stderr);
}
