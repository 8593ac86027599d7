//! The resource contract and the registry of kinds.
//!
//! One file per kind. Each implements [`Resource`]: read the live state
//! (absent = `None`), the desired attributes, create (including the wait
//! until usable), update the changed attributes in place, and delete
//! (already gone = success). What every kind shares is written once here:
//! the [`Base`] (address, name, tags, timeout), tag reconciliation
//! ([`update`] calls [`Resource::add_tags`] and [`Resource::remove_tags`]
//! with the difference), and
//! what "not found" / "already exists" mean ([`crate::aws::Outcome`]). The
//! diff between desired and observed attributes is generic (`plan::diff`);
//! each kind only says which attributes force a replacement.
//!
//! Adding a kind: a file here, its variant in [`Kind`], one line in
//! [`from_record`], and its input built in `resolve`.

pub mod agent;
pub mod bucket;
pub mod cfn;
pub mod cloudwatch;
pub mod ec2;
pub mod firehose;
pub mod function;
pub mod glue;
pub mod host_check;
pub mod instance_profile;
pub mod locate;
pub mod log_group;
pub mod metric_filter;
pub mod network;
mod prefetch;
mod progress;
pub mod record;
pub mod role;
pub mod security_group;
pub mod stream;
pub mod trigger;
pub mod usual;

use crate::aws::{Aws, AwsError};
use crate::names::Scope;
use crate::plan::{Address, Kind};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::plan::state::{to_attrs, Attrs, Observed, Owner, Tags, TAG_ENV, TAG_PIPELINE, TAG_REGION};
pub use locate::locate;
pub use prefetch::{prefetch, settled_for};
pub use progress::Progress;

/// The deployment a resource belongs to, and the run's settings every kind
/// shares.
#[derive(Debug, Clone)]
pub struct Meta {
    pub pipeline: String,
    pub env: String,
    pub region: String,
    pub spec_tags: Tags,
    /// `--delete-data`: empty and delete buckets even with `on_destroy: retain`.
    pub delete_data: bool,
    /// The spec's `timeouts:`, seconds by kind name.
    pub timeouts: BTreeMap<String, u32>,
    /// When the deployment record was last written, if there is one
    /// (seconds since the epoch): something made after it, named in it and
    /// without tags, was made by pipectl (see [`untagged_claim`]).
    pub record_written: Option<f64>,
    /// The operator's permissions boundary for every role pipectl creates.
    pub permissions_boundary: Option<String>,
}

impl Meta {
    /// The deployment of a loaded spec in `region`, before its record is read.
    pub fn of(spec: &crate::spec::Spec, region: &str) -> Meta {
        Meta {
            pipeline: spec.pipeline.clone(),
            env: spec.env.clone(),
            region: region.to_string(),
            spec_tags: spec.tags.clone(),
            delete_data: false,
            timeouts: spec.timeouts.clone(),
            record_written: None,
            permissions_boundary: None,
        }
    }

    pub fn owner(&self) -> Owner {
        Owner { pipeline: self.pipeline.clone(), env: self.env.clone(), region: self.region.clone() }
    }

    /// Every tag pipectl puts on a resource it creates.
    pub fn tags(&self) -> Tags {
        let mut t = self.spec_tags.clone();
        t.extend(self.owner().tags());
        t
    }

    /// How long a resource of `kind` may wait on AWS: the spec's
    /// `timeouts:` entry, else the kind's default.
    pub fn timeout(&self, kind: Kind, default: Duration) -> Duration {
        self.timeouts.get(kind.as_str()).map_or(default, |s| Duration::from_secs(u64::from(*s)))
    }
}

/// What every resource has.
#[derive(Debug, Clone)]
pub struct Base {
    pub address: Address,
    /// The physical name in AWS.
    pub name: String,
    /// The tags it should carry.
    pub tags: Tags,
    /// How long create/update/delete may wait for AWS.
    pub timeout: Duration,
    pub meta: Meta,
}

