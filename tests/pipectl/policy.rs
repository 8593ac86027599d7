//! The operator's policy: a spec from a pull request runs with the CI
//! role, so what it may reach beyond its own pipeline is the operator's
//! to say (`--policy`), never its own. Each test is named after what a
//! reviewer of such a pull request found the spec could do.

use crate::emulator::Moto;
use crate::util::{pipectl, root, temp_spec};
use std::path::PathBuf;

fn template() -> String {
    root().join("templates/lambda/decode_and_log.py").display().to_string()
}

/// A pipeline with one function; `extra` is indented under it.
fn function_spec(extra: &str) -> String {
    format!(
        "pipeline: pol\nbuckets: {{ lake: {{}} }}\nfunctions:\n  f:\n    runtime: python3.12\n    code: {}\n    handler: decode_and_log.handler\n{extra}",
        template()
    )
}

/// A spec whose function has one extra statement.
fn statement_spec(statement: &str) -> String {
    function_spec(&format!("    policy:\n      - {statement}\n"))
}

/// `spec.yaml` and `policy.yaml` side by side in a folder of `test`'s own.
fn files(test: &str, spec: &str, policy: &str) -> (String, String) {
    let s = temp_spec("policy", test, spec);
    let p: PathBuf = s.with_file_name("policy.yaml");
    std::fs::write(&p, policy).unwrap();
    (s.display().to_string(), p.display().to_string())
}

#[test]
fn a_spec_cannot_switch_the_iam_guard_off_itself() {
    let Some(moto) = Moto::start() else { return };
    let waived = statement_spec("{ actions: [iam:PassRole], resources: [\"*\"], allow_privilege_escalation: true }");
    let (s, p) = files("waiver", &waived, "statements: { waivers: false }\n");
    // The plan used to warn and `apply --yes` went on.
    let run = moto.pipectl(&["apply", &s, "--yes"]).run().expect_code(2);
    assert!(run.stderr.contains("error[privilege-escalation]"), "{}", run.stderr);
    assert!(run.stderr.contains("--allow-privilege-escalation"), "{}", run.stderr);
    moto.pipectl(&["apply", &s, "--yes", "--policy", &p]).run().expect_code(2);
    assert!(moto.sdk().leftovers().is_empty(), "nothing was created");
    // The operator may honour it: a flag, or the policy.
    let plan = moto.pipectl(&["plan", &s, "--allow-privilege-escalation"]).run().expect_code(0);
    assert!(plan.stdout.contains("warning: functions.f.policy[0] grants iam:PassRole on *"), "{}", plan.stdout);
    std::fs::write(&p, "statements: { waivers: true }\n").unwrap();
    let plan = moto.pipectl(&["plan", &s, "--policy", &p]).run().expect_code(0);
    assert!(plan.stdout.contains("allowed by") && plan.stdout.contains("(statements.waivers)"), "{}", plan.stdout);
}

