//! Lambda functions, their stream triggers and Firehose processors against
//! the emulator.

use crate::emulator::{Moto, Sdk};

fn spec_in(test: &str, text: &str) -> (String, std::path::PathBuf) {
    let path = crate::util::temp_spec("fn", test, text);
    let dir = path.parent().expect("a folder").to_path_buf();
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(
        dir.join("code/handler.py"),
        "def handler(event, context):\n    return {'n': len(event.get('Records', []))}\n",
    )
    .unwrap();
    (path.display().to_string(), dir)
}

const BASE: &str = "
pipeline: fn
buckets: { lake: { name: fn-lake, on_destroy: delete } }
streams: { trips: {} }
firehoses:
  out: { source: direct, destination: { bucket: lake } }
functions:
  filter:
    runtime: python3.12
    code: code
    handler: handler.handler
    memory_mb: 256
    timeout_seconds: 60
    environment: { DELIVERY_STREAM: \"${firehoses.out.name}\", MODE: strict }
    writes: [firehoses.out]
    trigger:
      stream: trips
      batch_size: 100
      batching_window_seconds: 5
      starting_position: latest
      parallelization_factor: 2
      on_failure: { bisect: true, max_retries: 3, max_record_age_seconds: 3600 }
";

fn function(sdk: &Sdk, name: &str) -> aws_sdk_lambda::types::FunctionConfiguration {
    sdk.run(sdk.lambda.get_function().function_name(name).send()).unwrap().configuration().unwrap().clone()
}

fn mappings(sdk: &Sdk, function: &str) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
    sdk.run(sdk.lambda.list_event_source_mappings().function_name(function).send())
        .unwrap()
        .event_source_mappings()
        .to_vec()
}

