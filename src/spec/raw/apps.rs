//! The spec as written, continued: functions and their triggers, agent
//! hosts, networks, dashboards, alarms and `policy:` statements.

use super::read_map;
use super::*;
use crate::diag::Diagnostic;
use crate::spec::decode::{Decode, Decoder, Entries, MapReader, Sp};
use crate::spec::yaml::{Mark, Node, Value};

#[derive(Debug)]
pub struct RawOnFailure {
    pub mark: Mark,
    pub bisect: Option<Sp<bool>>,
    pub max_retries: Option<Sp<i64>>,
    pub max_record_age_seconds: Option<Sp<i64>>,
}

read_map!(RawOnFailure { bisect: opt, max_retries: opt, max_record_age_seconds: opt });

#[derive(Debug)]
pub struct RawTrigger {
    pub mark: Mark,
    pub stream: Option<S>,
    pub batch_size: Option<Sp<u32>>,
    pub batching_window_seconds: Option<Sp<u32>>,
    pub starting_position: Option<S>,
    pub tumbling_window_seconds: Option<Sp<u32>>,
    pub parallelization_factor: Option<Sp<u32>>,
    pub on_failure: Option<RawOnFailure>,
    pub enabled: Option<Sp<bool>>,
}

#[derive(Debug)]
pub struct RawFunction {
    pub mark: Mark,
    pub name: Option<S>,
    pub runtime: Option<S>,
    pub code: Option<S>,
    pub handler: Option<S>,
    pub memory_mb: Option<Sp<u32>>,
    pub timeout_seconds: Option<Sp<u32>>,
    pub environment: Entries<S>,
    pub writes: Vec<S>,
    pub trigger: Option<RawTrigger>,
    pub log_retention_days: Option<Sp<u32>>,
    pub policy: Vec<RawStatement>,
}

