//! Hostile specs and careless changes: one test per defect found, each
//! named after it. Offline where the defect is offline; against the
//! emulator where it needs AWS.

use crate::emulator::Moto;
use crate::util::{pipectl, root, scratch, temp_spec};
use std::process::Stdio;

/// Nine nested aliases, ten lines: 10^9 nodes if expanded.
fn alias_bomb() -> String {
    let mut doc = String::from("pipeline: p\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=8 {
        let prev = format!("*a{}", i - 1);
        doc.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
    }
    doc
}

#[test]
fn an_alias_bomb_is_a_spec_error_not_an_out_of_memory() {
    let path = temp_spec("hostile", "bomb", &alias_bomb());
    let run = pipectl(&["validate", "--json", path.to_str().unwrap()]).run().expect_code(2);
    let d = &run.json()["diagnostics"][0];
    assert_eq!(d["rule"], "yaml-alias", "{}", run.stdout);
    assert!(d["line"].as_u64().unwrap() >= 3, "the alias that overflows: {d}");
    // The same document, run as a command that would otherwise call AWS.
    let run = pipectl(&["plan", path.to_str().unwrap()]).run().expect_code(2);
    assert!(run.stderr.contains("yaml-alias") && run.stderr.contains("alias"), "{}", run.stderr);
}

#[test]
fn a_spec_without_end_is_refused_by_its_size_not_read_whole() {
    let run = pipectl(&["validate", "--json", "/dev/zero"]).run().expect_code(2);
    assert_eq!(run.json()["diagnostics"][0]["rule"], "yaml-size", "{}", run.stdout);
    let deep = temp_spec("hostile", "deep", &format!("pipeline: p\nx: {}{}\n", "[".repeat(100), "]".repeat(100)));
    let run = pipectl(&["validate", "--json", deep.to_str().unwrap()]).run().expect_code(2);
    assert_eq!(run.json()["diagnostics"][0]["rule"], "yaml-depth", "{}", run.stdout);
}

#[test]
fn a_function_cannot_zip_files_outside_the_project() {
    let spec = |code: &str| {
        format!("pipeline: p\nfunctions:\n  f:\n    runtime: python3.12\n    handler: h.handler\n    code: {code}\n")
    };
    // An absolute path, a `..` path and a symlink to the runner's files.
    let dir = temp_spec("hostile", "outside", "pipeline: p\n").parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink("/proc/self/environ", dir.join("environ")).unwrap();
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(dir.join("code/h.py"), "def handler(e, c):\n    return 1\n").unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("code/etc")).unwrap();
    for code in ["/etc/passwd", "../../../../../../etc/passwd", "environ", "code"] {
        let path = dir.join("spec.yaml");
        std::fs::write(&path, spec(code)).unwrap();
        // Without --code-root the project is the repository's git work tree.
        let run = pipectl(&["validate", "--json", path.to_str().unwrap()])
            .env_remove("PIPECTL_CODE_ROOT")
            .run()
            .expect_code(2);
        let doc = run.json();
        let d = &doc["diagnostics"][0];
        assert_eq!(d["rule"], "code-path", "{code}: {doc}");
        assert_eq!((d["line"].as_u64(), d["col"].as_u64()), (Some(6), Some(11)), "{code}: {doc}");
    }
    // `--code-root` narrows the project to the spec's folder: the repository's templates are outside it.
    let path = dir.join("spec.yaml");
    let template = root().join("templates/lambda/decode_and_log.py");
    std::fs::write(&path, spec(template.to_str().unwrap())).unwrap();
    let run = pipectl(&["validate", path.to_str().unwrap(), "--code-root", dir.to_str().unwrap()]).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("code-path") && run.stderr.contains("--code-root"), "{}", run.stderr);
}

