//! plan / apply / destroy against the emulator, for every kind of the
//! engine: bucket, stream, Glue database and table, roles, log groups and
//! the deployment record. Checks go through the SDK directly.

use crate::emulator::Moto;
use std::path::PathBuf;

fn write_spec(test: &str, text: &str) -> PathBuf {
    crate::util::temp_spec("e2e", test, text)
}

const FULL: &str = "
pipeline: e2e
tags: { team: data }
buckets:
  lake: { name: \"e2e-lake-${account}\", on_destroy: delete }
streams:
  trips: { shards: 1, retention_hours: 48 }
  events: { mode: on_demand, encryption: none }
catalog:
  databases:
    db: { description: trips }
  tables:
    t:
      database: db
      location: { bucket: lake, prefix: t/ }
      format: parquet
      columns: { trip_id: bigint, total_amount: double }
      partition_keys: { year: string }
";

/// The kinds of this engine, as --target flags (the spec above has no
/// firehose, so no roles or log groups appear unless asked).
fn spec_path(test: &str, text: &str) -> String {
    write_spec(test, text).display().to_string()
}

#[test]
fn end_to_end_apply_replan_destroy() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("e2e", FULL);
    let run = moto.apply(&spec);
    assert!(run.stdout.contains("Plan: 6 to create"), "{}", run.stdout);

    let sdk = moto.sdk();
    // Stream: shards, retention, KMS, tags.
    let s = sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-trips").send()).unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!((s.open_shard_count(), s.retention_period_hours()), (1, 48));
    assert_eq!(s.encryption_type().map(|e| e.as_str()), Some("KMS"));
    let tags = sdk.run(sdk.kinesis.list_tags_for_stream().stream_name("e2e-trips").send()).unwrap();
    let tags: Vec<(String, String)> =
        tags.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect();
    for t in [("pipectl:pipeline", "e2e"), ("pipectl:env", "default"), ("team", "data")] {
        assert!(tags.contains(&(t.0.to_string(), t.1.to_string())), "{tags:?}");
    }
    let e = sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-events").send()).unwrap();
    assert_eq!(
        e.stream_description_summary().unwrap().stream_mode_details().unwrap().stream_mode().as_str(),
        "ON_DEMAND"
    );
    // Bucket: public access fully blocked, default encryption, tags.
    let bucket = "e2e-lake-123456789012";
    let pab = sdk.run(sdk.s3.get_public_access_block().bucket(bucket).send()).unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = sdk.run(sdk.s3.get_bucket_encryption().bucket(bucket).send()).unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    // Glue: tagged database, Parquet table with its columns and partitions.
    let t = sdk.run(sdk.glue.get_table().database_name("e2e_db").name("t").send()).unwrap();
    let t = t.table().unwrap();
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some("s3://e2e-lake-123456789012/t/"));
    assert_eq!(
        sd.serde_info().unwrap().serialization_library(),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    let cols: Vec<&str> = sd.columns().iter().map(|c| c.name()).collect();
    assert_eq!(cols, ["trip_id", "total_amount"]);
    assert_eq!(t.partition_keys()[0].name(), "year");
    // The record lists every resource.
    let record = sdk.record("/pipectl/e2e/default");
    for a in ["bucket.lake", "stream.trips", "stream.events", "glue_database.db", "glue_table.t"] {
        assert!(record["resources"][a].is_string(), "{a} not in {record}");
    }

    // A second plan has nothing to do; a second apply makes no change.
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);
    let again = moto.apply(&spec);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);

    // Destroy removes everything, and the record last.
    moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-trips").send()).is_err());
    assert!(sdk.run(sdk.s3.head_bucket().bucket(bucket).send()).is_err());
    assert!(sdk.run(sdk.glue.get_database().name("e2e_db").send()).is_err());
    assert!(sdk.run(sdk.ssm.get_parameter().name("/pipectl/e2e/default").send()).is_err());
    let streams = sdk.run(sdk.kinesis.list_streams().send()).unwrap();
    assert!(streams.stream_names().is_empty(), "{:?}", streams.stream_names());
    // Destroying again finds nothing and succeeds.
    moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
}

