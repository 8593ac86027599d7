//! Names AWS keeps global (S3 buckets across every account and region,
//! dashboards and IAM roles across an account's regions): the defaults
//! carry what keeps them apart, an existing deployment keeps the default
//! an earlier pipectl gave it, and `export cloudformation` says why it
//! cannot inline a function's code.

use crate::emulator::Moto;
use crate::util::{pipectl, temp_spec};
use std::path::{Path, PathBuf};

const ACCOUNT: &str = "123456789012";

fn bucket_exists(moto: &Moto, name: &str) -> bool {
    let sdk = moto.sdk();
    sdk.run(sdk.s3.head_bucket().bucket(name).send()).is_ok()
}

/// Offline the account (and a region nobody named) are unknown: the name
/// shows them as `${account}`/`${region}`, as ARNs do, and is measured
/// with 12 digits and the longest region.
#[test]
fn default_bucket_names_show_the_account_and_region_offline() {
    let spec = temp_spec("names", "offline", "pipeline: demo\nbuckets:\n  raw: {}\n");
    let s = spec.to_str().unwrap();
    let graph = pipectl(&["graph", s]).run().expect_code(0);
    assert!(graph.stdout.contains("demo-raw-${account}-${region}"), "{}", graph.stdout);
    let graph = pipectl(&["graph", s, "--region", "eu-west-1", "--env", "pr-7"]).run().expect_code(0);
    assert!(graph.stdout.contains("demo-raw-pr-7-${account}-eu-west-1"), "{}", graph.stdout);
    // A key too long for 63 characters with them is cut with a hash, and
    // still valid; an explicit `name:` is never changed.
    let long = format!("pipeline: demo\nbuckets:\n  {}: {{}}\n  mine: {{ name: my-own-bucket }}\n", "k".repeat(60));
    let spec = temp_spec("names", "long", &long);
    let graph = pipectl(&["graph", spec.to_str().unwrap()]).run().expect_code(0);
    let name = graph.stdout.lines().find_map(|l| l.split("\\n").nth(1).filter(|n| n.starts_with("demo-kkk"))).unwrap();
    let name = name.trim_end_matches("\"];");
    assert!(name.ends_with("-${account}-${region}"), "{name}");
    let measured = name.replace("${account}", ACCOUNT).replace("${region}", "us-isof-south-1");
    assert_eq!(measured.len(), 63, "{measured}");
    assert!(graph.stdout.contains("my-own-bucket"), "{}", graph.stdout);
}

/// The defect: `<pipeline>-<key>` has no account or region, so two
/// regions (or two accounts) of a pipeline named `demo` collide in S3's
/// global namespace. Now both deploy, each with its own bucket.
#[test]
fn default_bucket_names_collide_across_regions_and_accounts_no_more() {
    let Some(moto) = Moto::start() else { return };
    let spec = temp_spec("names", "regions", "pipeline: demo\nbuckets:\n  raw: { on_destroy: delete }\n");
    let s = spec.to_str().unwrap();
    moto.pipectl(&["apply", s, "--yes"]).run().expect_code(0);
    moto.pipectl(&["apply", s, "--yes", "--region", "eu-west-1"]).run().expect_code(0);
    assert!(bucket_exists(&moto, &format!("demo-raw-{ACCOUNT}-us-east-1")));
    assert!(bucket_exists(&moto, &format!("demo-raw-{ACCOUNT}-eu-west-1")));
    assert!(!bucket_exists(&moto, "demo-raw"));
    moto.pipectl(&["plan", s, "--detailed-exitcode", "--region", "eu-west-1"]).run().expect_code(0);
    moto.pipectl(&["destroy", s, "--yes", "--region", "eu-west-1"]).run().expect_code(0);
    moto.pipectl(&["destroy", s, "--yes"]).run().expect_code(0);
}

