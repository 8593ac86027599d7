//! The canaries: their ids, their numbers, and their records, shaped by
//! what the function on a path does so that only that path delivers them.
//!
//! The function's kind comes from its handler's module: `filter_to_firehose`
//! filters, `window_aggregate` aggregates, anything else passes records
//! through. Its rules come from the spec's `environment:` for it, as the
//! handler reads them, with the handler's defaults.

use super::content::Needle;
use crate::spec::{Function, Spec};
use serde_json::{Map, Value};
use std::time::SystemTime;

/// What the canary of a path looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Any record: no function, or one that passes records through.
    Plain,
    /// A filter (`filter_to_firehose`): a record it keeps and one it drops.
    Filter(Rules),
    /// A per-key aggregation (`window_aggregate`): a valid reading keyed by
    /// the canary's id, found as the row of that key.
    Aggregate { key: String, values: Vec<String> },
}

/// What a filter keeps: `type` equal to `record_type` (when not empty),
/// every `coordinates` field non-zero, every `required` field present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub record_type: String,
    pub coordinates: Vec<String>,
    pub required: Vec<String>,
}

const COORDINATES: &str = "pickup_latitude,pickup_longitude,dropoff_latitude,dropoff_longitude";

impl Shape {
    /// The shape for a function, by its handler's module and environment.
    pub fn of(f: &Function) -> Shape {
        let env = |name: &str, default: &str| -> String {
            // A value with a secret in it is not known offline: the handler's default stands.
            f.environment.get(name).filter(|v| v.secrets.is_empty()).map_or(default.to_string(), |v| v.text.clone())
        };
        let list = |name: &str, default: &str| -> Vec<String> {
            env(name, default).split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
        };
        let module = f.handler.rsplit_once('.').map_or(f.handler.as_str(), |(m, _)| m);
        match module.rsplit(['/', '.']).next().unwrap_or(module) {
            "filter_to_firehose" => Shape::Filter(Rules {
                record_type: env("RECORD_TYPE", "trip"),
                coordinates: list("COORDINATE_FIELDS", COORDINATES),
                required: list("REQUIRED_FIELDS", ""),
            }),
            "window_aggregate" => Shape::Aggregate {
                key: env("KEY_FIELD", "sensor_id"),
                values: list("VALUE_FIELDS", "temperature,humidity"),
            },
            _ => Shape::Plain,
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Shape::Plain => "plain",
            Shape::Filter(_) => "filter",
            Shape::Aggregate { .. } => "aggregate",
        }
    }
}

/// A canary's id: the run, the path and its role on it (`keep`, `drop`),
/// so that every path, and each record of a filter's pair, is told apart.
pub fn id(run: &str, path: &str, role: &str) -> String {
    let hex = crate::names::sha256_hex(format!("{run}/{path}/{role}"));
    format!("pipectl-canary-{}", &hex[..12])
}

/// The canary's number, for bigint columns: `-(2^62 | h)`, where `h` is the
/// first 40 bits of the SHA-256 of its id. Negative and above 2^62 in size,
/// no trip id or count takes it.
/// The length of every canary id: `pipectl-canary-` and 12 hex digits.
pub const ID_LEN: usize = "pipectl-canary-".len() + 12;

pub fn number(id: &str) -> i64 {
    let hex = crate::names::sha256_hex(id);
    let h = i64::from_str_radix(&hex[..10], 16).expect("hex");
    -((1 << 62) | h)
}

pub fn needle(id: &str) -> Needle {
    Needle { id: id.to_string(), number: number(id) }
}

/// The canaries of one path: the one that must come out, and for a filter
/// the one that must not.
#[derive(Debug, Clone)]
pub struct Pair {
    pub keep: Needle,
    pub drop: Option<Needle>,
}

/// The records of a path's canaries, `drop` first: sent in that order with
/// one partition key, a function reads the drop canary no later than the
/// keep canary.
pub fn records(spec: &Spec, shape: &Shape, end: End, pair: &Pair, now: SystemTime) -> Vec<Value> {
    let End { carriers, table } = end;
    let keep = record(spec, shape, &pair.keep, now, table);
    let drop = pair.drop.as_ref().and_then(|d| {
        let Shape::Filter(r) = shape else { return None };
        let kept = record(spec, shape, d, now, table);
        breaks(r).into_iter().map(|b| broken(&kept, &b)).find(|v| identifiable(v, d, carriers))
    });
    drop.into_iter().chain(Some(keep)).collect()
}

