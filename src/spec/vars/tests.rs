use super::super::{parse_with, Options, StreamMode};
use super::*;
use std::path::Path;

const SPEC: &str = "pipeline: p\nvars:\n  shards:\n    type: integer\n    default: 1\n    min: 1\n    max: 8\n  tier:\n    type: string\n    allowed: [pr, prod]\n    default: pr\nstreams:\n  s: { shards: \"${var.shards}\" }\n  t:\n    name: \"${pipeline}-${var.tier}-t\"\n    shards: ${var.shards}\n";

fn file(path: &str, text: &str) -> VarFile {
    VarFile { path: path.into(), text: text.into() }
}

fn run(text: &str, opts: &Options, files: &[VarFile]) -> Result<super::super::Built, Vec<Diagnostic>> {
    match parse_with(text, Path::new("."), opts, files) {
        Ok((built, diags)) if diags.is_empty() => Ok(built),
        Ok((_, diags)) | Err(diags) => Err(diags),
    }
}

fn shards(b: &super::super::Built, key: &str) -> u32 {
    match b.spec.streams[key].mode {
        StreamMode::Provisioned { shards } => shards,
        StreamMode::OnDemand => 0,
    }
}

#[test]
fn no_per_env_values_a_whole_value_takes_the_typed_variable() {
    let b = run(SPEC, &Options::default(), &[]).unwrap();
    assert_eq!((shards(&b, "s"), shards(&b, "t")), (1, 1));
    assert_eq!(b.spec.streams["t"].name, "p-pr-t");
    let prod = file("vars/prod.yaml", "shards: 4\ntier: prod\n");
    let b = run(SPEC, &Options::default(), &[prod]).unwrap();
    assert_eq!((shards(&b, "s"), shards(&b, "t")), (4, 4));
    assert_eq!(b.spec.streams["t"].name, "p-prod-t");
    let v = &b.vars.values["shards"];
    assert_eq!(v.value, serde_json::json!(4));
    assert_eq!(v.source, Source::File { path: "vars/prod.yaml".into(), line: 1, col: 9 });
}

#[test]
fn precedence_is_default_files_environment_flag() {
    let files = [file("a.yaml", "shards: 2\n"), file("b.yaml", "shards: 3\n")];
    let src = |opts: &Options, files: &[VarFile]| run(SPEC, opts, files).unwrap().vars.values["shards"].clone();
    assert_eq!(src(&Options::default(), &[]).value, 1);
    assert_eq!(src(&Options::default(), &files).value, 3, "the later file wins");
    let env = Options { env_vars: [("shards".to_string(), "5".to_string())].into(), ..Options::default() };
    let got = src(&env, &files);
    assert_eq!(
        (got.value.clone(), got.source),
        (serde_json::json!(5), Source::Env { name: "PIPECTL_VAR_shards".into() })
    );
    let flag = Options { vars: [("shards".to_string(), "6".to_string())].into(), ..env };
    let got = src(&flag, &files);
    assert_eq!((got.value.clone(), got.source), (serde_json::json!(6), Source::Flag));
}

#[test]
fn a_field_rule_names_the_variable_and_where_it_was_set() {
    let text = SPEC.replace("max: 8", "max: 100000");
    let files = [file("vars/prod.yaml", "# prod\nshards: 20000\n")];
    let diags = run(&text, &Options::default(), &files).err().unwrap();
    let d = diags.iter().find(|d| d.rule == "range").expect("the stream's own range check");
    assert!(d.message.contains("found 20000 (from var.shards, set in vars/prod.yaml:2:9)"), "{d:?}");
    assert_eq!((d.mark.line, d.file.as_deref()), (13, None), "at the place the spec uses it: {d:?}");
    let flag = Options { vars: [("shards".into(), "20000".into())].into(), ..Options::default() };
    let diags = run(&text, &flag, &[]).err().unwrap();
    let d = diags.iter().find(|d| d.rule == "range" && d.mark.line == 16).expect("range");
    assert!(d.message.contains("(from var.shards, set by --var shards)"), "{d:?}");
    let d = &run(SPEC, &flag, &[]).err().unwrap()[0];
    assert!(d.message.contains("20000 is over the maximum 8"), "the declaration's own bound first: {d:?}");
}

#[test]
fn undeclared_missing_and_mistyped_variables_are_errors() {
    let typo = SPEC.replace("${var.tier}", "${var.teir}");
    let d = &run(&typo, &Options::default(), &[]).err().unwrap()[0];
    assert_eq!((d.rule, d.mark.line), ("unknown-variable", 15));
    assert_eq!(d.hint.as_deref(), Some("did you mean `var.tier`?"));

    let required = SPEC.replace("    default: 1\n", "");
    let d = &run(&required, &Options::default(), &[]).err().unwrap()[0];
    assert_eq!((d.rule, d.mark.line), ("missing-variable", 4));
    assert!(d.hint.as_deref().unwrap().contains("--var shards=VALUE"), "{d:?}");

    let four = Options { vars: [("shards".into(), "four".into())].into(), ..Options::default() };
    let d = &run(SPEC, &four, &[]).err().unwrap()[0];
    assert_eq!(d.rule, "type");
    assert!(d.message.contains("var.shards (set by --var shards): `four` is not an integer"), "{d:?}");

    let quoted = file("v.yaml", "shards: \"4\"\n");
    let d = &run(SPEC, &Options::default(), &[quoted]).err().unwrap()[0];
    assert_eq!((d.rule, d.file.as_deref(), d.mark.line, d.mark.col), ("type", Some("v.yaml"), 1, 9));

    let not_allowed = Options { vars: [("tier".into(), "staging".into())].into(), ..Options::default() };
    let d = &run(SPEC, &not_allowed, &[]).err().unwrap()[0];
    assert!(d.message.contains("not one of the allowed values"), "{d:?}");

    let stray = Options { vars: [("shard".into(), "2".into())].into(), ..Options::default() };
    let d = &run(SPEC, &stray, &[]).err().unwrap()[0];
    assert_eq!(d.hint.as_deref(), Some("did you mean `shards`?"));
    let env = Options { env_vars: [("other".into(), "2".into())].into(), ..Options::default() };
    assert!(run(SPEC, &env, &[]).is_ok(), "an environment variable for another spec is not an error");
}

