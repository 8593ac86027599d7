//! The table against the decoder, both ways, and the generated files
//! against the table.

use super::*;
use crate::diag::Mark;
use crate::spec::decode::{asked, Decoder};
use crate::spec::raw::RawSpec;
use crate::spec::yaml::{self, Node, Value};
use crate::spec::{vars, Options};
use std::collections::BTreeMap;
use std::path::Path;

/// The key a maximal spec gives a mapping of chosen keys.
fn sample_key(keys: &Keys) -> &'static str {
    match keys {
        Keys::OneOf(words) => words[0],
        Keys::Resource | Keys::Pattern(..) => "k",
    }
}

fn name(f: &Field) -> &'static str {
    f.path.rsplit('.').next().unwrap_or(f.path)
}

/// Writes the fields inside `parent` as block YAML at `indent`.
fn write(out: &mut String, indent: usize, parent: &str) {
    let pad = " ".repeat(indent);
    for f in children(parent) {
        let key = name(f);
        match &f.ty {
            Ty::Object | Ty::ObjectOr(_) => {
                out.push_str(&format!("{pad}{key}:\n"));
                write(out, indent + 2, f.path);
            }
            Ty::Map { keys, value: Ty::Object } => {
                out.push_str(&format!("{pad}{key}:\n{pad}  {}:\n", sample_key(keys)));
                write(out, indent + 4, &format!("{}.*", f.path));
            }
            Ty::List(Ty::Object) => {
                let mut item = String::new();
                write(&mut item, indent + 4, &format!("{}[]", f.path));
                out.push_str(&format!("{pad}{key}:\n{pad}  - {}", &item[indent + 4..]));
            }
            _ => out.push_str(&format!("{pad}{key}: {}\n", f.example)),
        }
    }
}

/// A spec holding every field of the table, each with its example.
fn maximal() -> String {
    let mut out = String::new();
    write(&mut out, 0, "");
    out
}