/// Where a path ends, as its canaries need to know it: the columns a
/// canary survives in when the Firehose converts (`None`: records land as
/// sent), and the key of the table it converts with.
#[derive(Debug, Clone, Copy, Default)]
pub struct End<'a> {
    pub carriers: Option<&'a [String]>,
    pub table: Option<&'a str>,
}

/// The pair for a path of this shape: a drop canary only when the filter
/// has a rule a record can break and still be recognised where the path
/// ends (`carriers`: the columns a converting Firehose keeps that can hold
/// a canary's id or number; `None` when records land as they are sent).
pub fn pair(spec: &Spec, run: &str, path: &str, shape: &Shape, end: End) -> Pair {
    let End { carriers, table } = end;
    let keep = needle(&id(run, path, "keep"));
    let drop = match shape {
        Shape::Filter(r) => {
            let d = needle(&id(run, path, "drop"));
            let kept = record(spec, shape, &d, SystemTime::UNIX_EPOCH, table);
            breaks(r).iter().any(|b| identifiable(&broken(&kept, b), &d, carriers)).then_some(d)
        }
        _ => None,
    };
    Pair { keep, drop }
}

/// One way a record breaks a filter's rules.
#[derive(Debug, Clone, PartialEq)]
enum Break {
    /// A coordinate field set to zero.
    Zero(String),
    /// `type` set to another value.
    OtherType(String),
    /// A required field left out.
    Missing(String),
}

/// The ways a drop canary may break the rules, in the order tried: a zero
/// coordinate, another type, a missing required field.
fn breaks(r: &Rules) -> Vec<Break> {
    let mut out: Vec<Break> = r.coordinates.iter().map(|c| Break::Zero(c.clone())).collect();
    if !r.record_type.is_empty() {
        out.push(Break::OtherType(format!("not-{}", r.record_type)));
    }
    out.extend(r.required.iter().map(|f| Break::Missing(f.clone())));
    out
}

fn broken(kept: &Value, b: &Break) -> Value {
    let mut v = kept.clone();
    let m = v.as_object_mut().expect("a canary is an object");
    match b {
        Break::Zero(c) => {
            m.insert(c.clone(), 0.0.into());
        }
        Break::OtherType(t) => {
            m.insert("type".into(), t.as_str().into());
        }
        Break::Missing(f) => {
            m.remove(f);
        }
    }
    v
}

/// Whether a record would still be recognised as the canary `n` where the
/// path ends: anywhere when records land as sent (its `pipectl_canary`),
/// else by a carrier column holding its id or number.
fn identifiable(v: &Value, n: &Needle, carriers: Option<&[String]>) -> bool {
    let Some(columns) = carriers else { return true };
    columns.iter().any(|c| v.get(c).is_some_and(|x| x.as_str() == Some(n.id.as_str()) || x.as_i64() == Some(n.number)))
}

