//! The spec as written: structs that mirror the YAML one to one, every leaf
//! with its position. Nothing here checks meaning; `Spec::from_raw` does.

use super::decode::{Decode, Decoder, Entries, MapReader, Sp};
use super::yaml::{Mark, Node, Value};
use crate::diag::Diagnostic;

mod apps;
pub use apps::*;

/// `read` for a map of the spec whose fields are read one by one, each with
/// the [`MapReader`] method named beside it (`opt`, `req`, `opt_or_default`,
/// `req_or_default`); unknown keys are reported when it is done.
macro_rules! read_map {
    ($t:ident { $($field:ident: $how:ident),* $(,)? }) => {
        impl $t {
            pub(super) fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
                let mut m = MapReader::open(n, d, path)?;
                let r = $t { mark: m.mark, $($field: m.$how(stringify!($field)),)* };
                m.finish();
                Some(r)
            }
        }
    };
}
use read_map;

type S = Sp<String>;

#[derive(Debug, Default)]
pub struct RawSpec {
    pub mark: Mark,
    pub pipeline: Option<S>,
    pub region: Option<S>,
    pub tags: Entries<S>,
    pub buckets: Entries<RawBucket>,
    pub streams: Entries<RawStream>,
    pub databases: Entries<RawDatabase>,
    pub tables: Entries<RawTable>,
    pub firehoses: Entries<RawFirehose>,
    pub functions: Entries<RawFunction>,
    pub agents: Entries<RawAgent>,
    pub networks: Entries<RawNetwork>,
    pub dashboards: Entries<RawDashboard>,
    pub alarms: Entries<RawAlarm>,
    pub timeouts: Entries<Sp<u32>>,
}

/// Reads a section of named resources, giving each its "section.key" path.
fn section<T>(
    m: &mut MapReader,
    key: &'static str,
    read: impl Fn(&Node, &mut Decoder, &str) -> Option<T>,
) -> Entries<T> {
    let Some(node) = m.node(key) else {
        return Vec::new();
    };
    let d = m.decoder();
    let Value::Map(entries) = &node.value else {
        d.error(Diagnostic::new(
            node.mark,
            "type",
            format!("expected a mapping of names to resources, found {}", node.kind()),
        ));
        return Vec::new();
    };
    let mut out: Entries<T> = Vec::new();
    for (k, v) in entries {
        let Some(name) = S::decode(k, d) else {
            continue;
        };
        if let Some((first, _)) = out.iter().find(|(f, _)| f.v == name.v) {
            let first_line = first.mark.line;
            d.error(
                Diagnostic::new(name.mark, "duplicate-key", format!("`{key}.{}` is defined twice", name.v))
                    .hint(format!("the first definition is at line {first_line}")),
            );
            continue;
        }
        let path = format!("{key}.{}", name.v);
        if let Some(value) = read(v, d, &path) {
            out.push((name, value));
        }
    }
    out
}

impl RawSpec {
    pub fn decode(root: &Node, d: &mut Decoder) -> RawSpec {
        let mut spec = RawSpec { mark: root.mark, ..RawSpec::default() };
        if root.value == Value::Null {
            d.error(
                Diagnostic::new(root.mark, "missing-field", "the spec is empty")
                    .hint("a spec needs at least `pipeline: <name>` and one resource"),
            );
            return spec;
        }
        let Some(mut m) = MapReader::open(root, d, "") else {
            return spec;
        };
        spec.pipeline = m.req("pipeline");
        spec.region = m.opt("region");
        spec.tags = m.opt("tags").unwrap_or_default();
        spec.buckets = section(&mut m, "buckets", RawBucket::read);
        spec.streams = section(&mut m, "streams", RawStream::read);
        if let Some(catalog) = m.node("catalog") {
            if let Some(mut c) = MapReader::open(catalog, m.decoder(), "catalog") {
                spec.databases = section(&mut c, "databases", RawDatabase::read);
                spec.tables = section(&mut c, "tables", RawTable::read);
                c.finish();
            }
        }
        spec.firehoses = section(&mut m, "firehoses", RawFirehose::read);
        spec.functions = section(&mut m, "functions", RawFunction::read);
        spec.agents = section(&mut m, "agents", RawAgent::read);
        spec.networks = section(&mut m, "networks", RawNetwork::read);
        spec.dashboards = section(&mut m, "dashboards", RawDashboard::read);
        spec.alarms = section(&mut m, "alarms", RawAlarm::read);
        spec.timeouts = m.opt("timeouts").unwrap_or_default();
        m.finish();
        spec
    }
}

#[derive(Debug)]
pub struct RawBucket {
    pub mark: Mark,
    pub name: Option<S>,
    pub on_destroy: Option<S>,
}

read_map!(RawBucket { name: opt, on_destroy: opt });

#[derive(Debug)]
pub struct RawStream {
    pub mark: Mark,
    pub name: Option<S>,
    pub mode: Option<S>,
    pub shards: Option<Sp<u32>>,
    pub retention_hours: Option<Sp<u32>>,
    pub encryption: Option<S>,
}

read_map!(RawStream { name: opt, mode: opt, shards: opt, retention_hours: opt, encryption: opt });

#[derive(Debug)]
pub struct RawDatabase {
    pub mark: Mark,
    pub name: Option<S>,
    pub description: Option<S>,
}