#[test]
fn grants_beyond_the_pipeline_are_judged_against_the_escalation_and_exposure_catalogues() {
    let refused = [
        "{ actions: [sts:AssumeRole], resources: [\"*\"] }",
        "{ actions: [ssm:SendCommand], resources: [\"*\"] }",
        "{ actions: [ssm:PutParameter], resources: [\"*\"] }",
        "{ actions: [lambda:UpdateFunctionCode], resources: [\"*\"] }",
        "{ actions: [secretsmanager:GetSecretValue], resources: [\"*\"] }",
        "{ actions: [\"s3:*\"], resources: [\"*\"] }",
        "{ actions: [\"s3:Get*\"], resources: [\"arn:aws:s3:::someone-elses-bucket/*\"] }",
        "{ actions: [iam:PassRole], resources: [\"arn:aws:iam::123456789012:role/adm?n\"] }",
        "{ actions: [\"iam:Pass*\"], resources: [\"*\"] }",
        "{ actions: [\"kms:Decrypt\"], resources: [\"*\"] }",
        // What no catalogue names is refused beyond the pipeline all the same.
        "{ actions: [kinesis:SubscribeToShard], resources: [\"*\"] }",
        "{ actions: [glue:GetConnection], resources: [\"*\"] }",
        "{ actions: [lambda:GetFunctionConfiguration], resources: [\"*\"] }",
        "{ actions: [s3:PutLifecycleConfiguration], resources: [\"*\"] }",
        "{ actions: [kinesis:RemoveTagsFromStream], resources: [\"*\"] }",
        "{ actions: [s3:ListBucket], resources: [\"arn:aws:s3:::someone-elses-bucket\"] }",
        // Growing past the operator's limits, even on its own stream.
        "{ actions: [kinesis:UpdateShardCount], resources: [\"*\"] }",
    ];
    for st in refused {
        let s = temp_spec("policy", "catalogue", &statement_spec(st));
        let run = pipectl(&["validate", "--json", s.to_str().unwrap()]).run().expect_code(2);
        let d = &run.json()["diagnostics"][0];
        assert_eq!(d["rule"], "privilege-escalation", "{st}: {}", run.stdout);
        assert_eq!(d["line"], 9, "{st}: at the statement");
    }
    // This pipeline's own resources are its own to use.
    let own = "{ actions: [\"s3:*\"], resources: [\"${buckets.lake.arn}\", \"${buckets.lake.arn}/*\"] }";
    let s = temp_spec("policy", "catalogue", &statement_spec(own));
    pipectl(&["validate", s.to_str().unwrap()]).run().expect_code(0);
    // The operator may allow one grant beyond it, exactly.
    let reader = "{ actions: [s3:GetObject], resources: [\"arn:aws:s3:::reference-data/*\"] }";
    let allow =
        "statements:\n  allow:\n    - { actions: [s3:GetObject], resources: [\"arn:aws:s3:::reference-data/*\"] }\n";
    let (s, p) = files("catalogue-allow", &statement_spec(reader), allow);
    pipectl(&["validate", &s]).run().expect_code(2);
    pipectl(&["validate", &s, "--policy", &p]).run().expect_code(0);
}

