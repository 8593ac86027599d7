//! `pipectl deployer-policy`: the policy a CI role needs, proven against an
//! emulator that enforces IAM. moto (5.2.5) checks each request's action
//! against the caller's policies, under its own spelling for some (the
//! signing name as the service: `monitoring:` for CloudWatch, `tagging:`
//! for the tagging API; S3 requests named as moto names them); it checks
//! resources only for S3 (the bucket) and for IAM calls on an existing
//! role, and ignores conditions and `iam:PassRole`. So the policy given
//! to the emulator is the generated one with those spellings added and,
//! outside S3, `Resource: "*"`: the test proves the actions complete and
//! the S3 scoping tight; the unit tests of `deployer` check the rest of
//! the scoping.

use crate::emulator::{Keys, Moto};
use crate::util::{pipectl, temp_spec};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const LAB: &str = "pipelines/lab.yaml";

/// The lab's storage: its bucket, stream, Glue database and table, under
/// an env. moto 5.2.5 under IAM enforcement fails to verify the signature
/// of many requests the Rust SDK signs (every Lambda request; IAM
/// CreateRole, CloudWatch PutMetricAlarm and EC2 CreateSecurityGroup
/// among others: SignatureDoesNotMatch or AuthFailure, for an
/// administrator too), so the roles, Firehoses, function, host, dashboard
/// and alarms of the lab cannot be made as a user there.
const STORAGE: &str = "
pipeline: taxi-lab
buckets: { lake: { name: 'taxi-lab-${env}-${account}', on_destroy: delete } }
streams: { trips: { mode: provisioned, shards: 1 } }
catalog:
  databases: { taxi: {} }
  tables:
    trips:
      database: taxi
      location: { bucket: lake, prefix: trips/ }
      format: parquet
      columns: { vendor_id: string, total_amount: double }
";

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => panic!("{v}"),
    }
}

/// The generated documents (`--split`) for `spec` with `args`.
fn generated(spec: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["deployer-policy", spec, "--split", "--region", "us-east-1", "--account", "123456789012"];
    all.extend_from_slice(args);
    let docs = pipectl(&all).run().expect_code(0).json();
    docs.as_array().unwrap().clone()
}

/// A generated document as moto reads it (see the module's comment).
fn for_moto(doc: &Value) -> Value {
    let mut doc = doc.clone();
    for s in doc["Statement"].as_array_mut().unwrap() {
        let mut actions = BTreeSet::new();
        for a in list(&s["Action"]) {
            let (service, op) = a.split_once(':').unwrap();
            let service = match service {
                "cloudwatch" => "monitoring",
                "tag" => "tagging",
                other => other,
            };
            actions.insert(format!("{service}:{op}"));
            let moto_names: &[&str] = match a.as_str() {
                "s3:ListBucket" => &["s3:HeadBucket"],
                "s3:GetBucketPublicAccessBlock" => &["s3:GetPublicAccessBlock"],
                "s3:PutBucketPublicAccessBlock" => &["s3:PutPublicAccessBlock", "s3:DeletePublicAccessBlock"],
                // moto names `PUT ?encryption` CreateBucket and `DELETE ?encryption` DeleteBucket.
                "s3:PutEncryptionConfiguration" => &["s3:CreateBucket", "s3:DeleteBucket"],
                _ => &[],
            };
            actions.extend(moto_names.iter().map(|n| n.to_string()));
        }
        let s3 = actions.iter().all(|a| a.starts_with("s3:"));
        s["Action"] = json!(actions);
        if !s3 {
            s["Resource"] = json!("*");
        } else if s["Resource"] != "*" {
            // moto checks a multi-object delete against the bucket.
            let mut r = list(&s["Resource"]);
            r.extend(r.clone().iter().filter_map(|a| a.strip_suffix("/*")).map(str::to_string));
            s["Resource"] = json!(r);
        }
    }
    doc
}

