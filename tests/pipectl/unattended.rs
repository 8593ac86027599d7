//! Safe to run unattended: full pipelines through the fault proxy (lost,
//! hung and late answers, random faults), SIGKILL and SIGINT at any point,
//! two runs of one deployment at once, and resources of the wanted names
//! that someone else owns.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy, Random};
use crate::util::{finish, pipectl, temp_spec};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const LAB: &str = "pipelines/lab.yaml";

/// `pipelines/stream-data-processor.yaml` with a NAT gateway, in a folder
/// of its own (its code paths point back at the repository).
fn processor_with_nat(test: &str) -> String {
    let root = crate::util::root();
    let text = std::fs::read_to_string(root.join("pipelines/stream-data-processor.yaml"))
        .unwrap()
        .replace("    nacl: true", "    nacl: true\n    nat_gateway: true")
        .replace("../templates/", &format!("{}/templates/", root.display()));
    assert!(text.contains("nat_gateway: true"));
    temp_spec("unattended", test, &text).display().to_string()
}

#[track_caller]
fn assert_nothing_left(moto: &Moto, when: &str) {
    let left = moto.sdk().leftovers();
    assert!(left.is_empty(), "{when}: left behind: {left:#?}");
}

/// apply -> plan (empty) -> destroy of `spec` through `proxy`, then checks
/// nothing is left and nothing was made twice.
fn cycle(moto: &Moto, proxy: &Proxy, spec: &str, extra: &[&str]) {
    let via = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(extra);
        pipectl(&all).aws_env(&proxy.url).run()
    };
    via(&["apply", spec, "--yes"]).expect_code(0);
    let plan = moto.pipectl(&["plan", spec, "--detailed-exitcode"]).run();
    assert_eq!(plan.code, 0, "re-plan not empty:\n{}\n{}", plan.stdout, plan.stderr);
    // Both pipelines have one host, at most one network, one stream and
    // at most two triggers: more is a duplicate a lost answer made.
    let left = moto.sdk().leftovers();
    for (kind, most) in [("vpc ", 1), ("instance i-", 1), ("nat gateway ", 1), ("stream ", 1), ("mapping ", 2)] {
        let n = left.iter().filter(|l| l.starts_with(kind)).count();
        assert!(n <= most, "more {kind}than the spec has: {left:#?}");
    }
    via(&["destroy", spec, "--yes"]).expect_code(0);
    assert_nothing_left(moto, &format!("after destroying {spec}"));
}

/// Every 2nd mutating call of a full pipeline (roles with policies,
/// instance profiles, a host, functions, triggers, Firehoses, a bucket
/// with objects) loses its answer, on apply and on destroy: each create
/// finds what the lost attempt made, each delete and each of its sub-steps
/// takes "already gone" as done.
#[test]
fn lost_answers_on_every_kind_and_sub_step() {
    let Some(moto) = Moto::start() else { return };
    for every in [2, 3] {
        let proxy = Proxy::start(&moto.url, Faults { lose_response_every: every, ..Faults::default() });
        cycle(&moto, &proxy, LAB, &["--parallelism", "1"]);
        assert!(proxy.stats.lost.load(Ordering::SeqCst) >= 20, "{:?}", proxy.stats);
    }
}

/// Answers that never come (held past `--request-timeout`) are abandoned
/// and the call tried again; the run neither hangs nor duplicates.
#[test]
fn hung_answers_time_out_and_the_run_goes_on() {
    let Some(moto) = Moto::start() else { return };
    let faults = Faults { hang_every: 9, hang_for: Duration::from_secs(4), ..Faults::default() };
    let proxy = Proxy::start(&moto.url, faults);
    let start = Instant::now();
    cycle(&moto, &proxy, LAB, &["--parallelism", "4", "--request-timeout", "1"]);
    assert!(proxy.stats.hung.load(Ordering::SeqCst) >= 3, "{:?}", proxy.stats);
    assert!(start.elapsed() < Duration::from_secs(240), "{:?}", start.elapsed());
}