#[test]
fn an_unknown_name_in_a_var_file_is_an_error_in_that_file() {
    let f = file("vars/prod.yaml", "tier: prod\nshard: 4\n");
    let d = &run(SPEC, &Options::default(), &[f]).err().unwrap()[0];
    assert_eq!(
        (d.rule, d.file.as_deref(), d.mark.line, d.mark.col),
        ("unknown-variable", Some("vars/prod.yaml"), 2, 1)
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `shards`?"));
    assert!(d.render("spec.yaml").contains("--> vars/prod.yaml:2:1"));
}

#[test]
fn a_value_is_never_a_reference_or_a_secret() {
    let text = "pipeline: p\nvars:\n  x: { type: string }\nbuckets: { b: { name: \"x-${var.x}\" } }\n";
    for bad in ["${ssm:/a}", "a$", "${buckets.b.arn}"] {
        let opts = Options { vars: [("x".into(), bad.into())].into(), ..Options::default() };
        let d = &run(text, &opts, &[]).err().unwrap()[0];
        assert!(d.message.contains("plain text"), "{bad}: {d:?}");
    }
    let opts = Options { vars: [("x".into(), "data".into())].into(), ..Options::default() };
    assert_eq!(run(text, &opts, &[]).unwrap().spec.buckets["b"].name, "x-data");
    let escaped = text.replace("x-${var.x}", "x-$${var.x}");
    let d = &run(&escaped, &opts, &[]).err().unwrap()[0];
    assert!(d.message.contains("`x-${var.x}` does not"), "an escaped use stays text: {d:?}");
}

#[test]
fn lists_fill_whole_values_and_expansion_is_bounded() {
    let text = "pipeline: p\nvars:\n  cols: { type: list(string), default: [a, b] }\ntags: { k: \"${var.cols}\" }\n";
    let d = &run(text, &Options::default(), &[]).err().unwrap()[0];
    assert_eq!(d.rule, "type", "{d:?}");
    let big = format!("[{}]", vec!["x"; 2_000].join(", "));
    let opts = Options { vars: [("cols".into(), big)].into(), ..Options::default() };
    let uses: String = (0..60).map(|i| format!("  k{i}: ${{var.cols}}\n")).collect();
    let text = format!("pipeline: p\nvars:\n  cols: {{ type: list(string) }}\nstreams:\n{uses}");
    let diags = run(&text, &opts, &[]).err().unwrap();
    assert!(diags.iter().any(|d| d.rule == "var-expansion"), "{diags:?}");
}

#[test]
fn without_a_vars_section_var_flags_are_text_as_before() {
    let text = "pipeline: p\nbuckets: { b: { name: \"${var.team}-b\" } }\n";
    let opts = Options { vars: [("team".into(), "data".into())].into(), ..Options::default() };
    let b = run(text, &opts, &[]).unwrap();
    assert_eq!(b.spec.buckets["b"].name, "data-b");
    assert_eq!(b.vars.values["team"], Var { value: "data".into(), source: Source::Flag });
    let d = &run(text, &opts, &[file("v.yaml", "team: x\n")]).err().unwrap()[0];
    assert_eq!((d.rule, d.file.as_deref()), ("unknown-variable", Some("v.yaml")));
    assert!(d.hint.as_deref().unwrap().contains("no `vars:` section"));
}

#[test]
fn the_environment_gives_pipectl_var_values() {
    let env = [("PIPECTL_VAR_shards", "4"), ("PIPECTL_VARX", "1"), ("HOME", "/h"), ("PIPECTL_VAR_a b", "1")];
    let got = from_environment(env.iter().map(|(k, v)| (k.into(), v.into())));
    assert_eq!(got, BTreeMap::from([("shards".to_string(), "4".to_string())]));
}

#[test]
fn var_file_typing_was_looser_than_the_spec_s() {
    // `1_0` is not ten, in a flag or a file, as it is not in the spec.
    let flag = Options { vars: [("shards".to_string(), "1_0".to_string())].into(), ..Options::default() };
    assert!(run(SPEC, &flag, &[]).is_err());
    assert!(run(SPEC, &Options::default(), &[file("v.yaml", "shards: 1_0\n")]).is_err());
    // A tag does not make a string an integer, nor anything else.
    for text in
        ["shards: !!str 3\n", "tier: !!binary aGVsbG8=\n", "tier: !custom pr\n", "---\nshards: 2\n---\nshards: 3\n"]
    {
        assert!(run(SPEC, &Options::default(), &[file("v.yaml", text)]).is_err(), "{text:?}");
    }
}
