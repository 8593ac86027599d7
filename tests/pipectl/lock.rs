//! The deployment lock is held or lost, never both: renewal survives
//! throttling, a lock taken by another run stops this one, and of two runs
//! taking over one stale lock exactly one wins.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy};
use crate::signals::{forge_lock, spec, when};
use crate::util::{finish, pipectl};
use std::time::Duration;

fn lock_value(moto: &Moto, pipeline: &str) -> Option<String> {
    let sdk = moto.sdk();
    let out = sdk.run(sdk.ssm.get_parameter().name(format!("/pipectl-lock/{pipeline}/default")).send()).ok()?;
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