impl RawFunction {
    pub(super) fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let trigger = m.node("trigger").and_then(|t| {
            let mut tm = MapReader::open(t, m.decoder(), format!("{path}.trigger"))?;
            let on_failure = tm.node("on_failure");
            let on_failure =
                on_failure.and_then(|o| RawOnFailure::read(o, tm.decoder(), &format!("{path}.trigger.on_failure")));
            let r = RawTrigger {
                mark: tm.mark,
                stream: tm.req("stream"),
                batch_size: tm.opt("batch_size"),
                batching_window_seconds: tm.opt("batching_window_seconds"),
                starting_position: tm.opt("starting_position"),
                tumbling_window_seconds: tm.opt("tumbling_window_seconds"),
                parallelization_factor: tm.opt("parallelization_factor"),
                on_failure,
                enabled: tm.opt("enabled"),
            };
            tm.finish();
            Some(r)
        });
        let r = RawFunction {
            mark: m.mark,
            name: m.opt("name"),
            runtime: m.req("runtime"),
            code: m.req("code"),
            handler: m.req("handler"),
            memory_mb: m.opt("memory_mb"),
            timeout_seconds: m.opt("timeout_seconds"),
            environment: m.opt("environment").unwrap_or_default(),
            writes: m.opt("writes").unwrap_or_default(),
            trigger,
            log_retention_days: m.opt("log_retention_days"),
            policy: RawStatement::list(&mut m, path),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub enum RawSubnet {
    /// `default` or a subnet id.
    Named(S),
    Network {
        network: Option<S>,
        tier: Option<S>,
    },
}

#[derive(Debug)]
pub struct RawCsv {
    pub mark: Mark,
    pub fields: Vec<S>,
    pub delimiter: Option<S>,
}

read_map!(RawCsv { fields: req_or_default, delimiter: opt });

#[derive(Debug)]
pub struct RawFlow {
    pub mark: Mark,
    pub file_pattern: Option<S>,
    pub stream: Option<S>,
    pub partition_key: Option<S>,
    pub initial_position: Option<S>,
    pub csv_to_json: Option<RawCsv>,
}

#[derive(Debug)]
pub struct RawSsh {
    pub mark: Mark,
    pub cidr: Option<S>,
    pub allow_world: Option<Sp<bool>>,
    pub key_name: Option<S>,
}

read_map!(RawSsh { cidr: req, allow_world: opt, key_name: opt });

#[derive(Debug)]
pub struct RawAgent {
    pub mark: Mark,
    pub name: Option<S>,
    pub instance_type: Option<S>,
    pub ami: Option<S>,
    pub subnet: Option<Sp<RawSubnet>>,
    pub flows: Vec<RawFlow>,
    pub ssh: Option<RawSsh>,
    pub policy: Vec<RawStatement>,
}

impl RawAgent {
    pub(super) fn read(n: &Node, d: &mut Decoder, path: &str) -> Option<Self> {
        let mut m = MapReader::open(n, d, path)?;
        let subnet = m.node("subnet").and_then(|s| {
            let v = match &s.value {
                Value::Scalar { .. } => S::decode(s, m.decoder()).map(RawSubnet::Named),
                _ => {
                    let mut sm = MapReader::open(s, m.decoder(), format!("{path}.subnet"))?;
                    let r = RawSubnet::Network { network: sm.req("network"), tier: sm.opt("tier") };
                    sm.finish();
                    Some(r)
                }
            };
            v.map(|v| Sp { v, mark: s.mark })
        });
        let mut flows = Vec::new();
        match m.node("flows").map(|f| &f.value) {
            Some(Value::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let fpath = format!("{path}.flows[{i}]");
                    let Some(mut fm) = MapReader::open(item, m.decoder(), fpath.clone()) else {
                        continue;
                    };
                    let csv = fm.node("csv_to_json");
                    let csv = csv.and_then(|c| RawCsv::read(c, fm.decoder(), &format!("{fpath}.csv_to_json")));
                    flows.push(RawFlow {
                        mark: fm.mark,
                        file_pattern: fm.req("file_pattern"),
                        stream: fm.req("stream"),
                        partition_key: fm.opt("partition_key"),
                        initial_position: fm.opt("initial_position"),
                        csv_to_json: csv,
                    });
                    fm.finish();
                }
            }
            Some(_) => {
                let node = m.node("flows").expect("present");
                m.decoder().error(Diagnostic::new(
                    node.mark,
                    "type",
                    format!("expected a list of flows, found {}", node.kind()),
                ));
            }
            None => {
                let mark = m.mark;
                m.decoder().error(
                    Diagnostic::new(mark, "missing-field", format!("missing required field `flows` in `{path}`"))
                        .hint("an agent needs at least one flow: `{ file_pattern, stream }`"),
                );
            }
        }
        let ssh = m.node("ssh").and_then(|s| RawSsh::read(s, m.decoder(), &format!("{path}.ssh")));
        let r = RawAgent {
            mark: m.mark,
            name: m.opt("name"),
            instance_type: m.opt("instance_type"),
            ami: m.opt("ami"),
            subnet,
            flows,
            ssh,
            policy: RawStatement::list(&mut m, path),
        };
        m.finish();
        Some(r)
    }
}

#[derive(Debug)]
pub struct RawNetwork {
    pub mark: Mark,
    pub name: Option<S>,
    pub cidr: Option<S>,
    pub zones: Option<Sp<u32>>,
    pub nacl: Option<Sp<bool>>,
    pub nat_gateway: Option<Sp<bool>>,
}

read_map!(RawNetwork { name: opt, cidr: req, zones: opt, nacl: opt, nat_gateway: opt });

#[derive(Debug)]
pub struct RawDashboard {
    pub mark: Mark,
    pub name: Option<S>,
}

read_map!(RawDashboard { name: opt });

#[derive(Debug)]
pub struct RawAlarm {
    pub mark: Mark,
    pub name: Option<S>,
    pub kind: Option<S>,
    pub stream: Option<S>,
    pub firehose: Option<S>,
    pub function: Option<S>,
    pub max_ms: Option<Sp<u64>>,
    pub max_seconds: Option<Sp<u64>>,
    pub max_errors: Option<Sp<u64>>,
    pub period_seconds: Option<Sp<u32>>,
    pub evaluation_periods: Option<Sp<u32>>,
}

read_map!(RawAlarm {
    name: opt,
    kind: opt,
    stream: opt,
    firehose: opt,
    function: opt,
    max_ms: opt,
    max_seconds: opt,
    max_errors: opt,
    period_seconds: opt,
    evaluation_periods: opt
});

/// An extra IAM statement for a generated role (`policy:`).
#[derive(Debug)]
pub struct RawStatement {
    pub mark: Mark,
    pub actions: Vec<S>,
    pub resources: Vec<S>,
}

impl RawStatement {
    /// The `policy:` list of the mapping `m` reads.
    pub(super) fn list(m: &mut MapReader, path: &str) -> Vec<RawStatement> {
        let Some(node) = m.node("policy") else { return Vec::new() };
        let d = m.decoder();
        let Value::Seq(items) = &node.value else {
            d.error(
                Diagnostic::new(node.mark, "type", format!("expected a list of statements, found {}", node.kind()))
                    .hint("`policy: [{ actions: [s3:GetObject], resources: [\"arn:aws:s3:::bucket/*\"] }]`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(mut sm) = MapReader::open(item, d, format!("{path}.policy[{i}]")) else { continue };
            let r = RawStatement {
                mark: sm.mark,
                actions: sm.req("actions").unwrap_or_default(),
                resources: sm.req("resources").unwrap_or_default(),
            };
            sm.finish();
            out.push(r);
        }
        out
    }
}