#[test]
fn function_and_trigger_create_noop_update_delete() {
    let Some(moto) = Moto::start() else { return };
    let (s, dir) = spec_in("lifecycle", BASE);
    moto.apply(&s);
    let sdk = moto.sdk();
    let c = function(&sdk, "fn-filter");
    assert_eq!(c.runtime().map(|r| r.as_str()), Some("python3.12"));
    assert_eq!((c.handler(), c.memory_size(), c.timeout()), (Some("handler.handler"), Some(256), Some(60)));
    assert_eq!(c.role(), Some("arn:aws:iam::123456789012:role/fn-filter-lambda-us-east-1"));
    let env = c.environment().unwrap().variables().unwrap();
    assert_eq!(env["DELIVERY_STREAM"], "fn-out");
    let local = pipectl::package::build(&dir.join("code"), &dir.canonicalize().unwrap()).unwrap();
    assert_eq!(c.code_sha256(), Some(local.sha256.as_str()), "the deployed zip is the deterministic one");
    let m = mappings(&sdk, "fn-filter");
    assert_eq!(m.len(), 1);
    let m = &m[0];
    assert_eq!(m.event_source_arn(), Some("arn:aws:kinesis:us-east-1:123456789012:stream/fn-trips"));
    assert_eq!(m.starting_position().map(|p| p.as_str()), Some("LATEST"));
    assert_eq!(
        (m.batch_size(), m.maximum_batching_window_in_seconds(), m.parallelization_factor()),
        (Some(100), Some(5), Some(2))
    );
    assert_eq!(
        (m.bisect_batch_on_function_error(), m.maximum_retry_attempts(), m.maximum_record_age_in_seconds()),
        (Some(true), Some(3), Some(3600))
    );
    // The role: own logs, read the trigger stream, put on exactly the written firehose.
    let p = sdk
        .run(sdk.iam.get_role_policy().role_name("fn-filter-lambda-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    let st = doc["Statement"].as_array().unwrap();
    let sid = |name: &str| st.iter().find(|s| s["Sid"] == name).cloned().unwrap_or_else(|| panic!("{name} in {doc}"));
    assert_eq!(sid("WriteFirehoses")["Action"], serde_json::json!(["firehose:PutRecord", "firehose:PutRecordBatch"]));
    assert_eq!(
        sid("WriteFirehoses")["Resource"],
        serde_json::json!(["arn:aws:firehose:us-east-1:123456789012:deliverystream/fn-out"])
    );
    assert_eq!(
        sid("ReadTriggerStream")["Resource"],
        serde_json::json!(["arn:aws:kinesis:us-east-1:123456789012:stream/fn-trips"])
    );
    assert_eq!(
        sid("OwnLogs")["Resource"],
        serde_json::json!(["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn-filter:*"])
    );
    assert_eq!(st.len(), 3, "{doc}");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);

    // Code change: only the code is uploaded.
    std::fs::write(dir.join("code/handler.py"), "def handler(event, context):\n    return 2\n").unwrap();
    let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
    assert!(plan.stdout.contains("~ function.filter") && plan.stdout.contains("code_sha256"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // Configuration and environment change in place.
    let text = BASE.replace("memory_mb: 256", "memory_mb: 512").replace("MODE: strict", "MODE: lenient");
    std::fs::write(&s, &text).unwrap();
    let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
    assert!(plan.stdout.contains("memory_mb: 256 -> 512"), "{}", plan.stdout);
    assert!(plan.stdout.contains("environment: (sensitive) changed"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("strict") && !plan.stdout.contains("lenient"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    assert_eq!(function(&sdk, "fn-filter").memory_size(), Some(512));
    // Reserved concurrency: set, changed, removed, each in place.
    let reserved = |sdk: &Sdk| {
        let out = sdk.run(sdk.lambda.get_function_concurrency().function_name("fn-filter").send()).unwrap();
        out.reserved_concurrent_executions()
    };
    assert_eq!(reserved(&sdk), None);
    for (spec, want) in
        [("    reserved_concurrency: 5\n", Some(5)), ("    reserved_concurrency: 2\n", Some(2)), ("", None)]
    {
        let with = text.replace("    environment:", &format!("{spec}    environment:"));
        std::fs::write(&s, &with).unwrap();
        let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
        assert!(plan.stdout.contains("reserved_concurrency"), "{}", plan.stdout);
        moto.apply(&s);
        moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
        assert_eq!(reserved(&sdk), want);
    }
    // Trigger options change in place.
    let text = text
        .replace("batch_size: 100", "batch_size: 500")
        .replace("max_retries: 3", "max_retries: 5")
        .replace("parallelization_factor: 2", "parallelization_factor: 4");
    std::fs::write(&s, &text).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(
        plan.stdout.contains("~ trigger.filter") && plan.stdout.contains("batch_size: 100 -> 500"),
        "{}",
        plan.stdout
    );
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    let m = &mappings(&sdk, "fn-filter")[0];
    assert_eq!((m.batch_size(), m.maximum_retry_attempts(), m.parallelization_factor()), (Some(500), Some(5), Some(4)));
    // Starting position: replaced, still one mapping.
    let text = text.replace("starting_position: latest", "starting_position: trim_horizon");
    std::fs::write(&s, &text).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("-/+ trigger.filter"), "{}", plan.stdout);
    moto.apply(&s);
    let m = mappings(&sdk, "fn-filter");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].starting_position().map(|p| p.as_str()), Some("TRIM_HORIZON"));
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);

    // Destroy: trigger, function, its log group, its role.
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.lambda.list_functions().send()).unwrap().functions().is_empty());
    assert!(mappings(&sdk, "fn-filter").is_empty());
    let groups = sdk.run(sdk.logs.describe_log_groups().log_group_name_prefix("/aws/lambda/").send()).unwrap();
    assert!(groups.log_groups().is_empty());
    // Again: everything already gone.
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

#[test]
fn a_leftover_mapping_is_adopted_and_duplicates_removed() {
    let Some(moto) = Moto::start() else { return };
    let without_trigger = BASE.split("    trigger:").next().unwrap().to_string();
    let (s, _dir) = spec_in("adopt", &without_trigger);
    moto.apply(&s);
    let sdk = moto.sdk();
    // Two mappings left behind for the same function and stream.
    for _ in 0..2 {
        sdk.run(
            sdk.lambda
                .create_event_source_mapping()
                .function_name("fn-filter")
                .event_source_arn("arn:aws:kinesis:us-east-1:123456789012:stream/fn-trips")
                .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
                .batch_size(100)
                .send(),
        )
        .unwrap();
    }
    std::fs::write(&s, BASE).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ trigger.filter"), "adopted, not created:\n{}", plan.stdout);
    assert!(plan.stdout.contains("count: 2 -> 1"), "{}", plan.stdout);
    moto.apply(&s);
    let m = mappings(&sdk, "fn-filter");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].parallelization_factor(), Some(2));
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
}