impl Base {
    /// A resource of `address`'s kind: the deployment's tags (and, for EC2
    /// kinds, a `Name` tag, which EC2 shows as the name), the spec's
    /// timeout for the kind or the kind's own.
    pub fn new(address: Address, name: impl Into<String>, meta: &Meta) -> Base {
        let (name, kind) = (name.into(), address.kind);
        let timeout = meta.timeout(kind, Duration::from_secs(default_timeout(kind)));
        let mut tags = meta.tags();
        if matches!(kind, Kind::Agent | Kind::Network | Kind::SecurityGroup) {
            tags.insert("Name".into(), name.clone());
        }
        Base { address, name, tags, timeout, meta: meta.clone() }
    }
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Gone,
    /// Kept on purpose (a bucket holding data under `on_destroy: retain`).
    Retained(String),
    /// AWS accepted the delete and is finishing it on its own (a stream or
    /// Firehose DELETING); its state, e.g. `DELETING`. Only where the
    /// change's [`Progress::may_leave_to_aws`].
    Finishing(String),
}

/// A delete call's result: "not found" means it is already gone.
pub fn gone_if_absent<T>(result: Result<T, AwsError>) -> Result<Deleted, AwsError> {
    crate::aws::Outcome::gone(result).map(|()| Deleted::Gone)
}

/// A read's describe call and its tag call side by side: one round trip,
/// not two. The tags come from the plan's listing when it has `arn` (and
/// no call is made); a tag call that finds nothing (the resource is
/// missing) gives no tags, and the describe decides whether it exists.
pub async fn with_tags<T>(
    aws: &Aws,
    arn: &str,
    describe: impl std::future::Future<Output = Result<Option<T>, AwsError>>,
    tags: impl std::future::Future<Output = Result<Tags, AwsError>>,
) -> Result<Option<(T, Tags)>, AwsError> {
    let tags = listed_tags(aws, arn, async { crate::aws::Outcome::found(tags.await).map(Option::unwrap_or_default) });
    let (found, tags) = tokio::try_join!(describe, tags)?;
    Ok(found.map(|f| (f, tags)))
}

/// The tags of the resource with `arn` from the plan's tag listing, once
/// it has settled, when it lists the resource; else what `own` (the
/// kind's own tag call) answers.
pub async fn listed_tags(
    aws: &Aws,
    arn: &str,
    own: impl std::future::Future<Output = Result<Tags, AwsError>>,
) -> Result<Tags, AwsError> {
    aws.known.tags.settled().await;
    match aws.known.tags(arn) {
        Some(t) => Ok(t),
        None => own.await,
    }
}

/// Access to what every resource has.
pub trait HasBase {
    fn base(&self) -> &Base;
}

/// Implements [`HasBase`] for kinds whose struct keeps its [`Base`] in `base`.
macro_rules! has_base {
    ($($kind:ty),+) => {
        $(impl $crate::resources::HasBase for $kind {
            fn base(&self) -> &$crate::resources::Base {
                &self.base
            }
        })+
    };
}
has_base!(
    agent::Agent,
    bucket::Bucket,
    cloudwatch::Dashboard,
    cloudwatch::Alarm,
    firehose::Firehose,
    function::Function,
    glue::Database,
    glue::Table,
    instance_profile::InstanceProfile,
    log_group::LogGroup,
    metric_filter::MetricFilter,
    network::Network,
    record::Record,
    role::Role,
    security_group::SecurityGroup,
    stream::Stream,
    trigger::Trigger
);