read_map!(RawDatabase { name: opt, description: opt });

#[derive(Debug)]
pub struct RawLocation {
    pub mark: Mark,
    pub bucket: Option<S>,
    pub prefix: Option<S>,
}

read_map!(RawLocation { bucket: req, prefix: opt });

#[derive(Debug)]
pub struct RawTable {
    pub mark: Mark,
    pub name: Option<S>,
    pub database: Option<S>,
    pub location: Option<RawLocation>,
    pub format: Option<S>,
    pub columns: Entries<S>,
    pub partition_keys: Entries<S>,
    pub description: Option<S>,
}

impl RawTable {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let location = m.node("location").and_then(|l| RawLocation::read(l, m.decoder(), &format!("{path}.location")));
        if location.is_none() && m.node("location").is_none() {
            let mark = m.mark;
            m.decoder().error(Diagnostic::new(
                mark,
                "missing-field",
                format!("missing required field `location` in `{path}`"),
            ));
        }
        let r = RawTable {
            mark: m.mark,
            name: m.opt("name"),
            database: m.req("database"),
            location,
            format: m.opt("format"),
            columns: m.req("columns").unwrap_or_default(),
            partition_keys: m.opt("partition_keys").unwrap_or_default(),
            description: m.opt("description"),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub enum RawSource {
    Stream(S),
    Direct,
}

#[derive(Debug)]
pub struct RawBuffer {
    pub mark: Mark,
    pub size_mb: Option<Sp<u32>>,
    pub interval_seconds: Option<Sp<u32>>,
}

#[derive(Debug)]
pub struct RawConvert {
    pub mark: Mark,
    pub format: Option<S>,
    pub table: Option<S>,
    pub compression: Option<S>,
}

#[derive(Debug)]
pub struct RawDestination {
    pub mark: Mark,
    pub bucket: Option<S>,
    pub prefix: Option<S>,
    pub error_prefix: Option<S>,
    pub buffer: Option<RawBuffer>,
    pub compression: Option<S>,
    pub convert: Option<RawConvert>,
    pub error_logging: Option<Sp<bool>>,
    pub encryption: Option<S>,
}

#[derive(Debug)]
pub struct RawFirehose {
    pub mark: Mark,
    pub name: Option<S>,
    pub source: Option<Sp<RawSource>>,
    pub destination: Option<RawDestination>,
    pub processor: Option<S>,
    pub policy: Vec<RawStatement>,
}

impl RawFirehose {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let source = m.node("source").and_then(|s| {
            let v = match &s.value {
                Value::Scalar { text, .. } if text == "direct" => Some(RawSource::Direct),
                Value::Map(_) => {
                    let mut sm = MapReader::open(s, m.decoder(), format!("{path}.source"))?;
                    let stream = sm.req("stream");
                    sm.finish();
                    stream.map(RawSource::Stream)
                }
                _ => {
                    m.decoder().error(
                        Diagnostic::new(s.mark, "type", "`source` must be `direct` or `{ stream: <key> }`")
                            .hint("write `source: direct` for Direct PUT, or `source: { stream: trips }`"),
                    );
                    None
                }
            };
            v.map(|v| Sp { v, mark: s.mark })
        });
        if source.is_none() && m.node("source").is_none() {
            let mark = m.mark;
            m.decoder().error(
                Diagnostic::new(mark, "missing-field", format!("missing required field `source` in `{path}`"))
                    .hint("write `source: direct` for Direct PUT, or `source: { stream: <key> }`"),
            );
        }
        let destination = match m.node("destination") {
            Some(dn) => RawDestination::read(dn, m.decoder(), &format!("{path}.destination")),
            None => {
                let mark = m.mark;
                m.decoder().error(Diagnostic::new(
                    mark,
                    "missing-field",
                    format!("missing required field `destination` in `{path}`"),
                ));
                None
            }
        };
        let processor = m.node("processor").and_then(|p| {
            let mut pm = MapReader::open(p, m.decoder(), format!("{path}.processor"))?;
            let f = pm.req("function");
            pm.finish();
            f
        });
        let policy = RawStatement::list(&mut m, path);
        let r = RawFirehose { mark: m.mark, name: m.opt("name"), source, destination, processor, policy };
        m.finish();
        Some(r)
    }
}

impl RawDestination {
    fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let buffer = m.node("buffer").and_then(|b| {
            let mut bm = MapReader::open(b, m.decoder(), format!("{path}.buffer"))?;
            let r =
                RawBuffer { mark: bm.mark, size_mb: bm.opt("size_mb"), interval_seconds: bm.opt("interval_seconds") };
            bm.finish();
            Some(r)
        });
        let convert = m.node("convert").and_then(|c| {
            let mut cm = MapReader::open(c, m.decoder(), format!("{path}.convert"))?;
            let r = RawConvert {
                mark: cm.mark,
                format: cm.req("format"),
                table: cm.req("table"),
                compression: cm.opt("compression"),
            };
            cm.finish();
            Some(r)
        });
        let r = RawDestination {
            mark: m.mark,
            bucket: m.req("bucket"),
            prefix: m.opt("prefix"),
            error_prefix: m.opt("error_prefix"),
            buffer,
            compression: m.opt("compression"),
            convert,
            error_logging: m.opt("error_logging"),
            encryption: m.opt("encryption"),
        };
        m.finish();
        Some(r)
    }
}
