//! What a spec from a pull request could make pipectl leak: the CI
//! checkout's token or the runner's credentials zipped into a function it
//! controls, and the values of secrets echoed in output. One test per
//! attack, named after it.

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy};
use crate::util::{pipectl, scratch, temp_spec, Run};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// What `.git/config` of a CI checkout holds.
const TOKEN: &str = "ghs_canaryCheckoutToken5a1f";

/// A project as CI checks it out: its own git work tree with the job's
/// token in `.git/config`, credentials beside it, and a function folder.
fn project(test: &str) -> PathBuf {
    let dir = scratch().join(format!("pipectl-leaks-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (f, body) in [
        ("fn/h.py", "def handler(e, c):\n    return 1\n".to_string()),
        (".git/config", format!("[http]\n\textraheader = AUTHORIZATION: bearer {TOKEN}\n")),
        (".aws/credentials", format!("[default]\naws_secret_access_key = {TOKEN}\n")),
        (".env", format!("TOKEN={TOKEN}\n")),
    ] {
        std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
        std::fs::write(dir.join(f), body).unwrap();
    }
    dir
}

fn code_spec(code: &str) -> String {
    format!("pipeline: p\nfunctions:\n  f:\n    runtime: python3.12\n    handler: h.handler\n    code: {code}\n")
}

/// Validates `code:` in the project at `dir` (its own git work tree, so
/// its project root): a `code-path` error at the line and column of
/// `code:`, naming `hidden`, with a hint; `plan` stops there too, before
/// AWS. Returns the diagnostic.
#[track_caller]
fn refused(dir: &Path, code: &str, hidden: &str) -> serde_json::Value {
    let path = dir.join("spec.yaml");
    std::fs::write(&path, code_spec(code)).unwrap();
    let s = path.to_str().unwrap();
    let run = pipectl(&["validate", "--json", s]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(2);
    let doc = run.json();
    let d = doc["diagnostics"][0].clone();
    assert_eq!(d["rule"], "code-path", "{code}: {doc}");
    assert_eq!((d["line"].as_u64(), d["col"].as_u64()), (Some(6), Some(11)), "{code}: {doc}");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains(&format!("the hidden `{hidden}`")), "{code}: {message}");
    assert!(d["hint"].as_str().is_some_and(|h| h.contains("hidden")), "{code}: {doc}");
    // A command that would call AWS stops at validation (exit 2, not a failed call).
    let plan = pipectl(&["plan", s]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(2);
    assert!(plan.stderr.contains("code-path") && plan.stderr.contains("nothing was sent to AWS"), "{}", plan.stderr);
    for out in [&run.stdout, &run.stderr, &plan.stdout, &plan.stderr] {
        assert!(!out.contains(TOKEN), "{out}");
    }
    d
}

#[test]
fn code_path_into_git_config_is_refused() {
    let dir = project("git-config");
    refused(&dir, ".git/config", ".git");
    refused(&dir, "./.git/config", ".git");
    refused(&dir, dir.join(".git/config").to_str().unwrap(), ".git");
}

#[test]
fn code_path_through_a_parent_into_git_config_is_refused() {
    let dir = project("parent");
    refused(&dir, "fn/../.git/config", ".git");
    // Through a hidden folder even where it resolves to plain code.
    refused(&dir, ".git/../fn/h.py", ".git");
}

#[test]
fn code_path_to_dotenv_or_aws_credentials_is_refused() {
    let dir = project("credentials");
    refused(&dir, ".env", ".env");
    refused(&dir, ".aws/credentials", ".aws");
    refused(&dir, ".aws", ".aws");
}

#[test]
fn a_symlink_in_a_code_folder_to_git_config_is_refused() {
    let dir = project("link-git-config");
    symlink("../.git/config", dir.join("fn/c.py")).unwrap();
    let d = refused(&dir, "fn", ".git");
    assert!(d["message"].as_str().unwrap().contains("fn/c.py"), "names the link: {d}");
    // Named on its own, the link is refused too.
    refused(&dir, "fn/c.py", ".git");
}

#[test]
fn a_symlinked_folder_into_git_or_aws_is_refused() {
    let dir = project("link-folder");
    symlink("../.git", dir.join("fn/lib")).unwrap();
    refused(&dir, "fn", ".git");
    refused(&dir, "fn/lib/config", ".git");
    std::fs::remove_file(dir.join("fn/lib")).unwrap();
    symlink(dir.join(".aws"), dir.join("fn/lib")).unwrap();
    refused(&dir, "fn", ".aws");
}

#[test]
fn a_symlink_deep_in_a_code_folder_to_aws_credentials_is_refused() {
    let dir = project("link-deep");
    std::fs::create_dir_all(dir.join("fn/a/b/c")).unwrap();
    std::fs::write(dir.join("fn/a/b/c/util.py"), "X = 1\n").unwrap();
    symlink("../../../../.aws/credentials", dir.join("fn/a/b/c/settings.py")).unwrap();
    refused(&dir, "fn", ".aws");
}

#[test]
fn a_symlink_whose_text_passes_through_a_hidden_folder_is_refused() {
    // It resolves to the function's own file; its text goes through `.git`.
    let dir = project("link-text");
    symlink("../.git/../fn/h.py", dir.join("fn/alias.py")).unwrap();
    refused(&dir, "fn", ".git");
    // A chain whose second link is the one into `.env`.
    std::fs::remove_file(dir.join("fn/alias.py")).unwrap();
    symlink("b.py", dir.join("fn/a.py")).unwrap();
    symlink("../.env", dir.join("fn/b.py")).unwrap();
    refused(&dir, "fn/a.py", ".env");
}

#[test]
fn a_zip_in_a_hidden_folder_is_refused() {
    let dir = project("zip");
    let zip = pipectl::package::build(&dir.join("fn"), &dir).unwrap().zip;
    std::fs::create_dir_all(dir.join(".build")).unwrap();
    std::fs::write(dir.join(".build/fn.zip"), zip).unwrap();
    refused(&dir, ".build/fn.zip", ".build");
    symlink("../.build/fn.zip", dir.join("fn/fn.zip")).unwrap();
    refused(&dir, "fn/fn.zip", ".build");
}

#[test]
fn hidden_entries_of_a_code_folder_are_left_out_not_refused() {
    let dir = project("left-out");
    std::fs::write(dir.join("fn/.env"), format!("TOKEN={TOKEN}\n")).unwrap();
    symlink("../.git/config", dir.join("fn/.gitconfig")).unwrap();
    std::fs::write(dir.join("spec.yaml"), code_spec("fn")).unwrap();
    let spec = dir.join("spec.yaml");
    pipectl(&["validate", spec.to_str().unwrap()]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(0);
    let zip = pipectl::package::build(&dir.join("fn"), &dir).unwrap().zip;
    let names: Vec<String> =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap().file_names().map(str::to_string).collect();
    assert_eq!(names, ["h.py"]);
}

#[test]
fn a_project_inside_a_hidden_folder_still_deploys_its_code() {
    // A checkout under `~/.cache/...`: only names below the project count.
    let outer = scratch().join(format!("pipectl-leaks-hidden-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outer);
    let dir = outer.join(".cache/ci/project");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join("fn")).unwrap();
    std::fs::write(dir.join("fn/h.py"), "x = 1\n").unwrap();
    std::fs::write(dir.join(".git/config"), format!("token = {TOKEN}\n")).unwrap();
    symlink(dir.join("fn/h.py"), dir.join("fn/alias.py")).unwrap();
    let spec = dir.join("spec.yaml");
    for code in ["fn", "fn/h.py", dir.join("fn/alias.py").to_str().unwrap()] {
        std::fs::write(&spec, code_spec(code)).unwrap();
        pipectl(&["validate", spec.to_str().unwrap()]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(0);
    }
    refused(&dir, ".git/config", ".git");
}

/// `count` environment variables `K00`, `K01`, ... whose values, `width`
/// bytes each, start with `canary`.
fn wide_environment(canary: &str, count: usize, width: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        let head = format!("{canary}-{i:02}-");
        out.push_str(&format!("      K{i:02}: {head}{}\n", "v".repeat(width - head.len())));
    }
    out
}

fn env_spec(environment: &str) -> String {
    format!(
        "pipeline: leak\nfunctions:\n  f:\n    runtime: python3.12\n    code: {}\n    handler: decode_and_log.handler\n    environment:\n{environment}",
        crate::util::root().join("templates/lambda/decode_and_log.py").display()
    )
}

const CANARY_WIDE: &str = "canary-wide-3c9d";

#[track_caller]
fn no_canary(canary: &str, runs: &[&Run]) {
    for r in runs {
        for out in [&r.stdout, &r.stderr] {
            assert!(!out.contains(canary), "shows {canary}:\n{out}");
        }
    }
}

#[test]
fn an_environment_over_lambdas_json_limit_is_refused_before_aws() {
    // 40 variables of 3 + 95 bytes: 3920 bytes of names and values, but
    // 4161 as Lambda measures them, quoted, with `:` and `,` between.
    let path = temp_spec("leaks", "wide", &env_spec(&wide_environment(CANARY_WIDE, 40, 95)));
    let s = path.to_str().unwrap();
    let run = pipectl(&["validate", "--json", s]).run().expect_code(2);
    let doc = run.json();
    let d = &doc["diagnostics"][0];
    assert_eq!(d["rule"], "environment", "{doc}");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("`functions.f` is 4161 bytes") && message.contains("4096"), "{message}");
    let text = pipectl(&["validate", s]).run().expect_code(2);
    let plan = pipectl(&["plan", s]).run().expect_code(2);
    let json = pipectl(&["plan", s, "--json"]).run().expect_code(2);
    assert!(plan.stderr.contains("nothing was sent to AWS"), "{}", plan.stderr);
    no_canary(CANARY_WIDE, &[&run, &text, &plan, &json]);
    // At the limit: 4096 bytes pass, and a quote (two bytes in JSON) tips it over.
    let fill = "v".repeat(4096 - r#"{"A":""}"#.len());
    let path = temp_spec("leaks", "wide-limit", &env_spec(&format!("      A: {fill}\n")));
    pipectl(&["validate", path.to_str().unwrap()]).run().expect_code(0);
    let tipped = format!("      A: '{}\"'\n", &fill[1..]);
    let path = temp_spec("leaks", "wide-tipped", &env_spec(&tipped));
    let run = pipectl(&["validate", "--json", path.to_str().unwrap()]).run().expect_code(2);
    assert!(run.stdout.contains("is 4097 bytes"), "{}", run.stdout);
}

const CANARY_BIG: &str = "canary-big-secret-5e1d";

#[test]
fn a_secret_that_makes_the_environment_too_large_is_refused_without_echoing_it() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    // 2,040 quotes: 2,063 bytes read, twice that as JSON.
    let value = format!("{CANARY_BIG}:{}", "\"".repeat(2040));
    let put = sdk.ssm.put_parameter().name("/leak/big").value(&value);
    sdk.run(put.r#type(aws_sdk_ssm::types::ParameterType::SecureString).send()).unwrap();
    let path = temp_spec("leaks", "big-secret", &env_spec("      TOKEN: \"${ssm:/leak/big}\"\n      MODE: small\n"));
    let s = path.to_str().unwrap();
    let valid = moto.pipectl(&["validate", s]).run().expect_code(0);
    let plan = moto.pipectl(&["plan", s]).run().expect_code(1);
    for part in ["`leak-f`", "${ssm:/leak/big}", "4096", "bytes"] {
        assert!(plan.stderr.contains(part), "{part}: {}", plan.stderr);
    }
    let json = moto.pipectl(&["plan", s, "--json"]).run().expect_code(1);
    let error =
        json.stdout.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).next_back().unwrap();
    assert!(error["error"].as_str().unwrap().contains("${ssm:/leak/big}"), "{error}");
    let apply = moto.pipectl(&["apply", s, "--yes", "--json"]).run().expect_code(1);
    let text = moto.pipectl(&["apply", s, "--yes"]).run().expect_code(1);
    no_canary(CANARY_BIG, &[&valid, &plan, &json, &apply, &text]);
    let function = sdk.run(sdk.lambda.get_function().function_name("leak-f").send());
    assert!(function.is_err(), "refused before CreateFunction");
}

const CANARY_QUOTED_SSM: &str = "canary-\"quoted\"-ssm-2b7e";
const CANARY_QUOTED_PLAIN: &str = "canary-plain-8d04";

#[test]
fn an_aws_error_quoting_the_environment_shows_no_value() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    let put = sdk.ssm.put_parameter().name("/leak/token").value(CANARY_QUOTED_SSM);
    sdk.run(put.r#type(aws_sdk_ssm::types::ParameterType::SecureString).send()).unwrap();
    let env = |plain: &str| env_spec(&format!("      TOKEN: \"${{ssm:/leak/token}}\"\n      PLAIN: {plain}\n"));
    let path = temp_spec("leaks", "quoted", &env(CANARY_QUOTED_PLAIN));
    let s = path.to_str().unwrap();
    // CreateFunction, then UpdateFunctionConfiguration, refused by an error
    // that quotes every value the request carried, as Lambda's 4 KB refusal does.
    let refused = |fragment: &'static str, args: &[&str]| {
        let proxy = Proxy::start(&moto.url, Faults { quote_environment_first: Some(fragment), ..Faults::default() });
        let run = crate::util::pipectl(args).aws_env(&proxy.url).run().expect_code(1);
        assert_eq!(proxy.stats.quoted.load(std::sync::atomic::Ordering::SeqCst), 1, "{}", run.stderr);
        let out = format!("{}{}", run.stdout, run.stderr);
        assert!(out.contains("String measured") && out.contains("(sensitive)"), "{out}");
        assert!(out.contains("\"TOKEN\":") || out.contains("\\\"TOKEN\\\":"), "the names stay: {out}");
        run
    };
    let create = "POST /2015-03-31/functions ";
    let text = refused(create, &["apply", s, "--yes"]);
    let json = refused(create, &["apply", s, "--yes", "--json"]);
    for line in json.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    moto.apply(s);
    std::fs::write(&path, env(&format!("{CANARY_QUOTED_PLAIN}-2"))).unwrap();
    let update = "PUT /2015-03-31/functions/leak-f/configuration";
    let updated = refused(update, &["apply", s, "--yes", "--json"]);
    // Raw or JSON-escaped (`canary-\"quoted\"-ssm-2b7e`), each ends the same.
    for canary in ["ssm-2b7e", CANARY_QUOTED_PLAIN] {
        no_canary(canary, &[&text, &json, &updated]);
    }
}

#[test]
fn a_code_path_passing_through_a_hidden_folder_is_refused_but_a_spec_kept_in_one_is_not() {
    let dir = project("through-hidden");
    refused(&dir, ".git/../fn/h.py", ".git");
    // Where the spec lives is the project's choice: a spec under `.github/`
    // naming code outside it validates.
    let spec = dir.join(".github/pipelines/spec.yaml");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    std::fs::write(&spec, code_spec("../../fn/h.py")).unwrap();
    let s = spec.to_str().unwrap();
    pipectl(&["validate", s]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(0);
    // ... but not code beside it there.
    std::fs::write(spec.with_file_name("h.py"), "def handler(e, c):\n    return 1\n").unwrap();
    std::fs::write(&spec, code_spec("h.py")).unwrap();
    let run = pipectl(&["validate", s]).env_remove("PIPECTL_CODE_ROOT").run().expect_code(2);
    assert!(run.stderr.contains("the hidden `.github`"), "{}", run.stderr);
}