/// An IAM user holding only `docs` (as managed policies), made by the
/// administrator; its keys.
fn user_with(moto: &Moto, admin: &Keys, name: &str, docs: &[Value]) -> Keys {
    let sdk = moto.sdk_as(admin);
    sdk.run(async {
        sdk.iam.create_user().user_name(name).send().await.unwrap();
        for (i, d) in docs.iter().enumerate() {
            let p = sdk
                .iam
                .create_policy()
                .policy_name(format!("{name}-{i}"))
                .policy_document(for_moto(d).to_string())
                .send()
                .await
                .unwrap();
            let arn = p.policy().unwrap().arn().unwrap().to_string();
            sdk.iam.attach_user_policy().user_name(name).policy_arn(arn).send().await.unwrap();
        }
        let key = sdk.iam.create_access_key().user_name(name).send().await.unwrap();
        let key = key.access_key().unwrap();
        Keys { id: key.access_key_id().to_string(), secret: key.secret_access_key().to_string() }
    })
}

#[test]
fn no_list_of_the_permissions_the_ci_role_needs() {
    let Some((moto, admin)) = Moto::start_enforcing_iam() else { return };
    // Enforced: the default test keys are nobody's.
    let spec = temp_spec("deployer", "storage", STORAGE).display().to_string();
    let (lab, env) = (spec.as_str(), ["--env", "pr-3"]);
    moto.pipectl(&["plan", lab, env[0], env[1]]).run().expect_code(1);
    let docs = generated(lab, &env);
    let ci = user_with(&moto, &admin, "ci", &docs);
    moto.pipectl_as(&ci, &["apply", lab, env[0], env[1], "--yes"]).run().expect_code(0);
    moto.pipectl_as(&ci, &["plan", lab, env[0], env[1], "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl_as(&ci, &["destroy", lab, env[0], env[1], "--yes"]).run().expect_code(0);
    // And gc destroying what was left for a while: its listing, lock and destroy.
    moto.pipectl_as(&ci, &["apply", lab, env[0], env[1], "--yes"]).run().expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let gc = ["gc", "--older-than", "1s", "--pipeline", "taxi-lab", "--env-pattern", "pr-*", "--yes"];
    let run = moto.pipectl_as(&ci, &gc).run().expect_code(0);
    assert!(run.stderr.contains("taxi-lab/pr-3"), "{}", run.stderr);
    // Nothing left (the emulator's Lambda cannot be listed under enforcement).
    let sdk = moto.sdk_as(&admin);
    sdk.run(async {
        assert!(sdk.kinesis.list_streams().send().await.unwrap().stream_names().is_empty());
        assert!(sdk.s3.list_buckets().send().await.unwrap().buckets().is_empty());
        assert!(sdk.glue.get_databases().send().await.unwrap().database_list().is_empty());
        let params = sdk.ssm.get_parameters_by_path().path("/").recursive(true).send().await.unwrap();
        assert!(params.parameters().iter().all(|p| !p.name().unwrap_or_default().contains("pipectl")));
    });
}

#[test]
fn the_policy_is_tight_one_action_less_and_apply_is_denied() {
    let Some((moto, admin)) = Moto::start_enforcing_iam() else { return };
    // moto answers a refused Kinesis call (a JSON API) with an XML body,
    // which the SDK cannot read: pipectl retries such a garbled answer as
    // it would a lost one, until the kind's timeout, kept short here.
    let text = format!("timeouts: {{ stream: 30 }}{STORAGE}");
    let lab = temp_spec("deployer", "tight", &text).display().to_string();
    let mut docs = generated(&lab, &[]);
    let mut removed = false;
    for d in &mut docs {
        for s in d["Statement"].as_array_mut().unwrap() {
            let actions: Vec<String> = list(&s["Action"]).into_iter().filter(|a| a != "kinesis:CreateStream").collect();
            removed |= actions.len() != list(&s["Action"]).len();
            s["Action"] = json!(actions);
        }
    }
    assert!(removed, "the lab's policy grants kinesis:CreateStream");
    let ci = user_with(&moto, &admin, "ci", &docs);
    let run = moto.pipectl_as(&ci, &["apply", &lab, "--yes"]).run().expect_code(1);
    assert!(
        run.stderr.contains("stream.trips: FAILED") && run.stderr.contains("CreateStream failed"),
        "{}",
        run.stderr
    );
    let failed = run.stderr.lines().filter(|l| l.contains("FAILED")).count();
    assert_eq!(failed, 1, "only the stream's create is refused: {}", run.stderr);
    let sdk = moto.sdk_as(&admin);
    assert!(sdk.run(sdk.kinesis.list_streams().send()).unwrap().stream_names().is_empty());
}

const SMALL: &str = "
pipeline: ci
buckets: { lake: { name: 'ci-lake-${env}', on_destroy: delete } }
streams: { trips: {} }
";

#[test]
fn an_env_pattern_serves_the_envs_it_matches_and_no_other() {
    let Some((moto, admin)) = Moto::start_enforcing_iam() else { return };
    let spec = temp_spec("deployer", "pattern", SMALL);
    let spec = spec.to_str().unwrap();
    let docs = generated(spec, &["--env-pattern", "pr-*"]);
    let text = Value::from(docs.clone()).to_string();
    assert!(text.contains("arn:aws:s3:::ci-lake-pr-*") && text.contains("parameter/pipectl/ci/pr-*"), "{text}");
    let ci = user_with(&moto, &admin, "ci", &docs);
    moto.pipectl_as(&ci, &["apply", spec, "--env", "pr-7", "--yes"]).run().expect_code(0);
    // Another env's bucket is beyond the policy (moto scopes S3 by
    // bucket): refused, it reads as someone else's, and nothing is made.
    let run = moto.pipectl_as(&ci, &["apply", spec, "--env", "qa-1", "--yes"]).run().expect_code(1);
    assert!(run.stderr.contains("ci-lake-qa-1"), "{}", run.stderr);
    let sdk = moto.sdk_as(&admin);
    assert!(sdk.run(sdk.s3.head_bucket().bucket("ci-lake-qa-1").send()).is_err(), "no bucket for qa-1");
    moto.pipectl_as(&ci, &["destroy", spec, "--env", "pr-7", "--yes"]).run().expect_code(0);
}

#[test]
fn bad_input_exits_2_before_any_aws_call() {
    let bad = temp_spec("deployer", "bad", "pipeline: Bad_Name\nstreams: { s: {} }\n");
    let run = pipectl(&["deployer-policy", bad.to_str().unwrap(), "--region", "us-east-1"]).run().expect_code(2);
    assert!(run.stderr.contains("spec.yaml:1:"), "{}", run.stderr);
    for args in [
        &["deployer-policy", LAB][..],
        &["deployer-policy", LAB, "--region", "us-east-1", "--account", "12345"],
        &["deployer-policy", LAB, "--region", "us-east-1", "--env", "pr-1", "--env-pattern", "pr-*"],
        &["deployer-policy", LAB, "--region", "us-east-1", "--env-pattern", "PR_*"],
    ] {
        let run = pipectl(args).run().expect_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    // Without `--account`, a placeholder CloudFormation's Fn::Sub fills in.
    let doc = pipectl(&["deployer-policy", LAB, "--region", "eu-west-1"]).run().expect_code(0).json();
    assert!(doc.to_string().contains("arn:aws:kinesis:eu-west-1:${AWS::AccountId}:stream/taxi-lab-trips"), "{doc}");
}

/// The lab's policy shown in docs/ci-permissions.md is what the command
/// prints today: a new call, or a new name it acts on, shows there.
#[test]
fn the_lab_policy_in_the_docs_is_current() {
    let doc = std::fs::read_to_string(crate::util::root().join("docs/ci-permissions.md")).unwrap();
    let command = "`pipectl deployer-policy pipelines/lab.yaml --region us-east-1`, in full:";
    let after = &doc[doc.find(command).expect("the docs show the lab's policy") + command.len()..];
    let start = after.find("```json\n").expect("a json block") + "```json\n".len();
    let shown = &after[start..start + after[start..].find("```").unwrap()];
    let run = pipectl(&["deployer-policy", "pipelines/lab.yaml", "--region", "us-east-1"]).run().expect_code(0);
    let (shown, now): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(shown).unwrap(), serde_json::from_str(&run.stdout).unwrap());
    assert!(shown == now, "docs/ci-permissions.md shows an old policy: replace its block with\n{}", run.stdout);
}

#[test]
fn a_yaml_escape_turns_any_name_into_star() {
    // `\x30` is `0`: the spec spells the env pattern's stand-in in names
    // the raw text does not show.
    let escaped =
        "pipeline: taxi-lab\nstreams: { trips: { shards: 1 } }\nbuckets:\n  b: { name: \"wild\\x30card${env}\" }\n";
    let spec = temp_spec("deployer", "escape", escaped);
    let args = ["deployer-policy", spec.to_str().unwrap(), "--region", "us-east-1", "--env-pattern", "pr-*"];
    let run = pipectl(&args).run().expect_code(2);
    assert!(run.stdout.is_empty() && run.stderr.contains("stand-in"), "{}{}", run.stdout, run.stderr);
    // Spelled plainly, the raw-text guard refuses it too.
    let plain = temp_spec("deployer", "plain", &escaped.replace("\\x30", "0"));
    let args = ["deployer-policy", plain.to_str().unwrap(), "--region", "us-east-1", "--env-pattern", "pr-*"];
    pipectl(&args).run().expect_code(2);
}

#[test]
fn an_env_pattern_pr_star_silently_matches_prod() {
    for pattern in ["pr*", "*", "*-eu"] {
        let run = pipectl(&["deployer-policy", LAB, "--region", "us-east-1", "--env-pattern", pattern]).run();
        let run = run.expect_code(2);
        assert!(run.stdout.is_empty() && run.stderr.contains("pr-*"), "{pattern}: {}", run.stderr);
    }
}

#[test]
fn the_pull_request_role_can_make_itself_account_admin() {
    let args = ["deployer-policy", LAB, "--region", "us-east-1", "--account", "123456789012"];
    let mut with = args.to_vec();
    with.extend(["--policy", "policies/pull-request.yaml", "--env-pattern", "pr-*"]);
    let doc = pipectl(&with).run().expect_code(0).json();
    let text = doc.to_string();
    assert!(!text.contains("iam:DeleteRolePermissionsBoundary"), "{text}");
    let bounded = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "RolesOnlyWithTheBoundary");
    let bounded = bounded.expect("role changes bounded");
    assert_eq!(
        bounded["Condition"]["StringEquals"]["iam:PermissionsBoundary"],
        "arn:aws:iam::123456789012:policy/pipectl-pr-boundary"
    );
}

#[test]
fn split_over_the_limits_is_refused_beyond_ten_policies() {
    let mut text = String::from("pipeline: big\nbuckets:\n");
    for i in 0..1200 {
        text += &format!("  b{i}: {{ name: \"big-b{i}-${{env}}-${{account}}\", on_destroy: delete }}\n");
    }
    let spec = temp_spec("deployer", "big", &text);
    let args = ["deployer-policy", spec.to_str().unwrap(), "--region", "us-east-1", "--split"];
    let run = pipectl(&args).run().expect_code(2);
    assert!(run.stdout.is_empty() && run.stderr.contains("10"), "{}", run.stderr);
}

#[test]
fn status_needs_include_status_and_runs_under_it() {
    let Some((moto, admin)) = Moto::start_enforcing_iam() else { return };
    let spec = temp_spec("deployer", "status", STORAGE).display().to_string();
    let (lab, env) = (spec.as_str(), ["--env", "pr-4"]);
    let ci = user_with(&moto, &admin, "ci", &generated(lab, &[env[0], env[1], "--include", "status"]));
    moto.pipectl_as(&ci, &["apply", lab, env[0], env[1], "--yes"]).run().expect_code(0);
    let doc = moto.pipectl_as(&ci, &["status", lab, env[0], env[1], "--json"]).run().expect_code(0).json();
    assert_eq!(doc["calls"]["get_metric_data"], 1, "{doc}");
    let plain = user_with(&moto, &admin, "plain", &generated(lab, &env));
    let run = moto.pipectl_as(&plain, &["status", lab, env[0], env[1]]).run().expect_code(1);
    assert!(run.stderr.contains("GetMetricData"), "{}", run.stderr);
    assert!(run.stderr.contains("--include status"), "the hint names the flag: {}", run.stderr);
    moto.pipectl_as(&ci, &["destroy", lab, env[0], env[1], "--yes"]).run().expect_code(0);
}
