use super::*;

/// The masked text of `src` holds none of `secrets` and keeps each
/// line's length in characters.
#[track_caller]
fn hides(src: &str, secrets: &[&str]) -> String {
    let out = mask(src);
    for s in secrets {
        assert!(!out.contains(s), "`{s}` shown:\n{out}");
    }
    for (a, b) in src.split('\n').zip(out.split('\n')) {
        assert_eq!(a.chars().count(), b.chars().count(), "{a:?} -> {b:?}");
    }
    out
}

#[test]
fn secrets_printed_in_the_shown_source_line() {
    // A flow-style environment with an error beside the secret.
    let flow = "functions:\n  f:\n    environment: { DB_URL: \"postgres://u:hunter2@db\", BAD: [1] }\n";
    let out = hides(flow, &["hunter2", "postgres"]);
    assert!(out.contains("environment: { "), "{out}");
    // An unclosed quote inside an environment value (a syntax error).
    hides("functions:\n  f:\n    environment:\n      DB_URL: \"postgres://u:hunter2@db\n", &["hunter2"]);
    // A duplicate key: both values.
    let dup = "functions:\n  f:\n    environment:\n      DB_URL: one-hunter2\n      DB_URL: two-hunter2\n";
    let out = hides(dup, &["hunter2"]);
    assert!(out.contains("DB_URL: ***********"), "the variable's name stays: {out}");
    // A bad variable name: its value.
    hides("functions:\n  f:\n    environment:\n      bad-name: hunter2\n", &["hunter2"]);
    // A flow mapping over several lines, less indented than its key.
    let multi = "functions:\n  f:\n    environment: {\n  DB_URL: \"hunter2\",\n  B: [x, hunter2] }\nstreams: {}\n";
    let out = hides(multi, &["hunter2"]);
    assert!(out.ends_with("streams: {}\n"), "what follows is shown: {out}");
}

#[test]
fn a_secret_looking_key_masks_its_value_at_any_depth_and_below_it() {
    let src =
        "vars:\n  db_password:\n    default: hunter2\n    type: string\ntags: { api-token: 'hunter2', team: data }\n";
    let out = hides(src, &["hunter2"]);
    assert!(out.contains("vars:\n  db_password:\n"), "{out}");
    let block = "functions:\n  f:\n    environment:\n      KEY: |\n        hunter2\n    handler: h.x\n";
    let out = hides(block, &["hunter2"]);
    assert!(out.contains("handler: h.x"), "a sibling of environment is shown: {out}");
    let seq = "functions:\n  - environment:\n      - A: hunter2\n  - handler: h.x\n";
    let out = hides(seq, &["hunter2"]);
    assert!(out.contains("handler: h.x"), "{out}");
}

#[test]
fn other_values_are_shown_as_written() {
    let src = "pipeline: lab\nstreams:\n  clicks: { shards: 2, retention_hours: 24 } # a comment: x\n";
    assert_eq!(mask(src), src);
}
