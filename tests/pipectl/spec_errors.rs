//! Spec errors a hostile reviewer found wrong: one test per defect, named
//! after it; snapshots (`snapshots/`) where the drawing is what matters.

use crate::emulator::Moto;
use crate::util::{pipectl, root, temp_spec};
use std::io::Write;
use std::process::{Command, Stdio};

/// A function spec with `runtime`, its code the repository's handler.
fn function_spec(runtime: &str) -> String {
    format!(
        "pipeline: rt\nfunctions:\n  decode:\n    runtime: {runtime}\n    code: {}/templates/lambda/decode_and_log.py\n    handler: decode_and_log.handler\n",
        root().display()
    )
}

/// `validate` of `text` written as a spec, without colour: its run.
fn validate(test: &str, text: &str, extra: &[&str]) -> crate::util::Run {
    let path = temp_spec("spec-errors", test, text);
    let mut args = vec!["validate", path.to_str().unwrap()];
    args.extend(extra);
    pipectl(&args).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").run()
}

/// The stderr of a spec error, with the scratch folder's name taken out.
fn refused(test: &str, text: &str) -> String {
    let run = validate(test, text, &[]).expect_code(2);
    let dir = crate::util::scratch().join(format!("pipectl-spec-errors-{test}-{}", std::process::id()));
    run.stderr.replace(&format!("{}/", dir.display()), "")
}

#[test]
fn deprecated_runtimes_block_plan_apply_destroy_of_deployed_pipelines() {
    let text = function_spec("python3.9");
    let run = validate("deprecated", &text, &[]).expect_code(0);
    assert!(
        run.stderr.contains("warning[runtime]: runtime `python3.9` is deprecated since 2025-12-15"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("move to `python3.14`"), "{}", run.stderr);
    let Some(moto) = Moto::start() else { return };
    let path = temp_spec("spec-errors", "deprecated-aws", &text);
    let spec = path.to_str().unwrap();
    for args in [vec!["plan", spec], vec!["outputs", spec], vec!["destroy", spec, "--yes"]] {
        let run = moto.pipectl(&args).run();
        assert_ne!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("error[runtime]"), "{args:?}: {}", run.stderr);
    }
    // Destroy never fails on a spec's runtime, even one Lambda never had.
    let never = temp_spec("spec-errors", "never-aws", &function_spec("python3.16"));
    let run = moto.pipectl(&["destroy", never.to_str().unwrap(), "--yes"]).run().expect_code(0);
    assert!(run.stderr.contains("warning[runtime]"), "{}", run.stderr);
    moto.pipectl(&["plan", never.to_str().unwrap()]).run().expect_code(2);
}

#[test]
fn a_runtime_lambda_never_had_is_an_error_naming_its_language() {
    let stderr = refused("never", &function_spec("dotnet7"));
    assert!(stderr.contains("error[runtime]: runtime `dotnet7` is not a dotnet runtime Lambda has"), "{stderr}");
    assert!(stderr.contains("use `dotnet10`"), "{stderr}");
}

#[test]
fn secrets_printed_in_the_shown_source_line() {
    let head = "pipeline: p\nfunctions:\n  f:\n    runtime: python3.12\n    handler: a.h\n";
    let cases = [
        ("flow", format!("{head}    environment: {{ DB_URL: \"postgres://u:hunter2@db\", BAD: [1] }}\n")),
        ("quote", format!("{head}    environment:\n      DB_URL: \"postgres://u:hunter2@db\n")),
        ("duplicate", format!("{head}    environment:\n      DB_URL: one-hunter2\n      DB_URL: two-hunter2\n")),
        ("name", format!("{head}    environment:\n      bad-name: hunter2\n")),
        ("multiline", format!("{head}    environment: {{\n      DB_URL: \"hunter2\",\n      BAD: [hunter2] }}\n")),
    ];
    for (test, text) in cases {
        let run = validate(test, &text, &[]).expect_code(2);
        assert!(!run.stderr.contains("hunter2"), "{test}: {}", run.stderr);
        assert!(run.stderr.contains(" | "), "{test}: the source line is shown: {}", run.stderr);
        let json = validate(test, &text, &["--json"]);
        assert!(!json.stdout.contains("hunter2"), "{test}: {}", json.stdout);
    }
}

#[test]
fn syntax_errors_inside_a_closed_flow_mapping_are_blamed_on_the_bracket() {
    let cases = [
        (
            "missing-comma",
            "pipeline: p\nfirehoses:\n  f:\n    destination:\n      buffer: { size_mb: 1 interval_seconds: 60 }\n",
        ),
        ("bad-character", "pipeline: p\nfirehoses:\n  f:\n    source: { stream: events, size: @bad }\n"),
        ("after-a-quote", "pipeline: p\nx: { x: \"a\" b }\n"),
    ];
    for (test, text) in cases {
        let stderr = refused(test, text);
        assert!(!stderr.contains("never closed"), "{test}: {stderr}");
        assert!(stderr.contains("the YAML parser gave up here"), "{test}: {stderr}");
        insta::assert_snapshot!(format!("flow-{test}"), stderr);
    }
    let deep = format!("pipeline: p\nx: {}{}\n", "[".repeat(300), "]".repeat(300));
    let stderr = refused("deep", &deep);
    assert!(stderr.contains("error[yaml-depth]"), "{stderr}");
}

