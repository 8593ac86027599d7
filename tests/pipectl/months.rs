//! Deployments that live for months: gc judges them by when they were last
//! applied (a no-op apply included), only in the envs it is told; every
//! attribute of the record is written when it changes; a rename never
//! stops tracking the old resource; a forged record cannot make a read
//! unbounded.

use crate::emulator::Moto;
use crate::faults::{Faults, Hook, Proxy};
use crate::util::temp_spec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec(test: &str, text: &str) -> String {
    temp_spec("months", test, text).display().to_string()
}

fn streams(moto: &Moto) -> Vec<String> {
    let sdk = moto.sdk();
    let mut names = sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().to_vec();
    names.sort();
    names
}

/// A deployment applied twice with nothing changed in between was stale
/// by its first apply; a nightly `gc --yes` destroyed what ran every
/// night, and any env, production's included, was a candidate.
#[test]
fn gc_destroys_a_live_deployment() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("live", "pipeline: live\nstreams: { s: {} }\n");
    moto.apply(&s);
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1"]).run().expect_code(0);
    std::thread::sleep(Duration::from_millis(2500));
    // Nothing changed: a no-op apply, which marks the deployment live.
    let noop = moto.pipectl(&["apply", &s, "--yes", "--env", "pr-1"]).run().expect_code(0);
    assert!(!noop.stdout.contains("record.deployment"), "a no-op: {}", noop.stdout);
    let gc = moto.pipectl(&["gc", "--older-than", "1s", "--yes", "--env-pattern", "pr-*"]).run().expect_code(0);
    assert!(gc.stderr.contains("no deployment"), "{}", gc.stderr);
    assert_eq!(streams(&moto), ["live-s", "live-s-pr-1"], "{}", gc.stderr);
    let list = moto.pipectl(&["list", "--json"]).run().expect_code(0).json();
    assert!(list["deployments"][1]["last_applied"].is_string(), "{list}");

    // Without a pattern gc refuses, before any AWS call.
    let refused = moto.pipectl(&["gc", "--older-than", "0s", "--yes"]).run().expect_code(2);
    assert!(refused.stderr.contains("--env-pattern") && refused.stderr.contains("hint:"), "{}", refused.stderr);

    // Stale now: the dry run says why; the deployment without an env is
    // never a candidate, whatever the pattern.
    std::thread::sleep(Duration::from_millis(1500));
    let dry = moto.pipectl(&["gc", "--older-than", "1s", "--env-pattern", "*"]).run().expect_code(0);
    assert!(dry.stderr.contains("would destroy live/pr-1"), "{}", dry.stderr);
    assert!(dry.stderr.contains("last applied ") && dry.stderr.contains("ago, older than 1s"), "{}", dry.stderr);
    assert!(dry.stderr.contains("env pr-1 matches *"), "{}", dry.stderr);
    assert!(!dry.stderr.contains("live/default"), "{}", dry.stderr);
    moto.pipectl(&["gc", "--older-than", "1s", "--yes", "--env-pattern", "pr-*"]).run().expect_code(0);
    assert_eq!(streams(&moto), ["live-s"]);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// Marking a no-op apply live is cheap: the record's head rewritten once,