/// A create with no name to find it again by (a trigger's mapping, a
/// host), whose answer comes after the client gave up: exactly one is made.
#[test]
fn a_late_answer_to_a_nameless_create_makes_no_second_one() {
    let Some(moto) = Moto::start() else { return };
    for op in ["POST /2015-03-31/event-source-mappings", "RunInstances"] {
        let faults = Faults { hang_first: Some(op), hang_for: Duration::from_secs(3), ..Faults::default() };
        let proxy = Proxy::start(&moto.url, faults);
        cycle(&moto, &proxy, LAB, &["--parallelism", "1", "--request-timeout", "1"]);
        assert_eq!(proxy.stats.hung.load(Ordering::SeqCst), 1, "{op}: {:?}", proxy.stats);
    }
}

/// Right after each create, reads of that service answer "not found" for
/// a while (eventual consistency): waits keep waiting, nothing is made twice.
#[test]
fn a_late_not_found_after_a_create_is_waited_out() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { late_not_found: 3, ..Faults::default() });
    cycle(&moto, &proxy, LAB, &["--parallelism", "1"]);
    // Roles are read from one listing of the account's roles, a read's
    // calls go side by side, and a destroy reads only ownership, so fewer
    // single reads meet the fault than when each was read alone.
    assert!(proxy.stats.late.load(Ordering::SeqCst) >= 6, "{:?}", proxy.stats);
}