#[test]
fn destroy_is_a_plan_previewed_by_plan_destroy_and_printed_as_json() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("destroy-plan", FULL);
    moto.apply(&spec);
    let sdk = moto.sdk();

    // The preview lists every deletion, dependents first, and deletes nothing.
    let preview = moto.pipectl(&["plan", "--destroy", &spec, "--detailed-exitcode"]).run().expect_code(2);
    let text = &preview.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    // A table and a stream lose their data: `x`.
    for line in ["x glue_table.t t", "x stream.trips e2e-trips", "- record.deployment /pipectl/e2e/default"] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(text.contains("Destroy: 6 to delete, 0 already gone, 0 left alone."), "{text}");
    let at = |a: &str| text.find(a).unwrap_or_else(|| panic!("{a} missing:\n{text}"));
    assert!(at("glue_table.t") < at("glue_database.db") && at("glue_table.t") < at("bucket.lake"), "{text}");
    assert!(at("bucket.lake") < at("record.deployment"), "the record goes last:\n{text}");
    assert!(sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-trips").send()).is_ok());

    // The same plan as JSON, with its format version.
    let doc = moto.pipectl(&["plan", "--destroy", &spec, "--json"]).run().expect_code(0).json();
    assert_eq!((doc["format_version"].as_str(), doc["operation"].as_str()), (Some("1"), Some("destroy")));
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6);
    assert!(changes.iter().all(|c| c["action"] == "delete"), "{doc}");
    assert_eq!(changes.last().unwrap()["address"], "record.deployment");

    // destroy --json: the plan first, then one event per line, then the summary.
    let run = moto.pipectl(&["destroy", &spec, "--yes", "--json"]).run().expect_code(0);
    let lines: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["operation"], "destroy", "{}", run.stdout);
    assert_eq!(lines[0]["changes"].as_array().unwrap().len(), 6);
    let summary = lines.last().unwrap();
    assert_eq!((summary["event"].as_str(), summary["done"].as_u64()), (Some("summary"), Some(6)), "{summary}");
    assert!(sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-trips").send()).is_err());

    // Nothing left: the preview says so and has nothing to do.
    let after = moto.pipectl(&["plan", "--destroy", &spec, "--detailed-exitcode"]).run().expect_code(0);
    assert!(after.stdout.contains("Destroy: 0 to delete, 6 already gone"), "{}", after.stdout);
}

#[test]
fn destroy_from_the_record_alone_previews_the_same_plan() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("destroy-record", FULL);
    moto.apply(&spec);
    // Without a spec, the record's listing is ordered by kind: data last.
    let run = moto.pipectl(&["destroy", "--pipeline", "e2e", "--yes", "--json"]).run().expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let order: Vec<&str> = plan["changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    let pos = |a: &str| order.iter().position(|x| *x == a).unwrap();
    assert!(pos("glue_table.t") < pos("glue_database.db"), "{order:?}");
    assert!(pos("stream.trips") < pos("bucket.lake"), "{order:?}");
    assert_eq!(order.last(), Some(&"record.deployment"), "{order:?}");
}

#[test]
fn in_place_updates_converge() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("update", FULL);
    moto.apply(&spec);
    let changed = FULL
        .replace("shards: 1, retention_hours: 48", "shards: 2, retention_hours: 72, encryption: none")
        .replace("mode: on_demand, encryption: none", "mode: provisioned, shards: 1")
        .replace("team: data", "team: platform")
        .replace("total_amount: double", "total_amount: double, vendor: string")
        .replace("description: trips", "description: taxi trips");
    std::fs::write(&spec, changed).unwrap();
    let plan = moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(2);
    for line in [
        "~ stream.trips",
        "shards: 1 -> 2",
        "retention_hours: 48 -> 72",
        "encryption: \"KMS\" -> \"NONE\"",
        "~ stream.events",
        "mode: \"ON_DEMAND\" -> \"PROVISIONED\"",
        "~ glue_table.t",
        "~ glue_database.db",
        "~ bucket.lake",
    ] {
        assert!(plan.stdout.contains(line), "{line} missing:\n{}", plan.stdout);
    }
    assert!(!plan.stdout.contains("-/+"), "no replacement expected:\n{}", plan.stdout);
    moto.apply(&spec);
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);
    let sdk = moto.sdk();
    let s = sdk.run(sdk.kinesis.describe_stream_summary().stream_name("e2e-trips").send()).unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!((s.open_shard_count(), s.retention_period_hours()), (2, 72));
    let t = sdk.run(sdk.glue.get_table().database_name("e2e_db").name("t").send()).unwrap();
    assert_eq!(t.table().unwrap().storage_descriptor().unwrap().columns().len(), 3);
}

