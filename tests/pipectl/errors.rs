//! Spec errors as a person reads them: each broken spec in
//! `tests/fixtures/broken` through the real binary (`pipectl validate`,
//! offline), its stderr compared with the snapshot under `snapshots/`
//! (`.config/insta.yaml`: a missing or different snapshot fails, nothing
//! is written). Each test is named after what its error must show.

use crate::util::pipectl;

const DIR: &str = "tests/fixtures/broken";

/// `pipectl validate` of a broken fixture (plus `extra` arguments),
/// without colour: exit code 2, nothing sent to AWS; its stderr.
fn broken(name: &str, extra: &[&str]) -> String {
    let file = format!("{DIR}/{name}.yaml");
    let mut args = vec!["validate", file.as_str()];
    args.extend(extra);
    let run = pipectl(&args).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").run().expect_code(2);
    assert!(run.stderr.contains("nothing was sent to AWS"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "no colour with NO_COLOR: {}", run.stderr);
    run.stderr
}

/// The stderr of `name` checked against its snapshot, and for each of
/// `shows`, that it is there.
#[track_caller]
fn check(name: &str, extra: &[&str], shows: &[&str]) {
    let stderr = broken(name, extra);
    for s in shows {
        assert!(stderr.contains(s), "{name}: `{s}` is not shown:\n{stderr}");
    }
    insta::assert_snapshot!(name, stderr);
}

#[test]
fn a_type_error_names_the_field_path_and_the_value_under_a_caret() {
    check(
        "type-error",
        &[],
        &[
            "error[type]: `streams.clicks.shards` must be an integer, found the string \"two\"",
            "--> tests/fixtures/broken/type-error.yaml:4:13",
            "4 |     shards: \"two\"",
            "^^^^^ expected an integer",
        ],
    );
}

#[test]
fn a_range_error_names_the_field_path_and_the_value() {
    check("range-error", &[], &["`streams.clicks.retention_hours` must be between 24 and 8760, found 9999", "^^^^"]);
}

#[test]
fn an_unknown_key_is_underlined_with_the_key_meant() {
    check(
        "unknown-key",
        &[],
        &["unknown key `on_destory` in `buckets.raw`", "^^^^^^^^^^", "did you mean `on_destroy`?"],
    );
}

#[test]
fn a_missing_field_at_the_top_level_names_the_top_level_not_an_empty_path() {
    let stderr = broken("missing-pipeline", &[]);
    assert!(!stderr.contains("in ``"), "{stderr}");
    check("missing-pipeline", &[], &["missing required field `pipeline` at the top level of the spec", ":1:1"]);
}

#[test]
fn a_dangling_reference_is_underlined() {
    check("dangling-reference", &[], &["`clikcs` is not defined", "^^^^^^", "did you mean `clicks`?"]);
}

#[test]
fn an_unclosed_flow_mapping_points_at_its_opening_bracket() {
    check(
        "unclosed-brace",
        &[],
        &["--> tests/fixtures/broken/unclosed-brace.yaml:3:11", "^ opened here", "the YAML parser gave up here"],
    );
}

#[test]
fn an_unclosed_quote_points_at_the_quote() {
    check("unclosed-quote", &[], &["--> tests/fixtures/broken/unclosed-quote.yaml:3:9", "never closed"]);
}

#[test]
fn a_tab_used_for_indentation_is_pointed_at() {
    check("tab-indent", &[], &["--> tests/fixtures/broken/tab-indent.yaml:3:1", "a tab"]);
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let run = pipectl(&["validate", "tests/fixtures/broken/bom.yaml"]).run().expect_code(0);
    assert!(run.stdout.contains("valid, 2 resources"), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn an_invisible_character_in_a_message_is_escaped() {
    let stderr = broken("invisible-key", &[]);
    let first = stderr.lines().next().unwrap();
    assert!(!first.contains('\u{200b}') && first.contains("re\\u{200b}tention_hours"), "{first}");
    check("invisible-key", &[], &["did you mean `retention_hours`?"]);
}

#[test]
fn a_region_no_partition_knows_is_an_error_with_the_region_meant() {
    check("bad-region", &[], &["`region` \"us-easst-1\" is not an AWS region", "did you mean `us-east-1`?"]);
}

#[test]
fn a_region_opened_after_the_sdk_release_is_a_warning() {
    let run = pipectl(&["validate", "tests/fixtures/broken/bom.yaml", "--region", "eu-central-9"])
        .env("NO_COLOR", "1")
        .run()
        .expect_code(0);
    let warning = "warning[region]: --region \"eu-central-9\" is not a region the AWS SDK knows yet";
    assert!(run.stderr.contains(warning), "{}", run.stderr);
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
    let json = pipectl(&["validate", "--json", "tests/fixtures/broken/bom.yaml", "--region", "eu-central-9"]).run();
    assert_eq!(json.expect_code(0).json()["diagnostics"][0]["severity"], "warning");
}

#[test]
fn a_newer_runtime_than_lambda_has_suggests_the_newest_of_its_language() {
    check("newer-runtime", &[], &["the newest python runtime is `python3.14`", "use `python3.14`"]);
}

#[test]
fn a_deprecated_runtime_is_a_warning_naming_its_successor_and_dates() {
    // Lambda still knows it: deployed functions must still plan and destroy.
    let file = format!("{DIR}/deprecated-runtime.yaml");
    let run = pipectl(&["validate", &file]).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").run().expect_code(0);
    for s in ["warning[runtime]: runtime `nodejs12.x` is deprecated since 2023-03-31", "move to `nodejs24.x`"] {
        assert!(run.stderr.contains(s), "`{s}` is not shown:\n{}", run.stderr);
    }
    insta::assert_snapshot!("deprecated-runtime", run.stderr);
}

#[test]
fn a_duplicate_key_shows_both_places() {
    check("duplicate-key", &[], &["first given here", "given again here"]);
}

#[test]
fn a_name_breaking_an_aws_rule_is_underlined() {
    check("bad-name", &[], &["`Data_Lake` does not", "^^^^^^^^^"]);
}

#[test]
fn a_var_file_error_shows_the_var_files_line() {
    check(
        "var-file",
        &["--var-file", "tests/fixtures/broken/vars/prod.yaml"],
        &["--> tests/fixtures/broken/vars/prod.yaml:2:9", "2 | shards: many", "found the string \"many\""],
    );
}

#[test]
fn a_secret_looking_value_is_not_echoed() {
    let stderr = broken("secret-value", &[]);
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    check("secret-value", &[], &["its value is not shown"]);
}

#[test]
fn every_diagnostic_keeps_its_json_form() {
    let run = pipectl(&["validate", "--json", "tests/fixtures/broken/type-error.yaml"]).run().expect_code(2);
    let d = &run.json()["diagnostics"][0];
    assert_eq!((d["rule"].as_str(), d["line"].as_u64(), d["col"].as_u64()), (Some("type"), Some(4), Some(13)));
    assert_eq!((d["path"].as_str(), d["value"].as_str()), (Some("streams.clicks.shards"), Some("two")));
    assert_eq!(d["severity"], "error");
}

#[test]
fn clicolor_force_colours_errors_and_no_color_wins_over_it() {
    let file = "tests/fixtures/broken/type-error.yaml";
    let forced = pipectl(&["validate", file]).env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR").run().expect_code(2);
    assert!(forced.stderr.contains("\u{1b}["), "{}", forced.stderr);
    let both = pipectl(&["validate", file]).env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1").run().expect_code(2);
    assert!(!both.stderr.contains('\u{1b}'), "{}", both.stderr);
}
