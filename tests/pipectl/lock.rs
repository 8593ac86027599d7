//! The deployment lock is held or lost, never both: renewal survives
//! throttling, a lock taken by another run stops this one, and of two runs
//! taking over one stale lock exactly one wins.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy};
use crate::signals::{forge_lock, spec, when};
use crate::util::{finish, pipectl};
use std::time::Duration;

fn lock_value(moto: &Moto, pipeline: &str) -> Option<String> {
    let deployment = if pipeline.contains('/') { pipeline.to_string() } else { format!("{pipeline}/default") };
    let sdk = moto.sdk();
    let out = sdk.run(sdk.ssm.get_parameter().name(format!("/pipectl-lock/{deployment}")).send()).ok()?;
    out.parameter().and_then(|p| p.value()).map(str::to_string)
}

#[test]
fn lock_lost_silently_no_more_a_throttled_renewal_keeps_the_lock() {
    let Some(moto) = Moto::start() else { return };
    // A stream that stays CREATING keeps the run going; every fourth call,
    // renewals included, is throttled.
    let faults = Faults { creating_reads: usize::MAX, throttle_every: 4, ..Faults::default() };
    let proxy = Proxy::start(&moto.url, faults);
    let s = spec("renew", "pipeline: lkr\nstreams: { s: {} }\n");
    let mut child = pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).env("PIPECTL_LOCK_LEASE", "8").spawn();
    // The lock's create, the record, then a renewal every 2 s: two leases'
    // worth of renewals through the throttling.
    when(&mut child, "renewals for two leases", || proxy.stats.calls("PutParameter") >= 10);
    let (run, _) = crate::signals::terminate(child);
    assert_eq!(run.code, 130, "stopped by the signal, not by a lost lock:\n{}", run.stderr);
    assert!(!run.stderr.contains("lost"), "{}", run.stderr);
    assert!(proxy.stats.throttled.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!(lock_value(&moto, "lkr"), None, "released at the end");
}

#[test]
fn lock_lost_silently_no_more_a_lock_taken_mid_run_stops_the_run() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { creating_reads: usize::MAX, ..Faults::default() });
    // One change at a time: `b` waits while `a` waits to be ACTIVE.
    let s = spec("taken", "pipeline: lkt\ntimeouts: { stream: 60 }\nstreams: { a: {}, b: {} }\n");
    let mut child = pipectl(&["apply", &s, "--yes", "--parallelism", "1"])
        .aws_env(&proxy.url)
        .env("PIPECTL_LOCK_LEASE", "4")
        .spawn();
    when(&mut child, "the first stream's wait", || proxy.stats.calls("DescribeStreamSummary") >= 4);
    forge_lock(&moto, "lkt", "thief-runner", 0);
    let start = std::time::Instant::now();
    let run = finish(child);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    assert!(run.stderr.contains("lost the lock"), "{}", run.stderr);
    assert!(run.stderr.contains("thief-runner"), "{}", run.stderr);
    assert!(run.stderr.contains("changed AWS"), "{}", run.stderr);
    assert_eq!(proxy.stats.calls("CreateStream"), 1, "no change started after the loss:\n{}", run.stderr);
    // The other run's lock is left alone; the record was written.
    assert!(lock_value(&moto, "lkt").unwrap().contains("thief-runner"));
    let sdk = moto.sdk();
    assert!(sdk.record("/pipectl/lkt/default").to_string().contains("stream"));
}