#[test]
fn renamed_resource_is_replaced_and_removed_one_is_deleted() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("replace", FULL);
    moto.apply(&spec);
    let changed = FULL
        .replace(
            "  trips: { shards: 1, retention_hours: 48 }\n",
            "  trips: { name: e2e-trips-v2, shards: 1, retention_hours: 48 }\n",
        )
        .replace("  events: { mode: on_demand, encryption: none }\n", "");
    std::fs::write(&spec, changed).unwrap();
    let plan = moto.pipectl(&["plan", &spec]).run().expect_code(0);
    assert!(plan.stdout.contains("x/+ stream.trips"), "{}", plan.stdout);
    assert!(plan.stdout.contains("name: e2e-trips -> e2e-trips-v2"), "{}", plan.stdout);
    assert!(plan.stdout.contains("  x stream.events"), "{}", plan.stdout);
    moto.apply(&spec);
    let sdk = moto.sdk();
    let names = sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().to_vec();
    assert_eq!(names, ["e2e-trips-v2"]);
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);
    // The deleted stream left the record; the renamed one is listed by its new name.
    let record = sdk.record("/pipectl/e2e/default");
    assert!(record["resources"]["stream.events"].is_null(), "{record}");
    assert_eq!(record["resources"]["stream.trips"], "e2e-trips-v2");
}

#[test]
fn unowned_same_name_resource_is_a_conflict_and_untouched() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.kinesis.create_stream().stream_name("mine").shard_count(3).send()).unwrap();
    let spec = spec_path("conflict", "pipeline: c\nstreams:\n  s: { name: mine, shards: 1 }\n");
    let run = moto.pipectl(&["apply", &spec, "--yes"]).run().expect_code(1);
    assert!(run.stdout.contains("! stream.s"), "{}", run.stdout);
    assert!(run.stderr.contains("not owned by this pipeline"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let s = sdk.run(sdk.kinesis.describe_stream_summary().stream_name("mine").send()).unwrap();
    assert_eq!(s.stream_description_summary().unwrap().open_shard_count(), 3, "left alone");
    // destroy with the spec leaves it alone as well.
    let d = moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert!(d.stderr.contains("left alone"), "{}", d.stderr);
    assert!(sdk.run(sdk.kinesis.describe_stream_summary().stream_name("mine").send()).is_ok());
}

#[test]
fn destroy_without_spec_uses_the_record_and_tolerates_gone_resources() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("record", &FULL.replace("e2e-lake-${account}", "e2e-lake-${env}-${account}"));
    moto.pipectl(&["apply", &spec, "--yes", "--env", "pr-9"]).run().expect_code(0);
    let sdk = moto.sdk();
    // Someone deleted a stream by hand: destroy still finishes.
    sdk.run(sdk.kinesis.delete_stream().stream_name("e2e-trips-pr-9").send()).unwrap();
    let run = moto.pipectl(&["destroy", "--pipeline", "e2e", "--env", "pr-9", "--yes"]).run().expect_code(0);
    assert!(run.stderr.contains("already gone"), "{}", run.stderr);
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
    assert!(sdk.run(sdk.glue.get_databases().send()).unwrap().database_list().is_empty());
    assert!(sdk.run(sdk.ssm.get_parameter().name("/pipectl/e2e/pr-9").send()).is_err());
    // Nothing recorded: nothing to do, success.
    moto.pipectl(&["destroy", "--pipeline", "e2e", "--env", "pr-9", "--yes"]).run().expect_code(0);
}

