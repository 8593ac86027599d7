//! The resource graph: every AWS resource a spec implies, including the ones
//! the user never writes (one IAM role per Firehose / function / agent, log
//! groups, the agent's instance profile and security group, the deployment
//! record), with an edge from each resource to what must exist before it.

use crate::names::{self, TriggerId};
use crate::spec::interp::Ref;
use crate::spec::{FirehoseSource, Spec, SubnetChoice, WriteTarget};
use std::collections::{BTreeMap, BTreeSet};

pub use super::address::{Address, Kind};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub address: Address,
    /// The physical name in AWS.
    pub name: String,
    /// What must exist before this node.
    pub deps: BTreeSet<Address>,
    /// The spec entry this node comes from (`firehoses.to-lake`), if any.
    pub origin: Option<String>,
}

impl Node {
    /// The spec entry this node comes from, as an address: `firehose.X`
    /// for `role.firehose-X` and `log_group.firehose-X`.
    pub fn owner(&self) -> Option<Address> {
        let (section, key) = self.origin.as_deref()?.split_once('.')?;
        Some(Address::new(Kind::of_section(section)?, key))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: BTreeMap<Address, Node>,
}

pub fn role_key(owner: Kind, key: &str) -> String {
    format!("{}-{key}", owner.as_str())
}

impl Graph {
    pub fn from_spec(spec: &Spec, env_refs: &BTreeMap<String, BTreeSet<Ref>>) -> Graph {
        let mut g = Graph::default();
        let record = Address::new(Kind::Record, "deployment");
        g.add(record.clone(), spec.record_name(), None, []);
        let add = |g: &mut Graph, a: Address, name: &str, origin: String, deps: Vec<Address>| {
            g.add(a, name.to_string(), Some(origin), deps.into_iter().chain([record.clone()]));
        };
        for (k, b) in &spec.buckets {
            add(&mut g, Address::new(Kind::Bucket, k), &b.name, format!("buckets.{k}"), vec![]);
        }
        for (k, s) in &spec.streams {
            add(&mut g, Address::new(Kind::Stream, k), &s.name, format!("streams.{k}"), vec![]);
        }
        for (k, d) in &spec.databases {
            add(&mut g, Address::new(Kind::GlueDatabase, k), &d.name, format!("databases.{k}"), vec![]);
        }
        for (k, t) in &spec.tables {
            let deps = vec![Address::new(Kind::GlueDatabase, &t.database), Address::new(Kind::Bucket, &t.bucket)];
            add(&mut g, Address::new(Kind::GlueTable, k), &t.name, format!("tables.{k}"), deps);
        }
        for (k, f) in &spec.firehoses {
            let origin = format!("firehoses.{k}");
            let mut deps = vec![Address::new(Kind::Bucket, &f.destination.bucket)];
            if f.role.is_none() {
                let role = Address::new(Kind::Role, role_key(Kind::Firehose, k));
                let name = names::firehose_role(&f.name, spec.region.as_deref());
                add(&mut g, role.clone(), &name, origin.clone(), vec![]);
                deps.push(role);
            }
            if let FirehoseSource::Stream(s) = &f.source {
                deps.push(Address::new(Kind::Stream, s));
            }
            if let Some(c) = &f.destination.convert {
                deps.push(Address::new(Kind::GlueTable, &c.table));
            }
            if f.destination.error_logging {
                let lg = Address::new(Kind::LogGroup, role_key(Kind::Firehose, k));
                add(&mut g, lg.clone(), &names::firehose_log_group(&f.name), origin.clone(), vec![]);
                deps.push(lg);
            }
            if let Some(p) = &f.processor {
                deps.push(Address::new(Kind::Function, p));
            }
            add(&mut g, Address::new(Kind::Firehose, k), &f.name, origin, deps);
        }
        for (k, f) in &spec.functions {
            let origin = format!("functions.{k}");
            let mut fdeps = Vec::new();
            if f.role.is_none() {
                let role = Address::new(Kind::Role, role_key(Kind::Function, k));
                let name = names::function_role(&f.name, spec.region.as_deref());
                add(&mut g, role.clone(), &name, origin.clone(), vec![]);
                fdeps.push(role);
            }
            let lg = Address::new(Kind::LogGroup, role_key(Kind::Function, k));
            add(&mut g, lg.clone(), &names::function_log_group(&f.name), origin.clone(), vec![]);
            // What the environment names (`${firehoses.x.name}`) is known
            // before it exists: the function is created alongside it, and
            // its trigger, which starts the calls, waits for it.
            let referenced: Vec<Address> = env_refs
                .get(k)
                .into_iter()
                .flatten()
                .filter_map(|r| Kind::of_section(&r.section).map(|kind| Address::new(kind, &r.key)))
                .collect();
            let fa = Address::new(Kind::Function, k);
            fdeps.push(lg);
            add(&mut g, fa.clone(), &f.name, origin.clone(), fdeps);
            if let Some(t) = &f.trigger {
                let mut deps = vec![fa, Address::new(Kind::Stream, &t.stream)];
                deps.extend(referenced);
                for w in &f.writes {
                    deps.push(match w {
                        WriteTarget::Firehose(x) => Address::new(Kind::Firehose, x),
                        WriteTarget::Stream(x) => Address::new(Kind::Stream, x),
                    });
                }
                add(
                    &mut g,
                    Address::new(Kind::Trigger, k),
                    &TriggerId {
                        function: f.name.clone(),
                        stream: spec.streams.get(&t.stream).map_or(String::new(), |s| s.name.clone()),
                    }
                    .to_string(),
                    format!("triggers.{k}"),
                    deps,
                );
            }
        }
        for (k, n) in &spec.networks {
            add(&mut g, Address::new(Kind::Network, k), &n.name, format!("networks.{k}"), vec![]);
        }
        for (k, a) in &spec.agents {
            let origin = format!("agents.{k}");
            let role = Address::new(Kind::Role, role_key(Kind::Agent, k));
            let role_name = names::agent_role(&a.name, spec.region.as_deref());
            add(&mut g, role.clone(), &role_name, origin.clone(), vec![]);
            let profile = Address::new(Kind::InstanceProfile, k);
            add(&mut g, profile.clone(), &role_name, origin.clone(), vec![role]);
            let network = match &a.subnet {
                SubnetChoice::Network { network, .. } => Some(Address::new(Kind::Network, network)),
                _ => None,
            };
            let sg = Address::new(Kind::SecurityGroup, k);
            add(&mut g, sg.clone(), &role_name, origin.clone(), network.iter().cloned().collect());
            let mut deps = vec![profile, sg];
            deps.extend(network);
            deps.extend(a.streams().into_iter().map(|s| Address::new(Kind::Stream, s)));
            add(&mut g, Address::new(Kind::Agent, k), &a.name, origin, deps);
        }
        // A dashboard shows agent hosts by instance id: it is written once they run.
        let agents: Vec<Address> = spec.agents.keys().map(|k| Address::new(Kind::Agent, k)).collect();
        for (k, d) in &spec.dashboards {
            add(&mut g, Address::new(Kind::Dashboard, k), &d.name, format!("dashboards.{k}"), agents.clone());
        }
        for (k, a) in &spec.alarms {
            add(&mut g, Address::new(Kind::Alarm, k), &a.name, format!("alarms.{k}"), vec![]);
        }
        // A metric filter lives in its function's log group.
        for (k, m) in &spec.metric_filters {
            let Some(f) = spec.functions.get(&m.function) else { continue };
            let id = names::MetricFilterId { log_group: names::function_log_group(&f.name), filter: m.name.clone() };
            let deps = vec![Address::new(Kind::LogGroup, role_key(Kind::Function, &m.function))];
            add(&mut g, Address::new(Kind::MetricFilter, k), &id.to_string(), format!("metric_filters.{k}"), deps);
        }
        g
    }

