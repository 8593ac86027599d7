//! How a spec's values are read, and that `validate` and the JSON Schema
//! agree on them: YAML 1.2 scalars, finite numbers, values AWS takes, and
//! `${...}` only in the fields that interpolate.

use crate::util::{pipectl, temp_spec};

const FUNCTION: &str = "
functions:
  decode:
    runtime: python3.12
    code: ../../../templates/lambda/decode_and_log.py
    handler: decode_and_log.handler
";

/// `validate --json` of `text`: its exit code and its diagnostics.
fn validate(test: &str, text: &str) -> (i32, Vec<serde_json::Value>) {
    let spec = temp_spec("reading", test, text);
    let run = pipectl(&["validate", "--json", spec.to_str().unwrap()]).run();
    let diags = run.json()["diagnostics"].as_array().cloned().unwrap_or_default();
    (run.code, diags)
}

fn messages(diags: &[serde_json::Value]) -> Vec<String> {
    diags.iter().map(|d| format!("{} | {}", d["message"].as_str().unwrap(), d["hint"].as_str().unwrap_or(""))).collect()
}

#[test]
fn functions_log_retention_days_accepts_values_aws_refuses() {
    for days in ["10", "0", "4000", "366"] {
        let (code, diags) = validate("retention", &format!("pipeline: r{FUNCTION}    log_retention_days: {days}\n"));
        assert_eq!(code, 2, "{days}");
        let all = messages(&diags).join("\n");
        assert!(
            all.contains("`functions.decode.log_retention_days` must be a retention period CloudWatch Logs takes"),
            "{all}"
        );
        assert!(all.contains("1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827"), "{all}");
    }
    let (_, diags) = validate("retention-near", &format!("pipeline: r{FUNCTION}    log_retention_days: 366\n"));
    assert!(messages(&diags)[0].contains("did you mean 365?"), "{diags:?}");
    for days in ["1", "14", "3653"] {
        let (code, diags) = validate("retention-ok", &format!("pipeline: r{FUNCTION}    log_retention_days: {days}\n"));
        assert_eq!((code, diags.len()), (0, 0), "{days}: {diags:?}");
    }
}

#[test]
fn yaml_integers_with_underscores_are_strings() {
    for text in ["_5", "1_0_", "1_000"] {
        let (code, diags) = validate("underscore", &format!("pipeline: u\nstreams:\n  s:\n    shards: {text}\n"));
        assert_eq!(code, 2, "{text}");
        let m = messages(&diags).join("\n");
        assert!(m.contains(&format!("`streams.s.shards` must be an integer, found the string \"{text}\"")), "{m}");
    }
    // YAML 1.2's other integer forms are integers.
    let (code, diags) = validate("hex", "pipeline: u\nstreams:\n  s:\n    shards: 0x2\n    retention_hours: 0o60\n");
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
}

#[test]
fn nan_inf_and_infinity_are_refused_by_the_number_decoder() {
    for text in ["nan", "inf", "infinity", "NaN", ".inf", "-.inf", ".nan"] {
        let spec = format!(
            "pipeline: n{FUNCTION}metric_filters:\n  e:\n    function: decode\n    pattern: ERROR\n    \
             metric: {{ namespace: N, name: E, default: {text} }}\n"
        );
        let (code, diags) = validate("nan", &spec);
        assert_eq!(code, 2, "{text}");
        let m = messages(&diags).join("\n");
        assert!(m.contains("`metric_filters.e.metric.default` must be a"), "{text}: {m}");
    }
    let spec = format!(
        "pipeline: n{FUNCTION}metric_filters:\n  e:\n    function: decode\n    pattern: ERROR\n    \
         metric: {{ namespace: N, name: E, default: 1.5e2 }}\n"
    );
    assert_eq!(validate("finite", &spec).0, 0);
}

#[test]
fn yes_on_and_quoted_true_are_not_booleans() {
    for (text, shown) in
        [("yes", "the string \"yes\""), ("on", "the string \"on\""), ("\"true\"", "the string \"true\"")]
    {
        let (code, diags) = validate("yes", &format!("pipeline: b\nstreams:\n  s:\n    protect: {text}\n"));
        assert_eq!(code, 2, "{text}");
        let m = messages(&diags).join("\n");
        assert!(m.contains(&format!("`streams.s.protect` must be true or false, found {shown}")), "{m}");
    }
}

