//! The engine through the fault-injecting proxy: throttling, 5xx, lost
//! responses, slow provisioning, and a fatal error half-way through.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy};
use std::sync::atomic::Ordering;
use std::time::Duration;

const SPEC: &str = "
pipeline: rs
buckets:
  lake: { name: rs-lake-bucket, on_destroy: delete }
streams:
  trips: { shards: 1, retention_hours: 48 }
catalog:
  databases:
    db: {}
  tables:
    t: { database: db, location: { bucket: lake }, columns: { a: string } }
";

fn spec(test: &str) -> String {
    crate::util::temp_spec("rs", test, SPEC).display().to_string()
}

fn via(proxy: &Proxy, args: &[&str]) -> crate::util::Run {
    crate::util::pipectl(args).aws_env(&proxy.url).run()
}

fn survive_throttling(faults: Faults, retry_mode: Option<&str>, min_throttled: usize) {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, faults);
    let s = spec(&format!("throttle-{}", retry_mode.unwrap_or("default")));
    let run = |args: &[&str]| {
        let mut p = crate::util::pipectl(args).aws_env(&proxy.url);
        if let Some(m) = retry_mode {
            p = p.env("AWS_RETRY_MODE", m);
        }
        p.run()
    };
    run(&["apply", &s, "--yes", "--parallelism", "1"]).expect_code(0);
    run(&["plan", &s, "--detailed-exitcode"]).expect_code(0);
    run(&["destroy", &s, "--yes", "--parallelism", "1"]).expect_code(0);
    assert!(proxy.stats.throttled.load(Ordering::SeqCst) >= min_throttled, "{:?}", proxy.stats);
    let sdk = moto.sdk();
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
}

/// The default retry mode (standard), with heavy throttling (every 3rd
/// call) and 5xx.
#[test]
fn heavy_throttling_and_server_errors_are_retried() {
    survive_throttling(Faults { throttle_every: 3, server_error_every: 7, ..Faults::default() }, None, 5);
}

/// AWS_RETRY_MODE=adaptive, with occasional throttling and 5xx.
#[test]
fn adaptive_mode_survives_occasional_throttling() {
    survive_throttling(Faults { throttle_every: 15, server_error_every: 11, ..Faults::default() }, Some("adaptive"), 1);
}

/// Every 2nd (then 3rd) mutating call reaches the emulator but its answer
/// is dropped: the SDK retries, and each create recognizes its own earlier
/// success instead of failing or making a second resource.
#[test]
fn lost_responses_never_make_duplicates() {
    for every in [2, 3] {
        let Some(moto) = Moto::start() else { return };
        let proxy = Proxy::start(&moto.url, Faults { lose_response_every: every, ..Faults::default() });
        let s = spec(&format!("lost-{every}"));
        via(&proxy, &["apply", &s, "--yes", "--parallelism", "1"]).expect_code(0);
        assert!(proxy.stats.lost.load(Ordering::SeqCst) >= 2, "{:?}", proxy.stats);
        moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
        let sdk = moto.sdk();
        assert_eq!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names(), ["rs-trips"]);
        assert_eq!(sdk.run(sdk.glue.get_databases().send()).unwrap().database_list().len(), 1);
        assert_eq!(sdk.run(sdk.s3.list_buckets().send()).unwrap().buckets().len(), 1);
        via(&proxy, &["destroy", &s, "--yes", "--parallelism", "1"]).expect_code(0);
        assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
        assert!(sdk.run(sdk.s3.list_buckets().send()).unwrap().buckets().is_empty());
        assert!(sdk.run(sdk.ssm.get_parameter().name("/pipectl/rs/default").send()).is_err());
    }
}

#[test]
fn apply_waits_while_a_stream_is_creating() {
    let Some(moto) = Moto::start() else { return };
    let proxy =
        Proxy::start(&moto.url, Faults { creating_reads: 4, delay: Duration::from_millis(20), ..Faults::default() });
    let s = spec("slow");
    let run = via(&proxy, &["apply", &s, "--yes"]).expect_code(0);
    assert!(run.stderr.contains("waiting for ACTIVE (CREATING)"), "{}", run.stderr);
    assert!(proxy.stats.creating.load(Ordering::SeqCst) >= 4);
}

#[test]
fn a_failure_half_way_leaves_a_state_the_next_run_finishes() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { deny: Some("CreateDatabase"), ..Faults::default() });
    let s = spec("halfway");
    let run = via(&proxy, &["apply", &s, "--yes"]).expect_code(1);
    assert!(run.stderr.contains("glue_database.db: FAILED"), "{}", run.stderr);
    assert!(run.stderr.contains("glue_table.t: skipped (upstream failed)"), "{}", run.stderr);
    assert!(run.stderr.contains("AccessDeniedException"), "{}", run.stderr);
    // The record was written first: destroy without the spec finds what exists.
    let sdk = moto.sdk();
    assert!(sdk.record("/pipectl/rs/default")["resources"]["glue_table.t"].is_string());
    // The next apply finishes the job; destroy from the record cleans up.
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", "--pipeline", "rs", "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
    assert!(sdk.run(sdk.s3.list_buckets().send()).unwrap().buckets().is_empty());
}

#[test]
fn a_spec_timeout_bounds_the_wait() {
    let Some(moto) = Moto::start() else { return };
    // The stream never leaves CREATING; the spec allows it 30 seconds.
    let proxy = Proxy::start(&moto.url, Faults { creating_reads: usize::MAX, ..Faults::default() });
    let dir = crate::util::scratch().join(format!("pipectl-rs-timeout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spec.yaml");
    std::fs::write(&path, "pipeline: to\ntimeouts: { stream: 30 }\nstreams: { s: {} }\n").unwrap();
    let start = std::time::Instant::now();
    let run = via(&proxy, &["apply", &path.display().to_string(), "--yes"]).expect_code(1);
    assert!(run.stderr.contains("not ready after 30s"), "{}", run.stderr);
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
}
