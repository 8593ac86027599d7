//! One file per resource kind. Each implements [`Resource`]: read the live
//! state (absent = `None`), the desired attributes from the spec, create
//! (including the wait until usable), update the changed attributes in
//! place, and delete (already gone = success). The diff between desired and
//! observed attributes is generic (`plan::diff`); each kind only says which
//! attributes force a replacement.

pub mod agent;
pub mod bucket;
pub mod cloudwatch;
pub mod firehose;
pub mod function;
pub mod glue;
pub mod log_group;
pub mod network;
pub mod package;
pub mod record;
pub mod role;
pub mod stream;
pub mod trigger;

use crate::aws::{Aws, AwsError};
use crate::plan::{Address, Kind};
use crate::spec::Spec;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Attributes compared by the diff, as JSON values.
pub type Attrs = BTreeMap<String, serde_json::Value>;
pub type Tags = BTreeMap<String, String>;

pub const TAG_PIPELINE: &str = "pipectl:pipeline";
pub const TAG_ENV: &str = "pipectl:env";

/// What was read from AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub attrs: Attrs,
    /// `None` for kinds AWS cannot tag (owned through the record instead).
    pub tags: Option<Tags>,
}

/// Who is deploying: the ownership tags and the spec's own tags.
#[derive(Debug, Clone)]
pub struct Meta {
    pub pipeline: String,
    pub env: String,
    pub spec_tags: Tags,
    /// `--delete-data`: empty and delete buckets even with `on_destroy: retain`.
    pub delete_data: bool,
    /// The spec's `timeouts:`, seconds by kind name.
    pub timeouts: BTreeMap<String, u32>,
}

impl Meta {
    /// Every tag pipectl puts on a resource it creates.
    pub fn tags(&self) -> Tags {
        let mut t = self.spec_tags.clone();
        t.insert(TAG_PIPELINE.into(), self.pipeline.clone());
        t.insert(TAG_ENV.into(), self.env.clone());
        t
    }

    /// How long a resource of `kind` may wait on AWS: the spec's
    /// `timeouts:` entry, else the kind's default.
    pub fn timeout(&self, kind: Kind, default: Duration) -> Duration {
        self.timeouts.get(kind.as_str()).map_or(default, |s| Duration::from_secs(u64::from(*s)))
    }

    pub fn owns(&self, tags: &Tags) -> bool {
        tags.get(TAG_PIPELINE) == Some(&self.pipeline) && tags.get(TAG_ENV) == Some(&self.env)
    }
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Gone,
    /// Kept on purpose (a bucket holding data under `on_destroy: retain`).
    Retained(String),
}

/// A delete call's result: "not found" means it is already gone.
pub fn gone_if_absent<T>(result: Result<T, AwsError>) -> Result<Deleted, AwsError> {
    match result {
        Ok(_) => Ok(Deleted::Gone),
        Err(e) if e.is_not_found() => Ok(Deleted::Gone),
        Err(e) => Err(e),
    }
}

/// Progress notes from inside a long operation ("waiting for ACTIVE").
#[derive(Clone)]
pub struct Progress {
    address: Address,
    tx: Option<UnboundedSender<(Address, String)>>,
}

impl Progress {
    pub fn new(address: Address, tx: Option<UnboundedSender<(Address, String)>>) -> Self {
        Progress { address, tx }
    }

    pub fn say(&self, note: impl Into<String>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((self.address.clone(), note.into()));
        }
    }
}

#[async_trait]
pub trait Resource: Send + Sync {
    fn address(&self) -> &Address;
    /// The physical name in AWS.
    fn name(&self) -> &str;
    /// The attributes the spec asks for; `None` for a resource known only
    /// from the deployment record (it can be read and deleted, not created).
    fn desired(&self) -> Option<Attrs>;
    /// Attributes whose change forces delete-then-create.
    fn replace_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether a change of `upstream` in the same apply must touch this
    /// resource even when its own attributes are unchanged (a Firehose
    /// re-reads its Glue schema only when updated).
    fn refresh_on_change_of(&self, _upstream: &Address) -> bool {
        false
    }
    /// How long create/update/delete may wait for AWS.
    fn timeout(&self) -> Duration {
        Duration::from_secs(300)
    }
    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError>;
    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError>;
    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], p: &Progress) -> Result<(), AwsError>;
    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError>;
}