/// One canary: a value of the right type for every column of the spec's
/// tables (the id in string columns, its number in bigint ones), so that a
/// Parquet or ORC conversion accepts it, then what its shape needs.
pub fn record(spec: &Spec, shape: &Shape, n: &Needle, now: SystemTime, table: Option<&str>) -> Value {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let hive = crate::produce::generate::hive_time(now);
    let mut m = Map::new();
    // The hop's own table first: where two tables give a column different
    // types, the one the records are converted with decides.
    let first = table.and_then(|k| spec.tables.get(k));
    for t in first.into_iter().chain(spec.tables.values()) {
        for (name, ty) in &t.columns {
            let ty = ty.to_ascii_lowercase();
            let v: Value = match ty.as_str() {
                "string" => n.id.as_str().into(),
                t if t.starts_with("varchar") || t.starts_with("char") => n.id.as_str().into(),
                "bigint" => n.number.into(),
                "int" | "integer" | "smallint" | "tinyint" => 1.into(),
                "double" | "float" => 1.5.into(),
                t if t.starts_with("decimal") => 1.5.into(),
                "boolean" => true.into(),
                "timestamp" => hive.clone().into(),
                "date" => hive[..10].into(),
                _ => continue,
            };
            m.entry(name.clone()).or_insert(v);
        }
    }
    match shape {
        Shape::Plain => {}
        Shape::Aggregate { key, values } => {
            m.insert(key.clone(), n.id.as_str().into());
            for v in values {
                m.insert(v.clone(), 21.5.into());
            }
        }
        Shape::Filter(r) => {
            if !r.record_type.is_empty() {
                m.insert("type".into(), r.record_type.as_str().into());
            }
            for c in &r.coordinates {
                let nonzero = m.get(c).and_then(Value::as_f64).is_some_and(|v| v != 0.0);
                if !nonzero {
                    m.insert(c.clone(), 1.5.into());
                }
            }
            for f in &r.required {
                let present = m.get(f).is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
                if !present {
                    m.insert(f.clone(), n.id.as_str().into());
                }
            }
        }
    }
    m.insert("pipectl_canary".into(), n.id.as_str().into());
    m.insert("sent_at".into(), stamp.into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::tests::load;

    fn shape_of(spec: &Spec, key: &str) -> Shape {
        Shape::of(&spec.functions[key])
    }

    #[test]
    fn sensor_lab_canary_has_the_sensor_id_the_aggregator_keys_on() {
        let spec = load("sensor-streaming-lab.yaml");
        let shape = shape_of(&spec, "analytics");
        let values = vec!["temperature".to_string(), "humidity".to_string()];
        assert_eq!(shape, Shape::Aggregate { key: "sensor_id".into(), values });
        let pair = pair(&spec, "run", "p", &shape, End::default());
        assert!(pair.drop.is_none());
        let r = records(&spec, &shape, End::default(), &pair, SystemTime::UNIX_EPOCH);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["sensor_id"], pair.keep.id.as_str());
        assert!(r[0]["temperature"].is_f64() && r[0]["humidity"].is_f64());
    }

    #[test]
    fn the_filter_gets_a_record_it_keeps_and_one_it_drops() {
        let spec = load("lambda-firehose-parquet-glue.yaml");
        let shape = shape_of(&spec, "trigger");
        let Shape::Filter(rules) = &shape else { panic!("{shape:?}") };
        assert_eq!(rules.record_type, "trip");
        assert_eq!(rules.coordinates.len(), 4);
        assert_eq!(rules.required, ["trip_id"]);
        let end = End { carriers: Some(&["trip_id".to_string()][..]), table: Some("nyctaxitrips") };
        let pair = pair(&spec, "run", "p", &shape, end);
        let [drop, keep] = &records(&spec, &shape, end, &pair, SystemTime::UNIX_EPOCH)[..] else { panic!() };
        assert_eq!(keep["type"], "trip");
        for c in &rules.coordinates {
            assert_ne!(keep[c].as_f64(), Some(0.0), "{keep}");
        }
        assert_eq!(drop[&rules.coordinates[0]].as_f64(), Some(0.0));
        // The table has no string column: the id's number is its bigint.
        assert_eq!(keep["trip_id"], number(&pair.keep.id));
        assert_eq!(drop["trip_id"], number(pair.drop.as_ref().unwrap().id.as_str()));
        assert_ne!(keep["pipectl_canary"], drop["pipectl_canary"]);
    }

    #[test]
    fn the_lab_filter_rules_come_from_its_environment() {
        let spec = load("lab.yaml");
        let Shape::Filter(rules) = shape_of(&spec, "filter") else { panic!() };
        assert_eq!(rules.required, ["vendor_id", "pickup_datetime", "total_amount"]);
        let c = record(&spec, &Shape::Filter(rules), &needle("pipectl-canary-1"), SystemTime::UNIX_EPOCH, None);
        assert_eq!(c["vendor_id"], "pipectl-canary-1");
        assert_eq!(c["passenger_count"], 1);
        assert_eq!(c["pickup_datetime"], "1970-01-01 00:00:00");
    }

    /// `lab.yaml`'s filter lifts the type and coordinate rules, so its drop
    /// canary breaks a required field; leaving out `vendor_id`, the only
    /// column of its Parquet table a canary survives in, made the drop
    /// canary unrecognisable, and a filter that filters nothing passed.
    #[test]
    fn a_lab_filter_that_filters_nothing_is_caught_by_a_drop_canary_it_can_recognise() {
        let spec = load("lab.yaml");
        let hop = crate::verify::hops(&spec).into_iter().find(|h| h.shape.word() == "filter").unwrap();
        assert_eq!(hop.carriers(), Some(&["vendor_id".to_string()][..]));
        let p = pair(&spec, "run", &hop.path, &hop.shape, hop.end());
        let d = p.drop.clone().expect("a drop canary");
        let [drop, _keep] = &records(&spec, &hop.shape, hop.end(), &p, SystemTime::UNIX_EPOCH)[..] else { panic!() };
        assert_eq!(drop["vendor_id"], d.id.as_str(), "{drop}");
        assert!(drop.get("pickup_datetime").is_none(), "{drop}");
        // Every required field a carrier: no drop canary rather than one
        // nobody could see come out.
        let Shape::Filter(mut rules) = hop.shape.clone() else { panic!() };
        rules.required = vec!["vendor_id".into()];
        let only = Shape::Filter(rules);
        assert!(pair(&spec, "run", &hop.path, &only, hop.end()).drop.is_none());
        assert!(
            pair(&spec, "run", &hop.path, &only, End::default()).drop.is_some(),
            "as text it is seen by pipectl_canary"
        );
    }

    /// A `varchar(n)` shorter than an id cuts it: no carrier there.
    #[test]
    fn a_short_varchar_does_not_carry_a_canary() {
        use crate::verify::carries;
        for (ty, yes) in [
            ("string", true),
            ("bigint", true),
            ("varchar(27)", true),
            ("VARCHAR( 64 )", true),
            ("char(40)", true),
            ("varchar(10)", false),
            ("char(26)", false),
            ("varchar", false),
            ("int", false),
            ("timestamp", false),
        ] {
            assert_eq!(carries(ty), yes, "{ty}");
        }
        assert_eq!(ID_LEN, id("r", "p", "keep").len());
    }

    /// Two tables giving one column different types: the canary follows
    /// the table its path converts with, whatever the tables' order.
    #[test]
    fn the_canary_follows_the_hops_table_where_tables_disagree() {
        let mut spec = load("lambda-firehose-parquet-glue.yaml");
        let mut raw = spec.tables["nyctaxitrips"].clone();
        raw.columns.iter_mut().filter(|(n, _)| n == "passenger_count").for_each(|(_, ty)| *ty = "string".into());
        spec.tables.insert("a_raw".into(), raw);
        let n = needle("pipectl-canary-0000000000ab");
        let c = record(&spec, &Shape::Plain, &n, SystemTime::UNIX_EPOCH, Some("nyctaxitrips"));
        assert_eq!(c["passenger_count"], 1, "{c}");
        let c = record(&spec, &Shape::Plain, &n, SystemTime::UNIX_EPOCH, Some("a_raw"));
        assert_eq!(c["passenger_count"], n.id.as_str(), "{c}");
    }

    #[test]
    fn ids_differ_by_path_and_role_and_numbers_are_negative_and_far_out() {
        let a = id("run", "stream s", "keep");
        assert_ne!(a, id("run", "firehose s", "keep"));
        assert_ne!(a, id("run", "stream s", "drop"));
        assert!(a.starts_with("pipectl-canary-") && a.len() == "pipectl-canary-".len() + 12);
        let n = number(&a);
        assert!(n < -(1 << 62) + 1 && n > -(1 << 62) - (1 << 40), "{n}");
        assert_eq!(n, number(&a));
        let plain = Function { handler: "lib/handler.main".into(), ..shape_fixture() };
        assert_eq!(Shape::of(&plain), Shape::Plain);
        let nested = Function { handler: "src/window_aggregate.handler".into(), ..shape_fixture() };
        assert_eq!(Shape::of(&nested).word(), "aggregate");
    }

    fn shape_fixture() -> Function {
        load("sensor-streaming-lab.yaml").functions["analytics"].clone()
    }
}
