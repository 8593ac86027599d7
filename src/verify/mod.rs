//! `pipectl verify`: a canary for each path of the graph, one only that
//! path can deliver, followed to where the path ends (`docs/verify.md`):
//!
//! - into a stream: read back with GetRecords at the sequence number
//!   PutRecord answered;
//! - a Firehose (fed directly, by a stream, or by a function that writes to
//!   it): the objects that arrive under the static part of its prefix,
//!   opened and searched (`content`), never accepted by arrival;
//! - a function without a Firehose to write to: its log group searched for
//!   the canary's id (FilterLogEvents).
//!
//! A canary's shape follows the function on its path (`canary::Shape`): a
//! valid reading for an aggregating function, a record a filter keeps and
//! one it must drop for a filter. Whether a hop that needs AWS to run
//! something by itself can be checked is what the service answers
//! (`check::runnable`), never the endpoint.

pub mod canary;
pub mod check;
pub mod clean;
pub mod columnar;
pub mod content;
pub mod decide;
mod logs;

use crate::spec::{Compression, FirehoseSource, Spec, WriteTarget};
pub use canary::Shape;

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
    /// The canary is in an object under `prefix` of `bucket`; `unread`
    /// says why the objects there cannot show a canary when that is known
    /// from the spec (a compression not opened, ORC, a converting table
    /// with no column to carry the canary's id or number).
    /// Only objects `firehose` wrote count (by the object name Firehose
    /// gives: `<firehose>-<version>-<time>-<id>`), so that another path's
    /// objects under the same or a wider prefix never stand for this one.
    /// `carriers`: when the Firehose converts, the table's columns that
    /// can hold a canary's id (string) or number (bigint).
    /// `processor`: the function the Firehose transforms records with
    /// (its physical name), asked of the service like a trigger's.
    InS3 {
        bucket: String,
        prefix: String,
        unread: Option<String>,
        firehose: String,
        carriers: Option<Vec<String>>,
        processor: Option<String>,
        /// The key of the table the Firehose converts with, whose column
        /// types the canary follows first.
        table: Option<String>,
    },
    /// The canary's id is in the function's log group.
    InLogs { log_group: String },
}

/// What AWS must run by itself for a hop to deliver: asked of the service
/// before the hop is called checkable (`check::runnable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// Nothing: what pipectl sends is what is read back.
    Nothing,
    /// A Firehose reading a stream, by its physical name.
    StreamFirehose(String),
    /// A function triggered by a stream (physical names).
    Function { function: String, stream: String },
}

/// One path from an entry to where its canary should come out.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub entry: Entry,
    /// `stream a → function b → firehose c → s3://bucket/prefix`.
    pub path: String,
    pub check: Check,
    pub runs: Runs,
    /// The canary this path gets, by the function on it.
    pub shape: Shape,
    /// How long after the canary is sent it may take to come out: the
    /// Firehose's buffer interval, the trigger's batching and tumbling
    /// windows.
    pub takes_seconds: u32,
}

/// Why the objects a Firehose writes cannot show a canary, when the spec
/// says so: a compression `verify` does not open, ORC, or a table that
/// converts the records with no column a canary's id (string) or number
/// (bigint) survives in.
fn unread(spec: &Spec, d: &crate::spec::Destination) -> Option<String> {
    if let Compression::Zip | Compression::HadoopSnappy = d.compression {
        return Some(format!("{} objects are not opened", d.compression.aws()));
    }
    let convert = d.convert.as_ref()?;
    if convert.format == crate::spec::ConvertFormat::Orc {
        return Some(columnar::ORC_UNREAD.to_string());
    }
    let table = spec.tables.get(&convert.table)?;
    carriers(spec, d)
        .is_some_and(|c| c.is_empty())
        .then(|| format!("table {} has no string or bigint column, so no canary survives its conversion", table.name))
}