#[test]
fn hidden_files_and_caches_stay_out_of_the_package() {
    let dir = scratch().join(format!("hostile-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (f, body) in [
        ("h.py", "x = 1\n"),
        ("lib/util.py", "y = 2\n"),
        (".env", "SECRET=1\n"),
        (".git/config", "[core]\n"),
        ("__pycache__/h.cpython-312.pyc", "bytes"),
        ("lib/__pycache__/util.cpython-312.pyc", "bytes"),
        ("lib/old.pyc", "bytes"),
    ] {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::write(dir.join(f), body).unwrap();
    }
    let pkg = pipectl::package::build(&dir, &dir).unwrap();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(pkg.zip)).unwrap();
    let mut names: Vec<&str> = zip.file_names().collect();
    names.sort();
    assert_eq!(names, ["h.py", "lib/util.py"]);
}

#[test]
fn escalating_policy_statements_are_refused_and_a_waiver_needs_the_operator() {
    let spec = |actions: &str, resources: &str, allow: &str| {
        format!(
            "pipeline: p\nfunctions:\n  f:\n    runtime: python3.12\n    code: {}\n    handler: decode_and_log.handler\n    policy:\n      - {{ actions: {actions}, resources: {resources}{allow} }}\n",
            template()
        )
    };
    let refused = [
        ("[\"iam:*\"]", "[\"*\"]"),
        ("[\"*\"]", "[\"arn:aws:s3:::b/*\"]"),
        ("[iam:PassRole]", "[\"*\"]"),
        ("[iam:PutRolePolicy]", "[\"arn:aws:iam::123456789012:role/x\"]"),
        ("[iam:createaccesskey]", "[\"*\"]"),
    ];
    for (actions, resources) in refused {
        let path = temp_spec("hostile", "escalation", &spec(actions, resources, ""));
        let run = pipectl(&["validate", "--json", path.to_str().unwrap()]).run().expect_code(2);
        let doc = run.json();
        let d = &doc["diagnostics"][0];
        assert_eq!(d["rule"], "privilege-escalation", "{actions} on {resources}: {doc}");
        assert_eq!(d["line"], 8, "{doc}");
        assert!(d["hint"].as_str().unwrap().contains("statements.allow"), "{doc}");
        // The statement's own waiver is not enough: the operator must honour it.
        let waived =
            temp_spec("hostile", "escalation", &spec(actions, resources, ", allow_privilege_escalation: true"));
        let run = pipectl(&["validate", "--json", waived.to_str().unwrap()]).run().expect_code(2);
        assert!(run.stdout.contains("--allow-privilege-escalation"), "{}", run.stdout);
        pipectl(&["validate", waived.to_str().unwrap(), "--allow-privilege-escalation"]).run().expect_code(0);
    }
    // What a function commonly needs passes untouched.
    let ok = temp_spec("hostile", "escalation", &spec("[cloudwatch:PutMetricData, \"iam:Get*\"]", "[\"*\"]", ""));
    pipectl(&["validate", ok.to_str().unwrap()]).run().expect_code(0);
}

#[test]
fn a_json_reader_that_goes_away_does_not_crash_pipectl() {
    // stdout is a pipe whose reading end is closed before pipectl writes.
    for args in [
        &["validate", "--json", "pipelines/lab.yaml"][..],
        &["graph", "pipelines/lab.yaml"],
        &["validate", "pipelines/lab.yaml"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipectl"))
            .current_dir(root())
            .args(args)
            .env("PIPECTL_CODE_ROOT", root())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.code().is_some(), "{args:?}: killed by a signal");
    }
}

fn template() -> String {
    root().join("templates/lambda/decode_and_log.py").display().to_string()
}

const CANARY_PLAIN: &str = "canary-plain-7f3a";
const CANARY_SSM: &str = "canary-ssm-91bc";
const CANARY_SECRET: &str = "canary-secret-44de";

fn secrets_spec(plain: &str) -> String {
    format!(
        "pipeline: sec
functions:
  f:
    runtime: python3.12
    code: {}
    handler: decode_and_log.handler
    environment:
      PLAIN: {plain}
      TOKEN: \"${{ssm:/sec/token}}\"
      DSN: \"postgres://app:${{secret:sec/db#password}}@db:5432/app\"
",
        template()
    )
}