#[test]
fn retained_bucket_with_data_survives_destroy() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("retain", "pipeline: r\nbuckets:\n  keep: { name: r-keep-bucket }\n");
    moto.apply(&spec);
    let sdk = moto.sdk();
    sdk.run(sdk.s3.put_object().bucket("r-keep-bucket").key("data.json").body(b"{}".to_vec().into()).send()).unwrap();
    let run = moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert!(run.stderr.contains("holds objects"), "{}", run.stderr);
    assert!(sdk.run(sdk.s3.head_bucket().bucket("r-keep-bucket").send()).is_ok());
    // --delete-data empties every version and removes it.
    moto.apply(&spec);
    moto.pipectl(&["destroy", &spec, "--yes", "--delete-data", "--allow-data-loss"]).run().expect_code(0);
    assert!(sdk.run(sdk.s3.head_bucket().bucket("r-keep-bucket").send()).is_err());
}

#[test]
fn roles_get_exact_generated_policies_and_log_groups_their_retention() {
    let Some(moto) = Moto::start() else { return };
    let spec = moto_spec_with_roles();
    moto.pipectl(&["apply", &spec, "--yes", "--target", "role", "--target", "log_group"]).run().expect_code(0);
    let sdk = moto.sdk();
    let p = sdk
        .run(sdk.iam.get_role_policy().role_name("lab-to-lake-firehose-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    let st = doc["Statement"].as_array().unwrap();
    let find = |sid: &str| st.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("{sid} in {doc}")).clone();
    assert_eq!(find("S3Bucket")["Resource"], serde_json::json!(["arn:aws:s3:::lab-lake-bucket"]));
    // Without a prefix Firehose writes anywhere in the bucket.
    assert_eq!(find("S3Delivery")["Resource"], serde_json::json!(["arn:aws:s3:::lab-lake-bucket/*"]));
    assert_eq!(
        find("ReadSourceStream")["Resource"],
        serde_json::json!(["arn:aws:kinesis:us-east-1:123456789012:stream/lab-trips"])
    );
    assert_eq!(
        find("ReadConversionSchema")["Action"],
        serde_json::json!(["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"])
    );
    assert!(!doc.to_string().contains("\"*\""), "no wildcard resource: {doc}");
    let f = sdk
        .run(sdk.iam.get_role_policy().role_name("lab-filter-lambda-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let fdoc = pipectl::resources::role::decode_document(f.policy_document());
    assert!(fdoc.to_string().contains("arn:aws:firehose:us-east-1:123456789012:deliverystream/lab-to-lake"), "{fdoc}");
    assert!(fdoc.to_string().contains("firehose:PutRecordBatch"), "{fdoc}");
    let groups = sdk
        .run(sdk.logs.describe_log_groups().log_group_name_prefix("/aws/kinesisfirehose/lab-to-lake").send())
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));
    moto.pipectl(&["plan", &spec, "--detailed-exitcode", "--target", "role", "--target", "log_group"])
        .run()
        .expect_code(0);
    moto.pipectl(&["destroy", "--pipeline", "lab", "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.iam.list_roles().send()).unwrap().roles().iter().all(|r| !r.role_name().starts_with("lab-")));
}

fn moto_spec_with_roles() -> String {
    spec_path(
        "roles",
        &format!(
            "pipeline: lab
buckets: {{ lake: {{ name: lab-lake-bucket }} }}
streams: {{ trips: {{}} }}
catalog:
  databases: {{ db: {{}} }}
  tables:
    t: {{ database: db, location: {{ bucket: lake }}, columns: {{ a: string }} }}
firehoses:
  to-lake:
    source: {{ stream: trips }}
    destination: {{ bucket: lake, convert: {{ format: parquet, table: t }}, error_prefix: e/ }}
functions:
  filter:
    runtime: python3.12
    code: {}/templates/lambda/filter_to_firehose.py
    handler: filter_to_firehose.handler
    writes: [firehoses.to-lake]
    trigger: {{ stream: trips }}
",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
}

#[test]
fn apply_without_terminal_or_yes_refuses() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("confirm", "pipeline: q\nstreams: { s: {} }\n");
    let run = moto.pipectl(&["apply", &spec]).run().expect_code(1);
    assert!(run.stderr.contains("without confirmation"), "{}", run.stderr);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    let sdk = moto.sdk();
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
}

#[test]
fn plan_json_is_versioned() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("json", "pipeline: j\nstreams: { s: {} }\n");
    let run = moto.pipectl(&["plan", &spec, "--json"]).run().expect_code(0);
    let doc = run.json();
    assert_eq!(doc["format_version"], "1");
    let actions: Vec<&str> = doc["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "create"]);
}

#[test]
fn every_kind_is_replaced_when_its_name_changes() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("rename-all", FULL);
    moto.apply(&spec);
    let renamed = FULL
        .replace("e2e-lake-${account}", "e2e-lake2-${account}")
        .replace("db: { description: trips }", "db: { name: e2e_db2, description: trips }")
        .replace("    t:\n      database: db", "    t:\n      name: t2\n      database: db");
    std::fs::write(&spec, renamed).unwrap();
    let plan = moto.pipectl(&["plan", &spec]).run().expect_code(0);
    for line in
        ["x/+ bucket.lake", "-/+ glue_database.db", "x/+ glue_table.t", "name: e2e_db -> e2e_db2", "name: t -> t2"]
    {
        assert!(plan.stdout.contains(line), "{line} missing:\n{}", plan.stdout);
    }
    moto.apply(&spec);
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);
    let sdk = moto.sdk();
    let buckets: Vec<String> = sdk
        .run(sdk.s3.list_buckets().send())
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(buckets, ["e2e-lake2-123456789012"]);
    let dbs: Vec<String> = sdk
        .run(sdk.glue.get_databases().send())
        .unwrap()
        .database_list()
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    assert_eq!(dbs, ["e2e_db2"]);
    assert!(sdk.run(sdk.glue.get_table().database_name("e2e_db2").name("t2").send()).is_ok());
}

#[test]
fn unowned_bucket_and_other_envs_resources_are_conflicts() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.s3.create_bucket().bucket("someone-elses").send()).unwrap();
    let spec = spec_path("conflict2", "pipeline: c2\nbuckets:\n  b: { name: someone-elses }\n");
    let run = moto.pipectl(&["plan", &spec]).run().expect_code(1);
    assert!(run.stdout.contains("! bucket.b"), "{}", run.stdout);
    assert!(run.stdout.contains("without pipectl's ownership tags"), "{}", run.stdout);
    // Owned by another env of the same pipeline: also a conflict, and named.
    let one = spec_path("conflict3", "pipeline: c3\nbuckets:\n  b: { name: \"c3-${env}-bucket\" }\n");
    moto.pipectl(&["apply", &one, "--yes", "--env", "one"]).run().expect_code(0);
    let other = spec_path("conflict4", "pipeline: c3\nbuckets:\n  b: { name: c3-one-bucket }\n");
    let run = moto.pipectl(&["plan", &other]).run().expect_code(1);
    assert!(run.stdout.contains("belongs to pipeline `c3` env `one`"), "{}", run.stdout);
}