/// A deployment made before the defaults changed: its record lists the
/// bucket under `<pipeline>-<key>` (as an earlier pipectl wrote it; here
/// through `name:`, which writes the same record). Without `name:` now,
/// it keeps that bucket and its data: no change, one note in the plan.
#[test]
fn an_existing_deployment_keeps_the_bucket_its_record_holds() {
    let Some(moto) = Moto::start() else { return };
    let before =
        "pipeline: legacy\nbuckets:\n  raw: { name: legacy-raw }\ndashboards:\n  main: { name: legacy-main }\n";
    let spec = temp_spec("names", "legacy", before);
    let s = spec.to_str().unwrap();
    moto.apply(s);
    let sdk = moto.sdk();
    let body = aws_sdk_s3::primitives::ByteStream::from_static(b"{\"kept\":1}\n");
    sdk.run(sdk.s3.put_object().bucket("legacy-raw").key("data/1.json").body(body).send()).unwrap();

    std::fs::write(&spec, "pipeline: legacy\nbuckets:\n  raw: {}\ndashboards:\n  main: {}\n").unwrap();
    let plan = moto.pipectl(&["plan", s, "--detailed-exitcode"]).run().expect_code(0);
    assert!(
        plan.stdout.contains(
            "note: bucket.raw as `legacy-raw`, dashboard.main as `legacy-main` keep the default name an earlier \
             pipectl gave them, so nothing moves"
        ),
        "{}",
        plan.stdout
    );
    let json = moto.pipectl(&["plan", s, "--json"]).run().expect_code(0).json();
    assert_eq!(json["notes"].as_array().map(Vec::len), Some(1), "{json}");
    assert!(json["changes"].as_array().unwrap().iter().all(|c| c["action"] == "no_op"), "{json}");
    moto.pipectl(&["apply", s, "--yes"]).run().expect_code(0);
    let got = sdk.run(sdk.s3.get_object().bucket("legacy-raw").key("data/1.json").send());
    assert!(got.is_ok(), "the data stays where it was");
    assert!(!bucket_exists(&moto, &format!("legacy-raw-{ACCOUNT}-us-east-1")), "no second bucket");
    assert_eq!(sdk.record("/pipectl/legacy/default")["resources"]["bucket.raw"], "legacy-raw");
    let outputs = moto.pipectl(&["outputs", s]).run().expect_code(0);
    assert!(outputs.stdout.contains("legacy-raw"), "{}", outputs.stdout);
    // A new env of the same spec is a new deployment: the new default.
    moto.pipectl(&["apply", s, "--yes", "--env", "pr-1"]).run().expect_code(0);
    assert!(bucket_exists(&moto, &format!("legacy-raw-pr-1-{ACCOUNT}-us-east-1")));
    moto.pipectl(&["destroy", s, "--yes", "--env", "pr-1"]).run().expect_code(0);
    moto.pipectl(&["destroy", s, "--yes", "--delete-data", "--allow-data-loss"]).run().expect_code(0);
}