#[test]
fn pass_role_on_one_named_admin_role_needs_the_policy_to_list_it() {
    let admin = "{ actions: [iam:PassRole], resources: [\"arn:aws:iam::123456789012:role/admin\"] }";
    let (s, p) = files("passrole", &statement_spec(admin), "roles: [ci-*]\n");
    let run = pipectl(&["validate", &s, "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("error[policy]") && run.stderr.contains("role/admin"), "{}", run.stderr);
    assert!(run.stderr.contains("under `roles`"), "names the policy line to add: {}", run.stderr);
    std::fs::write(&p, "roles: [admin]\n").unwrap();
    pipectl(&["validate", &s, "--policy", &p]).run().expect_code(0);
    // A role pipectl makes for this pipeline is its own to pass.
    let own = "{ actions: [iam:PassRole], resources: [\"arn:aws:iam::${account}:role/pol-f-lambda-us-east-1\"] }";
    let (s, p) = files("passrole-own", &format!("region: us-east-1\n{}", statement_spec(own)), "{}\n");
    pipectl(&["validate", &s, "--policy", &p]).run().expect_code(0);
}

#[test]
fn not_action_and_not_resource_are_refused_unless_the_policy_allows_them() {
    for st in [
        "{ not_actions: [\"iam:*\"], resources: [\"${buckets.lake.arn}/*\"], allow_privilege_escalation: true }",
        "{ actions: [s3:GetObject], not_resources: [\"arn:aws:s3:::secret-bucket/*\"], allow_privilege_escalation: true }",
    ] {
        let (s, p) = files("negation", &statement_spec(st), "statements: { waivers: true }\n");
        let run = pipectl(&["validate", &s, "--policy", &p]).run().expect_code(2);
        assert!(run.stderr.contains("not_action: true"), "{st}: {}", run.stderr);
        pipectl(&["validate", &s, "--allow-privilege-escalation"]).run().expect_code(2);
        std::fs::write(&p, "statements: { waivers: true, not_action: true }\n").unwrap();
        pipectl(&["validate", &s, "--policy", &p]).run().expect_code(0);
        let t = pipectl(&["export", "cloudformation", &s, "--policy", &p]).run().expect_code(0);
        assert!(t.stdout.contains("NotAction") || t.stdout.contains("NotResource"), "{}", t.stdout);
    }
}

#[test]
fn a_spec_cannot_read_secrets_outside_the_policy() {
    let env = "    environment:\n      DB: \"${secret:prod/db}\"\n      TOKEN: \"${ssm:/pol/pr-1/token}\"\n";
    let policy = "secrets:\n  ssm: [\"/${pipeline}/${env}/*\"]\n  secretsmanager: [\"${pipeline}/*\"]\n";
    let (s, p) = files("secrets", &function_spec(env), policy);
    // Offline, before any AWS call (the endpoint is unreachable).
    let run = pipectl(&["plan", &s, "--env", "pr-1", "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("`functions.f.environment.DB` (prod/db)"), "{}", run.stderr);
    assert!(run.stderr.contains("add \"prod/db\" under `secrets.secretsmanager`"), "{}", run.stderr);
    assert!(run.stderr.contains("spec.yaml:9:"), "at the value: {}", run.stderr);
    assert!(!run.stderr.contains("TOKEN"), "the parameter the policy allows is not refused: {}", run.stderr);
    let run = pipectl(&["plan", &s, "--env", "pr-2", "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("/pol/pr-1/token"), "another env's parameter: {}", run.stderr);
    // The same through the environment variable CI sets.
    pipectl(&["validate", &s, "--env", "pr-1"]).env("PIPECTL_POLICY", &p).run().expect_code(2);
}

#[test]
fn existing_roles_amis_and_subnets_are_the_operators_to_allow() {
    let text = "pipeline: pol
streams: { trips: {} }
firehoses:
  out: { role: admin, source: { stream: trips }, destination: { bucket: lake } }
buckets: { lake: {} }
agents:
  host:
    ami: ami-0123456789abcdef0
    subnet: subnet-0123abcd
    flows: [{ file_pattern: \"/tmp/*\", stream: trips }]
";
    let (s, p) = files("existing", text, "{}\n");
    let run = pipectl(&["validate", "--json", &s, "--policy", &p]).run().expect_code(2);
    let doc = run.json();
    let refused: Vec<&str> =
        doc["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(refused.len(), 3, "{doc}");
    assert!(refused[0].starts_with("`firehoses.out.role` (admin)"), "{doc}");
    assert!(refused[1].starts_with("`agents.host.ami`"), "{doc}");
    assert!(refused[2].starts_with("`agents.host.subnet`"), "{doc}");
    std::fs::write(&p, "roles: [admin]\namis: { ids: [ami-0123456789abcdef0] }\nsubnets: [subnet-0123abcd]\n").unwrap();
    pipectl(&["validate", &s, "--policy", &p]).run().expect_code(0);
}

#[test]
fn an_amis_owner_and_a_subnets_vpc_are_read_from_ec2_before_any_change() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    let images = sdk.run(sdk.ec2.describe_images().owners("amazon").send()).unwrap();
    let image = images.images().iter().find(|i| i.image_id().is_some_and(|id| id.len() > 12)).unwrap();
    let (id, owner) = (image.image_id().unwrap().to_string(), image.owner_id().unwrap().to_string());
    let subnets = sdk.run(sdk.ec2.describe_subnets().send()).unwrap();
    let subnet = subnets.subnets()[0].clone();
    let (subnet_id, vpc) = (subnet.subnet_id().unwrap().to_string(), subnet.vpc_id().unwrap().to_string());
    let text = format!(
        "pipeline: pol\nstreams: {{ trips: {{}} }}\nagents:\n  host:\n    ami: {id}\n    subnet: {subnet_id}\n    flows: [{{ file_pattern: \"/tmp/*\", stream: trips }}]\n"
    );
    let (s, p) = files("owners", &text, "amis: { owners: [\"111111111111\"] }\nvpcs: [vpc-0000000000]\n");
    let run = moto.pipectl(&["apply", &s, "--yes", "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains(&format!("an AMI of {owner}, an owner the policy does not list")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("a subnet of {vpc}, a VPC the policy does not list")), "{}", run.stderr);
    assert!(sdk.leftovers().is_empty(), "refused before any change");
    std::fs::write(&p, format!("amis: {{ owners: [\"{owner}\"] }}\nvpcs: [{vpc}]\n")).unwrap();
    let plan = moto.pipectl(&["plan", &s, "--policy", &p, "--json"]).run().expect_code(0);
    let decisions = plan.json()["policy"]["decisions"].clone();
    let kinds: Vec<(&str, &str)> = decisions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("ami", "allowed"), ("subnet", "allowed"), ("region", "allowed")], "{decisions}");
}

#[test]
fn shards_hosts_and_monthly_cost_are_bounded_by_the_policy() {
    let text = "pipeline: pol\nregion: us-east-1\nstreams:\n  a: { shards: 3 }\n  b: { mode: on_demand }\n";
    let (s, p) = files("limits", text, "limits: { shards: 6 }\n");
    let run = pipectl(&["validate", &s, "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("shards over the limit of 6"), "an on-demand stream counts 4: {}", run.stderr);
    assert!(run.stderr.contains("raise `limits.shards` to 7"), "{}", run.stderr);
    std::fs::write(&p, "limits: { shards: 7, hosts: 0, monthly_cost: 20 }\n").unwrap();
    let run = pipectl(&["policy", "check", &s, "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("monthly-cost over the limit of 20"), "{}{}", run.stdout, run.stderr);
    std::fs::write(&p, "limits: { shards: 7, hosts: 0, monthly_cost: 100000 }\n").unwrap();
    let run = pipectl(&["policy", "check", &s, "--policy", &p, "--json"]).run().expect_code(0);
    let doc = run.json();
    let kinds: Vec<&str> =
        doc["policy"]["decisions"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["region", "shards", "hosts", "monthly-cost"], "{doc}");
}

#[test]
fn plan_cost_over_the_policy_limit_is_refused_before_any_change() {
    let Some(moto) = Moto::start() else { return };
    let spec = "pipeline: pol\nstreams: { a: { shards: 1 }, b: { shards: 2 } }\n";
    let (s, p) = files("cost", spec, "limits: { monthly_cost: 15 }\n");
    let run = moto.pipectl(&["apply", &s, "--yes", "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("monthly-cost over the limit of 15"), "{}", run.stderr);
    // One shard alone is within it, but the limit is the whole spec's.
    let run = moto.pipectl(&["apply", &s, "--yes", "--policy", &p, "--target", "stream.a"]).run().expect_code(2);
    assert!(run.stderr.contains("monthly-cost over the limit of 15"), "{}", run.stderr);
    assert!(moto.sdk().leftovers().is_empty());
}

#[test]
fn a_policy_boundary_is_on_every_role_apply_creates() {
    let Some(moto) = Moto::start() else { return };
    let boundary = "permissions_boundary: \"arn:aws:iam::${account}:policy/ci-boundary\"\n";
    let (s, p) = files("boundary", &function_spec(""), boundary);
    let apply = moto.pipectl(&["apply", &s, "--yes", "--policy", &p]).run().expect_code(0);
    assert!(
        apply.stdout.contains("permissions boundary arn:aws:iam::123456789012:policy/ci-boundary"),
        "{}",
        apply.stdout
    );
    let sdk = moto.sdk();
    let role = sdk.run(sdk.iam.get_role().role_name("pol-f-lambda-us-east-1").send()).unwrap();
    let got = role.role().unwrap().permissions_boundary().and_then(|b| b.permissions_boundary_arn());
    assert_eq!(got, Some("arn:aws:iam::123456789012:policy/ci-boundary"));
    moto.pipectl(&["plan", &s, "--policy", &p, "--detailed-exitcode"]).run().expect_code(0);
    // Another boundary is an update in place; none removes it.
    std::fs::write(&p, "permissions_boundary: arn:aws:iam::123456789012:policy/other\n").unwrap();
    let plan = moto.pipectl(&["plan", &s, "--policy", &p]).run().expect_code(0);
    assert!(
        plan.stdout.contains("~ role.function-f") && plan.stdout.contains("permissions_boundary"),
        "{}",
        plan.stdout
    );
    moto.pipectl(&["apply", &s, "--yes", "--policy", &p]).run().expect_code(0);
    let role = sdk.run(sdk.iam.get_role().role_name("pol-f-lambda-us-east-1").send()).unwrap();
    let got = role.role().unwrap().permissions_boundary().and_then(|b| b.permissions_boundary_arn());
    assert_eq!(got, Some("arn:aws:iam::123456789012:policy/other"));
    moto.pipectl(&["apply", &s, "--yes"]).run().expect_code(0);
    let role = sdk.run(sdk.iam.get_role().role_name("pol-f-lambda-us-east-1").send()).unwrap();
    assert!(role.role().unwrap().permissions_boundary().is_none());
    // The template carries it too.
    std::fs::write(&p, boundary).unwrap();
    let t = pipectl(&["export", "cloudformation", &s, "--policy", &p]).run().expect_code(0);
    assert!(t.stdout.contains("PermissionsBoundary"), "{}", t.stdout);
    assert!(t.stdout.contains("policy/ci-boundary"), "{}", t.stdout);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

#[test]
fn the_spec_cannot_name_or_weaken_the_policy() {
    let (s, p) = files("naming", &format!("policy: policy.yaml\n{}", function_spec("")), "{}\n");
    let run = pipectl(&["validate", &s]).run().expect_code(2);
    assert!(run.stderr.contains("unknown key `policy`"), "{}", run.stderr);
    let missing = format!("{p}.missing");
    let run = pipectl(&["validate", &function_spec_path(), "--policy", &missing]).run().expect_code(2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    std::fs::write(&p, "secrets: { ssm: \"/a\" }\nwaivers: true\n").unwrap();
    let run = pipectl(&["validate", &function_spec_path(), "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("unknown key `waivers`"), "a misplaced key is an error, not ignored: {}", run.stderr);
}

fn function_spec_path() -> String {
    temp_spec("policy", "plain", &function_spec("")).display().to_string()
}

#[test]
fn a_cost_limit_refuses_what_the_price_table_cannot_price() {
    let text = "pipeline: pol\nregion: us-east-1\nstreams: { trips: {} }\nagents:\n  gpu:\n    instance_type: p5.48xlarge\n    flows: [{ file_pattern: \"/tmp/*\", stream: trips }]\n";
    let policy = "amis: { owners: [amazon] }\nsubnets: [default]\nlimits: { monthly_cost: 150 }\n";
    let (s, p) = files("unpriced", text, policy);
    let run = pipectl(&["policy", "check", &s, "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("cannot be held: the price table has no price for"), "{}", run.stderr);
    assert!(run.stderr.contains("p5.48xlarge"), "{}", run.stderr);
    // A region the table does not know is no cheaper.
    let text = "pipeline: pol\nregion: ap-south-1\nstreams: { trips: {} }\n";
    let (s, p) = files("unpriced-region", text, "limits: { monthly_cost: 1 }\n");
    pipectl(&["policy", "check", &s, "--policy", &p]).run().expect_code(2);
}

#[test]
fn export_refuses_cloudformation_dynamic_references_the_policy_never_saw() {
    for value in [
        "\"{{resolve:secretsmanager:prod/db:SecretString:password}}\"",
        "\"\\x7b\\x7bresolve:secretsmanager:prod/db}}\"",
        "\"\\u007b\\u007bresolve:ssm:/prod/two}}\"",
        "\"{{\\\n        resolve:ssm:/prod/three}}\"",
        "\"${var.x}\"",
    ] {
        let env = format!("    environment:\n      A: {value}\n");
        let (s, p) = files("resolve", &function_spec(&env), "{}\n");
        let args = ["export", "cloudformation", &s, "--policy", &p, "--var", "x={{resolve:ssm:/prod/var}}"];
        let run = pipectl(&args).run().expect_code(2);
        assert!(run.stderr.contains("CloudFormation dynamic reference"), "{value}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "nothing written: {}", run.stdout);
    }
    // The references the export writes for the spec's own secrets pass.
    let env = "    environment:\n      A: \"${ssm:/pol/default/token}\"\n";
    let (s, p) = files("resolve-own", &function_spec(env), "secrets: { ssm: [\"/pol/*\"] }\n");
    let t = pipectl(&["export", "cloudformation", &s, "--policy", &p]).run().expect_code(0);
    assert!(t.stdout.contains("{{resolve:ssm:/pol/default/token}}"), "{}", t.stdout);
}

#[test]
fn a_key_given_twice_is_an_error_in_a_policy_and_in_a_spec() {
    let policy =
        "regions: [us-west-2]\nstatements: { waivers: true }\nregions: [us-east-1]\nstatements: { waivers: false }\n";
    let (s, p) = files("twice", &function_spec(""), policy);
    let run = pipectl(&["validate", &s, "--policy", &p]).run().expect_code(2);
    assert!(
        run.stderr.contains("`regions` is given twice") && run.stderr.contains("`statements` is given twice"),
        "{}",
        run.stderr
    );
    let spec = format!("region: us-east-1\n{}region: eu-west-1\n", function_spec(""));
    let (s, _) = files("twice-spec", &spec, "{}\n");
    let run = pipectl(&["validate", &s]).run().expect_code(2);
    assert!(run.stderr.contains("`region` is given twice"), "{}", run.stderr);
    std::fs::write(&p, "regions:\n").unwrap();
    let run = pipectl(&["validate", &function_spec_path(), "--policy", &p]).run().expect_code(2);
    assert!(run.stderr.contains("`regions` is empty"), "an empty list never means any region: {}", run.stderr);
}

#[test]
fn a_region_the_policy_refuses_stops_every_command_before_any_aws_call() {
    let (s, p) = files("region", "pipeline: pol\nstreams: { trips: {} }\n", "regions: [us-east-1]\n");
    for args in [
        vec!["apply", s.as_str(), "--yes"],
        vec!["plan", s.as_str()],
        vec!["produce", s.as_str(), "--stream", "trips", "--generate", "taxi", "--limit", "1"],
        vec!["verify", s.as_str()],
        vec!["outputs", s.as_str()],
        vec!["import", s.as_str(), "--yes"],
    ] {
        let mut args = args.clone();
        args.extend(["--policy", p.as_str()]);
        // The endpoint is unreachable: a call would fail with exit 1, not 2.
        let run = pipectl(&args).env("AWS_REGION", "eu-west-1").run().expect_code(2);
        assert!(run.stderr.contains("before any AWS call: region `eu-west-1`"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn statements_allow_patterns_use_the_policys_variables() {
    let Some(moto) = Moto::start() else { return };
    let st = "{ actions: [kinesis:PutRecords], resources: [\"arn:aws:kinesis:${region}:${account}:stream/shared\"] }";
    let allow = "statements:\n  allow:\n    - { actions: [kinesis:PutRecords], resources: [\"arn:aws:kinesis:${region}:${account}:stream/shared\"] }\n";
    let (s, p) = files("allow-vars", &statement_spec(st), allow);
    moto.pipectl(&["plan", &s]).run().expect_code(2);
    moto.pipectl(&["plan", &s, "--policy", &p]).run().expect_code(0);
    // Offline `${account}` matches only the spec's own `${account}`, never
    // another account written out.
    let other =
        "{ actions: [kinesis:PutRecords], resources: [\"arn:aws:kinesis:us-east-1:999999999999:stream/shared\"] }";
    let (s, p) = files("allow-vars-other", &statement_spec(other), allow);
    pipectl(&["validate", &s, "--policy", &p]).run().expect_code(2);
    pipectl(&["export", "cloudformation", &s, "--policy", &p]).run().expect_code(2);
}