#[test]
fn lock_lost_silently_no_more_two_takeovers_of_one_stale_lock_one_wins() {
    let Some(moto) = Moto::start() else { return };
    // A run with nothing to destroy takes the lock, says so and lets go;
    // the slow answers keep the two runs' takeovers overlapping.
    let proxy = Proxy::start(&moto.url, Faults { delay: Duration::from_millis(30), ..Faults::default() });
    let s = spec("takeover", "pipeline: lks\nstreams: { s: {} }\n");
    for round in 0..20 {
        forge_lock(&moto, "lks", "dead-runner", 1000);
        let start = || pipectl(&["destroy", &s, "--yes"]).aws_env(&proxy.url).spawn();
        let (a, b) = (start(), start());
        let runs = [finish(a), finish(b)];
        let took_over = runs.iter().filter(|r| r.stderr.contains("took over the lock")).count();
        let all: Vec<&str> = runs.iter().map(|r| r.stderr.as_str()).collect();
        assert_eq!(took_over, 1, "round {round}: {all:#?}");
        for r in &runs {
            // The other proceeds only after the winner let go, or finds it held.
            assert!(r.code == 0 || r.stderr.contains("is locked by"), "round {round}: {all:#?}");
        }
        assert_eq!(lock_value(&moto, "lks"), None, "round {round}");
    }
    let sdk = moto.sdk();
    let markers = sdk
        .run(sdk.ssm.get_parameters_by_path().path("/pipectl-lock/lks/default/takeover").recursive(true).send())
        .unwrap();
    assert!(markers.parameters().is_empty(), "markers left: {:?}", markers.parameters());
}

/// Writes `value` into the lock of `pipeline`/`env`, as anyone with SSM
/// access could.
fn forge_value(moto: &Moto, pipeline: &str, env: &str, value: &serde_json::Value) {
    let sdk = moto.sdk();
    let put = sdk
        .ssm
        .put_parameter()
        .name(format!("/pipectl-lock/{pipeline}/{env}"))
        .value(value.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true);
    sdk.run(put.send()).unwrap();
}

/// A lock of another host whose run, times and lease are as given.
fn odd_lock(run: &str, since: u64, renewed: u64, lease: u64) -> serde_json::Value {
    serde_json::json!({
        "run": run, "user": "x", "host": "other", "pid": 1, "command": "apply",
        "since": since, "renewed": renewed, "lease": lease
    })
}

fn no_panic(run: &crate::util::Run, what: &str) {
    assert_ne!(run.code, 101, "{what} panicked:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{what}:\n{}", run.stderr);
}

#[test]
fn odd_time_fields_no_more_panic_in_apply_list_gc_unlock() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("odd", "pipeline: odd\nstreams: { s: {} }\n");
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1"]).run().expect_code(0);
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-2"]).run().expect_code(0);
    let sdk = moto.sdk();
    let head = |name: &str| {
        let out = sdk.run(sdk.ssm.get_parameter().name(name).send()).unwrap();
        serde_json::from_str::<serde_json::Value>(out.parameter().unwrap().value().unwrap()).unwrap()
    };
    let put = |name: &str, value: String| {
        sdk.run(sdk.ssm.put_parameter().name(name).value(value).overwrite(true).send()).unwrap();
    };
    // pr-1's head stamped in milliseconds, as if by seconds; pr-2's listing
    // (the plain form) created at the largest u64.
    let mut h = head("/pipectl/odd/pr-1");
    h["applied"] = serde_json::json!(1_796_631_000_000.0);
    put("/pipectl/odd/pr-1", h.to_string());
    let mut listing = sdk.record("/pipectl/odd/pr-2");
    listing["created"] = serde_json::json!(u64::MAX);
    put("/pipectl/odd/pr-2", listing.to_string());
    let now = pipectl::lock::now_secs();
    forge_value(&moto, "odd", "pr-1", &odd_lock("o:1:1", u64::MAX, now, 120));

    let list = moto.pipectl(&["list", "--json"]).run();
    no_panic(&list, "list");
    let text = list.expect_code(0).stdout;
    assert!(text.contains("(invalid time 1796631000000)"), "{text}");
    assert!(text.contains("(invalid time 18446744073709551615)"), "{text}");
    let table = moto.pipectl(&["list"]).run();
    no_panic(&table, "list");
    assert!(table.expect_code(0).stdout.contains("(invalid time"));

    let gc = moto.pipectl(&["gc", "--older-than", "0s", "--env-pattern", "pr-*"]).run();
    no_panic(&gc, "gc");
    let gc = gc.expect_code(0);
    assert!(gc.stderr.contains("skipping odd/pr-1") && gc.stderr.contains("not a date"), "{}", gc.stderr);
    assert!(!gc.stderr.contains("would destroy odd/pr-1"), "{}", gc.stderr);

    let apply = moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1"]).run();
    no_panic(&apply, "apply");
    let apply = apply.expect_code(1);
    assert!(apply.stderr.contains("is locked by") && apply.stderr.contains("(invalid time 18446744073709551615)"));

    // Year 10000, never renewed: stale by its lease, taken over.
    forge_value(&moto, "odd", "pr-1", &odd_lock("o:1:2", 253_402_300_800, 0, 120));
    let apply = moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1"]).run();
    no_panic(&apply, "apply");
    assert!(apply.expect_code(0).stderr.contains("took over the lock"));

    // Renewed at the end of time, with a short lease: not fresh forever.
    forge_value(&moto, "odd", "pr-1", &odd_lock("o:1:3", now, u64::MAX, 2));
    let started = std::time::Instant::now();
    let apply = moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1", "--lock-timeout", "30s"]).run();
    no_panic(&apply, "apply");
    let apply = apply.expect_code(0);
    assert!(apply.stderr.contains("in the future") && apply.stderr.contains("took over"), "{}", apply.stderr);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    forge_value(&moto, "odd", "pr-1", &odd_lock("o:1:4", u64::MAX, u64::MAX, u64::MAX));
    let unlock = moto.pipectl(&["unlock", "--pipeline", "odd", "--env", "pr-1"]).run();
    no_panic(&unlock, "unlock");
    assert!(unlock.expect_code(0).stderr.contains("unlocked odd/pr-1"));
    assert_eq!(lock_value(&moto, "odd/pr-1"), None);
}

