//! The table's defaults are the builder's: a spec with a field written as
//! its table default builds the same model as the spec without it.

use super::{all, Default, Field, Ty};
use crate::spec::decode::Decoder;
use crate::spec::raw::RawSpec;
use crate::spec::yaml::{self, Node, Value};
use crate::spec::{build, Options, Spec};
use std::path::Path;

/// A valid spec holding, somewhere, the mapping of every field that has a
/// default, with the field itself left out.
const BASE: &str = r#"
pipeline: defaults
buckets:
  lake: {}
streams:
  trips: {}
catalog:
  databases:
    db: {}
  tables:
    trips:
      database: db
      location: { bucket: lake }
      columns: { fare: double }
firehoses:
  to-lake:
    source: { stream: trips }
    destination: { bucket: lake, buffer: {} }
    policy:
      - { actions: [s3:GetObject], resources: ["arn:aws:s3:::reference-data/*"] }
  to-parquet:
    source: direct
    destination: { bucket: lake, convert: { format: parquet, table: trips } }
functions:
  decode:
    runtime: python3.12
    code: templates/lambda/decode_and_log.py
    handler: decode_and_log.handler
    trigger: { stream: trips, on_failure: {} }
    policy:
      - { actions: [s3:GetObject], resources: ["arn:aws:s3:::reference-data/*"] }
agents:
  host:
    subnet: { network: net }
    flows:
      - { file_pattern: "/tmp/*.csv*", stream: trips, csv_to_json: { fields: [VendorID, fare_amount] } }
    ssh: { cidr: 203.0.113.0/24 }
    data: { generate: taxi, path: /tmp/trips.csv }
    policy:
      - { actions: [s3:GetObject], resources: ["arn:aws:s3:::reference-data/*"] }
  producer:
    run: producer
    producer: { stream: trips, generate: taxi }
networks:
  net: { cidr: 10.20.0.0/16 }
alarms:
  iterator_age: { stream: trips }
  delivery_freshness: { firehose: to-lake }
  function_errors: { function: decode }
metric_filters:
  errors:
    function: decode
    pattern: ERROR
    metric: { namespace: Defaults, name: Errors }
"#;

fn built(root: &Node) -> Spec {
    let mut d = Decoder::default();
    let raw = RawSpec::decode(root, &mut d);
    let mut diags = d.diags;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let b = build::build(&raw, &Options::default(), dir, &mut diags);
    assert!(diags.is_empty(), "{diags:#?}");
    b.spec
}

/// Writes `key: value` into every mapping `steps` lead to below `node`
/// (`*` any key, `[]` any item) that lacks `key`; how many it wrote.
fn put(node: &mut Node, steps: &[&str], key: &str, value: &Node) -> usize {
    let named = |k: &Node, name: &str| matches!(&k.value, Value::Scalar { text, .. } if text == name);
    match (steps.split_first(), &mut node.value) {
        (None, Value::Map(entries)) if !entries.iter().any(|(k, _)| named(k, key)) => {
            let k = Node { mark: node.mark, value: Value::Scalar { text: key.to_string(), quoted: false } };
            entries.push((k, value.clone()));
            1
        }
        (Some((&"[]", rest)), Value::Seq(items)) => items.iter_mut().map(|i| put(i, rest, key, value)).sum(),
        (Some((step, rest)), Value::Map(entries)) => entries
            .iter_mut()
            .filter(|(k, _)| *step == "*" || named(k, step))
            .map(|(_, v)| put(v, rest, key, value))
            .sum(),
        _ => 0,
    }
}

/// `agents.*.flows[].partition_key` as steps: `agents`, `*`, `flows`, `[]`,
/// `partition_key`.
fn steps(f: &Field) -> Vec<&'static str> {
    f.path.split('.').flat_map(|s| s.strip_suffix("[]").map_or(vec![s], |s| vec![s, "[]"])).collect()
}

#[test]
fn every_default_of_the_table_is_the_one_the_builder_applies() {
    let base = yaml::parse(BASE).unwrap();
    let without = built(&base);
    let mut checked = 0;
    for f in all() {
        let Default::Value(json) = f.default else { continue };
        if matches!(f.ty, Ty::Object | Ty::Map { .. }) {
            continue;
        }
        let steps = steps(f);
        let (key, parent) = steps.split_last().unwrap();
        let value = yaml::parse(json).unwrap();
        let mut tree = base.clone();
        let n = put(&mut tree, parent, key, &value);
        assert!(n > 0, "the base spec has no mapping for `{}` without it", f.path);
        assert_eq!(built(&tree), without, "`{}: {json}` is not its default", f.path);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} defaults checked");
}

#[test]
fn a_wrong_default_is_caught() {
    let base = yaml::parse(BASE).unwrap();
    let mut tree = base.clone();
    let n = put(&mut tree, &["streams", "*"], "retention_hours", &yaml::parse("48").unwrap());
    assert_eq!(n, 1);
    assert_ne!(built(&tree), built(&base));
}