#[test]
fn stdin_has_no_source_line() {
    let text = std::fs::read(root().join("tests/fixtures/broken/type-error.yaml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipectl"))
        .args(["validate", "-"])
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--> <stdin>:4:13") && stderr.contains("4 |     shards: \"two\""), "{stderr}");
}

#[test]
fn json_diagnostics_incomplete() {
    let dir = root().join("tests/fixtures/broken");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.to_str().unwrap();
        let mut args = vec!["validate", "--json", name];
        if name.ends_with("var-file.yaml") {
            args.extend(["--var-file", "tests/fixtures/broken/vars/prod.yaml"]);
        }
        let doc = pipectl(&args).run().json();
        for d in doc["diagnostics"].as_array().unwrap() {
            let rule = d["rule"].as_str().unwrap();
            // Syntax errors have no field; a missing field is placed at
            // what should hold it, and its message names it.
            if rule == "syntax" || rule == "missing-field" {
                continue;
            }
            assert!(d["path"].is_string(), "{name}: {d}");
            seen.insert(rule.to_string());
        }
    }
    for rule in ["unknown-key", "undefined-reference", "duplicate-key", "region", "type", "range", "runtime"] {
        assert!(seen.contains(rule), "no fixture shows `{rule}`: {seen:?}");
    }
    let run = pipectl(&["validate", "--json", "tests/fixtures/broken/unknown-key.yaml"]).run();
    let d = &run.json()["diagnostics"][0];
    assert_eq!((d["path"].as_str(), d["value"].as_str()), (Some("buckets.raw.on_destory"), Some("on_destory")));
    let run = pipectl(&["validate", "--json", "tests/fixtures/broken/dangling-reference.yaml"]).run();
    let d = &run.json()["diagnostics"][0];
    assert_eq!((d["path"].as_str(), d["value"].as_str()), (Some("firehoses.to-lake.source.stream"), Some("clikcs")));
}

#[test]
fn a_region_from_the_environment_is_not_checked() {
    let spec = "tests/fixtures/broken/bom.yaml";
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        let run = pipectl(&["plan", spec])
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env(var, "us-easst-1")
            .run()
            .expect_code(2);
        assert!(run.stderr.contains(&format!("\"us-easst-1\" (from {var}) is not an AWS region")), "{}", run.stderr);
        assert!(run.stderr.contains("did you mean `us-east-1`?"), "{}", run.stderr);
    }
}

#[test]
fn messages_name_the_fields_range_the_var_file_and_the_place_of_bad_bytes() {
    let stderr =
        refused("range", "pipeline: p\nstreams:\n  c:\n    shards: -1\n  d:\n    shards: 99999999999999999999999\n");
    assert!(stderr.contains("`streams.c.shards` must be an integer from 1 to 10000, found -1"), "{stderr}");
    assert!(stderr.contains("`streams.d.shards` must be an integer from 1 to 10000"), "{stderr}");
    assert!(!stderr.contains("4294967295"), "{stderr}");
    let run = pipectl(&[
        "validate",
        "tests/fixtures/broken/var-file.yaml",
        "--var-file",
        "tests/fixtures/broken/vars/prod.yaml",
    ])
    .run()
    .expect_code(2);
    assert!(run.stderr.contains("1 error in `tests/fixtures/broken/vars/prod.yaml`, a var file of"), "{}", run.stderr);
    let crlf = refused("crlf", "pipeline: p\r\nstreams:\r\n  c:\r\n    shards: two\r\n");
    assert!(crlf.contains("4 |     shards: two\n") && !crlf.contains('\u{240d}'), "{crlf}");
    let cr = refused("cr", "pipeline: p\rstreams:\r  c:\r    shards: two\r");
    assert!(cr.contains("4 |     shards: two\n"), "{cr}");
    let path = temp_spec("spec-errors", "binary", "");
    std::fs::write(&path, b"pipeline: p\nstreams: \x80\x00\x01\n").unwrap();
    let run = pipectl(&["validate", path.to_str().unwrap()]).run().expect_code(2);
    assert!(run.stderr.contains("byte 0x80 at line 2, column 10"), "{}", run.stderr);
}

#[test]
fn control_characters_in_a_file_name_are_printed_raw() {
    let dir = crate::util::scratch().join(format!("pipectl-spec-errors-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x\u{1b}[2J\u{1b}]0;pwn\u{7}.yaml");
    std::fs::copy(root().join("tests/fixtures/broken/type-error.yaml"), &path).unwrap();
    let run = pipectl(&["validate", path.to_str().unwrap()]).env("NO_COLOR", "1").run().expect_code(2);
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'), "{:?}", run.stderr);
    assert!(run.stderr.contains("x\\u{001b}[2J\\u{001b}]0;pwn\\u{0007}.yaml:4:13"), "{}", run.stderr);
    let missing = dir.join("gone\u{1b}[2J.yaml");
    let run = pipectl(&["plan", missing.to_str().unwrap()]).run();
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
}