/// Random faults as AWS shows them (10% throttled, 3% 5xx, 2% of mutating
/// answers dropped), on `lab.yaml` and on the stream-data-processor lab
/// with a NAT gateway. PIPECTL_CHAOS_CYCLES sets how many cycles of each
/// (default 2; `scripts/chaos.sh` runs 20).
#[test]
fn random_faults_converge_cycle_after_cycle() {
    let Some(moto) = Moto::start() else { return };
    let cycles: u64 = std::env::var("PIPECTL_CHAOS_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let processor = processor_with_nat("chaos");
    let start = Instant::now();
    let mut faults_seen = (0, 0, 0);
    for i in 0..cycles {
        for (k, spec) in [LAB, processor.as_str()].into_iter().enumerate() {
            let random = Random { throttle: 0.10, server_error: 0.03, drop_answer: 0.02, seed: i * 2 + k as u64 + 1 };
            let proxy = Proxy::start(&moto.url, Faults { random: Some(random), ..Faults::default() });
            cycle(&moto, &proxy, spec, &[]);
            let s = &proxy.stats;
            faults_seen.0 += s.throttled.load(Ordering::SeqCst);
            faults_seen.1 += s.server_errors.load(Ordering::SeqCst);
            faults_seen.2 += s.lost.load(Ordering::SeqCst);
        }
    }
    eprintln!(
        "chaos: {} cycles of 2 pipelines converged in {:.1}s; injected {} throttles, {} 5xx, {} dropped answers",
        cycles,
        start.elapsed().as_secs_f64(),
        faults_seen.0,
        faults_seen.1,
        faults_seen.2
    );
    assert!(faults_seen.0 > 0 && faults_seen.1 > 0, "{faults_seen:?}");
}

/// How many requests a full apply and destroy of `spec` make, to spread
/// the kill points over.
fn requests_of(moto: &Moto, spec: &str) -> (usize, usize) {
    let proxy = Proxy::start(&moto.url, Faults::default());
    pipectl(&["apply", spec, "--yes", "--parallelism", "1"]).aws_env(&proxy.url).run().expect_code(0);
    let applied = proxy.stats.requests.swap(0, Ordering::SeqCst);
    pipectl(&["destroy", spec, "--yes", "--parallelism", "1"]).aws_env(&proxy.url).run().expect_code(0);
    (applied, proxy.stats.requests.load(Ordering::SeqCst))
}

/// Starts `args` through a slow proxy and SIGKILLs it once the proxy has
/// seen `after` requests.
fn kill_after(moto: &Moto, args: &[&str], after: usize) {
    let proxy = Proxy::start(&moto.url, Faults { delay: Duration::from_millis(15), ..Faults::default() });
    let mut child = pipectl(args).aws_env(&proxy.url).spawn();
    let start = Instant::now();
    while proxy.stats.requests.load(Ordering::SeqCst) < after && start.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGKILL at ten points of apply and ten of destroy; after each, apply
/// and destroy finish and nothing is left (the lock of the killed run is
/// taken over: its process is gone).
#[test]
fn sigkill_at_any_point_then_apply_and_destroy_leave_nothing() {
    let Some(moto) = Moto::start() else { return };
    let (apply_calls, destroy_calls) = requests_of(&moto, LAB);
    for k in 1..=10 {
        let after = apply_calls * k / 11;
        kill_after(&moto, &["apply", LAB, "--yes", "--parallelism", "1"], after);
        let run = moto.apply(LAB);
        if after > 0 && run.stderr.contains("stale lock") {
            assert!(run.stderr.contains("no longer running"), "{}", run.stderr);
        }
        moto.pipectl(&["plan", LAB, "--detailed-exitcode"]).run().expect_code(0);
        moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(0);
        assert_nothing_left(&moto, &format!("apply killed after {after} of {apply_calls} requests"));
    }
    for k in 1..=10 {
        moto.apply(LAB);
        let after = destroy_calls * k / 11;
        kill_after(&moto, &["destroy", LAB, "--yes", "--parallelism", "1"], after);
        moto.apply(LAB);
        moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(0);
        assert_nothing_left(&moto, &format!("destroy killed after {after} of {destroy_calls} requests"));
    }
}

/// Ctrl-C during apply: running changes finish, nothing new starts, the
/// lock is released, exit 130; the next apply finishes the job.
#[test]
fn sigint_stops_cleanly_releases_the_lock_and_exits_130() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { delay: Duration::from_millis(30), ..Faults::default() });
    let child = pipectl(&["apply", LAB, "--yes", "--parallelism", "2"]).aws_env(&proxy.url).spawn();
    let start = Instant::now();
    while proxy.stats.requests.load(Ordering::SeqCst) < 40 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let run = finish(child).expect_code(130);
    assert!(run.stderr.contains("stopping"), "{}", run.stderr);
    assert!(run.stderr.contains("apply was interrupted"), "{}", run.stderr);
    assert!(run.stderr.contains("not started: the run was interrupted"), "{}", run.stderr);
    let sdk = moto.sdk();
    let lock = sdk.run(sdk.ssm.get_parameter().name("/pipectl-lock/taxi-lab/default").send());
    assert!(lock.is_err(), "the lock was released");
    let next = moto.apply(LAB);
    assert!(!next.stderr.contains("stale lock"), "{}", next.stderr);
    moto.pipectl(&["plan", LAB, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(0);
    assert_nothing_left(&moto, "after the interrupted apply");
}

/// Two applies of one deployment at once: one proceeds, the other fails at
/// once naming the holder; with `--lock-timeout` it waits and then runs.
/// Another env runs alongside. A lock left on another machine is broken
/// with `pipectl unlock`.
#[test]
fn one_run_per_deployment_at_a_time() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { delay: Duration::from_millis(40), ..Faults::default() });
    let first = pipectl(&["apply", LAB, "--yes"]).aws_env(&proxy.url).spawn();
    let sdk = moto.sdk();
    let lock = "/pipectl-lock/taxi-lab/default";
    let start = Instant::now();
    while sdk.run(sdk.ssm.get_parameter().name(lock).send()).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = moto.pipectl(&["apply", LAB, "--yes"]).run().expect_code(1);
    assert!(second.stderr.contains("locked by `apply` by"), "{}", second.stderr);
    assert!(second.stderr.contains(&format!("(pid {})", first.id())), "{}", second.stderr);
    // Another env is another deployment: not blocked.
    let other = moto.pipectl(&["apply", LAB, "--yes", "--env", "pr-9"]).spawn();
    let waiting = moto.pipectl(&["apply", LAB, "--yes", "--lock-timeout", "3m"]).spawn();
    finish(first).expect_code(0);
    finish(other).expect_code(0);
    let waited = finish(waiting).expect_code(0);
    assert!(waited.stderr.contains("waiting for the lock"), "{}", waited.stderr);
    // A lock held by a run on another machine (renewed just now).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let holder = serde_json::json!({"run": "elsewhere", "user": "ci", "host": "runner-7", "pid": 4121,
        "command": "destroy", "since": now, "renewed": now});
    sdk.run(sdk.ssm.put_parameter().name(lock).value(holder.to_string()).r#type("String".into()).send()).unwrap();
    let blocked = moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(1);
    assert!(blocked.stderr.contains("ci@runner-7 (pid 4121)"), "{}", blocked.stderr);
    assert!(blocked.stderr.contains("pipectl unlock"), "{}", blocked.stderr);
    let unlocked = moto.pipectl(&["unlock", LAB]).run().expect_code(0);
    assert!(unlocked.stderr.contains("held by `destroy` by ci@runner-7"), "{}", unlocked.stderr);
    moto.pipectl(&["destroy", LAB, "--yes"]).run().expect_code(0);
    moto.pipectl(&["destroy", LAB, "--yes", "--env", "pr-9"]).run().expect_code(0);
    assert_nothing_left(&moto, "after both envs");
}