#[test]
fn outputs_names_arns_console_links_and_what_exists() {
    let Some(moto) = Moto::start() else { return };
    let spec = spec_path("outputs", FULL);
    let before = moto.pipectl(&["outputs", &spec, "--json"]).run().expect_code(0).json();
    assert_eq!(before["resources"]["stream.trips"]["exists"], false);
    moto.apply(&spec);
    let doc = moto.pipectl(&["outputs", &spec, "--json"]).run().expect_code(0).json();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["account"], "123456789012");
    let s = &doc["resources"]["stream.trips"];
    assert_eq!(s["name"], "e2e-trips");
    assert_eq!(s["arn"], "arn:aws:kinesis:us-east-1:123456789012:stream/e2e-trips");
    assert_eq!(s["exists"], true);
    assert!(s["console"].as_str().unwrap().contains("/kinesis/home?region=us-east-1#/streams/details/e2e-trips"));
    assert_eq!(doc["resources"]["glue_table.t"]["arn"], "arn:aws:glue:us-east-1:123456789012:table/e2e_db/t");
    assert_eq!(doc["resources"]["bucket.lake"]["arn"], "arn:aws:s3:::e2e-lake-123456789012");
    let text = moto.pipectl(&["outputs", &spec]).run().expect_code(0).stdout;
    assert!(
        text.contains("  stream.trips  e2e-trips\n      arn: arn:aws:kinesis:us-east-1:123456789012:stream/e2e-trips"),
        "{text}"
    );
}