#[test]
fn processor_is_wired_with_invoke_permission() {
    let Some(moto) = Moto::start() else { return };
    let text = "
pipeline: pr
buckets: { lake: { name: pr-lake } }
firehoses:
  out:
    source: direct
    destination: { bucket: lake }
    processor: { function: enrich }
functions:
  enrich: { runtime: python3.12, code: code, handler: handler.handler, timeout_seconds: 60 }
";
    let (s, _dir) = spec_in("processor", text);
    moto.apply(&s);
    let sdk = moto.sdk();
    let d = sdk.run(sdk.firehose.describe_delivery_stream().delivery_stream_name("pr-out").send()).unwrap();
    let s3 = d.delivery_stream_description().unwrap().destinations()[0]
        .extended_s3_destination_description()
        .unwrap()
        .clone();
    let proc = s3.processing_configuration().unwrap();
    assert_eq!(proc.enabled(), Some(true));
    let param = &proc.processors()[0].parameters()[0];
    assert_eq!(param.parameter_value(), "arn:aws:lambda:us-east-1:123456789012:function:pr-enrich");
    let p = sdk
        .run(sdk.iam.get_role_policy().role_name("pr-out-firehose-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document()).to_string();
    assert!(doc.contains("\"lambda:InvokeFunction\""), "{doc}");
    assert!(doc.contains("arn:aws:lambda:us-east-1:123456789012:function:pr-enrich"), "{doc}");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // Removing the processor updates the stream in place.
    std::fs::write(&s, text.replace("    processor: { function: enrich }\n", "")).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ firehose.out"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
}

#[test]
fn labs_with_functions_apply_and_destroy() {
    for (lab, region, targets) in [
        ("lambda-firehose-parquet-glue", "us-west-2", vec![]),
        ("sensor-streaming-lab", "us-east-1", vec!["--target", "trigger", "--target", "firehose"]),
        ("stream-data-processor", "us-east-1", vec!["--target", "trigger"]),
        ("kinesis-agent-lambda-s3", "us-east-1", vec!["--target", "trigger", "--target", "firehose"]),
        ("lab", "us-east-1", vec!["--target", "trigger", "--target", "firehose"]),
    ] {
        let Some(moto) = Moto::start() else { return };
        let path = format!("pipelines/{lab}.yaml");
        let mut args = vec!["apply", path.as_str(), "--yes"];
        args.extend(targets.iter().copied());
        moto.pipectl(&args).run().expect_code(0);
        let mut plan = vec!["plan", path.as_str(), "--detailed-exitcode"];
        plan.extend(targets.iter().copied());
        moto.pipectl(&plan).run().expect_code(0);
        let pipeline = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("pipeline: ").map(str::to_string))
            .unwrap();
        moto.pipectl(&["destroy", "--pipeline", &pipeline, "--yes", "--region", region]).run().expect_code(0);
    }
}

#[test]
fn policy_statements_are_added_to_the_generated_role() {
    let Some(moto) = Moto::start() else { return };
    let text = "
pipeline: po
buckets: { ref: { name: po-reference } }
functions:
  f:
    runtime: python3.12
    code: code
    handler: handler.handler
    policy:
      - actions: [s3:GetObject, s3:ListBucket]
        resources: [\"${buckets.ref.arn}\", \"${buckets.ref.arn}/*\"]
";
    let (s, _dir) = spec_in("policy", text);
    moto.apply(&s);
    let sdk = moto.sdk();
    let p =
        sdk.run(sdk.iam.get_role_policy().role_name("po-f-lambda-us-east-1").policy_name("pipectl").send()).unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    let extra = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "FromSpec1").cloned().unwrap();
    assert_eq!(extra["Action"], serde_json::json!(["s3:GetObject", "s3:ListBucket"]));
    assert_eq!(extra["Resource"], serde_json::json!(["arn:aws:s3:::po-reference", "arn:aws:s3:::po-reference/*"]));
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // Dropping the statement updates the role in place.
    std::fs::write(&s, text.split("    policy:").next().unwrap()).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ role.function-f"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
}

fn filters(sdk: &Sdk, group: &str) -> Vec<aws_sdk_cloudwatchlogs::types::MetricFilter> {
    sdk.run(sdk.logs.describe_metric_filters().log_group_name(group).send()).unwrap().metric_filters().to_vec()
}

#[test]
fn metric_filter_create_noop_update_delete_and_gone() {
    let Some(moto) = Moto::start() else { return };
    let with = |pattern: &str, value: &str, default: &str| {
        format!(
            "{BASE}metric_filters:\n  errors:\n    function: filter\n    pattern: '{pattern}'\n    metric: {{ namespace: fn-lab, name: Errors, value: \"{value}\"{default} }}\n"
        )
    };
    let (s, _) = spec_in("metric-filter", &with("\"ERROR\"", "1", ""));
    moto.apply(&s);
    let sdk = moto.sdk();
    let f = filters(&sdk, "/aws/lambda/fn-filter");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].filter_name(), f[0].filter_pattern()), (Some("fn-errors"), Some("\"ERROR\"")));
    let t = &f[0].metric_transformations()[0];
    assert_eq!((t.metric_namespace(), t.metric_name(), t.metric_value()), ("fn-lab", "Errors", "1"));
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // The dashboard-less spec still graphs it under its log group.
    let graph = moto.pipectl(&["graph", &s]).run().expect_code(0);
    assert!(graph.stdout.contains("metric_filter.errors"), "{}", graph.stdout);

    // Pattern, value and default change in place.
    std::fs::write(&s, with("{ $.level = \"error\" }", "$.count", ", default: 0")).unwrap();
    let plan = moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(2);
    assert!(plan.stdout.contains("~ metric_filter.errors"), "{}", plan.stdout);
    assert!(plan.stdout.contains("pattern") && plan.stdout.contains("value"), "{}", plan.stdout);
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // The emulator keeps the replaced filter beside the new one; the newest is last.
    let t = filters(&sdk, "/aws/lambda/fn-filter").last().unwrap().metric_transformations()[0].clone();
    assert_eq!((t.metric_value(), t.default_value()), ("$.count", Some(0.0)));

    // Removed from the spec: deleted.
    std::fs::write(&s, BASE).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("- metric_filter.errors"), "{}", plan.stdout);
    moto.apply(&s);
    assert!(filters(&sdk, "/aws/lambda/fn-filter").is_empty());

    // Deleted behind pipectl's back: destroy finds it gone and finishes.
    std::fs::write(&s, with("\"ERROR\"", "1", "")).unwrap();
    moto.apply(&s);
    sdk.run(sdk.logs.delete_metric_filter().log_group_name("/aws/lambda/fn-filter").filter_name("fn-errors").send())
        .unwrap();
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(sdk.leftovers().is_empty(), "{:?}", sdk.leftovers());
}