/// A spec with one function `f` whose code is the folder `code` beside it,
/// holding `files`.
fn function_spec(test: &str, runtime: &str, handler: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let text =
        format!("pipeline: ex\nfunctions:\n  f:\n    runtime: {runtime}\n    code: code\n    handler: {handler}\n");
    let spec = temp_spec("names", test, &text);
    let code = spec.parent().unwrap().join("code");
    std::fs::create_dir_all(&code).unwrap();
    for (name, bytes) in files {
        let path = code.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    spec
}

/// An ES module handler of 811 bytes, as a user writes one.
fn esm_handler() -> Vec<u8> {
    let mut text = String::from("export const handler = async (event) => {\n");
    while text.len() < 811 - 3 {
        text.push_str("  // records arrive base64-encoded from Kinesis\n");
    }
    text.truncate(811 - 3);
    text.push_str("\n};");
    assert_eq!(text.len(), 811);
    text.into_bytes()
}

fn export_refusal(spec: &Path) -> String {
    let out = spec.with_file_name("out.yaml");
    let run = pipectl(&["export", "cloudformation", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .run()
        .expect_code(2);
    assert!(!out.exists(), "nothing written");
    run.stderr
}

/// The defect: a single 811-byte `index.mjs` was refused as "more than
/// one .js file of at most 4096 bytes". It is one small file; what keeps
/// it out of a template is that inline Node.js code is written as
/// `index.js`, a CommonJS module: an ES module must be uploaded.
#[test]
fn a_single_small_index_mjs_is_not_refused_as_more_than_one_file() {
    let spec = function_spec("mjs", "nodejs20.x", "index.handler", &[("index.mjs", esm_handler())]);
    let stderr = export_refusal(&spec);
    assert!(
        stderr.contains(
            "function.f: `index.mjs` is an ES module: CloudFormation writes inline Node.js code as `index.js`, \
             which Lambda loads as CommonJS, so ES modules cannot be inlined: pass `--code-bucket BUCKET` to \
             upload it there as a zip"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("more than one"), "{stderr}");
}

/// With a code bucket the ES module is uploaded as a zip, its handler as
/// written (Lambda finds `index.mjs` itself).
#[test]
fn a_single_small_index_mjs_is_exported_as_a_zip_with_a_code_bucket() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.s3.create_bucket().bucket("esm-assets").send()).unwrap();
    let spec = function_spec("mjs-zip", "nodejs20.x", "index.handler", &[("index.mjs", esm_handler())]);
    let out = spec.with_file_name("out.yaml");
    let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
    moto.pipectl(&["export", "cloudformation", s, "--code-bucket", "esm-assets", "--out", o]).run().expect_code(0);
    let template = std::fs::read_to_string(&out).unwrap();
    assert!(template.contains("S3Bucket: esm-assets") && !template.contains("ZipFile"), "{template}");
    assert!(template.contains("Handler: index.handler"), "{template}");
    let listed = sdk.run(sdk.s3.list_objects_v2().bucket("esm-assets").send()).unwrap();
    assert_eq!(listed.contents().len(), 1, "{listed:?}");
}

/// A refusal case: its name, runtime, handler, files, and the reason.
type Case = (&'static str, &'static str, &'static str, Vec<(&'static str, Vec<u8>)>, String);

/// The defect: every refusal printed the same sentence whatever the
/// reason. Each now says its own.
#[test]
fn each_export_refusal_says_its_own_reason() {
    let small = || b"def handler(event, context):\n    return event\n".to_vec();
    let cases: Vec<Case> = vec![
        (
            "two-files",
            "python3.12",
            "app.handler",
            vec![("app.py", small()), ("util.py", small())],
            "its code is 2 files (`app.py`, `util.py`): CloudFormation inlines a single file".into(),
        ),
        (
            "config",
            "python3.12",
            "config.handler",
            vec![("config", small())],
            "`config` is not a Python module (a `.py` file) that CloudFormation could write as the handler's file"
                .into(),
        ),
        (
            "large",
            "python3.12",
            "app.handler",
            vec![("app.py", vec![b'#'; 5000])],
            "`app.py` is 5000 bytes: CloudFormation inlines at most 4096 bytes".into(),
        ),
        (
            "handler",
            "python3.12",
            "main.handler",
            vec![("app.py", small())],
            "the handler `main.handler` is not in `app.py`, the code's one file, so it cannot become `index`".into(),
        ),
        (
            "runtime",
            "java21",
            "Handler.handleRequest",
            vec![("Handler.class", small())],
            "its runtime `java21` cannot be inlined: CloudFormation writes inline code only for Python and Node.js"
                .into(),
        ),
    ];
    for (test, runtime, handler, files, reason) in cases {
        let spec = function_spec(test, runtime, handler, &files);
        let stderr = export_refusal(&spec);
        let want = format!("function.f: {reason}: pass `--code-bucket BUCKET` to upload it there as a zip");
        assert!(stderr.contains(&want), "{test}: want {want}\n{stderr}");
    }
}

/// Python source in Latin-1: `é` as the single byte 0xE9.
fn latin1_handler() -> Vec<u8> {
    let mut code = b"# -*- coding: latin-1 -*-\n# caf".to_vec();
    code.push(0xE9);
    code.extend_from_slice(b"\ndef handler(event, context):\n    return event\n");
    code
}

/// The defect: a small file that is not UTF-8 could not be exported even
/// with `--code-bucket`: reading it as text failed before the bucket was
/// looked at. Without a bucket it is refused with its own reason and the
/// hint; with one it is zipped and uploaded.
#[test]
fn a_small_non_utf8_file_is_exported_with_a_code_bucket() {
    let spec = function_spec("latin1", "python3.12", "app.handler", &[("app.py", latin1_handler())]);
    let stderr = export_refusal(&spec);
    let want = "function.f: `app.py` is not UTF-8 text, and CloudFormation inlines code as text: pass \
                `--code-bucket BUCKET` to upload it there as a zip";
    assert!(stderr.contains(want), "{stderr}");
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(sdk.s3.create_bucket().bucket("latin1-assets").send()).unwrap();
    let out = spec.with_file_name("out.yaml");
    let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
    moto.pipectl(&["export", "cloudformation", s, "--code-bucket", "latin1-assets", "--out", o]).run().expect_code(0);
    let template = std::fs::read_to_string(&out).unwrap();
    assert!(template.contains("S3Bucket: latin1-assets") && !template.contains("ZipFile"), "{template}");
    assert!(template.contains("Handler: app.handler"), "{template}");
    let listed = sdk.run(sdk.s3.list_objects_v2().bucket("latin1-assets").send()).unwrap();
    assert_eq!(listed.contents().len(), 1, "{listed:?}");
}

/// The defect: a code folder holding only `sub/app.py`, with the handler
/// `sub.app.handler` (validate accepts it, and Lambda's Python bootstrap
/// loads dotted module paths), was refused as "not in `sub/app.py`". Both
/// spellings are inlined as `index.handler`.
#[test]
fn a_valid_dotted_python_handler_gets_no_false_export_refusal() {
    let code = || b"def handler(event, context):\n    return event\n".to_vec();
    for (test, handler) in [("dotted", "sub.app.handler"), ("slashed", "sub/app.handler")] {
        let spec = function_spec(test, "python3.12", handler, &[("sub/app.py", code())]);
        let s = spec.to_str().unwrap();
        pipectl(&["validate", s]).run().expect_code(0);
        let out = spec.with_file_name("out.yaml");
        let run = pipectl(&["export", "cloudformation", s, "--out", out.to_str().unwrap()]).run().expect_code(0);
        let template = std::fs::read_to_string(&out).unwrap();
        assert!(template.contains("ZipFile") && template.contains("Handler: index.handler"), "{test}: {template}");
        assert!(!run.stderr.contains("is not in"), "{}", run.stderr);
    }
}