pub type Res = Arc<dyn Resource>;

/// Builds every node of the graph from the spec.
pub fn from_spec(spec: &Spec, graph: &crate::plan::Graph, aws: &Aws, meta: &Meta) -> BTreeMap<Address, Res> {
    let mut out: BTreeMap<Address, Res> = BTreeMap::new();
    for node in graph.nodes.values() {
        let a = node.address.clone();
        let key = a.key.clone();
        let r: Option<Res> = match a.kind {
            Kind::Record => Some(Arc::new(record::Record::new(
                a.clone(),
                node.name.clone(),
                Some(record::Content::of(spec, graph)),
                meta,
            ))),
            Kind::Bucket => spec
                .buckets
                .get(&key)
                .map(|b| Arc::new(bucket::Bucket::new(a.clone(), b.name.clone(), Some(b.clone()), meta)) as Res),
            Kind::Stream => spec
                .streams
                .get(&key)
                .map(|s| Arc::new(stream::Stream::new(a.clone(), s.name.clone(), Some(s.clone()), meta)) as Res),
            Kind::GlueDatabase => spec
                .databases
                .get(&key)
                .map(|d| Arc::new(glue::Database::new(a.clone(), d.name.clone(), Some(d.clone()), aws, meta)) as Res),
            Kind::GlueTable => spec.tables.get(&key).map(|t| {
                let db = spec.databases.get(&t.database).map(|d| d.name.clone()).unwrap_or_default();
                let bucket = spec.buckets.get(&t.bucket).map(|b| b.name.clone()).unwrap_or_default();
                Arc::new(glue::Table::new(
                    a.clone(),
                    db,
                    t.name.clone(),
                    Some(glue::TableSpec { table: t.clone(), bucket }),
                )) as Res
            }),
            Kind::Role => {
                Some(Arc::new(role::Role::new(a.clone(), node.name.clone(), role::desired(&a, spec, aws), meta)) as Res)
            }
            Kind::LogGroup => Some(Arc::new(log_group::LogGroup::new(
                a.clone(),
                node.name.clone(),
                Some(log_group::desired(&a, spec)),
                meta,
            )) as Res),
            Kind::Network => spec
                .networks
                .get(&key)
                .map(|n| Arc::new(network::Network::new(a.clone(), n.name.clone(), Some(n.clone()), meta)) as Res),
            Kind::InstanceProfile => spec.agents.get(&key).map(|ag| {
                let role = format!("{}-agent", ag.name);
                Arc::new(agent::InstanceProfile::new(a.clone(), node.name.clone(), Some(role), meta)) as Res
            }),
            Kind::SecurityGroup => spec
                .agents
                .get(&key)
                .map(|ag| Arc::new(agent::SecurityGroup::new(a.clone(), node.name.clone(), Some(ag), meta)) as Res),
            Kind::Agent => spec.agents.get(&key).map(|ag| {
                let host = agent::HostSpec {
                    agent: ag.clone(),
                    user_data: agent::user_data(ag, spec, &aws.region),
                    profile: format!("{}-agent", ag.name),
                    security_group: format!("{}-agent", ag.name),
                };
                Arc::new(agent::Agent::new(a.clone(), ag.name.clone(), Some(host), meta)) as Res
            }),
            Kind::Dashboard => spec.dashboards.get(&key).map(|d| {
                let body = cloudwatch::body(spec, &aws.region);
                let agents = spec.agents.keys().cloned().collect();
                Arc::new(cloudwatch::Dashboard::new(a.clone(), d.name.clone(), Some(body), agents, meta)) as Res
            }),
            Kind::Alarm => spec.alarms.get(&key).map(|al| {
                Arc::new(cloudwatch::Alarm::new(a.clone(), al.name.clone(), cloudwatch::alarm_spec(&key, spec), meta))
                    as Res
            }),
            Kind::Function => spec.functions.get(&key).map(|f| {
                let role_arn = format!("arn:aws:iam::{}:role/{}-lambda", aws.account, f.name);
                let fs = function::FunctionSpec { function: f.clone(), role_arn };
                Arc::new(function::Function::new(a.clone(), f.name.clone(), Some(fs), meta)) as Res
            }),
            Kind::Trigger => spec.functions.get(&key).and_then(|f| f.trigger.clone()).map(|t| {
                let ts = trigger::TriggerSpec { trigger: t };
                Arc::new(trigger::Trigger::new(a.clone(), node.name.clone(), Some(ts), aws, meta)) as Res
            }),
            Kind::Firehose => spec.firehoses.get(&key).map(|f| {
                Arc::new(firehose::Firehose::new(a.clone(), f.name.clone(), firehose::config(&key, spec, aws), meta))
                    as Res
            }),
        };
        if let Some(r) = r {
            out.insert(a, r);
        }
    }
    out
}