#[test]
fn a_metric_filter_in_a_log_group_pipectl_does_not_own_is_left_alone() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    // Someone else's function log group with a filter of the name the spec wants.
    sdk.run(sdk.logs.create_log_group().log_group_name("/aws/lambda/fn-filter").send()).unwrap();
    let t = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_namespace("theirs")
        .metric_name("Theirs")
        .metric_value("1")
        .build()
        .unwrap();
    sdk.run(
        sdk.logs
            .put_metric_filter()
            .log_group_name("/aws/lambda/fn-filter")
            .filter_name("fn-errors")
            .filter_pattern("theirs")
            .metric_transformations(t)
            .send(),
    )
    .unwrap();
    let text = format!(
        "{BASE}metric_filters:\n  errors:\n    function: filter\n    pattern: '\"ERROR\"'\n    metric: {{ namespace: fn-lab, name: Errors }}\n"
    );
    let (s, _) = spec_in("metric-filter-foreign", &text);
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(1);
    assert!(plan.stdout.contains("! metric_filter.errors"), "{}", plan.stdout);
    moto.pipectl(&["apply", &s, "--yes"]).run().expect_code(1);
    let f = filters(&sdk, "/aws/lambda/fn-filter");
    assert_eq!(f[0].filter_pattern(), Some("theirs"), "never modified");
}