/// `list` shows each deployment with what it costs idle; `gc` is a dry
/// run without `--yes` and destroys the stale ones with it, saying what
/// that saves.
#[test]
fn list_and_gc() {
    let Some(moto) = Moto::start() else { return };
    let spec = temp_spec("unattended", "gc", "pipeline: gcp\nstreams: { s: {} }\n").display().to_string();
    let plan = moto.pipectl(&["plan", &spec, "--json", "--assume-gb-per-day", "2"]).run().expect_code(0).json();
    // One provisioned shard in us-east-1: $0.015 an hour, nothing per GB.
    assert_eq!(plan["cost"]["items"][0]["address"], "stream.s");
    assert_eq!(plan["cost"]["hourly"], 0.015);
    assert_eq!(plan["cost"]["assume_gb_per_day"], 2.0);
    assert!(plan["cost"]["not_estimated"][0].as_str().unwrap().contains("PUT payload units"), "{plan}");
    moto.apply(&spec);
    moto.pipectl(&["apply", &spec, "--yes", "--env", "pr-1"]).run().expect_code(0);
    let list = moto.pipectl(&["list", "--json"]).run().expect_code(0).json();
    let rows = list["deployments"].as_array().unwrap();
    let envs: Vec<&str> = rows.iter().map(|r| r["env"].as_str().unwrap()).collect();
    assert_eq!(envs, ["default", "pr-1"]);
    assert_eq!(rows[0]["region"], "us-east-1");
    assert_eq!(rows[0]["resources"], 1);
    assert!(rows[0]["created"].is_string() && rows[0]["last_changed"].is_string() && rows[0]["by"].is_string());
    assert_eq!(rows[0]["cost_per_hour"], 0.015);
    let text = moto.pipectl(&["list", "--pipeline", "gcp"]).run().expect_code(0);
    assert!(text.stdout.starts_with("PIPELINE  ENV"), "{}", text.stdout);
    assert!(text.stdout.contains("COST/MO") && text.stdout.contains("$10.95"), "{}", text.stdout);
    let dry = moto.pipectl(&["gc", "--older-than", "0s", "--env-pattern", "*"]).run().expect_code(0);
    assert!(dry.stderr.contains("would destroy gcp/pr-1") && dry.stderr.contains("dry run"), "{}", dry.stderr);
    assert!(!dry.stderr.contains("gcp/default"), "the deployment without an env is never a candidate: {}", dry.stderr);
    assert!(dry.stderr.contains("$10.95/mo idle") && dry.stderr.contains("saving $10.95/mo"), "{}", dry.stderr);
    let recent = moto.pipectl(&["gc", "--older-than", "1h", "--yes", "--env-pattern", "*"]).run().expect_code(0);
    assert!(recent.stderr.contains("no deployment"), "{}", recent.stderr);
    moto.pipectl(&["gc", "--older-than", "0s", "--yes", "--env-pattern", "*"]).run().expect_code(0);
    moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert_nothing_left(&moto, "after gc");
}