#[async_trait]
pub trait Resource: HasBase + Send + Sync {
    fn address(&self) -> &Address {
        &self.base().address
    }
    /// The physical name in AWS, as people read it.
    fn name(&self) -> &str {
        &self.base().name
    }
    /// How the deployment record spells the name (a composite identity
    /// such as a table's database and name).
    fn record_name(&self) -> String {
        self.name().to_string()
    }
    /// How long create/update/delete may wait for AWS.
    fn timeout(&self) -> Duration {
        self.base().timeout
    }
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
    /// Whether what depends on it lives inside it (a network's hosts and
    /// groups): it cannot be replaced while they exist.
    fn container(&self) -> bool {
        false
    }
    /// Whether deleting it deletes data it holds (records, objects, a
    /// table's schema and partitions): the plan marks such deletes.
    fn deletes_data(&self) -> bool {
        false
    }
    /// Whether the spec says its data goes with it on destroy (a bucket's
    /// `on_destroy: delete`): the record keeps it, so a destroy from the
    /// record, with no spec, does the same.
    fn empties_on_destroy(&self) -> bool {
        false
    }
    /// Whether the spec protects it (`protect:`): a plan that would delete
    /// its data is refused without `--allow-data-loss`.
    fn protected(&self) -> bool {
        false
    }
    /// Attributes whose values are never shown (a function's environment):
    /// the plan says only that they change.
    fn sensitive(&self) -> &'static [&'static str] {
        &[]
    }
    /// What it uses that AWS bills, for the plan's cost estimate
    /// (`crate::cost`); nothing for what is free while it exists.
    fn usage(&self) -> Vec<crate::cost::Usage> {
        Vec::new()
    }
    /// Its share of a CloudFormation template (`pipectl export
    /// cloudformation`), see [`cfn`]; or why it cannot be exported.
    fn cloudformation(&self, cx: &cfn::Context) -> Result<Vec<cfn::Part>, String>;
    /// Reads from AWS what `desired` needs beyond the spec (the values of
    /// secret references), before a plan that may create or update.
    async fn prepare(&self, _aws: &Aws) -> Result<(), AwsError> {
        Ok(())
    }
    /// The tags to compare and reconcile, for kinds AWS can tag.
    fn desired_tags(&self) -> Tags {
        self.base().tags.clone()
    }
    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError>;
    /// Whether it exists and whose it is, with what its delete acts on: what
    /// a destroy and `outputs` need. By default the whole [`Resource::read`];
    /// a kind whose read spends calls on attributes only a diff needs
    /// leaves them out.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        self.read(aws).await
    }
    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError>;
    /// Updates the changed attributes other than `tags`.
    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], p: &Progress) -> Result<(), AwsError>;
    /// Reconciles tags, for kinds whose attributes include `tags`: by
    /// default [`Resource::add_tags`] and [`Resource::remove_tags`], each
    /// only when it has something to do.
    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        if !set.is_empty() {
            self.add_tags(aws, set).await?;
        }
        if !remove.is_empty() {
            self.remove_tags(aws, remove).await?;
        }
        Ok(())
    }
    /// Sets tags on the live resource (a non-empty set).
    async fn add_tags(&self, _aws: &Aws, _set: &Tags) -> Result<(), AwsError> {
        Ok(())
    }
    /// Removes tag keys from the live resource: called with some keys.
    async fn remove_tags(&self, _aws: &Aws, _keys: &[String]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError>;
    /// Makes a live resource that nobody owns this deployment's (`pipectl
    /// import`): its ownership tags, or pipectl's marker where AWS cannot
    /// tag it. Whatever else differs from the spec is the next apply's.
    async fn adopt(&self, aws: &Aws) -> Result<(), AwsError> {
        self.write_tags(aws, &self.base().meta.owner().tags(), &[]).await
    }
    /// What `pipectl outputs` shows beyond name, ARN and console link, for
    /// a deployed resource: how to reach it or query it (label, text).
    async fn outputs(&self, _aws: &Aws) -> Result<Vec<(&'static str, String)>, AwsError> {
        Ok(Vec::new())
    }
}

pub type Res = Arc<dyn Resource>;

/// An update of any kind: the tags reconciled here, once for all kinds,
/// then the kind's own fields.
pub async fn update(
    r: &dyn Resource,
    aws: &Aws,
    before: &Observed,
    changed: &[String],
    p: &Progress,
) -> Result<(), AwsError> {
    let (tags, fields): (Vec<String>, Vec<String>) = changed.iter().cloned().partition(|c| c == "tags");
    if !fields.is_empty() {
        r.update(aws, before, &fields, p).await?;
    }
    if !tags.is_empty() {
        let (set, remove) = tag_delta(before.tags.as_ref().unwrap_or(&Tags::new()), &r.desired_tags());
        r.write_tags(aws, &set, &remove).await?;
    }
    Ok(())
}

/// Brings a resource that exists to its desired attributes: reads it,
/// diffs, and updates what differs (tags included). Every create ends here,
/// so a create run again after a lost answer continues from whatever the
/// earlier attempt left, and the executor resumes an interrupted update
/// the same way.
pub async fn converge(r: &dyn Resource, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
    let Some(desired) = r.desired() else { return Ok(()) };
    let Some(observed) = r.read(aws).await? else {
        return Err(AwsError::fatal("read", format!("`{}` disappeared while being changed", r.name())).mark_transient());
    };
    let changed: Vec<String> =
        crate::plan::diff::diff(&desired, &observed.attrs).into_iter().map(|c| c.field).collect();
    if changed.is_empty() {
        return Ok(());
    }
    update(r, aws, &observed, &changed, p).await
}