#[test]
fn merge_keys_are_refused_as_merge_keys() {
    let spec = "pipeline: m\nstreams:\n  a: &base\n    shards: 2\n  b:\n    <<: *base\n";
    let (code, diags) = validate("merge", spec);
    assert_eq!(code, 2);
    assert_eq!(diags[0]["rule"], "merge-key");
    let m = messages(&diags).join("\n");
    assert!(m.contains("YAML merge keys (`<<:`) are not supported, found one in `streams.b`"), "{m}");
    assert!(m.contains("write the keys out"), "{m}");
    // In a mapping of chosen keys too.
    let (code, diags) = validate("merge-tags", "pipeline: m\nx: &t { a: b }\ntags:\n  <<: *t\n");
    assert_eq!(code, 2);
    assert!(diags.iter().any(|d| d["rule"] == "merge-key"), "{diags:?}");
}

#[test]
fn env_in_handler_or_file_pattern_is_left_as_literal_text() {
    let spec = format!("pipeline: i{}", FUNCTION.replace("decode_and_log.handler", "decode_and_log.handler${env}"));
    let (code, diags) = validate("handler", &spec);
    assert_eq!(code, 2);
    assert_eq!(diags[0]["rule"], "interpolation");
    let m = messages(&diags).join("\n");
    assert!(m.contains("`functions.decode.handler` does not interpolate `${...}`"), "{m}");
    let spec = "pipeline: i\nstreams:\n  s: {}\nagents:\n  h:\n    flows:\n      - { file_pattern: \"/tmp/${pipeline}/*.csv\", stream: s }\n";
    let (code, diags) = validate("file-pattern", spec);
    assert_eq!(code, 2);
    assert!(messages(&diags).join("\n").contains("`agents.h.flows[0].file_pattern` does not interpolate"), "{diags:?}");
    // A declared variable fills any field before it is read.
    let spec = format!(
        "pipeline: i\nvars:\n  h: {{ type: string, default: handler }}{}",
        FUNCTION.replace("decode_and_log.handler", "decode_and_log.${var.h}")
    );
    let (code, diags) = validate("handler-var", &spec);
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
}

#[test]
fn a_field_that_interpolates_refuses_unknown_references() {
    let (code, diags) = validate("unknown-ref", "pipeline: i\nstreams:\n  s:\n    name: ${pipeline}-${foo}\n");
    assert_eq!(code, 2);
    assert!(messages(&diags).join("\n").contains("foo"), "{diags:?}");
    let (code, diags) = validate("known-ref", "pipeline: i\nstreams:\n  s:\n    name: ${pipeline}-${env}-s\n");
    assert_eq!((code, diags.len()), (0, 0), "{diags:?}");
}

#[test]
fn producer_partition_key_nosuchfield_validates() {
    let host = |generate: &str, key: &str| {
        format!(
            "pipeline: p\nstreams:\n  s: {{}}\nagents:\n  h:\n    run: producer\n    \
             producer: {{ stream: s, generate: {generate}, partition_key: {key} }}\n"
        )
    };
    let (code, diags) = validate("nosuchfield", &host("sensor", "nosuchfield"));
    assert_eq!(code, 2);
    assert_eq!(diags[0]["rule"], "partition-key");
    let m = messages(&diags).join("\n");
    assert!(m.contains("`agents.h.producer.partition_key` is not a field of the `sensor` records"), "{m}");
    assert!(m.contains("sensor_id, timestamp, temperature, humidity, pressure"), "{m}");
    let (_, diags) = validate("near", &host("sensor", "sensorid"));
    assert!(messages(&diags)[0].contains("did you mean `sensor_id`?"), "{diags:?}");
    for (generate, key) in
        [("sensor", "sensor_id"), ("taxi", "trip_id"), ("tenant-metrics", "tenant"), ("taxi", "random")]
    {
        let (code, diags) = validate("field-ok", &host(generate, key));
        assert_eq!((code, diags.len()), (0, 0), "{generate} {key}: {diags:?}");
    }
}
