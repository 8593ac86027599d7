//! Agent hosts and networks.

use super::*;
use crate::names::{self};
use crate::spec::decode::Sp;
use crate::spec::model::*;
use crate::spec::raw::*;
use crate::spec::rules;
use std::collections::BTreeMap;

impl Builder<'_> {
    pub(super) fn agents(&mut self, raw: &RawSpec) -> BTreeMap<String, Agent> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.agents {
            let path = format!("agents.{}", k.v);
            let name = self.name_of("agents", &k.v);
            self.generated_name(
                "role",
                names::agent_role(&name, self.region.as_deref()),
                k.mark,
                path.clone(),
                rules::role_name,
            );
            let instance_type = match &r.instance_type {
                Some(t) => {
                    let ok = t.v.split_once('.').is_some_and(|(f, s)| {
                        !f.is_empty()
                            && !s.is_empty()
                            && t.v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                    });
                    if !ok {
                        self.bad(
                            t.mark,
                            "instance-type",
                            format!("`{}` is not an EC2 instance type", t.v),
                            "for example `t3.small`",
                        );
                    }
                    t.v.clone()
                }
                None => "t3.small".into(),
            };
            let ami = match &r.ami {
                None => Ami::Al2023,
                Some(a) if a.v == "al2023" => Ami::Al2023,
                Some(a) => {
                    let id_ok =
                        a.v.strip_prefix("ami-")
                            .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()));
                    if !id_ok {
                        self.bad(
                            a.mark,
                            "ami",
                            format!("`{}` is neither `al2023` nor an AMI id", a.v),
                            "write `al2023` for the latest Amazon Linux 2023, or `ami-0123456789abcdef0`",
                        );
                    }
                    Ami::Id(a.v.clone())
                }
            };
            let subnet = match &r.subnet {
                None => SubnetChoice::Default,
                Some(Sp { v: RawSubnet::Named(s), .. }) if s.v == "default" => SubnetChoice::Default,
                Some(Sp { v: RawSubnet::Named(s), .. }) => {
                    let id_ok =
                        s.v.strip_prefix("subnet-")
                            .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()));
                    if !id_ok {
                        self.bad(
                            s.mark,
                            "subnet",
                            format!("`{}` is not `default`, a subnet id, or `{{ network, tier }}`", s.v),
                            "for example `subnet: { network: lab, tier: public }`",
                        );
                    }
                    SubnetChoice::Id(s.v.clone())
                }
                Some(Sp { v: RawSubnet::Network { network, tier }, .. }) => {
                    let network =
                        network.as_ref().and_then(|n| self.reference(n, "networks", "network")).unwrap_or_default();
                    let tier_v = self.choice(
                        tier,
                        &[("public", Tier::Public), ("private", Tier::Private)],
                        Tier::Public,
                        "subnet tier (public | private)",
                    );
                    if tier_v == Tier::Private {
                        let nat = raw
                            .networks
                            .iter()
                            .find(|(nk, _)| nk.v == network)
                            .and_then(|(_, n)| n.nat_gateway.as_ref())
                            .is_some_and(|n| n.v);
                        if !nat {
                            let mark = tier.as_ref().map_or(k.mark, |t| t.mark);
                            self.err(mark, "private-subnet", format!("`{path}` is in a private subnet of `networks.{network}`, which has no NAT gateway: the agent could not reach Kinesis"), Some("use `tier: public`, or set `nat_gateway: true` on the network (billed by the hour)".into()));
                        }
                    }
                    SubnetChoice::Network { network, tier: tier_v }
                }
            };
            let runs_producer = self.choice(
                &r.run,
                &[("agent", false), ("producer", true)],
                false,
                "what the host runs (agent | producer)",
            );
            let producer = match (&r.producer, runs_producer) {
                (Some(p), true) => self.host_producer(p),
                (None, true) => {
                    let mark = r.run.as_ref().map_or(r.mark, |x| x.mark);
                    self.bad(
                        mark,
                        "producer",
                        "`run: producer` needs the producer's settings",
                        "add `producer: { stream: <key>, generate: taxi | sensor | tenant-metrics, rate: 10 }`",
                    );
                    None
                }
                (Some(p), false) => {
                    self.bad(
                        p.mark,
                        "producer",
                        "`producer:` is used only with `run: producer`",
                        "add `run: producer`",
                    );
                    None
                }
                (None, false) => None,
            };
            if runs_producer && !r.flows.is_empty() {
                self.bad(
                    r.flows[0].mark,
                    "flows",
                    "`flows` are the Kinesis Agent's; a host with `run: producer` does not run it",
                    "remove `flows`, or `run: producer` to run the Kinesis Agent",
                );
            }
            if !runs_producer && r.flows.is_empty() {
                self.bad(
                    r.mark,
                    "flows",
                    format!("`{path}` has no flows"),
                    "add `flows: [{ file_pattern: \"/tmp/*.csv*\", stream: <key> }]`, or `run: producer`",
                );
            }
            // Apply waits for the host's service unless told to stop at the
            // instance; not an attribute of the host, so changing it
            // changes nothing on AWS.
            let wait_for_running = self.choice(
                &r.wait_for,
                &[("running", true), ("launched", false)],
                true,
                "what apply waits for (running | launched)",
            );
            let mut flows = Vec::new();
            for f in &r.flows {
                let stream =
                    f.stream.as_ref().and_then(|s| self.reference(s, "streams", "flow stream")).unwrap_or_default();
                let partition_key = self.choice(
                    &f.partition_key,
                    &[("random", "RANDOM"), ("deterministic", "DETERMINISTIC")],
                    "RANDOM",
                    "partition key (random | deterministic)",
                );
                let initial_position = self.choice(
                    &f.initial_position,
                    &[("start_of_file", InitialPosition::StartOfFile), ("end_of_file", InitialPosition::EndOfFile)],
                    InitialPosition::StartOfFile,
                    "initial position (start_of_file | end_of_file)",
                );
                let csv_to_json = f.csv_to_json.as_ref().map(|c| {
                    if c.fields.is_empty() {
                        self.bad(
                            c.mark,
                            "csv-fields",
                            "`csv_to_json` needs the field names",
                            "`csv_to_json: { fields: [a, b, c] }`",
                        );
                    }
                    let delimiter = c.delimiter.as_ref().map_or(",".to_string(), |d| d.v.clone());
                    CsvToJson { fields: c.fields.iter().map(|f| f.v.clone()).collect(), delimiter }
                });
                let file_pattern = f
                    .file_pattern
                    .as_ref()
                    .map(|p| {
                        if !p.v.starts_with('/') {
                            self.bad(
                                p.mark,
                                "file-pattern",
                                format!("file pattern `{}` must be an absolute path", p.v),
                                "for example `/tmp/*.csv*`",
                            );
                        }
                        p.v.clone()
                    })
                    .unwrap_or_default();
                flows.push(Flow {
                    file_pattern,
                    stream,
                    partition_key: partition_key.to_string(),
                    initial_position,
                    csv_to_json,
                });
            }
            let ssh = r.ssh.as_ref().map(|s| {
                let cidr = s.cidr.as_ref().map(|c| c.v.clone()).unwrap_or_default();
                if let Some(c) = &s.cidr {
                    match rules::ipv4_cidr(&c.v) {
                        Err(msg) => self.err(c.mark, "cidr", msg, None),
                        Ok(0) if !s.allow_world.as_ref().is_some_and(|a| a.v) => self.err(
                            c.mark,
                            "ssh-world",
                            "SSH from 0.0.0.0/0 opens the host to the whole internet",
                            Some("narrow the range, or set `allow_world: true` if you mean it".into()),
                        ),
                        Ok(_) => {}
                    }
                }
                Ssh { cidr, key_name: s.key_name.as_ref().map(|k| k.v.clone()) }
            });
            let data = r.data.as_ref().and_then(|d| self.agent_data(d, &flows, runs_producer));
            let policy = self.statements(&r.policy, &path);
            out.insert(
                k.v.clone(),
                Agent { name, instance_type, ami, subnet, flows, producer, wait_for_running, data, ssh, policy },
            );
        }
        out
    }

    fn host_producer(&mut self, p: &RawProducer) -> Option<HostProducer> {
        let stream = p.stream.as_ref().and_then(|s| self.reference(s, "streams", "producer stream"))?;
        let generate = self.choice(
            &p.generate,
            &[("taxi", "taxi"), ("sensor", "sensor"), ("tenant-metrics", "tenant-metrics")],
            "taxi",
            "generator (taxi | sensor | tenant-metrics)",
        );
        let rate = self.range(&p.rate, 1, 1000, 10, "rate", Some("records per second; a shard takes 1,000"));
        // Sensor readings are keyed by their sensor unless told otherwise
        // (`partition_key: random`): Lambda's tumbling windows are per
        // shard, so one sensor's readings spread over several shards make
        // several partial rows per window.
        let partition_key = match &p.partition_key {
            Some(k) if k.v == "random" => None,
            Some(k) => {
                // The producer keys a record by this top-level field; one the
                // generator does not write would silently key at random.
                let fields = generated_fields(generate);
                if !fields.contains(&k.v.as_str()) {
                    let mut d = Diagnostic::new(
                        k.mark,
                        "partition-key",
                        format!(
                            "`{}` is not a field of the `{generate}` records, found {}",
                            k.named("partition_key"),
                            crate::diag::value::quoted(&k.v)
                        ),
                    )
                    .label(format!("not a field of `{generate}`"))
                    .value(&k.v);
                    if !k.path.is_empty() {
                        d = d.at_path(&k.path);
                    }
                    let hint = match crate::diag::did_you_mean(&k.v, fields.iter().copied()) {
                        Some(m) => format!(
                            "did you mean `{m}`? `{generate}` records have: {}, or write `random`",
                            fields.join(", ")
                        ),
                        None => format!("`{generate}` records have: {}, or write `random`", fields.join(", ")),
                    };
                    self.diags.push(d.hint(hint));
                }
                Some(k.v.clone())
            }
            None => (generate == "sensor").then(|| "sensor_id".to_string()),
        };
        Some(HostProducer { stream, generate: generate.to_string(), rate, partition_key })
    }

    pub(super) fn networks(&mut self, raw: &RawSpec) -> BTreeMap<String, Network> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.networks {
            let zones = self.range(&r.zones, 1, 6, 2, "zones", None);
            let cidr = r
                .cidr
                .as_ref()
                .map(|c| {
                    match rules::ipv4_cidr(&c.v) {
                        Ok(len) if !(16..=24).contains(&len) => self.err(
                            c.mark,
                            "cidr",
                            format!("a network CIDR must be /16 to /24; `{}` is /{len}", c.v),
                            Some("subnets are carved out of it, one public and one private per zone".into()),
                        ),
                        Ok(_) => {}
                        Err(msg) => self.err(c.mark, "cidr", msg, Some("for example `10.20.0.0/16`".into())),
                    }
                    c.v.clone()
                })
                .unwrap_or_default();
            out.insert(
                k.v.clone(),
                Network {
                    name: self.name_of("networks", &k.v),
                    cidr,
                    zones,
                    nacl: r.nacl.as_ref().is_some_and(|n| n.v),
                    nat_gateway: r.nat_gateway.as_ref().is_some_and(|n| n.v),
                },
            );
        }
        out
    }
}

/// The top-level fields of the records each generator of the built-in
/// producer writes (templates/agent/producer.py), what `partition_key`
/// may name.
pub(super) fn generated_fields(generate: &str) -> &'static [&'static str] {
    match generate {
        "sensor" => &["sensor_id", "timestamp", "temperature", "humidity", "pressure"],
        "tenant-metrics" => &["type", "workload", "context", "tenant", "metric", "timestamp", "metadata"],
        _ => &[
            "type",
            "trip_id",
            "pickup_datetime",
            "dropoff_datetime",
            "pickup_latitude",
            "pickup_longitude",
            "dropoff_latitude",
            "dropoff_longitude",
            "trip_distance",
            "passenger_count",
            "total_amount",
        ],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_fields_are_the_producers() {
        let producer = include_str!("../../../templates/agent/producer.py");
        for generate in ["taxi", "sensor", "tenant-metrics"] {
            for field in super::generated_fields(generate) {
                assert!(producer.contains(&format!("\"{field}\":")), "{generate}: `{field}` is not in producer.py");
            }
        }
    }
}