/// After a create answered "already exists" (or its like): checks that what
/// exists is this deployment's own, made by an earlier attempt whose answer
/// was lost, so the create can carry on with it. It is when it carries this deployment's ownership tags, or no
/// owner at all (the plan, moments ago, found nothing there; an API that
/// takes tags at creation sets them atomically, an emulator may drop them).
/// Anything owned by someone else is an error, and is never touched.
pub async fn adopt_earlier_attempt(r: &dyn Resource, aws: &Aws) -> Result<(), AwsError> {
    let Some(observed) = r.read(aws).await? else {
        // AWS says it exists but does not show it yet: look again later.
        let e = AwsError::fatal("create", format!("`{}` exists but is not visible yet", r.name()));
        return Err(e.mark_transient());
    };
    let owner = r.base().meta.owner();
    match &observed.tags {
        Some(t) if t.contains_key(TAG_PIPELINE) && !owner.owns_tags(t) => {
            Err(AwsError::fatal("create", format!("`{}`: {}", r.name(), owner.conflict_reason(&observed))))
        }
        _ => Ok(()),
    }
}

/// What a read reports for a resource without pipectl's tags: adoptable
/// (`tags: None` with this deployment's claim as the marker, so the record
/// decides) when it was made after the deployment record was last written
/// (the crash of a run between a create and its tagging, on an endpoint
/// that dropped the tags of the create call), else its tags as they are
/// (someone else's: a conflict).
pub fn untagged_claim(meta: &Meta, created: Option<f64>, tags: &Tags) -> Option<Tags> {
    if tags.contains_key(TAG_PIPELINE) {
        return None;
    }
    let (Some(created), Some(written)) = (created, meta.record_written) else { return None };
    // The create was sent only once the record write had returned: it is
    // later on AWS's clocks. A time given in whole seconds (S3's creation
    // date may be) counts for its whole second.
    let whole = created.fract() == 0.0;
    let after = created >= written || (whole && created + 1.0 > written);
    after.then(|| meta.owner().tags_without_region())
}

/// The AWS service that holds each kind (how hard it may be read at once).
pub fn service(kind: Kind) -> crate::aws::Service {
    use crate::aws::Service;
    match kind {
        Kind::Record => Service::Ssm,
        Kind::Bucket => Service::S3,
        Kind::Stream => Service::Kinesis,
        Kind::GlueDatabase | Kind::GlueTable => Service::Glue,
        Kind::Role | Kind::InstanceProfile => Service::Iam,
        Kind::LogGroup | Kind::MetricFilter => Service::Logs,
        Kind::Firehose => Service::Firehose,
        Kind::Function | Kind::Trigger => Service::Lambda,
        Kind::Network | Kind::SecurityGroup | Kind::Agent => Service::Ec2,
        Kind::Dashboard | Kind::Alarm => Service::CloudWatch,
    }
}

/// How long a kind may wait for AWS unless the spec says otherwise, in seconds.
fn default_timeout(kind: Kind) -> u64 {
    match kind {
        Kind::Record => 60,
        Kind::Agent | Kind::Network | Kind::Firehose | Kind::Function | Kind::Trigger => 600,
        _ => 300,
    }
}