/// The columns of the table a Firehose converts with that can hold a
/// canary's id (string) or number (bigint); `None` when it does not
/// convert (records land as they are sent).
fn carriers(spec: &Spec, d: &crate::spec::Destination) -> Option<Vec<String>> {
    let table = spec.tables.get(&d.convert.as_ref()?.table)?;
    Some(table.columns.iter().filter(|(_, ty)| carries(ty)).map(|(name, _)| name.clone()).collect())
}

impl Hop {
    /// Where the hop ends in a converting Firehose, the columns a canary
    /// survives in (`Check::InS3`'s `carriers`).
    pub fn carriers(&self) -> Option<&[String]> {
        match &self.check {
            Check::InS3 { carriers, .. } => carriers.as_deref(),
            _ => None,
        }
    }

    /// The key of the table the hop's Firehose converts with, if any.
    pub fn table(&self) -> Option<&str> {
        match &self.check {
            Check::InS3 { table, .. } => table.as_deref(),
            _ => None,
        }
    }

    /// Where the hop ends, as its canaries need it.
    pub fn end(&self) -> canary::End<'_> {
        canary::End { carriers: self.carriers(), table: self.table() }
    }
}

/// Whether a column of this Hive type keeps a canary whole: `string`, a
/// `varchar(n)`/`char(n)` long enough for its id (shorter ones cut it), or
/// `bigint` (its number).
pub fn carries(ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase().replace(' ', "");
    let sized = |prefix: &str| {
        ty.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n >= canary::ID_LEN)
    };
    ty == "string" || ty == "bigint" || sized("varchar") || sized("char")
}

/// Every path of the spec, in a stable order.
pub fn hops(spec: &Spec) -> Vec<Hop> {
    let mut out = Vec::new();
    let s3 = |key: &str| -> Option<(String, Check, u32)> {
        let f = spec.firehoses.get(key)?;
        let d = &f.destination;
        let bucket = spec.buckets.get(&d.bucket)?.name.clone();
        let prefix = d.prefix.as_deref().map_or("", crate::spec::static_prefix).to_string();
        let processor = f.processor.as_ref().and_then(|k| spec.functions.get(k)).map(|p| p.name.clone());
        let through = processor.as_ref().map_or(String::new(), |p| format!(" (transformed by function {p})"));
        let check = Check::InS3 {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            unread: unread(spec, d),
            firehose: f.name.clone(),
            carriers: carriers(spec, d),
            processor,
            table: d.convert.as_ref().map(|c| c.table.clone()),
        };
        Some((format!("firehose {}{through} → s3://{bucket}/{prefix}", f.name), check, d.buffer_interval_seconds))
    };
    for (key, stream) in &spec.streams {
        let entry = Entry::Stream(stream.name.clone());
        let head = format!("stream {}", stream.name);
        let plain = |path: String, check, runs, takes_seconds| Hop {
            entry: entry.clone(),
            path,
            check,
            runs,
            shape: Shape::Plain,
            takes_seconds,
        };
        out.push(plain(head.clone(), Check::InStream, Runs::Nothing, 0));
        for (fkey, f) in &spec.firehoses {
            if f.source == FirehoseSource::Stream(key.clone()) {
                if let Some((tail, check, takes)) = s3(fkey) {
                    let runs = Runs::StreamFirehose(f.name.clone());
                    out.push(plain(format!("{head} → {tail}"), check, runs, takes));
                }
            }
        }
        for f in spec.functions.values() {
            let Some(t) = f.trigger.as_ref().filter(|t| &t.stream == key) else { continue };
            let via = format!("{head} → function {}", f.name);
            let runs = Runs::Function { function: f.name.clone(), stream: stream.name.clone() };
            let windows = t.batching_window_seconds + t.tumbling_window_seconds.unwrap_or(0);
            let shape = Shape::of(f);
            let firehoses: Vec<&str> = f
                .writes
                .iter()
                .filter_map(|w| match w {
                    WriteTarget::Firehose(k) => Some(k.as_str()),
                    WriteTarget::Stream(_) => None,
                })
                .collect();
            for k in &firehoses {
                if let Some((tail, check, takes)) = s3(k) {
                    let (runs, shape, path) = (runs.clone(), shape.clone(), format!("{via} → {tail}"));
                    let takes_seconds = takes + windows;
                    out.push(Hop { entry: entry.clone(), path, check, runs, shape, takes_seconds });
                }
            }
            if firehoses.is_empty() {
                let log_group = crate::names::function_log_group(&f.name);
                let path = format!("{via} → log group {log_group}");
                let check = Check::InLogs { log_group };
                out.push(Hop { entry: entry.clone(), path, check, runs, shape, takes_seconds: windows });
            }
        }
    }
    for (key, f) in &spec.firehoses {
        if f.source == FirehoseSource::Direct {
            if let Some((tail, check, takes)) = s3(key) {
                let entry = Entry::Firehose(f.name.clone());
                let (runs, shape) = (Runs::Nothing, Shape::Plain);
                out.push(Hop { entry, path: tail, check, runs, shape, takes_seconds: takes });
            }
        }
    }
    out
}