/// A resource known only by address and name (from the deployment record):
/// enough to read, check ownership and delete it.
pub fn from_record(address: &Address, name: &str, aws: &Aws, meta: &Meta) -> Res {
    let a = address.clone();
    let n = name.to_string();
    match a.kind {
        Kind::Record => Arc::new(record::Record::new(a, n, None, meta)),
        Kind::Bucket => Arc::new(bucket::Bucket::new(a, n, None, meta)),
        Kind::Stream => Arc::new(stream::Stream::new(a, n, None, meta)),
        Kind::GlueDatabase => Arc::new(glue::Database::new(a, n, None, aws, meta)),
        Kind::GlueTable => {
            let (db, table) = n.split_once('/').unwrap_or(("", &n));
            Arc::new(glue::Table::new(a.clone(), db.to_string(), table.to_string(), None))
        }
        Kind::Role => Arc::new(role::Role::new(a, n, None, meta)),
        Kind::LogGroup => Arc::new(log_group::LogGroup::new(a, n, None, meta)),
        Kind::Firehose => Arc::new(firehose::Firehose::new(a, n, None, meta)),
        Kind::Function => Arc::new(function::Function::new(a, n, None, meta)),
        Kind::Network => Arc::new(network::Network::new(a, n, None, meta)),
        Kind::InstanceProfile => Arc::new(agent::InstanceProfile::new(a, n, None, meta)),
        Kind::SecurityGroup => Arc::new(agent::SecurityGroup::new(a, n, None, meta)),
        Kind::Agent => Arc::new(agent::Agent::new(a, n, None, meta)),
        Kind::Dashboard => Arc::new(cloudwatch::Dashboard::new(a, n, None, Vec::new(), meta)),
        Kind::Alarm => Arc::new(cloudwatch::Alarm::new(a, n, None, meta)),
        Kind::Trigger => Arc::new(trigger::Trigger::new(a, n, None, aws, meta)),
    }
}

/// The order in which kinds go when there is no graph to follow (orphans
/// and destroy from the record): producers first, data last.
pub fn destroy_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Agent => 0,
        Kind::Trigger => 1,
        Kind::Alarm | Kind::Dashboard => 2,
        Kind::Function | Kind::Firehose => 3,
        Kind::InstanceProfile | Kind::SecurityGroup => 4,
        Kind::Network => 5,
        Kind::Stream | Kind::GlueTable => 6,
        Kind::GlueDatabase | Kind::Role | Kind::LogGroup => 7,
        Kind::Bucket => 8,
        Kind::Record => 9,
    }
}

/// Tag changes between two tag sets: (to set, to remove).
pub fn tag_delta(before: &Tags, after: &Tags) -> (Tags, Vec<String>) {
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove = before.keys().filter(|k| !after.contains_key(*k) && !k.starts_with("aws:")).cloned().collect();
    (set, remove)
}

/// The tags of an observed resource as a JSON attribute.
pub fn tags_attr(tags: &Tags) -> serde_json::Value {
    serde_json::to_value(tags).expect("tags serialize")
}

