//! SIGTERM during each kind of wait: the run exits 130 within seconds,
//! with its record written and its lock released.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy};
use crate::util::{finish, pipectl, Run};
use std::process::Child;
use std::time::{Duration, Instant};

/// How soon after SIGTERM a run must have exited: CI kills a few seconds
/// after it signals.
const PROMPTLY: Duration = Duration::from_secs(8);

pub fn spec(test: &str, text: &str) -> String {
    crate::util::temp_spec("signals", test, text).display().to_string()
}

/// Waits until `ready` holds (at most a minute), failing if the run ended first.
pub fn when(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            let run = finish_status(child, status);
            panic!("pipectl ended before {what}:\n{}", run.stderr);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "never saw {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish_status(child: &mut Child, _status: std::process::ExitStatus) -> Run {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    Run { code: -1, stdout: String::new(), stderr }
}

/// Sends SIGTERM; returns how the run ended and how long that took.
pub fn terminate(child: Child) -> (Run, Duration) {
    let sent = Instant::now();
    let ok = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let run = finish(child);
    eprintln!("exited {:?} after SIGTERM", sent.elapsed());
    (run, sent.elapsed())
}

/// Exit 130 within [`PROMPTLY`], the record of `pipeline` written, its lock gone.
fn stopped_cleanly(moto: &Moto, pipeline: &str, run: &Run, took: Duration) {
    assert_eq!(run.code, 130, "exit code\n{}", run.stderr);
    assert!(took < PROMPTLY, "exited {took:?} after SIGTERM:\n{}", run.stderr);
    let sdk = moto.sdk();
    let lock = sdk.run(sdk.ssm.get_parameter().name(format!("/pipectl-lock/{pipeline}/default")).send());
    assert!(lock.is_err(), "the lock was left: {lock:?}");
    let record = sdk.record(&format!("/pipectl/{pipeline}/default"));
    assert!(record.to_string().contains("stream"), "{record}");
}

fn apply_via(proxy: &Proxy, spec: &str) -> Child {
    pipectl(&["apply", spec, "--yes"]).aws_env(&proxy.url).spawn()
}

const HOST: &str = "
pipeline: sigh
streams: { trips: {} }
agents:
  producer:
    instance_type: t3.small
    flows:
      - file_pattern: \"/tmp/*.csv*\"
        stream: trips
";

#[test]
fn cancellation_ends_the_instance_profile_visibility_wait() {
    let Some(moto) = Moto::start() else { return };
    // The instance profile never becomes visible to EC2.
    let faults = Faults {
        reject_first: Some(("RunInstances", usize::MAX, "InvalidParameterValue", "Invalid IAM Instance Profile name")),
        ..Faults::default()
    };
    let proxy = Proxy::start(&moto.url, faults);
    let s = spec("profile", HOST);
    let mut child = apply_via(&proxy, &s);
    when(&mut child, "the host's launch refused twice", || proxy.stats.calls("RunInstances") >= 2);
    let (run, took) = terminate(child);
    stopped_cleanly(&moto, "sigh", &run, took);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
}

#[test]
fn cancellation_ends_a_readiness_wait() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { creating_reads: usize::MAX, ..Faults::default() });
    let s = spec("ready", "pipeline: sigr\nstreams: { s: {} }\n");
    let mut child = apply_via(&proxy, &s);
    when(&mut child, "the stream's wait", || {
        proxy.stats.calls("CreateStream") >= 1 && proxy.stats.calls("DescribeStreamSummary") >= 3
    });
    let (run, took) = terminate(child);
    stopped_cleanly(&moto, "sigr", &run, took);
}

#[test]
fn cancellation_ends_a_throttled_retry_backoff() {
    let Some(moto) = Moto::start() else { return };
    // Every CreateStream is throttled: the SDK backs off, then the
    // executor resumes the change, backing off again.
    let faults = Faults {
        reject_first: Some(("CreateStream", usize::MAX, "ThrottlingException", "Rate exceeded")),
        ..Faults::default()
    };
    let proxy = Proxy::start(&moto.url, faults);
    let s = spec("backoff", "pipeline: sigb\nstreams: { s: {} }\n");
    let mut child = apply_via(&proxy, &s);
    when(&mut child, "throttled creates", || proxy.stats.calls("CreateStream") >= 2);
    let (run, took) = terminate(child);
    stopped_cleanly(&moto, "sigb", &run, took);
}