/// How long `verify` waits by default: the slowest hop, plus two minutes.
pub fn default_timeout(hops: &[Hop]) -> std::time::Duration {
    let slowest = hops.iter().map(|h| h.takes_seconds).max().unwrap_or(0);
    std::time::Duration::from_secs(u64::from(slowest) + 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn load(file: &str) -> Spec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines").join(file);
        let opts = crate::spec::Options { account: Some("123456789012".into()), ..Default::default() };
        crate::load::load(&path, &opts).unwrap().spec
    }

    /// A converting table with no string and no bigint column: nothing of
    /// a canary survives, so its hops cannot be checked (never waited out
    /// as "not delivered" on a healthy pipeline); one bigint carries it.
    #[test]
    fn a_table_that_cannot_carry_a_canary_makes_its_hops_not_checkable() {
        let mut spec = load("lambda-firehose-parquet-glue.yaml");
        let unread = |spec: &Spec| -> Vec<Option<String>> {
            hops(spec)
                .into_iter()
                .filter_map(|h| match h.check {
                    Check::InS3 { unread, .. } => Some(unread),
                    _ => None,
                })
                .collect()
        };
        assert!(unread(&spec).iter().all(Option::is_none), "trip_id bigint carries the number");
        let table = spec.tables.get_mut("nyctaxitrips").unwrap();
        table.columns.iter_mut().filter(|(_, ty)| ty == "bigint").for_each(|(_, ty)| *ty = "int".into());
        let all = unread(&spec);
        assert!(!all.is_empty());
        for why in all {
            assert_eq!(
                why.as_deref(),
                Some("table nyctaxitrips has no string or bigint column, so no canary survives its conversion")
            );
        }
    }

    #[test]
    fn every_path_of_the_lab_is_a_hop() {
        let hops = hops(&load("lab.yaml"));
        let paths: Vec<&str> = hops.iter().map(|h| h.path.as_str()).collect();
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
        let shapes: Vec<&str> = hops.iter().map(|h| h.shape.word()).collect();
        assert_eq!(shapes, ["plain", "plain", "filter", "plain"]);
        assert_eq!(hops[1].runs, Runs::StreamFirehose("taxi-lab-raw".into()));
        let function = Runs::Function { function: "taxi-lab-filter".into(), stream: "taxi-lab-trips".into() };
        assert_eq!(hops[2].runs, function);
    }

    #[test]
    fn the_timeout_waits_for_the_tumbling_window_and_the_buffer() {
        let hops = hops(&load("sensor-streaming-lab.yaml"));
        let aggregate = hops.iter().find(|h| h.shape.word() == "aggregate").unwrap();
        assert!(aggregate.path.contains("function sensor-data-analytics → firehose processed-sensor-data"));
        // 60 s of buffer, a 60 s tumbling window, no batching window.
        assert_eq!(aggregate.takes_seconds, 120);
        assert_eq!(default_timeout(&hops).as_secs(), 240);
    }
}