/// Decodes a spec as `spec::parse_with` does, up to the raw structs,
/// returning the problems and every (mapping, key) the decoder asked for.
fn decode(text: &str) -> (Node, Vec<crate::diag::Diagnostic>, Vec<(Mark, &'static str)>) {
    let mut root = yaml::parse(text).unwrap_or_else(|e| panic!("{}: {}\n{text}", e.mark.line, e.message));
    let opts = Options::default();
    let inputs = vars::Inputs { flags: &opts.vars, env: &opts.env_vars, files: &[] };
    let (diags, keys) = asked::record(|| {
        let mut diags = Vec::new();
        vars::apply(&mut root, &inputs, &mut diags);
        let mut d = Decoder::default();
        RawSpec::decode(&root, &mut d);
        diags.extend(d.diags);
        diags
    });
    (root, diags, keys)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Each mapping of `node` by its position, with its path in the table.
fn mappings(node: &Node, path: &str, out: &mut BTreeMap<Mark, String>) {
    let Value::Map(entries) = &node.value else { return };
    out.insert(node.mark, path.to_string());
    for (k, v) in entries {
        let Value::Scalar { text, .. } = &k.value else { continue };
        let child = join(path, text);
        let Some(f) = get(&child) else { continue };
        match (&f.ty, &v.value) {
            (Ty::Object | Ty::ObjectOr(_), _) => mappings(v, &child, out),
            (Ty::Map { value: Ty::Object, .. }, Value::Map(items)) => {
                items.iter().for_each(|(_, item)| mappings(item, &format!("{child}.*"), out))
            }
            (Ty::List(Ty::Object), Value::Seq(items)) => {
                items.iter().for_each(|item| mappings(item, &format!("{child}[]"), out))
            }
            _ => {}
        }
    }
}

#[test]
fn the_table_is_well_formed() {
    let fields = all();
    let mut seen = std::collections::BTreeSet::new();
    for f in &fields {
        assert!(seen.insert(f.path), "`{}` is in the table twice", f.path);
        let parent = parent_of(f.path).unwrap_or_else(|| panic!("`{}` does not end in a field name", f.path));
        if !parent.is_empty() {
            let holder = fields.iter().find(|p| p.path == parent || inner(p).as_deref() == Some(parent));
            let holder = holder.unwrap_or_else(|| panic!("`{}` sits in `{parent}`, which is not in the table", f.path));
            let holds_fields = match &holder.ty {
                Ty::Object | Ty::ObjectOr(_) => holder.path == parent,
                Ty::Map { value: Ty::Object, .. } | Ty::List(Ty::Object) => inner(holder).as_deref() == Some(parent),
                _ => false,
            };
            assert!(holds_fields, "`{}` sits in `{parent}`, which does not hold fields", f.path);
        }
        let container =
            matches!(f.ty, Ty::Object | Ty::ObjectOr(_) | Ty::Map { value: Ty::Object, .. } | Ty::List(Ty::Object));
        assert_eq!(f.example.is_empty(), container, "`{}`: an example for every value, none for a mapping", f.path);
        assert!(!f.about.is_empty(), "`{}` says nothing", f.path);
        if f.required {
            assert!(matches!(f.default, Default::None), "`{}` is required and has a default", f.path);
        }
    }
}

#[test]
fn every_field_of_the_table_is_accepted_by_the_decoder() {
    let text = maximal();
    let (_, diags, _) = decode(&text);
    let unknown: Vec<_> = diags.iter().filter(|d| d.rule == "unknown-key").collect();
    assert!(unknown.is_empty(), "the decoder refuses fields of the table: {unknown:#?}\n{text}");
    assert!(diags.is_empty(), "an example of the table does not decode: {diags:#?}\n{text}");
}

/// The keys the decoder asked for that the table lacks, as paths.
fn lacking(root: &Node, keys: &[(Mark, &'static str)]) -> Vec<String> {
    let mut marks = BTreeMap::new();
    mappings(root, "", &mut marks);
    let mut out = Vec::new();
    for (mark, key) in keys {
        let path = match marks.get(mark) {
            Some(path) => join(path, key),
            None => format!("`{key}` in a mapping at {}:{} the table does not describe", mark.line, mark.col),
        };
        if get(&path).is_none() && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_key_the_decoder_reads_is_in_the_table() {
    let (root, _, keys) = decode(&maximal());
    assert!(keys.len() >= all().len() - 1, "the decoder was not watched: {keys:?}");
    let missing = lacking(&root, &keys);
    assert!(missing.is_empty(), "the decoder reads keys the table (src/spec/fields/) lacks: {missing:?}");
}

#[test]
fn a_key_the_table_lacks_is_caught() {
    // What the check above says of a decoder reading one more key.
    let (root, _, mut keys) = decode(&maximal());
    let stream = keys.iter().find(|(_, k)| *k == "retention_hours").map(|(m, _)| *m).unwrap();
    keys.push((stream, "retention_days"));
    keys.push((Mark { line: 999, col: 1 }, "anything"));
    assert_eq!(
        lacking(&root, &keys),
        ["streams.*.retention_days", "`anything` in a mapping at 999:1 the table does not describe"]
    );
}

#[test]
fn the_reference_lists_every_field_and_the_schema_every_property() {
    let md = markdown::text();
    let schema = schema::text();
    for f in all() {
        assert!(md.contains(&format!("| `{}` |", f.path)), "`{}` is not in the reference", f.path);
        assert!(schema.contains(&format!("\"{}\"", name(f))), "`{}` is not in the schema", f.path);
    }
    let doc = schema::document();
    let shards = &doc["properties"]["streams"]["additionalProperties"]["properties"]["shards"];
    assert_eq!(shards["default"], 1);
    assert_eq!(
        shards["anyOf"][0]["anyOf"][0],
        serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 10000 })
    );
    assert_eq!(doc["required"], serde_json::json!(["pipeline"]));
    assert_eq!(doc["additionalProperties"], false);
}

#[test]
fn the_committed_schema_and_reference_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regenerate = std::env::var_os("PIPECTL_UPDATE_DOCS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, want) in [(schema::PATH, schema::text()), (markdown::PATH, markdown::text())] {
        let file = root.join(path);
        if regenerate {
            std::fs::write(&file, &want).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(want.as_str()) {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "{} differ from what the code generates: run `PIPECTL_UPDATE_DOCS=1 cargo test --lib spec::fields` \
         (or `pipectl schema > {}` and `pipectl schema --markdown > {}`) and commit them",
        stale.join(" and "),
        schema::PATH,
        markdown::PATH
    );
}

#[test]
fn agents_policy_rows_appear_under_a_second_heading() {
    let md = markdown::text();
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    for h in &headings {
        assert_eq!(headings.iter().filter(|x| *x == h).count(), 1, "`{h}` is a heading twice: {headings:?}");
    }
    assert!(headings.contains(&"## `agents`") && headings.contains(&"## `networks`"), "{headings:?}");
}

/// The reference's row of `path`.
fn reference_row(path: &str) -> String {
    let md = markdown::text();
    md.lines().find(|l| l.starts_with(&format!("| `{path}` |"))).unwrap_or_else(|| panic!("no row {path}")).to_string()
}

#[test]
fn the_tags_row_lists_every_interpolation_tags_accept() {
    let tags = reference_row("tags");
    for x in ["${pipeline}", "${env}", "${region}", "${account}", "${var.NAME}"] {
        assert!(tags.contains(x), "{tags}");
    }
    assert!(tags.contains("interpolates"), "{tags}");
}

#[test]
fn an_empty_string_default_renders_readably() {
    let prefix = reference_row("catalog.tables.*.location.prefix");
    assert!(prefix.contains("| `\"\"` (empty) |"), "{prefix}");
    assert!(!markdown::text().contains("| `` |"), "an empty code span in the reference");
}

#[test]
fn a_decoder_path_names_its_field() {
    let cases = [
        ("functions.decode.handler", "functions.*.handler"),
        ("agents.h.flows[0].file_pattern", "agents.*.flows[].file_pattern"),
        ("agents.h.flows[2].csv_to_json.fields[1]", "agents.*.flows[].csv_to_json.fields"),
        ("tags.a.b", "tags"),
        ("functions.f.environment.LOG", "functions.*.environment"),
        ("functions.f.policy[0].resources[3]", "functions.*.policy[].resources"),
        ("catalog.tables.t.location.prefix", "catalog.tables.*.location.prefix"),
        ("pipeline", "pipeline"),
    ];
    for (path, field) in cases {
        assert_eq!(at(path).map(|f| f.path), Some(field), "{path}");
    }
    assert!(at("nosuch.thing").is_none());
}

#[test]
fn every_interpolating_field_is_in_the_table() {
    for (path, _) in INTERPOLATING {
        let f = get(path).unwrap_or_else(|| panic!("`{path}` is not in the table"));
        assert!(matches!(f.ty, Ty::Str(_) | Ty::Map { .. } | Ty::List(_)), "`{path}` is not text");
    }
}

#[test]
fn functions_log_retention_days_accepts_values_aws_refuses() {
    let doc = schema::document();
    let f = &doc["properties"]["functions"]["additionalProperties"]["properties"]["log_retention_days"];
    assert_eq!(f["anyOf"][0]["anyOf"][0]["enum"], serde_json::json!(crate::spec::rules::LOG_RETENTION_DAYS));
    assert!(reference_row("functions.*.log_retention_days").contains("one of 1, 3, 5, 7, 14, 30,"));
}

/// Every integer schema in `v`, with where it is.
fn integers<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a serde_json::Value)>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("type") == Some(&serde_json::json!("integer")) {
                out.push((at.clone(), v));
            }
            m.iter().for_each(|(k, x)| integers(x, format!("{at}/{k}"), out));
        }
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| integers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn rules_the_schema_could_express_but_does_not() {
    let doc = schema::document();
    let mut ints = Vec::new();
    integers(&doc, String::new(), &mut ints);
    assert!(ints.len() >= 24, "{}", ints.len());
    for (at, i) in ints {
        assert!(i.get("maximum").is_some() || i.get("enum").is_some(), "{at}: no maximum");
    }
    let props = &doc["properties"];
    assert_eq!(props["tags"]["maxProperties"], 40);
    let function = &props["functions"]["additionalProperties"]["properties"];
    let reserved = &function["environment"]["propertyNames"]["not"]["enum"];
    assert!(reserved.as_array().unwrap().contains(&serde_json::json!("AWS_REGION")), "{reserved}");
    let table = &props["catalog"]["properties"]["tables"]["additionalProperties"]["properties"];
    assert_eq!(table["columns"]["minProperties"], 1);
    let age = &function["trigger"]["properties"]["on_failure"]["properties"]["max_record_age_seconds"];
    assert_eq!(age["anyOf"][0]["anyOf"][0]["not"]["maximum"], 59, "{age}");
    let period = &props["alarms"]["additionalProperties"]["properties"]["period_seconds"];
    assert_eq!(period["anyOf"][0]["anyOf"][0]["anyOf"][1]["multipleOf"], 60, "{period}");
    // A name (a pattern) takes no plain number: `pipeline: -5` is the
    // string "-5", which the pattern refuses.
    let pipeline = props["pipeline"]["anyOf"].as_array().unwrap();
    assert!(pipeline.iter().all(|s| s["type"] == "string"), "{pipeline:?}");
}

#[test]
fn interpolation_passes_every_string_pattern() {
    let doc = schema::document();
    let function = &doc["properties"]["functions"]["additionalProperties"]["properties"];
    // A field that interpolates takes `${...}` whatever its pattern ...
    let name = serde_json::to_string(&function["name"]).unwrap();
    assert!(name.contains(&serde_json::to_string(schema::INTERPOLATED).unwrap()), "{name}");
    // ... one that does not only a declared variable.
    for field in ["handler", "runtime", "code"] {
        let s = serde_json::to_string(&function[field]).unwrap();
        assert!(!s.contains("{\"pattern\":\"\\\\$\\\\{\",\"type\":\"string\"}"), "{field}: {s}");
        assert!(s.contains("var\\\\."), "{field}: {s}");
    }
}