/// A lock held by a live run elsewhere, as its value says.
pub fn forge_lock(moto: &Moto, pipeline: &str, host: &str, renewed_ago: u64) {
    let now = pipectl::lock::now_secs();
    let value = serde_json::json!({
        "run": format!("{host}:4242:1"), "user": "ana", "host": host, "pid": 4242, "command": "apply",
        "since": now - renewed_ago, "renewed": now - renewed_ago, "lease": 120
    });
    let sdk = moto.sdk();
    sdk.run(
        sdk.ssm
            .put_parameter()
            .name(format!("/pipectl-lock/{pipeline}/default"))
            .value(value.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send(),
    )
    .unwrap();
}

#[test]
fn cancellation_ends_a_lock_wait() {
    let Some(moto) = Moto::start() else { return };
    forge_lock(&moto, "sigl", "another-runner", 0);
    let proxy = Proxy::start(&moto.url, Faults::default());
    let s = spec("lockwait", "pipeline: sigl\nstreams: { s: {} }\n");
    let mut child = pipectl(&["apply", &s, "--yes", "--lock-timeout", "5m"]).aws_env(&proxy.url).spawn();
    when(&mut child, "two looks at the lock", || proxy.stats.calls("PutParameter") >= 2);
    let (run, took) = terminate(child);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < PROMPTLY, "exited {took:?} after SIGTERM:\n{}", run.stderr);
    assert!(run.stderr.contains("waiting for the lock"), "{}", run.stderr);
    // The other run's lock is left as it was.
    let sdk = moto.sdk();
    let lock = sdk.run(sdk.ssm.get_parameter().name("/pipectl-lock/sigl/default").send()).unwrap();
    assert!(lock.parameter().and_then(|p| p.value()).unwrap().contains("another-runner"));
}

#[test]
fn sigterm_while_aws_hangs_no_more_the_lock_release_waits_for_a_hung_call() {
    let Some(moto) = Moto::start() else { return };
    // The stream stays CREATING, and the lock's release (its first
    // DeleteParameter) reaches SSM but its answer hangs for 30 s.
    let faults = Faults {
        creating_reads: usize::MAX,
        hang_first: Some("DeleteParameter"),
        hang_for: Duration::from_secs(30),
        ..Faults::default()
    };
    let proxy = Proxy::start(&moto.url, faults);
    let s = spec("hung", "pipeline: sigw\nstreams: { s: {} }\n");
    let mut child = apply_via(&proxy, &s);
    when(&mut child, "the stream's wait", || proxy.stats.calls("DescribeStreamSummary") >= 3);
    let (run, took) = terminate(child);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < Duration::from_secs(10), "exited {took:?} after SIGTERM:\n{}", run.stderr);
    assert_eq!(proxy.stats.calls("DeleteParameter"), 1, "{}", run.stderr);
    assert!(run.stderr.contains("left to expire after its lease"), "{}", run.stderr);
    let record = moto.sdk().record("/pipectl/sigw/default");
    assert!(record.to_string().contains("stream"), "the record was written: {record}");
}

#[test]
fn cancellation_ends_calls_waiting_for_their_rate() {
    let Some(moto) = Moto::start() else { return };
    // 40 streams: CreateStream goes at 5 a second, so most wait in its
    // line when the stop comes; none may be sent after it, and the run
    // must not wait for their turns.
    let proxy = Proxy::start(&moto.url, Faults::default());
    let mut text = String::from("pipeline: sigp\nstreams:\n");
    for i in 0..40 {
        text.push_str(&format!("  s{i:02}: {{ mode: provisioned, shards: 1 }}\n"));
    }
    let s = spec("paced", &text);
    let mut child = apply_via(&proxy, &s);
    when(&mut child, "creates waiting for their rate", || proxy.stats.calls("CreateStream") >= 6);
    let (run, took) = terminate(child);
    stopped_cleanly(&moto, "sigp", &run, took);
    assert!(took < Duration::from_secs(5), "exited {took:?} after SIGTERM");
    assert!(
        proxy.stats.calls("CreateStream") < 20,
        "creates sent after the stop: {}",
        proxy.stats.calls("CreateStream")
    );
}