/// A deployment too big for one SSM parameter keeps its record in parts,
/// reads it back whole, and leaves no part behind on destroy; a record
/// in the plain JSON of earlier versions is read as it is.
#[test]
fn a_record_past_one_parameter_is_kept_in_parts_and_the_old_format_is_read() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    // 180 databases under keys that do not compress: the listing is far
    // past what a standard parameter (4 KB) holds, even compressed.
    let mut rng = fastrand::Rng::with_seed(7);
    let keys: Vec<String> = (0..180).map(|_| format!("d{:016x}{:08x}", rng.u64(..), rng.u32(..))).collect();
    let mut text =
        String::from("pipeline: big\nstreams: { s: { mode: on_demand, encryption: none } }\ncatalog:\n  databases:\n");
    for k in &keys {
        text.push_str(&format!("    {k}: {{}}\n"));
    }
    let spec = spec_path("record_parts", &text);
    moto.pipectl(&["apply", &spec, "--yes"]).run().expect_code(0);
    let head = sdk.run(sdk.ssm.get_parameter().name("/pipectl/big/default").send()).unwrap();
    let head = head.parameter().unwrap().value().unwrap().to_string();
    assert!(head.contains("\"generation\"") && head.len() <= 4096, "{head}");
    let parts = sdk.run(sdk.parameters_by_path("/pipectl-parts/big/default")).unwrap();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    let record = sdk.record("/pipectl/big/default");
    assert_eq!(record["resources"].as_object().unwrap().len(), 181);
    moto.pipectl(&["plan", &spec, "--detailed-exitcode"]).run().expect_code(0);
    let listed = moto.pipectl(&["list", "--json"]).run().expect_code(0).json();
    assert!(listed.to_string().contains("\"big\""), "{listed}");

    // The same deployment as an earlier pipectl stored it: plain JSON in
    // one parameter (a small listing). It is read, and rewritten in the
    // new form by the next change.
    let small =
        "pipeline: big\nstreams: { s: { mode: on_demand, encryption: none } }\ncatalog:\n  databases:\n    one: {}\n";
    let small_spec = spec_path("record_parts_small", small);
    moto.pipectl(&["destroy", &spec, "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.parameters_by_path("/pipectl-parts/big")).unwrap().is_empty(), "parts left behind");
    moto.pipectl(&["apply", &small_spec, "--yes"]).run().expect_code(0);
    let plain = serde_json::json!({
        "v": 1, "region": "us-east-1",
        "resources": { "glue_database.one": "big_one", "stream.s": "big-s" },
    });
    sdk.run(sdk.ssm.put_parameter().name("/pipectl/big/default").value(plain.to_string()).overwrite(true).send())
        .unwrap();
    // Read as it is: nothing to change but the record, which learns the
    // fields it lacks (what it costs, since when) on the next apply.
    let plan = moto.pipectl(&["plan", &small_spec, "--detailed-exitcode"]).run().expect_code(2);
    assert!(
        plan.stdout.contains("~ record.deployment") && plan.stdout.contains("cost_per_hour: null ->"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("0 to create, 1 to update, 0 to replace, 0 to delete, 2 unchanged"),
        "{}",
        plan.stdout
    );
    let two = "pipeline: big\nstreams: { s: { mode: on_demand, encryption: none } }\ncatalog:\n  databases:\n    one: {}\n    two: {}\n";
    let two_spec = spec_path("record_parts_two", two);
    moto.pipectl(&["apply", &two_spec, "--yes"]).run().expect_code(0);
    let head = sdk.run(sdk.ssm.get_parameter().name("/pipectl/big/default").send()).unwrap();
    assert!(head.parameter().unwrap().value().unwrap().starts_with("{\"format\""), "migrated on write");
    assert!(sdk.record("/pipectl/big/default")["resources"]["glue_database.two"].is_string());
    moto.pipectl(&["destroy", &two_spec, "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.ssm.get_parameter().name("/pipectl/big/default").send()).is_err());
}