/// beside the lock's own write; a large record's parts are not touched.
#[test]
fn a_no_op_apply_marks_the_record_with_one_write() {
    let Some(moto) = Moto::start() else { return };
    // Keys that do not compress away: a listing larger than a head holds.
    let key = |i: u64| format!("s{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let many: String = (0..250).map(|i| format!("  {}: {{}}\n", key(i))).collect();
    let s = spec("cheap", &format!("pipeline: cheap\nstreams:\n{many}"));
    moto.apply(&s);
    let sdk = moto.sdk();
    let parts = sdk.run(sdk.ssm.get_parameters_by_path().path("/pipectl-parts").recursive(true).send()).unwrap();
    assert!(!parts.parameters().is_empty(), "a record in parts");
    // The record's writes, told from the lock's (taken, and renewed while
    // 250 streams' tags are read at ListTagsForStream's rate).
    let writes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&writes);
    let before = Hook(Arc::new(move |head: &[String], body: &[u8]| {
        let put = head.iter().any(|h| h.contains("AmazonSSM.PutParameter"));
        if put && String::from_utf8_lossy(body).contains("\"/pipectl/cheap/default\"") {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        None
    }));
    let proxy = Proxy::start(&moto.url, Faults { before: Some(before), ..Faults::default() });
    crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    // One PutParameter marks the record applied.
    assert_eq!(writes.load(Ordering::SeqCst), 1, "{:?}", proxy.stats.ops.lock().unwrap());
    assert!(sdk.record("/pipectl/cheap/default").is_object());
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

/// Protection added to a stream that already exists was reported as a
/// record update but never written: a destroy from the record deleted the
/// stream without `--allow-data-loss`.
#[test]
fn protection_added_later_is_not_honoured() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("protect", "pipeline: prot\nstreams: { s: { shards: 1 } }\n");
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-2"]).run().expect_code(0);
    std::fs::write(&s, "pipeline: prot\nstreams: { s: { shards: 1, protect: true } }\n").unwrap();
    let plan = moto.pipectl(&["plan", &s, "--env", "pr-2"]).run().expect_code(0);
    assert!(plan.stdout.contains("record.deployment") && plan.stdout.contains("protected"), "{}", plan.stdout);
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-2"]).run().expect_code(0);
    let sdk = moto.sdk();
    assert_eq!(sdk.record("/pipectl/prot/pr-2")["protected"][0], "stream.s");
    let refused = moto.pipectl(&["destroy", "--pipeline", "prot", "--env", "pr-2", "--yes"]).run().expect_code(1);
    assert!(refused.stderr.contains("refusing to delete 1 protected"), "{}", refused.stderr);
    assert_eq!(streams(&moto), ["prot-s-pr-2"]);
    moto.pipectl(&["plan", &s, "--env", "pr-2", "--detailed-exitcode"]).run().expect_code(0);
}

/// Protection taken out of the spec stayed in the record (the record was
/// not written), so a destroy from the record kept refusing.
#[test]
fn protection_removed_later_is_lifted() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("unprotect", "pipeline: unp\nstreams: { s: { protect: true } }\n");
    moto.apply(&s);
    std::fs::write(&s, "pipeline: unp\nstreams: { s: {} }\n").unwrap();
    moto.apply(&s);
    assert!(moto.sdk().record("/pipectl/unp/default")["protected"].is_null());
    moto.pipectl(&["destroy", "--pipeline", "unp", "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// A bucket the spec empties on destroy (`on_destroy: delete`) was kept by
/// a destroy from the record, which did not know what the spec said: a
/// closed pull request's copy left its bucket behind once data had landed.
#[test]
fn on_destroy_delete_is_kept_for_a_destroy_from_the_record() {
    let Some(moto) = Moto::start() else { return };
    let text = |on: &str| {
        format!("pipeline: emp\nbuckets:\n  b: {{ name: \"emp-b-${{env}}-${{account}}\", on_destroy: {on} }}\n")
    };
    let s = spec("emptied", &text("retain"));
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-3"]).run().expect_code(0);
    assert!(moto.sdk().record("/pipectl/emp/pr-3")["emptied"].is_null());
    // Saying `delete` later is written too.
    std::fs::write(&s, text("delete")).unwrap();
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-3"]).run().expect_code(0);
    assert_eq!(moto.sdk().record("/pipectl/emp/pr-3")["emptied"][0], "bucket.b");
    let sdk = moto.sdk();
    let bucket = "emp-b-pr-3-123456789012";
    sdk.run(sdk.s3.put_object().bucket(bucket).key("data.json").body(b"{}".to_vec().into()).send()).unwrap();
    moto.pipectl(&["destroy", "--pipeline", "emp", "--env", "pr-3", "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// A change of what the deployment costs (more shards) left the record's
/// estimate as it was: `list` and `gc` showed the old price.
#[test]
fn cost_changed_is_written() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("cost", "pipeline: cost\nstreams: { s: { shards: 1 } }\n");
    moto.apply(&s);
    assert_eq!(moto.sdk().record("/pipectl/cost/default")["cost_per_hour"], 0.015);
    std::fs::write(&s, "pipeline: cost\nstreams: { s: { shards: 2 } }\n").unwrap();
    moto.apply(&s);
    assert_eq!(moto.sdk().record("/pipectl/cost/default")["cost_per_hour"], 0.03);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

const RENAMED: &str = "pipeline: mv\nstreams: { trips: { name: mv-trips-v2 } }\n";

/// A rename whose old resource's delete fails: the record kept only the
/// new name, so nothing tracked the old stream and a destroy from the
/// record left it behind.
#[test]
fn a_rename_can_leak() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("rename", "pipeline: mv\nstreams: { trips: { name: mv-trips } }\n");
    moto.apply(&s);
    std::fs::write(&s, RENAMED).unwrap();
    let proxy = Proxy::start(&moto.url, Faults { deny: Some("DeleteStream"), ..Faults::default() });
    crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(1);
    let record = moto.sdk().record("/pipectl/mv/default");
    assert_eq!(record["resources"]["stream.trips"], "mv-trips-v2");
    assert_eq!(record["retiring"]["stream.trips"][0], "mv-trips", "{record}");
    let destroyed = moto.pipectl(&["destroy", "--pipeline", "mv", "--yes"]).run().expect_code(0);
    assert!(destroyed.stderr.contains("stream.trips~mv-trips"), "{}", destroyed.stderr);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// After the same failed rename, the next apply deletes the old stream,
/// and the record stops listing it only then.
#[test]
fn a_rename_left_half_way_is_finished_by_the_next_apply() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("rename-apply", "pipeline: mv\nstreams: { trips: { name: mv-trips } }\n");
    moto.apply(&s);
    std::fs::write(&s, RENAMED).unwrap();
    let proxy = Proxy::start(&moto.url, Faults { deny: Some("DeleteStream"), ..Faults::default() });
    crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(1);
    let apply = moto.apply(&s);
    assert!(apply.stdout.contains("stream.trips~mv-trips"), "{}", apply.stdout);
    assert_eq!(streams(&moto), ["mv-trips-v2"]);
    assert!(moto.sdk().record("/pipectl/mv/default")["retiring"].is_null());
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// A forged `/pipectl/...` head claiming a billion parts: `list` and `gc`
/// report it as damaged, at once, and go on with the others.
#[test]
fn unbounded_reads_of_what_others_can_write() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("forged", "pipeline: real\nstreams: { s: {} }\n");
    moto.pipectl(&["apply", &s, "--yes", "--env", "pr-3"]).run().expect_code(0);
    let sdk = moto.sdk();
    let forged = r#"{"format":"zlib+base64","parts":1000000000,"generation":"abcdefabcdef","sha256":"00"}"#;
    let put = sdk
        .ssm
        .put_parameter()
        .name("/pipectl/forged/pr-4")
        .value(forged)
        .r#type(aws_sdk_ssm::types::ParameterType::String);
    sdk.run(put.send()).unwrap();
    let started = Instant::now();
    let list = moto.pipectl(&["list", "--json"]).run().expect_code(0).json();
    assert_eq!(list["deployments"][0]["pipeline"], "real", "{list}");
    assert_eq!(list["damaged"][0]["pipeline"], "forged", "{list}");
    assert!(list["damaged"][0]["error"].as_str().unwrap().contains("1000000000 parts"), "{list}");
    let gc = moto.pipectl(&["gc", "--older-than", "0s", "--env-pattern", "pr-*"]).run().expect_code(0);
    assert!(
        gc.stderr.contains("skipping forged/pr-4") && gc.stderr.contains("would destroy real/pr-3"),
        "{}",
        gc.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30), "bounded: {:?}", started.elapsed());
    assert_eq!(
        sdk.run(sdk.ssm.get_parameters_by_path().path("/pipectl-parts").recursive(true).send())
            .unwrap()
            .parameters()
            .len(),
        0,
        "nothing was fetched or written by the claimed count"
    );
}

fn put_data(moto: &Moto, stream: &str, data: &[u8]) {
    let sdk = moto.sdk();
    let put = sdk.kinesis.put_record().stream_name(stream).partition_key("k").data(data.to_vec().into());
    sdk.run(put.send()).unwrap();
}

/// The deletes a plan lists, as `plan --json` prints them.
fn deletes(moto: &Moto, args: &[&str]) -> Vec<String> {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let doc = moto.pipectl(&all).run().json();
    let changes = doc["changes"].as_array().cloned().unwrap_or_default();
    let gone = changes.iter().filter(|c| c["action"] == "delete" || c["action"] == "replace");
    gone.map(|c| format!("{} {}", c["address"].as_str().unwrap(), c["name"].as_str().unwrap())).collect()
}

fn small(name: &str) -> String {
    format!("pipeline: small\nstreams: {{ s: {{ shards: 1, name: \"{name}-${{env}}\" }} }}\nbuckets: {{ b: {{ on_destroy: delete }} }}\n")
}

/// A rename whose old stream's delete failed, then reverted: the old name
/// still retiring was the very stream the spec wants, deleted with its
/// data as a leftover by an apply that exited 0.
#[test]
fn reverting_a_rename_after_a_failed_delete_deletes_the_live_resource() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("revert", &small("small-a"));
    moto.pipectl(&["apply", &s, "--env", "e1", "--yes"]).run().expect_code(0);
    std::fs::write(&s, small("small-b")).unwrap();
    let proxy = Proxy::start(&moto.url, Faults { deny: Some("DeleteStream"), ..Faults::default() });
    crate::util::pipectl(&["apply", &s, "--env", "e1", "--yes"]).aws_env(&proxy.url).run().expect_code(1);
    let record = moto.sdk().record("/pipectl/small/e1");
    assert_eq!(record["resources"]["stream.s"], "small-b-e1");
    assert_eq!(record["retiring"]["stream.s"][0], "small-a-e1", "{record}");
    assert!(streams(&moto).contains(&"small-a-e1".to_string()));

    std::fs::write(&s, small("small-a")).unwrap();
    put_data(&moto, "small-a-e1", b"{\"kept\":1}");
    // Neither the printed plan nor a saved one deletes the stream wanted.
    let planned = deletes(&moto, &[&s, "--env", "e1"]);
    assert!(planned.iter().all(|d| !d.contains("small-a-e1")), "{planned:?}");
    let out = std::env::temp_dir().join(format!("pipectl-revert-{}.plan", std::process::id()));
    let text = moto.pipectl(&["plan", &s, "--env", "e1", "--out", out.to_str().unwrap()]).run().expect_code(0);
    assert!(!text.stdout.contains("stream.s~small-a-e1"), "{}", text.stdout);
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(!saved.contains("stream.s~small-a-e1"), "{saved}");
    let _ = std::fs::remove_file(&out);

    let apply = moto.pipectl(&["apply", &s, "--env", "e1", "--yes"]).run().expect_code(0);
    assert!(!apply.stdout.contains("stream.s~small-a-e1"), "{}", apply.stdout);
    assert_eq!(streams(&moto), ["small-a-e1"]);
    assert_eq!(moto.sdk().records("small-a-e1"), [b"{\"kept\":1}".to_vec()]);
    let record = moto.sdk().record("/pipectl/small/e1");
    assert_eq!(record["resources"]["stream.s"], "small-a-e1", "{record}");
    assert!(record["retiring"].is_null(), "{record}");
    moto.pipectl(&["plan", &s, "--env", "e1", "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--env", "e1", "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// An address key renamed in the spec, the resource's explicit name kept:
/// the record's old address was a leftover, and its delete took the stream
/// (and the Glue table, which AWS cannot tag) the new address wants.
#[test]
fn a_key_renamed_with_the_same_name_deletes_the_live_resource() {
    let Some(moto) = Moto::start() else { return };
    let text = |key: &str| {
        format!(
            "pipeline: kr\nbuckets: {{ lake: {{ name: \"kr-lake-${{account}}\", on_destroy: delete }} }}\n\
             streams: {{ {key}: {{ shards: 1, name: kr-trips }} }}\n\
             catalog:\n  databases: {{ db: {{ name: kr_db }} }}\n  tables:\n    {key}:\n      name: trips\n      database: db\n      \
             location: {{ bucket: lake, prefix: t/ }}\n      format: parquet\n      columns: {{ id: bigint }}\n"
        )
    };
    let s = spec("key-rename", &text("old"));
    moto.apply(&s);
    put_data(&moto, "kr-trips", b"{\"kept\":2}");
    std::fs::write(&s, text("new")).unwrap();
    let planned = deletes(&moto, &[&s]);
    assert!(planned.is_empty(), "{planned:?}");
    let apply = moto.apply(&s);
    // The record moves the listing to the new keys; nothing else changes.
    assert!(apply.stdout.contains("0 to create, 1 to update, 0 to replace, 0 to delete"), "{}", apply.stdout);
    assert_eq!(streams(&moto), ["kr-trips"]);
    assert_eq!(moto.sdk().records("kr-trips"), [b"{\"kept\":2}".to_vec()]);
    let sdk = moto.sdk();
    sdk.run(sdk.glue.get_table().database_name("kr_db").name("trips").send()).expect("the table is kept");
    let record = sdk.record("/pipectl/kr/default");
    assert_eq!(record["resources"]["stream.new"], "kr-trips", "{record}");
    assert!(record["resources"]["stream.old"].is_null() && record["resources"]["glue_table.old"].is_null(), "{record}");
    assert!(record["retiring"].is_null(), "{record}");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}

/// A run killed after writing the record of a rename reverted half-way
/// left the old name both listed and retiring: the next plan listed the
/// same stream twice, as the replace of `stream.s` and as the delete of
/// `stream.s~...`, the second delete failing on what the first removed.
#[test]
fn a_rename_killed_half_way_plans_the_same_stream_twice() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("twice", "pipeline: tw\nstreams: { s: { shards: 1, name: tw-a } }\n");
    moto.apply(&s);
    // The record such a run leaves: the old name listed and retiring.
    let sdk = moto.sdk();
    let mut record = sdk.record("/pipectl/tw/default");
    record["retiring"] = serde_json::json!({ "stream.s": ["tw-a"] });
    let put = sdk
        .ssm
        .put_parameter()
        .name("/pipectl/tw/default")
        .value(record.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true);
    sdk.run(put.send()).unwrap();
    std::fs::write(&s, "pipeline: tw\nstreams: { s: { shards: 1, name: tw-b } }\n").unwrap();
    let planned = deletes(&moto, &[&s]);
    assert_eq!(planned, ["stream.s tw-b"], "tw-a deleted once, by the replace");
    moto.apply(&s);
    assert_eq!(streams(&moto), ["tw-b"]);
    assert!(moto.sdk().record("/pipectl/tw/default")["retiring"].is_null());
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert_eq!(moto.sdk().leftovers(), Vec::<String>::new());
}