#[test]
fn no_environment_value_reaches_any_output_or_the_record() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(
        sdk.ssm
            .put_parameter()
            .name("/sec/token")
            .value(CANARY_SSM)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send(),
    )
    .unwrap();
    let secret = format!("{{\"user\":\"app\",\"password\":\"{CANARY_SECRET}\"}}");
    sdk.run(sdk.secrets.create_secret().name("sec/db").secret_string(&secret).send()).unwrap();
    let path = temp_spec("hostile", "canary", &secrets_spec(CANARY_PLAIN));
    let s = path.to_str().unwrap();
    let mut outputs = Vec::new();
    let mut keep = |r: crate::util::Run| {
        outputs.push(format!("{}\n{}", r.stdout, r.stderr));
    };
    keep(moto.pipectl(&["plan", s]).run().expect_code(0));
    keep(moto.pipectl(&["plan", s, "--json"]).run().expect_code(0));
    keep(moto.pipectl(&["apply", s, "--yes", "--json"]).run().expect_code(0));
    // The function got the values read from SSM and Secrets Manager.
    let c = sdk.run(sdk.lambda.get_function_configuration().function_name("sec-f").send()).unwrap();
    let env = c.environment().unwrap().variables().unwrap();
    assert_eq!(env["TOKEN"], CANARY_SSM);
    assert_eq!(env["DSN"], format!("postgres://app:{CANARY_SECRET}@db:5432/app"));
    assert_eq!(env["PLAIN"], CANARY_PLAIN);
    // Its role may be taken by Lambda on behalf of this account only.
    let role = sdk.run(sdk.iam.get_role().role_name("sec-f-lambda-us-east-1").send()).unwrap();
    let trust = pipectl::resources::role::decode_document(role.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Condition"],
        serde_json::json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } })
    );
    keep(moto.pipectl(&["plan", s, "--detailed-exitcode"]).run().expect_code(0));
    // A rotated secret and a changed value: the plan knows only "changed".
    sdk.run(
        sdk.ssm
            .put_parameter()
            .name("/sec/token")
            .value(format!("{CANARY_SSM}-rotated"))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send(),
    )
    .unwrap();
    let plan = moto.pipectl(&["plan", s, "--detailed-exitcode"]).run().expect_code(2);
    assert!(plan.stdout.contains("environment: (sensitive) changed"), "{}", plan.stdout);
    keep(plan);
    std::fs::write(&path, secrets_spec(&format!("{CANARY_PLAIN}-2"))).unwrap();
    let json = moto.pipectl(&["plan", s, "--json"]).run().expect_code(0);
    let change =
        json.json()["changes"].as_array().unwrap().iter().find(|c| c["address"] == "function.f").cloned().unwrap();
    assert_eq!(change["changes"][0]["before"], "(sensitive)", "{change}");
    keep(json);
    keep(moto.pipectl(&["apply", s, "--yes"]).run().expect_code(0));
    keep(moto.pipectl(&["plan", s, "--detailed-exitcode", "-v"]).run().expect_code(0));
    keep(moto.pipectl(&["outputs", s]).run().expect_code(0));
    keep(moto.pipectl(&["outputs", s, "--json"]).run().expect_code(0));
    let record = sdk.record("/pipectl/sec/default").to_string();
    keep(moto.pipectl(&["destroy", s, "--yes", "--json"]).run().expect_code(0));
    outputs.push(record);
    for (i, out) in outputs.iter().enumerate() {
        for canary in [CANARY_PLAIN, CANARY_SSM, CANARY_SECRET] {
            assert!(!out.contains(canary), "output {i} shows {canary}:\n{out}");
        }
    }
}

#[test]
fn a_missing_secret_fails_the_plan_naming_the_reference() {
    let Some(moto) = Moto::start() else { return };
    let path = temp_spec("hostile", "missing-secret", &secrets_spec("x"));
    let run = moto.pipectl(&["plan", path.to_str().unwrap()]).run().expect_code(1);
    assert!(run.stderr.contains("${ssm:/sec/token} does not exist"), "{}", run.stderr);
    assert!(moto.sdk().leftovers().is_empty());
}