    fn add(&mut self, address: Address, name: String, origin: Option<String>, deps: impl IntoIterator<Item = Address>) {
        let deps = deps.into_iter().filter(|d| *d != address).collect();
        self.nodes.insert(address.clone(), Node { address, name, deps, origin });
    }

    /// Whether `pattern` (an address or a kind name) selects `a`.
    fn selects(pattern: &str, a: &Address) -> bool {
        pattern == a.to_string() || pattern == a.kind.as_str()
    }

    /// The nodes selected by `targets` and everything they depend on
    /// (`upstream`), or everything that depends on them (for destroy).
    /// No targets: the whole graph. The record is always kept.
    pub fn restrict(&self, targets: &[String], upstream: bool) -> Graph {
        if targets.is_empty() {
            return self.clone();
        }
        let dependents = self.dependents();
        let mut keep: BTreeSet<Address> = BTreeSet::new();
        let mut queue: Vec<Address> = self
            .nodes
            .keys()
            .filter(|a| a.kind == Kind::Record || targets.iter().any(|t| Graph::selects(t, a)))
            .cloned()
            .collect();
        while let Some(a) = queue.pop() {
            if !keep.insert(a.clone()) || a.kind == Kind::Record {
                continue;
            }
            if upstream {
                queue.extend(self.nodes[&a].deps.iter().cloned());
            } else {
                queue.extend(dependents.get(&a).into_iter().flatten().map(|x| (*x).clone()));
            }
        }
        let mut g = self.clone();
        g.nodes.retain(|a, _| keep.contains(a));
        for n in g.nodes.values_mut() {
            n.deps.retain(|d| keep.contains(d));
        }
        g
    }

