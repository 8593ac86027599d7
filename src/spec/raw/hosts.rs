//! Agent hosts and networks as written.

use super::*;

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
pub struct RawProducer {
    pub mark: Mark,
    pub stream: Option<S>,
    pub generate: Option<S>,
    pub rate: Option<Sp<u32>>,
    pub partition_key: Option<S>,
}

read_map!(RawProducer { stream: req, generate: req, rate: opt, partition_key: opt });

/// `data:` of an agent host: a file generated on the host where a flow
/// watches.
#[derive(Debug)]
pub struct RawData {
    pub mark: Mark,
    pub generate: Option<S>,
    pub rows: Option<Sp<u32>>,
    pub path: Option<S>,
}

read_map!(RawData { generate: req, rows: opt, path: req });

#[derive(Debug)]
pub struct RawAgent {
    pub mark: Mark,
    pub name: Option<S>,
    pub instance_type: Option<S>,
    pub ami: Option<S>,
    pub subnet: Option<Sp<RawSubnet>>,
    pub flows: Vec<RawFlow>,
    pub ssh: Option<RawSsh>,
    pub run: Option<S>,
    pub producer: Option<RawProducer>,
    pub wait_for: Option<S>,
    pub data: Option<RawData>,
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
            v.map(|v| Sp { v, mark: s.mark, path: format!("{path}.subnet") })
        });
        let mut flows = Vec::new();
        // Required for `run: agent` (the default): checked when building.
        match m.node("flows").map(|f| (f, &f.value)) {
            Some((_, Value::Seq(items))) => {
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
            Some((node, _)) => {
                let diag = crate::spec::decode::type_diagnostic(&format!("{path}.flows"), node, "a list of flows");
                m.decoder().error(diag);
            }
            None => {}
        }
        let ssh = m.node("ssh").and_then(|s| RawSsh::read(s, m.decoder(), &format!("{path}.ssh")));
        let producer = m.node("producer").and_then(|p| RawProducer::read(p, m.decoder(), &format!("{path}.producer")));
        let data = m.node("data").and_then(|x| RawData::read(x, m.decoder(), &format!("{path}.data")));
        let r = RawAgent {
            mark: m.mark,
            name: m.opt("name"),
            instance_type: m.opt("instance_type"),
            ami: m.opt("ami"),
            subnet,
            flows,
            ssh,
            run: m.opt("run"),
            producer,
            wait_for: m.opt("wait_for"),
            data,
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