/// Resources of the names the spec wants, made by someone else: never
/// modified or deleted, even when the deployment record is edited to
/// list them; plan shows them as conflicts.
#[test]
fn foreign_resources_are_never_touched_even_when_the_record_lists_them() {
    let Some(moto) = Moto::start() else { return };
    let text = "pipeline: fo\nstreams: { s: {} }\nbuckets: { b: { on_destroy: delete }, theirs: { name: fo-theirs, on_destroy: delete } }\n\
                catalog:\n  databases: { db: {} }\n  tables:\n    t: { database: db, location: { bucket: b }, columns: { a: string } }\n\
                firehoses: { f: { source: direct, destination: { bucket: b } } }\n\
                dashboards: { main: {} }\n";
    // Apply once without `theirs` for the database (ours), then make the
    // others by hand.
    let first = text.replace(", theirs: { name: fo-theirs, on_destroy: delete }", "");
    let spec = temp_spec("unattended", "foreign", &first).display().to_string();
    moto.apply(&spec);
    let targets = ["stream.s", "glue_table.t", "dashboard.main", "firehose.f", "role.firehose-f"];
    let mut args = vec!["destroy", &spec, "--yes"];
    for t in &targets {
        args.extend(["--target", t]);
    }
    moto.pipectl(&args).run().expect_code(0);
    std::fs::write(&spec, text).unwrap();
    let sdk = moto.sdk();
    sdk.run(sdk.kinesis.create_stream().stream_name("fo-s").shard_count(1).send()).unwrap();
    // An empty bucket without tags, made before the record was edited.
    sdk.run(sdk.s3.create_bucket().bucket("fo-theirs").send()).unwrap();
    let input = aws_sdk_glue::types::TableInput::builder().name("t").description("theirs").build().unwrap();
    sdk.run(sdk.glue.create_table().database_name("fo_db").table_input(input).send()).unwrap();
    let body =
        r##"{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":2,"properties":{"markdown":"# theirs"}}]}"##;
    sdk.run(sdk.cloudwatch.put_dashboard().dashboard_name("fo-main-us-east-1").dashboard_body(body).send()).unwrap();
    let role = "fo-f-firehose-us-east-1";
    let trust = r#"{"Version":"2012-10-17","Statement":[]}"#;
    sdk.run(sdk.iam.create_role().role_name(role).assume_role_policy_document(trust).send()).unwrap();
    // The record lists them all, as if edited by hand (a second later: S3
    // gives a bucket's creation time in whole seconds).
    std::thread::sleep(Duration::from_millis(1100));
    let record = "/pipectl/fo/default";
    let mut content: serde_json::Value = serde_json::from_str(
        sdk.run(sdk.ssm.get_parameter().name(record).send()).unwrap().parameter().unwrap().value().unwrap(),
    )
    .unwrap();
    content["resources"]["stream.s"] = "fo-s".into();
    content["resources"]["glue_table.t"] = "fo_db/t".into();
    content["resources"]["dashboard.main"] = "fo-main-us-east-1".into();
    content["resources"]["role.firehose-f"] = role.into();
    content["resources"]["bucket.theirs"] = "fo-theirs".into();
    sdk.run(sdk.ssm.put_parameter().name(record).value(content.to_string()).overwrite(true).send()).unwrap();
    let plan = moto.pipectl(&["plan", &spec]).run();
    for line in ["! stream.s", "! glue_table.t", "! dashboard.main", "! role.firehose-f", "! bucket.theirs"] {
        assert!(plan.stdout.contains(line), "{line} missing:\n{}", plan.stdout);
    }
    moto.pipectl(&["apply", &spec, "--yes"]).run().expect_code(1);
    let destroy = moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert!(destroy.stderr.contains("left alone"), "{}", destroy.stderr);
    // Our database holds their table: deleting it would drop the table.
    assert!(destroy.stderr.contains("holds tables pipectl did not make (t)"), "{}", destroy.stderr);
    let table = sdk.run(sdk.glue.get_table().database_name("fo_db").name("t").send()).unwrap();
    assert_eq!(table.table().unwrap().description(), Some("theirs"));
    let streams = sdk.run(sdk.kinesis.list_streams().send()).unwrap();
    assert_eq!(streams.stream_names(), ["fo-s"]);
    let dash = sdk.run(sdk.cloudwatch.get_dashboard().dashboard_name("fo-main-us-east-1").send()).unwrap();
    assert_eq!(dash.dashboard_body(), Some(body));
    let bucket = sdk.run(sdk.s3.get_bucket_tagging().bucket("fo-theirs").send());
    assert!(bucket.is_err(), "their bucket exists, untagged: {bucket:?}");
    sdk.run(sdk.s3.head_bucket().bucket("fo-theirs").send()).unwrap();
    let theirs = sdk.run(sdk.iam.get_role().role_name(role).send()).unwrap();
    assert!(theirs.role().unwrap().tags().is_empty(), "their role was not tagged");
}