/// Five consumers: enough of each kind for a plan to list roles, log
/// groups, mappings and tags in one call each instead of reading each.
fn many(n: usize) -> String {
    let mut text = String::from("pipeline: many\nstreams:\n");
    for i in 0..n {
        text.push_str(&format!("  s{i}: {{ encryption: none }}\n"));
    }
    text.push_str("functions:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  c{i}: {{ runtime: python3.12, code: code, handler: handler.handler, trigger: {{ stream: s{i} }} }}\n"
        ));
    }
    text
}

#[test]
fn many_of_a_kind_are_read_from_listings_and_still_see_drift_and_strangers() {
    let Some(moto) = Moto::start() else { return };
    let (s, _dir) = spec_in("many", &many(5));
    moto.apply(&s);
    let proxy = crate::faults::Proxy::start(&moto.url, crate::faults::Faults::default());
    let plan = || crate::util::pipectl(&["plan", &s, "--json"]).aws_env(&proxy.url).run();
    let clean = plan().expect_code(0);
    assert!(clean.json()["changes"].as_array().unwrap().iter().all(|c| c["action"] == "no_op"), "{}", clean.stdout);
    // One listing each (tags: one per service, streams, log groups and
    // functions), not a call for each of the five.
    for (op, at_most) in
        [("GetResources", 3), ("GetAccountAuthorizationDetails", 1), ("DescribeLogGroups", 1), ("ListTagsLogGroup", 0)]
    {
        assert!(proxy.stats.calls(op) <= at_most, "{op}: {} calls", proxy.stats.calls(op));
    }
    assert_eq!(proxy.stats.calls("GetRole"), 0);

    // A tag changed by hand on a listed log group shows in the next plan.
    let sdk = moto.sdk();
    let groups = sdk.run(sdk.logs.describe_log_groups().send()).unwrap();
    let group = groups.log_groups().iter().filter_map(|g| g.log_group_name()).find(|n| n.contains("c3")).unwrap();
    #[allow(deprecated)]
    sdk.run(sdk.logs.tag_log_group().log_group_name(group).tags("team", "by-hand").send()).unwrap();
    let drift = plan().expect_code(0).json();
    let changed: Vec<&str> = drift["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["log_group.function-c3"], "{drift}");

    // A same-name group someone else made (no tags), among listed ones:
    // never listed as ours, so a conflict, and left alone.
    let stranger = "/aws/lambda/many-c5";
    sdk.run(sdk.logs.create_log_group().log_group_name(stranger).send()).unwrap();
    let (six, _dir6) = spec_in("many-six", &many(6));
    let run = moto.pipectl(&["apply", &six, "--yes"]).run().expect_code(1);
    assert!(run.stdout.contains("! log_group.function-c5"), "{}", run.stdout);
    assert!(run.stderr.contains("not owned by this pipeline"), "{}", run.stderr);
    let left = sdk.run(sdk.logs.describe_log_groups().log_group_name_prefix(stranger).send()).unwrap();
    assert_eq!(left.log_groups()[0].retention_in_days(), None, "left alone");
    moto.pipectl(&["destroy", &six, "--yes"]).run().expect_code(0);
    let after = sdk.run(sdk.logs.describe_log_groups().send()).unwrap();
    let names: Vec<&str> = after.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert_eq!(names, [stranger], "only the stranger's group is left");
}
