//! `pipectl verify`: a tagged canary into each stream and each Direct-PUT
//! Firehose of the spec, followed down every path of the graph:
//!
//! - into a stream: read back with GetRecords at the sequence number
//!   PutRecord answered;
//! - a Firehose (fed directly, by a stream, or by a function that writes to
//!   it): the canary's id searched in the objects that arrive under the
//!   static part of its prefix (gzip is opened; in Parquet or ORC the
//!   values are encoded, so there an object arriving after the canary is
//!   what is checked, and the hop says so);
//! - a function without a Firehose to write to: its log group searched for
//!   the canary's id (FilterLogEvents).
//!
//! Hops that need AWS to run something by itself (a Firehose reading a
//! stream, Lambda running a function) are not checked against an emulator
//! (`--endpoint-url`): emulators store what they are sent but do not run
//! those; each such hop says so instead of failing.

pub mod check;
pub mod columnar;

use crate::spec::{Compression, FirehoseSource, Spec, WriteTarget};

/// Where a canary is sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A stream, by its physical name.
    Stream(String),
    /// A Direct-PUT Firehose, by its physical name.
    Firehose(String),
}

/// What shows that the canary came out at the end of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The canary is in the stream it was put into.
    InStream,
    /// The canary is in an object under `prefix` of `bucket`.
    InS3 { bucket: String, prefix: String, gzip: bool, columnar: bool, opaque: Option<&'static str> },
    /// The canary's id is in the function's log group.
    InLogs { log_group: String },
}

/// One path from an entry to where the canary should come out.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub entry: Entry,
    /// `stream a → function b → firehose c → s3://bucket/prefix`.
    pub path: String,
    pub check: Check,
    /// What AWS must run by itself on this path (an emulator does not).
    pub runs: Option<&'static str>,
}

/// Every path of the spec, in a stable order.
pub fn hops(spec: &Spec) -> Vec<Hop> {
    let mut out = Vec::new();
    let s3 = |key: &str| -> Option<(String, Check)> {
        let f = spec.firehoses.get(key)?;
        let d = &f.destination;
        let bucket = spec.buckets.get(&d.bucket)?.name.clone();
        let prefix = d.prefix.as_deref().map_or("", crate::spec::static_prefix).to_string();
        let opaque = match d.compression {
            Compression::Snappy | Compression::Zip | Compression::HadoopSnappy => Some(d.compression.aws()),
            _ => None,
        };
        let check = Check::InS3 {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            gzip: d.compression == Compression::Gzip,
            columnar: d.convert.is_some(),
            opaque,
        };
        Some((format!("firehose {} → s3://{bucket}/{prefix}", f.name), check))
    };
    for (key, stream) in &spec.streams {
        let entry = Entry::Stream(stream.name.clone());
        let head = format!("stream {}", stream.name);
        out.push(Hop { entry: entry.clone(), path: head.clone(), check: Check::InStream, runs: None });
        for (fkey, f) in &spec.firehoses {
            if f.source == FirehoseSource::Stream(key.clone()) {
                if let Some((tail, check)) = s3(fkey) {
                    let runs = Some("Firehose reading from a stream");
                    out.push(Hop { entry: entry.clone(), path: format!("{head} → {tail}"), check, runs });
                }
            }
        }
        for f in spec.functions.values().filter(|f| f.trigger.as_ref().is_some_and(|t| &t.stream == key)) {
            let via = format!("{head} → function {}", f.name);
            let runs = Some("Lambda functions");
            let firehoses: Vec<&str> = f
                .writes
                .iter()
                .filter_map(|w| match w {
                    WriteTarget::Firehose(k) => Some(k.as_str()),
                    WriteTarget::Stream(_) => None,
                })
                .collect();
            for k in &firehoses {
                if let Some((tail, check)) = s3(k) {
                    out.push(Hop { entry: entry.clone(), path: format!("{via} → {tail}"), check, runs });
                }
            }
            if firehoses.is_empty() {
                let log_group = crate::names::function_log_group(&f.name);
                let path = format!("{via} → log group {log_group}");
                out.push(Hop { entry: entry.clone(), path, check: Check::InLogs { log_group }, runs });
            }
        }
    }
    for (key, f) in &spec.firehoses {
        if f.source == FirehoseSource::Direct {
            if let Some((tail, check)) = s3(key) {
                out.push(Hop { entry: Entry::Firehose(f.name.clone()), path: tail, check, runs: None });
            }
        }
    }
    out
}

/// The canary's id for one entry: the run's id and the entry, so that two
/// entries feeding one Firehose are told apart.
pub fn canary_id(run: &str, entry: &Entry) -> String {
    let hex = crate::names::sha256_hex(format!("{run}/{entry:?}"));
    format!("pipectl-canary-{}", &hex[..12])
}

/// The canary record: its id, the time, and a value of the right type for
/// every column of the spec's tables, so that a Firehose converting to
/// Parquet or ORC accepts it and a filter requiring fields lets it pass.
pub fn canary(spec: &Spec, id: &str, now: std::time::SystemTime) -> serde_json::Value {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let hive = crate::produce::generate::hive_time(now);
    let mut m = serde_json::Map::new();
    for t in spec.tables.values() {
        for (name, ty) in &t.columns {
            let ty = ty.to_ascii_lowercase();
            let v: serde_json::Value = match ty.as_str() {
                "string" => id.into(),
                t if t.starts_with("varchar") || t.starts_with("char") => id.into(),
                "int" | "integer" | "bigint" | "smallint" | "tinyint" => 1.into(),
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
    m.insert("pipectl_canary".into(), id.into());
    m.insert("sent_at".into(), stamp.into());
    serde_json::Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Spec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/lab.yaml");
        let opts = crate::spec::Options { account: Some("123456789012".into()), ..Default::default() };
        crate::load::load(&path, &opts).unwrap().spec
    }

    #[test]
    fn every_path_of_the_lab_is_a_hop() {
        let paths: Vec<String> = hops(&lab()).into_iter().map(|h| h.path).collect();
        let bucket = "taxi-lab-default-123456789012";
        assert_eq!(
            paths,
            vec![
                "stream taxi-lab-trips".to_string(),
                format!("stream taxi-lab-trips → firehose taxi-lab-raw → s3://{bucket}/raw/year="),
                format!(
                    "stream taxi-lab-trips → function taxi-lab-filter → firehose taxi-lab-to-lake → s3://{bucket}/nyctaxitrips/year="
                ),
                format!("firehose taxi-lab-to-lake → s3://{bucket}/nyctaxitrips/year="),
            ]
        );
    }

    #[test]
    fn the_canary_fits_every_table_and_each_entry_has_its_own_id() {
        let spec = lab();
        let c = canary(&spec, "pipectl-canary-1", std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(c["vendor_id"], "pipectl-canary-1");
        assert_eq!(c["passenger_count"], 1);
        assert_eq!(c["pickup_datetime"], "1970-01-01 00:00:00");
        let a = canary_id("run", &Entry::Stream("s".into()));
        assert_ne!(a, canary_id("run", &Entry::Firehose("s".into())));
        assert!(a.starts_with("pipectl-canary-") && a.len() == "pipectl-canary-".len() + 12);
    }
}