#[test]
fn empty_run_lock_no_more_loops_forever_past_the_timeout() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("empty", "pipeline: lke\nstreams: { s: {} }\n");
    let now = pipectl::lock::now_secs();
    forge_value(&moto, "lke", "default", &odd_lock("", now, now, 120));
    let proxy = Proxy::start(&moto.url, Faults::default());
    let started = std::time::Instant::now();
    let run = pipectl(&["apply", &s, "--yes", "--lock-timeout", "3s"]).aws_env(&proxy.url).run();
    let took = started.elapsed();
    assert_eq!(run.code, 1, "as for any held lock:\n{}", run.stderr);
    assert!(run.stderr.contains("is locked by"), "{}", run.stderr);
    assert!(took < Duration::from_secs(6), "{took:?}");
    // It paused between looks: a look every 2 s, not a spin.
    assert!(proxy.stats.calls("PutParameter") <= 4, "{} looks", proxy.stats.calls("PutParameter"));
    assert!(lock_value(&moto, "lke").unwrap().contains("\"run\":\"\""), "the holder's lock is left alone");
    // Unrenewed for its lease, it is stale like any other and taken over.
    forge_value(&moto, "lke", "default", &odd_lock("", now - 1000, now - 1000, 120));
    let run = moto.pipectl(&["apply", &s, "--yes", "--lock-timeout", "3s"]).run().expect_code(0);
    assert!(run.stderr.contains("took over the lock"), "{}", run.stderr);
    assert_eq!(lock_value(&moto, "lke"), None, "released at the end");
}

#[test]
fn unlock_unchecked_names_no_more_bad_pipeline_is_bad_input() {
    for pipeline in ["small/../x", "Small", "", "-x"] {
        let run = pipectl(&["unlock", &format!("--pipeline={pipeline}")]).run().expect_code(2);
        assert!(run.stderr.contains("--pipeline"), "{pipeline}: {}", run.stderr);
    }
    let run = pipectl(&["unlock", "--pipeline", "small", "--env", "e/../x"]).run().expect_code(2);
    assert!(run.stderr.contains("env"), "{}", run.stderr);
}