fn protected_spec(stream: &str) -> String {
    format!(
        "pipeline: guard
buckets:
  lake: {{ name: guard-lake }}
  scratch: {{ name: guard-scratch, on_destroy: delete }}
streams:
  trips: {{ name: {stream}, protect: true }}
"
    )
}

#[test]
fn replacing_a_protected_stream_is_refused_without_allow_data_loss() {
    let Some(moto) = Moto::start() else { return };
    let path = temp_spec("hostile", "protect", &protected_spec("guard-trips"));
    let s = path.to_str().unwrap();
    moto.apply(s);
    let sdk = moto.sdk();
    let exists = |name: &str| sdk.run(sdk.kinesis.describe_stream_summary().stream_name(name).send()).is_ok();
    // A rename replaces the stream: refused by plan and by apply, with the way out named.
    std::fs::write(&path, protected_spec("guard-trips-v2")).unwrap();
    let plan = moto.pipectl(&["plan", s]).run().expect_code(1);
    assert!(plan.stdout.contains("x/+ stream.trips"), "{}", plan.stdout);
    assert!(plan.stdout.contains("1 resource holding data will be deleted, 1 of them protected"), "{}", plan.stdout);
    assert!(plan.stderr.contains("--allow-data-loss") && plan.stderr.contains("stream.trips"), "{}", plan.stderr);
    let json = moto.pipectl(&["plan", s, "--json"]).run().expect_code(1);
    let json: serde_json::Value = serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    let c = json["changes"].as_array().unwrap().iter().find(|c| c["address"] == "stream.trips").cloned().unwrap();
    assert_eq!((c["data_loss"].as_bool(), c["protected"].as_bool()), (Some(true), Some(true)), "{c}");
    let apply = moto.pipectl(&["apply", s, "--yes"]).run().expect_code(1);
    assert!(apply.stderr.contains("--allow-data-loss"), "{}", apply.stderr);
    assert!(exists("guard-trips") && !exists("guard-trips-v2"), "nothing changed");
    // Removed from the spec, it stays protected (the record says so).
    std::fs::write(&path, "pipeline: guard\nbuckets:\n  lake: { name: guard-lake }\n").unwrap();
    moto.pipectl(&["apply", s, "--yes"]).run().expect_code(1);
    assert!(exists("guard-trips"));
    // Destroy, with a spec or from the record alone, is refused too.
    std::fs::write(&path, protected_spec("guard-trips")).unwrap();
    moto.pipectl(&["destroy", s, "--yes"]).run().expect_code(1);
    moto.pipectl(&["destroy", "--pipeline", "guard", "--yes"]).run().expect_code(1);
    assert!(exists("guard-trips"));
    // A bucket that empties itself is marked, not refused; a retained one keeps its objects and is not marked.
    let plan = moto.pipectl(&["plan", s, "--destroy"]).run().expect_code(1);
    assert!(plan.stdout.contains("x bucket.scratch"), "{}", plan.stdout);
    assert!(plan.stdout.contains("- bucket.lake"), "{}", plan.stdout);
    assert!(plan.stdout.contains("2 resources holding data will be deleted, 1 of them protected"), "{}", plan.stdout);
    // Asked for, it goes.
    moto.pipectl(&["destroy", s, "--yes", "--allow-data-loss"]).run().expect_code(0);
    assert!(!exists("guard-trips"));
    assert!(sdk.leftovers().is_empty(), "{:?}", sdk.leftovers());
}

#[test]
fn a_retained_bucket_is_protected_from_delete_data() {
    let Some(moto) = Moto::start() else { return };
    let path = temp_spec("hostile", "retain", "pipeline: keep\nbuckets:\n  lake: { name: keep-lake }\n");
    let s = path.to_str().unwrap();
    moto.apply(s);
    let run = moto.pipectl(&["destroy", s, "--yes", "--delete-data"]).run().expect_code(1);
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    moto.pipectl(&["destroy", s, "--yes", "--delete-data", "--allow-data-loss"]).run().expect_code(0);
    assert!(moto.sdk().leftovers().is_empty());
}
