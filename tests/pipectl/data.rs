//! Data through the pipeline: `produce` into a stream (read back with
//! GetRecords); `verify` is in `canaries`.

use crate::emulator::{Moto, Sdk};
use crate::faults::{Faults, Proxy};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// Many shards: the emulator finds a shard's last sequence number by
/// listing all its records, so 100,000 records in one shard take minutes.
const STREAM: &str = "
pipeline: data
streams:
  events: { name: data-events, shards: 50 }
";

/// Every record of every shard of `stream`, from the start, as JSON.
fn read_back(sdk: &Sdk, stream: &str) -> Vec<serde_json::Value> {
    sdk.records(stream).iter().map(|r| serde_json::from_slice(r).unwrap()).collect()
}

#[test]
fn producing_a_100k_row_csv_delivers_every_row_in_full_batches() {
    let Some(moto) = Moto::start() else { return };
    let spec = crate::util::temp_spec("data", "csv", STREAM);
    let s = spec.display().to_string();
    moto.apply(&s);
    let csv = spec.with_file_name("rows.csv");
    let mut text = String::from("id,city,amount\n");
    for i in 0..100_000 {
        text.push_str(&format!("{i},\"Town, {}\",{}.{:02}\n", i % 7, i % 500, i % 100));
    }
    std::fs::write(&csv, text).unwrap();

    let proxy = Proxy::start(&moto.url, Faults::default());
    let run =
        crate::util::pipectl(&["produce", &s, "--stream", "events", "--file", &csv.display().to_string(), "--json"])
            .aws_env(&proxy.url)
            .run()
            .expect_code(0);
    let summary = run.json();
    assert_eq!(summary["delivered"], 100_000, "{summary}");
    assert_eq!(summary["failed"], 0);
    let calls = proxy.stats.calls("PutRecords");
    assert_eq!(summary["put_records_calls"], calls);
    assert!(calls <= 100_000 / 450, "{calls} PutRecords calls for 100,000 records");

    let records = read_back(&moto.sdk(), "data-events");
    assert_eq!(records.len(), 100_000);
    let mut ids: Vec<u64> = records.iter().map(|r| r["id"].as_str().unwrap().parse().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100_000, "each row once");
    let row = records.iter().find(|r| r["id"] == "12").unwrap();
    assert_eq!(row, &serde_json::json!({"id": "12", "city": "Town, 5", "amount": "12.12"}));
}

#[test]
fn failed_entries_and_throttled_calls_are_retried_until_all_arrive_once() {
    let Some(moto) = Moto::start() else { return };
    let spec = crate::util::temp_spec("data", "faults", STREAM);
    let s = spec.display().to_string();
    moto.apply(&s);
    let proxy = Proxy::start(&moto.url, Faults { fail_entries_every: 13, throttle_every: 7, ..Faults::default() });
    let run = crate::util::pipectl(&[
        "produce",
        &s,
        "--stream",
        "events",
        "--generate",
        "sensor",
        "--limit",
        "3000",
        "--partition-key",
        "sensor_id",
        "--seed",
        "9",
        "--json",
    ])
    .aws_env(&proxy.url)
    .run()
    .expect_code(0);
    let summary = run.json();
    let failed = proxy.stats.failed_entries.load(Ordering::SeqCst);
    assert!(failed >= 200, "{failed}");
    assert_eq!(summary["delivered"], 3000, "{summary}");
    assert_eq!(summary["retried"], failed as u64, "only the failed entries are sent again");
    let records = read_back(&moto.sdk(), "data-events");
    assert_eq!(records.len(), 3000, "nothing twice, nothing lost");
    // The same seed sends the same readings.
    let mut by_sensor: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *by_sensor.entry(r["sensor_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(by_sensor.len(), 10);
}

#[test]
fn produce_checks_its_input_before_any_aws_call() {
    let spec = crate::util::temp_spec("data", "input", STREAM);
    let s = spec.display().to_string();
    let bad = [
        (vec!["--stream", "nope", "--generate", "taxi"], "names no stream"),
        (vec!["--stream", "events", "--file", "/nonexistent/rows.csv"], "cannot read"),
        (vec!["--stream", "events", "--generate", "taxi", "--rate", "0"], "not a rate"),
        (vec!["--stream", "events"], "--file"),
    ];
    for (args, says) in bad {
        let mut all = vec!["produce", s.as_str()];
        all.extend(args);
        // The endpoint is a closed port: any AWS call would fail with 1.
        let run = crate::util::pipectl(&all).run().expect_code(2);
        assert!(run.stderr.contains(says), "{all:?}: {}", run.stderr);
    }
}

#[test]
fn producing_to_a_stream_that_is_not_deployed_says_so() {
    let Some(moto) = Moto::start() else { return };
    let spec = crate::util::temp_spec("data", "absent", STREAM);
    let run = moto
        .pipectl(&["produce", &spec.display().to_string(), "--stream", "events", "--generate", "taxi", "--limit", "10"])
        .run()
        .expect_code(1);
    assert!(run.stderr.contains("is not deployed here: run `pipectl apply` first"), "{}", run.stderr);
    assert!(run.stdout.contains("0 delivered, 10 failed"), "{}", run.stdout);
}