/// Where a resource can be found: its ARN (when its name gives it) and its
/// page in the AWS console.
pub fn locate(kind: Kind, name: &str, region: &str, account: &str) -> (Option<String>, Option<String>) {
    let console = format!("https://{region}.console.aws.amazon.com");
    let arn = |service: &str, resource: String| Some(format!("arn:aws:{service}:{region}:{account}:{resource}"));
    match kind {
        Kind::Record => (
            arn("ssm", format!("parameter{name}")),
            Some(format!("{console}/systems-manager/parameters/{name}/description?region={region}")),
        ),
        Kind::Bucket => (
            Some(format!("arn:aws:s3:::{name}")),
            Some(format!("https://s3.console.aws.amazon.com/s3/buckets/{name}?region={region}")),
        ),
        Kind::Stream => (
            arn("kinesis", format!("stream/{name}")),
            Some(format!("{console}/kinesis/home?region={region}#/streams/details/{name}/monitoring")),
        ),
        Kind::GlueDatabase => (
            arn("glue", format!("database/{name}")),
            Some(format!("{console}/glue/home?region={region}#/v2/data-catalog/databases/view/{name}")),
        ),
        Kind::GlueTable => (arn("glue", format!("table/{name}")), None),
        Kind::Role => (
            Some(format!("arn:aws:iam::{account}:role/{name}")),
            Some(format!("https://console.aws.amazon.com/iam/home#/roles/details/{name}")),
        ),
        Kind::InstanceProfile => (Some(format!("arn:aws:iam::{account}:instance-profile/{name}")), None),
        Kind::LogGroup => (
            arn("logs", format!("log-group:{name}")),
            Some(format!(
                "{console}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}",
                name.replace('/', "$252F")
            )),
        ),
        Kind::Firehose => (
            arn("firehose", format!("deliverystream/{name}")),
            Some(format!("{console}/firehose/home?region={region}#/details/{name}/monitoring")),
        ),
        Kind::Function => (
            arn("lambda", format!("function:{name}")),
            Some(format!("{console}/lambda/home?region={region}#/functions/{name}")),
        ),
        Kind::Dashboard => (
            Some(format!("arn:aws:cloudwatch::{account}:dashboard/{name}")),
            Some(format!("{console}/cloudwatch/home?region={region}#dashboards/dashboard/{name}")),
        ),
        Kind::Alarm => (
            arn("cloudwatch", format!("alarm:{name}")),
            Some(format!("{console}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}")),
        ),
        Kind::Trigger | Kind::Network | Kind::SecurityGroup | Kind::Agent => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_both_tags() {
        let meta = Meta {
            pipeline: "p".into(),
            env: "e".into(),
            spec_tags: Tags::new(),
            delete_data: false,
            timeouts: [("firehose".to_string(), 1200)].into(),
        };
        assert_eq!(meta.timeout(Kind::Firehose, Duration::from_secs(600)), Duration::from_secs(1200));
        assert_eq!(meta.timeout(Kind::Stream, Duration::from_secs(300)), Duration::from_secs(300));
        assert!(meta.owns(&meta.tags()));
        let mut other = meta.tags();
        other.insert(TAG_ENV.into(), "prod".into());
        assert!(!meta.owns(&other));
        assert!(!meta.owns(&Tags::new()));
    }

    #[test]
    fn tag_delta_sets_and_removes() {
        let before: Tags = [("a".into(), "1".into()), ("b".into(), "2".into()), ("aws:x".into(), "y".into())].into();
        let after: Tags = [("a".into(), "1".into()), ("b".into(), "3".into()), ("c".into(), "4".into())].into();
        let (set, remove) = tag_delta(&before, &after);
        assert_eq!(set, [("b".into(), "3".into()), ("c".into(), "4".into())].into());
        assert_eq!(remove, Vec::<String>::new());
        let (_, remove) = tag_delta(&after, &before);
        assert_eq!(remove, vec!["c".to_string()]);
    }
}