/// The registry of kinds: a resource known only by address and name (from
/// the deployment record), enough to read, check ownership and delete it.
pub fn from_record(address: &Address, name: &str, scope: &Scope, meta: &Meta) -> Res {
    let (a, n) = (address.clone(), name.to_string());
    let base = || Base::new(a.clone(), n.clone(), meta);
    match a.kind {
        Kind::Record => Arc::new(record::Record::new(a, n, None, meta)),
        Kind::Bucket => Arc::new(bucket::Bucket { base: base(), spec: None }),
        Kind::Stream => Arc::new(stream::Stream { base: base(), spec: None, consumers: Vec::new() }),
        Kind::GlueDatabase => Arc::new(glue::Database::new(a, n, None, scope, meta)),
        Kind::GlueTable => Arc::new(glue::Table::new(a, crate::names::TableId::from_record(&n), None, meta)),
        Kind::Role => Arc::new(role::Role { base: base(), spec: None }),
        Kind::LogGroup => Arc::new(log_group::LogGroup { base: base(), spec: None }),
        Kind::Firehose => Arc::new(firehose::Firehose { base: base(), config: None }),
        Kind::Function => Arc::new(function::Function::new(a, n, None, meta)),
        Kind::Network => Arc::new(network::Network { base: base(), spec: None }),
        Kind::InstanceProfile => Arc::new(instance_profile::InstanceProfile::new(base(), None)),
        Kind::SecurityGroup => Arc::new(security_group::SecurityGroup::new(a, n, None, meta)),
        Kind::Agent => Arc::new(agent::Agent { base: base(), spec: None }),
        Kind::Dashboard => Arc::new(cloudwatch::Dashboard { base: base(), body: None, agents: Vec::new() }),
        Kind::Alarm => Arc::new(cloudwatch::Alarm { base: base(), spec: None }),
        Kind::Trigger => {
            Arc::new(trigger::Trigger::new(a, crate::names::TriggerId::from_record(&n), None, scope, meta))
        }
        Kind::MetricFilter => {
            Arc::new(metric_filter::MetricFilter::new(a, crate::names::MetricFilterId::from_record(&n), None, meta))
        }
    }
}

/// Tag changes between two tag sets: (to set, to remove).
pub fn tag_delta(before: &Tags, after: &Tags) -> (Tags, Vec<String>) {
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    // AWS's own tags and pipectl's bookkeeping (other than ownership) are
    // never removed.
    let kept = |k: &str| k.starts_with("aws:") || (k.starts_with("pipectl:") && !Owner::TAGS.contains(&k));
    let remove = before.keys().filter(|k| !after.contains_key(*k) && !kept(k)).cloned().collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            pipeline: "p".into(),
            env: "e".into(),
            region: "eu-west-1".into(),
            spec_tags: Tags::new(),
            delete_data: false,
            timeouts: BTreeMap::new(),
            record_written: None,
            permissions_boundary: None,
        }
    }

    #[test]
    fn timeouts_come_from_the_spec_else_the_kind() {
        let meta = Meta { timeouts: [("firehose".to_string(), 1200)].into(), ..meta() };
        assert_eq!(meta.timeout(Kind::Firehose, Duration::from_secs(600)), Duration::from_secs(1200));
        assert_eq!(meta.timeout(Kind::Stream, Duration::from_secs(300)), Duration::from_secs(300));
        assert!(meta.owner().owns_tags(&meta.tags()));
    }

    #[test]
    fn an_untagged_resource_is_claimed_only_when_made_after_the_record() {
        let meta = Meta { record_written: Some(1000.25), ..meta() };
        let none = Tags::new();
        assert!(untagged_claim(&meta, Some(1000.5), &none).is_some(), "made after the record was written");
        assert!(untagged_claim(&meta, Some(1000.1), &none).is_none(), "made before: someone else's");
        assert!(untagged_claim(&meta, Some(1000.0), &none).is_some(), "a whole-second time counts for its second");
        assert!(untagged_claim(&meta, Some(999.0), &none).is_none());
        let theirs: Tags = [(TAG_PIPELINE.to_string(), "q".to_string())].into();
        assert!(untagged_claim(&meta, Some(2000.0), &theirs).is_none(), "tagged for another deployment");
        assert!(untagged_claim(&Meta { record_written: None, ..meta.clone() }, Some(2000.0), &none).is_none());
    }

    #[test]
    fn tag_delta_sets_and_removes_but_keeps_bookkeeping() {
        let before: Tags = [
            ("a".into(), "1".into()),
            ("b".into(), "2".into()),
            ("aws:x".into(), "y".into()),
            ("pipectl:address".into(), "agent.h".into()),
        ]
        .into();
        let after: Tags = [("a".into(), "1".into()), ("b".into(), "3".into()), ("c".into(), "4".into())].into();
        let (set, remove) = tag_delta(&before, &after);
        assert_eq!(set, [("b".into(), "3".into()), ("c".into(), "4".into())].into());
        assert_eq!(remove, Vec::<String>::new());
        let (_, remove) = tag_delta(&after, &before);
        assert_eq!(remove, vec!["c".to_string()]);
    }
}