    /// Targets that select nothing, for an error message.
    pub fn unknown_targets<'a>(&self, targets: &'a [String]) -> Vec<&'a str> {
        targets.iter().filter(|t| !self.nodes.keys().any(|a| Graph::selects(t, a))).map(String::as_str).collect()
    }

    pub fn deps(&self) -> BTreeMap<Address, BTreeSet<Address>> {
        self.nodes.iter().map(|(a, n)| (a.clone(), n.deps.clone())).collect()
    }

    /// A dependency cycle, as the path `a -> b -> ... -> a`, if there is one.
    pub fn find_cycle(&self) -> Option<Vec<Address>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        fn visit<'a>(
            g: &'a Graph,
            a: &'a Address,
            marks: &mut BTreeMap<&'a Address, Mark>,
            path: &mut Vec<&'a Address>,
        ) -> Option<Vec<Address>> {
            match marks.get(a) {
                Some(Mark::Done) => return None,
                Some(Mark::Open) => {
                    let start = path.iter().position(|p| *p == a).unwrap_or(0);
                    let mut cycle: Vec<Address> = path[start..].iter().map(|x| (*x).clone()).collect();
                    cycle.push(a.clone());
                    return Some(cycle);
                }
                None => {}
            }
            marks.insert(a, Mark::Open);
            path.push(a);
            if let Some(node) = g.nodes.get(a) {
                for d in &node.deps {
                    if let Some(c) = visit(g, d, marks, path) {
                        return Some(c);
                    }
                }
            }
            path.pop();
            marks.insert(a, Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for a in self.nodes.keys() {
            if let Some(c) = visit(self, a, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
        None
    }

    /// Every node after the nodes it depends on; among nodes ready at the
    /// same time, in address order, so the order is stable.
    pub fn topo_order(&self) -> Vec<Address> {
        let mut waiting: BTreeMap<&Address, usize> = self
            .nodes
            .values()
            .map(|n| (&n.address, n.deps.iter().filter(|d| self.nodes.contains_key(d)).count()))
            .collect();
        let dependents = self.dependents();
        let mut ready: BTreeSet<&Address> = waiting.iter().filter(|(_, n)| **n == 0).map(|(a, _)| *a).collect();
        let mut out = Vec::new();
        while let Some(a) = ready.pop_first() {
            out.push(a.clone());
            for d in dependents.get(a).into_iter().flatten() {
                let n = waiting.get_mut(d).expect("known node");
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
        out
    }

    /// A stable order of a bare dependency map (node -> what it waits for).
    pub fn order_of(deps: &BTreeMap<Address, BTreeSet<Address>>) -> Vec<Address> {
        let mut g = Graph::default();
        for (a, d) in deps {
            g.nodes.insert(a.clone(), Node { address: a.clone(), name: String::new(), deps: d.clone(), origin: None });
        }
        g.topo_order()
    }

    /// For each node, the nodes that depend on it.
    pub fn dependents(&self) -> BTreeMap<&Address, Vec<&Address>> {
        let mut out: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
        for n in self.nodes.values() {
            for d in &n.deps {
                if let Some(dn) = self.nodes.get(d) {
                    out.entry(&dn.address).or_default().push(&n.address);
                }
            }
        }
        out
    }

    /// The same nodes with every edge turned around: the destroy graph.
    pub fn reversed(&self) -> Graph {
        let mut g = self.clone();
        for n in g.nodes.values_mut() {
            n.deps.clear();
        }
        for n in self.nodes.values() {
            for d in &n.deps {
                if let Some(dn) = g.nodes.get_mut(d) {
                    dn.deps.insert(n.address.clone());
                }
            }
        }
        g
    }

    /// Graphviz DOT. An edge `a -> b` means `b` depends on `a`: `a` is
    /// created first and deleted last.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph pipectl {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
        for n in self.nodes.values() {
            out.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"];\n", n.address, n.address, escape(&n.name)));
        }
        for n in self.nodes.values() {
            for d in &n.deps {
                out.push_str(&format!("  \"{d}\" -> \"{}\";\n", n.address));
            }
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart, with the same edge direction as [`Graph::to_dot`].
    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&Address, String> =
            self.nodes.keys().enumerate().map(|(i, a)| (a, format!("n{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for n in self.nodes.values() {
            out.push_str(&format!(
                "  {}[\"{}<br/>{}\"]\n",
                ids[&n.address],
                n.address,
                escape(&n.name).replace('<', "&lt;")
            ));
        }
        for n in self.nodes.values() {
            for d in &n.deps {
                if let Some(from) = ids.get(d) {
                    out.push_str(&format!("  {from} --> {}\n", ids[&n.address]));
                }
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Options;

    /// The graph of a spec, built the way `load` does (without its cycle check).
    struct Loaded {
        graph: Graph,
    }

    fn load_str(text: &str, _file: &str, dir: &Path, opts: &Options) -> Result<Loaded, Vec<crate::diag::Diagnostic>> {
        let (built, diags) = crate::spec::parse(text, dir, opts)?;
        assert!(diags.is_empty(), "{diags:?}");
        Ok(Loaded { graph: Graph::from_spec(&built.spec, &built.env_refs) })
    }
    use std::path::Path;

    const SPEC: &str = "
pipeline: t
buckets: { lake: {} }
streams: { s: {} }
catalog:
  databases: { db: {} }
  tables:
    tb: { database: db, location: { bucket: lake }, columns: { a: string } }
firehoses:
  f:
    source: { stream: s }
    destination: { bucket: lake, convert: { format: parquet, table: tb } }
";

    fn graph(text: &str) -> Graph {
        load_str(text, "t.yaml", Path::new("."), &Options::default()).unwrap().graph
    }

    fn deps(g: &Graph, a: &str) -> Vec<String> {
        g.nodes[&Address::parse(a).unwrap()].deps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn edges_follow_the_resource_table() {
        let g = graph(SPEC);
        assert_eq!(deps(&g, "glue_table.tb"), ["record.deployment", "bucket.lake", "glue_database.db"]);
        assert_eq!(
            deps(&g, "firehose.f"),
            [
                "record.deployment",
                "bucket.lake",
                "stream.s",
                "glue_table.tb",
                "role.firehose-f",
                "log_group.firehose-f"
            ]
        );
        assert_eq!(deps(&g, "role.firehose-f"), ["record.deployment"]);
        assert!(deps(&g, "record.deployment").is_empty());
    }

    #[test]
    fn topological_order_is_stable_and_respects_edges() {
        let g = graph(SPEC);
        let order: Vec<String> = g.topo_order().iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "record.deployment",
                "bucket.lake",
                "stream.s",
                "glue_database.db",
                "glue_table.tb",
                "role.firehose-f",
                "log_group.firehose-f",
                "firehose.f"
            ]
        );
        assert_eq!(g.topo_order(), graph(SPEC).topo_order());
    }

    #[test]
    fn reversed_graph_deletes_dependents_first() {
        let g = graph(SPEC).reversed();
        let order: Vec<String> = g.topo_order().iter().map(ToString::to_string).collect();
        assert_eq!(order.first().map(String::as_str), Some("firehose.f"));
        assert_eq!(order.last().map(String::as_str), Some("record.deployment"));
        let pos = |a: &str| order.iter().position(|x| x == a).unwrap();
        assert!(pos("glue_table.tb") < pos("glue_database.db"));
        assert!(pos("glue_table.tb") < pos("bucket.lake"));
    }

    #[test]
    fn cycles_are_found_and_spelled_out() {
        let mut g = graph(SPEC);
        assert!(g.find_cycle().is_none());
        let s = Address::parse("stream.s").unwrap();
        g.nodes.get_mut(&s).unwrap().deps.insert(Address::parse("firehose.f").unwrap());
        let cycle: Vec<String> = g.find_cycle().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(cycle.first(), cycle.last());
        assert!(cycle.contains(&"stream.s".to_string()) && cycle.contains(&"firehose.f".to_string()));
    }

    #[test]
    fn functions_naming_each_other_wait_on_nothing_their_triggers_wait() {
        let spec = r#"
pipeline: t
streams: { s: {} }
functions:
  a:
    runtime: python3.12
    code: ../templates/lambda/decode_and_log.py
    handler: decode_and_log.handler
    environment: { OTHER: "${functions.b.name}" }
    trigger: { stream: s }
  b:
    runtime: python3.12
    code: ../templates/lambda/decode_and_log.py
    handler: decode_and_log.handler
    environment: { OTHER: "${functions.a.arn}" }
"#;
        let g = load_str(spec, "t.yaml", Path::new("pipelines"), &Options::default()).unwrap().graph;
        assert!(g.find_cycle().is_none());
        let deps = |a: &str| g.nodes[&Address::parse(a).unwrap()].deps.clone();
        assert!(!deps("function.a").contains(&Address::parse("function.b").unwrap()));
        assert!(deps("trigger.a").contains(&Address::parse("function.b").unwrap()));
    }

    #[test]
    fn env_names_every_default_name_and_record() {
        let opts = Options { env: Some("pr-7".into()), region: Some("eu-west-1".into()), ..Options::default() };
        let loaded = load_str(SPEC, "t.yaml", Path::new("."), &opts).unwrap();
        let names: Vec<&str> = loaded.graph.nodes.values().map(|n| n.name.as_str()).collect();
        assert!(names.contains(&"t-s-pr-7"));
        assert!(names.contains(&"t_db_pr_7"));
        assert!(names.contains(&"/pipectl/t/pr-7"));
        assert!(names.contains(&"t-f-pr-7-firehose-eu-west-1"), "IAM names carry the region: {names:?}");
    }
}
