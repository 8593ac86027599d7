//! `pipectl deployer-policy`: the IAM policy the role running pipectl
//! (a CI job's) needs for one spec: every action `plan`, `apply`,
//! `destroy` and `gc` send ([`calls::CALLS`], checked against the sources),
//! on this deployment's ARNs where AWS scopes the action to resources, with
//! the ownership tags as conditions where AWS scopes it by tags (EC2), and
//! `Resource: "*"` only where AWS has no resource-level permission, each
//! such statement's Sid saying so. Pure: no AWS call.

pub mod calls;
mod split;

pub use split::{split, Sizing, MANAGED_POLICIES_PER_ROLE, MANAGED_POLICY_LIMIT};

use crate::load::Loaded;
use crate::names::{Scope, TableId};
use crate::plan::state::{TAG_ENV, TAG_PIPELINE};
use crate::plan::Kind;
use crate::spec::{Ami, SubnetChoice, Wants};
use calls::{On, When, CALLS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What to write the policy for.
pub struct Request<'a> {
    pub loaded: &'a Loaded,
    /// The region and account of the ARNs (the account may be a
    /// placeholder).
    pub scope: Scope,
    /// `--include import`.
    pub import: bool,
    /// `--include verify`.
    pub verify: bool,
    /// `--include status`.
    pub status: bool,
    /// The permissions boundary of the operator's policy (`--policy`):
    /// every role pipectl creates carries it, and the role-changing
    /// actions are granted only on roles carrying it.
    pub boundary: Option<String>,
}

/// The role actions AWS lets a policy condition on `iam:PermissionsBoundary`:
/// with a boundary, granted only where the role carries (or is created
/// with, or is given) that boundary.
const BOUNDED_ROLE_ACTIONS: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
];

/// Never granted under a boundary: it would let the role lift the
/// boundary off a role it made, and pipectl only sends it when no boundary
/// is set.
const UNBOUNDING: &str = "iam:DeleteRolePermissionsBoundary";

/// A statement being gathered: its actions, resources and condition.
struct Gathered {
    actions: BTreeSet<&'static str>,
    resources: Vec<String>,
    condition: Option<Value>,
}

/// The policy document (`Version`, `Statement`), statements in a stable
/// order; an error naming the first spec name that would put a wildcard
/// (`*`, `?`) into an ARN, where only the deployer's own may be.
pub fn document(r: &Request) -> Result<Value, String> {
    no_wildcard_in_names(r)?;
    let ctx = Ctx::new(r);
    let mut statements: BTreeMap<String, Gathered> = BTreeMap::new();
    // The creates whose tags EC2 lets go on with them.
    let tag_on_create: BTreeSet<&str> = CALLS
        .iter()
        .filter(|c| c.on == On::Ec2TagOnCreate && ctx.in_scope(c.file))
        .filter(|c| ctx.target(On::Ec2New(ec2_created(c.op))).is_some())
        .map(|c| c.op)
        .collect();
    for call in CALLS.iter().filter(|c| ctx.in_scope(c.file)) {
        let Some(target) = ctx.target(call.on) else { continue };
        let target = match call.on {
            On::Ec2TagOnCreate if !tag_on_create.contains(call.op) => continue,
            On::Ec2TagOnCreate => Target {
                condition: Some(
                    json!({ "StringEquals": { "ec2:CreateAction": tag_on_create.iter().collect::<Vec<_>>() } }),
                ),
                ..target
            },
            _ => target,
        };
        let entry = statements.entry(target.sid.clone()).or_insert_with(|| Gathered {
            actions: BTreeSet::new(),
            resources: target.resources.clone(),
            condition: target.condition.clone(),
        });
        entry.actions.extend(call.actions.iter().copied());
    }
    if let Some(boundary) = &r.boundary {
        bound_the_roles(&mut statements, boundary);
    }
    let statements: Vec<Value> = statements
        .into_iter()
        .map(|(sid, g)| {
            let mut s = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": g.actions.into_iter().collect::<Vec<_>>(),
                "Resource": if g.resources == ["*"] { json!("*") } else { json!(g.resources) },
            });
            if let Some(c) = g.condition {
                s["Condition"] = c;
            }
            s
        })
        .collect();
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// Under a boundary: the role changes AWS can condition on it move to a
/// statement of their own requiring it, and removing a boundary goes.
fn bound_the_roles(statements: &mut BTreeMap<String, Gathered>, boundary: &str) {
    let Some(roles) = statements.get_mut("Roles") else { return };
    roles.actions.remove(UNBOUNDING);
    let bounded: BTreeSet<&'static str> =
        roles.actions.iter().copied().filter(|a| BOUNDED_ROLE_ACTIONS.contains(a)).collect();
    roles.actions.retain(|a| !bounded.contains(a));
    let resources = roles.resources.clone();
    if roles.actions.is_empty() {
        statements.remove("Roles");
    }
    if !bounded.is_empty() {
        statements.insert(
            "RolesOnlyWithTheBoundary".into(),
            Gathered {
                actions: bounded,
                resources,
                condition: Some(json!({ "StringEquals": { "iam:PermissionsBoundary": boundary } })),
            },
        );
    }
}

/// Refuses a name of the spec that would put `*` or `?` into an ARN: the
/// spec's rules refuse them already; this keeps the policy's own
/// wildcards (`/*` objects, `:*` log streams, `-??????` secrets, the env
/// pattern) the only ones, whatever a future rule lets through.
fn no_wildcard_in_names(r: &Request) -> Result<(), String> {
    let wild = |s: &str| s.contains(['*', '?']);
    let spec = &r.loaded.spec;
    let mut named: Vec<(String, &str)> = vec![("pipeline".into(), &spec.pipeline), ("env".into(), &spec.env)];
    named.extend(r.loaded.graph.nodes.values().map(|n| (n.address.to_string(), n.name.as_str())));
    named.extend(spec.databases.iter().map(|(k, d)| (format!("databases.{k}"), d.name.as_str())));
    named.extend(spec.tables.iter().map(|(k, t)| (format!("tables.{k}"), t.name.as_str())));
    for reach in &r.loaded.reach {
        let name = match &reach.wants {
            Wants::Parameter { name } => name.as_str(),
            Wants::Secret { id } => id.as_str(),
            Wants::Role { role } => role.as_str(),
            _ => continue,
        };
        let at = format!("{}:{}:{}: {}", r.loaded.file, reach.mark.line, reach.mark.col, reach.subject);
        named.push((at, name));
    }
    if let Some(b) = &r.boundary {
        named.push(("permissions_boundary".into(), b));
    }
    match named.into_iter().find(|(_, n)| wild(n)) {
        Some((what, name)) => Err(format!(
            "{what}: `{name}` holds `*` or `?`, which in the policy's ARNs would match names that are not this deployment's"
        )),
        None => Ok(()),
    }
}

/// The resource type an EC2 create makes, by its operation.
fn ec2_created(op: &str) -> &'static str {
    match op {
        "RunInstances" => "instance",
        "CreateSecurityGroup" => "security-group",
        "CreateVpc" => "vpc",
        "CreateSubnet" => "subnet",
        "CreateInternetGateway" => "internet-gateway",
        "AllocateAddress" => "elastic-ip",
        "CreateNatGateway" => "natgateway",
        "CreateRouteTable" => "route-table",
        "CreateNetworkAcl" => "network-acl",
        _ => "",
    }
}

/// A statement's Sid, resources and condition.
struct Target {
    sid: String,
    resources: Vec<String>,
    condition: Option<Value>,
}

struct Ctx<'a> {
    r: &'a Request<'a>,
    names: BTreeMap<Kind, Vec<String>>,
}

impl<'a> Ctx<'a> {
    fn new(r: &'a Request<'a>) -> Ctx<'a> {
        let mut names: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for node in r.loaded.graph.nodes.values() {
            names.entry(node.address.kind).or_default().push(node.name.clone());
        }
        Ctx { r, names }
    }

    fn has(&self, kind: Kind) -> bool {
        self.names.get(&kind).is_some_and(|n| !n.is_empty())
    }

    fn arns(&self, kind: Kind, arn: impl Fn(&Scope, &str) -> String) -> Vec<String> {
        let names = self.names.get(&kind).map(Vec::as_slice).unwrap_or_default();
        names.iter().map(|n| arn(&self.r.scope, n)).collect()
    }

    fn in_scope(&self, file: &str) -> bool {
        (self.r.import || !file.starts_with("import/"))
            && (self.r.verify || !file.starts_with("verify/"))
            && (self.r.status || !file.starts_with("status/"))
    }

    /// The buckets whose objects `destroy` deletes (`on_destroy: delete`).
    fn deleted_buckets(&self) -> Vec<String> {
        let spec = &self.r.loaded.spec;
        let names: BTreeSet<&str> = spec
            .buckets
            .values()
            .filter(|b| b.on_destroy == crate::spec::model::OnDestroy::Delete)
            .map(|b| b.name.as_str())
            .collect();
        names.into_iter().map(|n| self.r.scope.bucket(n).with_suffix("/*").to_string()).collect()
    }

    /// The objects `verify --clean` may rewrite or delete: those under the
    /// static part of each Firehose's prefix in its bucket.
    fn hop_objects(&self) -> Vec<String> {
        let spec = &self.r.loaded.spec;
        let places: BTreeSet<(&str, &str)> = spec
            .firehoses
            .values()
            .filter_map(|f| {
                let bucket = spec.buckets.get(&f.destination.bucket)?;
                Some((bucket.name.as_str(), f.destination.prefix.as_deref().map_or("", crate::spec::static_prefix)))
            })
            .collect();
        places.into_iter().map(|(b, p)| self.r.scope.bucket(b).with_suffix(&format!("/{p}*")).to_string()).collect()
    }

    fn holds(&self, when: When) -> bool {
        let agents = || self.r.loaded.spec.agents.values();
        match when {
            When::Always => true,
            When::Kind(k) => self.has(k),
            When::HostCheck => agents().any(|a| a.wait_for_running),
            When::AmiAlias => agents().any(|a| matches!(a.ami, Ami::Al2023)),
            When::HostPlacement => {
                agents().any(|a| matches!(a.ami, Ami::Id(_)) || matches!(a.subnet, SubnetChoice::Id(_)))
            }
            When::Import => self.r.import,
        }
    }

    /// The ownership tags as a condition on `key_prefix` (`aws:RequestTag`,
    /// `aws:ResourceTag`, `ssm:resourceTag`).
    fn owned(&self, key_prefix: &str) -> Value {
        let spec = &self.r.loaded.spec;
        json!({
            "StringEquals": { format!("{key_prefix}/{TAG_PIPELINE}"): spec.pipeline },
            "StringLike": { format!("{key_prefix}/{TAG_ENV}"): spec.env },
        })
    }

    fn target(&self, on: On) -> Option<Target> {
        let s = &self.r.scope;
        let spec = &self.r.loaded.spec;
        let scoped = |sid: &str, resources: Vec<String>| {
            (!resources.is_empty()).then(|| Target { sid: sid.into(), resources, condition: None })
        };
        let ec2 = |types: &[&str]| types.iter().map(|t| s.arn("ec2", format!("{t}/*")).to_string()).collect();
        let hosts = self.has(Kind::Agent) || self.has(Kind::Network);
        match on {
            On::Streams => scoped("Streams", self.arns(Kind::Stream, |s, n| s.stream(n).to_string())),
            On::Firehoses => scoped("Firehoses", self.arns(Kind::Firehose, |s, n| s.firehose(n).to_string())),
            On::Functions => scoped("Functions", self.arns(Kind::Function, |s, n| s.function(n).to_string())),
            On::MappingsOfFunctions if self.has(Kind::Trigger) => Some(Target {
                sid: "LambdaMappingChangesTakeNoResourceScopedByFunction".into(),
                resources: vec!["*".into()],
                condition: Some(json!({ "ArnLike": {
                    "lambda:FunctionArn": self.arns(Kind::Function, |s, n| s.function(n).to_string()) } })),
            }),
            On::Mappings if self.has(Kind::Trigger) => {
                scoped("LambdaMappingReadsByUuid", vec![s.arn("lambda", "event-source-mapping:*").to_string()])
            }
            On::Roles => scoped("Roles", self.arns(Kind::Role, |s, n| s.role(n).to_string())),
            On::InstanceProfiles => {
                scoped("InstanceProfiles", self.arns(Kind::InstanceProfile, |s, n| s.instance_profile(n).to_string()))
            }
            On::PassRoles(kind) => self.pass_roles(kind),
            On::Buckets => scoped("Buckets", self.arns(Kind::Bucket, |s, n| s.bucket(n).to_string())),
            On::Objects => scoped("BucketObjectsDeletedWithTheirBucket", self.deleted_buckets()),
            On::ObjectReads => {
                scoped("BucketObjectReads", self.arns(Kind::Bucket, |s, n| s.bucket(n).with_suffix("/*").to_string()))
            }
            On::HopObjects => scoped("VerifyCleanObjectsUnderFirehosePrefixes", self.hop_objects()),
            On::LogGroups => {
                let arns = self.arns(Kind::LogGroup, |s, n| s.log_group(n).to_string());
                let streams = self.arns(Kind::LogGroup, |s, n| s.log_group(n).with_suffix(":*").to_string());
                scoped("LogGroups", arns.into_iter().chain(streams).collect())
            }
            On::LogGroupsInAccount if self.has(Kind::LogGroup) => {
                scoped("LogsDescribeLogGroupsListsTheAccount", vec![s.log_group("*").to_string()])
            }
            On::GlueDatabases | On::GlueTables => self.glue(on == On::GlueTables),
            On::Dashboards => scoped("Dashboards", self.arns(Kind::Dashboard, |s, n| s.dashboard(n).to_string())),
            On::Alarms => scoped("Alarms", self.arns(Kind::Alarm, |s, n| s.alarm(n).to_string())),
            On::AlarmsInAccount if self.has(Kind::Alarm) => {
                scoped("CloudWatchDescribeAlarmsListsTheAccount", vec![s.alarm("*").to_string()])
            }
            On::Record => {
                let record = spec.record_name();
                let parts = format!("{}/*", crate::names::record_parts_path(&record));
                let lock = crate::lock::parameter(&spec.pipeline, &spec.env);
                // Taking over a stale lock creates a marker below it (`lock::takeover`).
                let markers = format!("{lock}/takeover/*");
                let names = [record, parts, lock, markers];
                scoped("RecordAndLock", names.iter().map(|n| s.parameter(n).to_string()).collect())
            }
            On::RecordPath => scoped(
                "GcListsThePipelinesRecords",
                vec![s.parameter(&format!("/pipectl/{}", spec.pipeline)).to_string()],
            ),
            On::Ec2New(t) if hosts => Some(Target {
                sid: format!("Ec2Create{}", camel(t)),
                resources: ec2(&[t]),
                condition: Some(self.owned("aws:RequestTag")),
            }),
            On::Ec2Uses if hosts => {
                let mut arns: Vec<String> = ec2(&["subnet", "vpc", "network-interface", "volume", "key-pair"]);
                arns.push(s.public("ec2", "image/*").to_string());
                arns.push(s.arn("ec2", "image/*").to_string());
                scoped("Ec2CreatesUseWhatTheyDoNotOwn", arns)
            }
            On::Ec2Owned if hosts => Some(Target {
                sid: "Ec2OwnedByTheDeployment".into(),
                resources: ec2(&["*"]),
                condition: Some(self.owned("aws:ResourceTag")),
            }),
            On::Ec2TagOnCreate if hosts => {
                Some(Target { sid: "Ec2TagsOnlyWithTheirCreate".into(), resources: ec2(&["*"]), condition: None })
            }
            On::AmiParameters if self.holds(When::AmiAlias) => scoped(
                "AmazonLinuxAmiParameters",
                vec![s.public("ssm", "parameter/aws/service/ami-amazon-linux-latest/*").to_string()],
            ),
            On::HostDocument if self.holds(When::HostCheck) => {
                scoped("HostServiceCheckDocument", vec![s.public("ssm", "document/AWS-RunShellScript").to_string()])
            }
            On::HostInstances if self.holds(When::HostCheck) => Some(Target {
                sid: "HostServiceCheckOnOwnedHosts".into(),
                resources: vec![s.arn("ec2", "instance/*").to_string()],
                condition: Some(self.owned("ssm:resourceTag")),
            }),
            On::SpecParameters => {
                let names = self.wanted(|w| match w {
                    Wants::Parameter { name } if name.starts_with('/') => Some(s.parameter(name).to_string()),
                    Wants::Parameter { name } => Some(s.parameter(&format!("/{name}")).to_string()),
                    _ => None,
                });
                scoped("SpecParameters", names)
            }
            On::SpecSecrets => scoped(
                "SpecSecrets",
                self.wanted(|w| if let Wants::Secret { id } = w { Some(s.secret(id)) } else { None }),
            ),
            On::Any(sid, when) if self.holds(when) => {
                Some(Target { sid: sid.into(), resources: vec!["*".into()], condition: None })
            }
            _ => None,
        }
    }

    fn wanted(&self, f: impl Fn(&Wants) -> Option<String>) -> Vec<String> {
        let set: BTreeSet<String> = self.r.loaded.reach.iter().filter_map(|r| f(&r.wants)).collect();
        set.into_iter().collect()
    }

    /// `iam:PassRole` on the roles `kind` runs as: the ones this
    /// deployment makes, and the existing ones its spec names (`role:`),
    /// to `kind`'s service only.
    fn pass_roles(&self, kind: Kind) -> Option<Target> {
        let (service, section) = match kind {
            Kind::Firehose => ("firehose.amazonaws.com", "firehoses."),
            Kind::Function => ("lambda.amazonaws.com", "functions."),
            Kind::Agent => ("ec2.amazonaws.com", "agents."),
            _ => return None,
        };
        let s = &self.r.scope;
        let graph = &self.r.loaded.graph;
        let own = graph.nodes.values().filter(|n| n.address.kind == Kind::Role);
        let own = own.filter(|n| n.owner().is_some_and(|o| o.kind == kind)).map(|n| s.role(&n.name).to_string());
        let named =
            self.r.loaded.reach.iter().filter(|r| r.subject.starts_with(section)).filter_map(|r| match &r.wants {
                Wants::Role { role } => Some(crate::names::role_arn(s, Some(role), "")),
                _ => None,
            });
        let roles: BTreeSet<String> = own.chain(named).collect();
        (!roles.is_empty()).then(|| Target {
            sid: format!("PassRolesTo{}", camel(kind.as_str())),
            resources: roles.into_iter().collect(),
            condition: Some(json!({ "StringEquals": { "iam:PassedToService": service } })),
        })
    }

    /// Glue checks the catalog, the database and the table of a call.
    fn glue(&self, tables: bool) -> Option<Target> {
        let s = &self.r.scope;
        let spec = &self.r.loaded.spec;
        let mut arns = BTreeSet::new();
        if tables {
            for t in spec.tables.values() {
                let db = spec.databases.get(&t.database)?.name.clone();
                arns.insert(s.glue_database(&db).to_string());
                arns.insert(s.glue_table(&TableId { database: db, table: t.name.clone() }).to_string());
            }
        } else {
            for db in spec.databases.values() {
                arns.insert(s.glue_database(&db.name).to_string());
                let all = TableId { database: db.name.clone(), table: "*".into() };
                arns.insert(s.glue_table(&all).to_string());
            }
        }
        if arns.is_empty() {
            return None;
        }
        let mut resources = vec![s.glue_catalog().to_string()];
        resources.extend(arns);
        Some(Target { sid: if tables { "GlueTables" } else { "GlueDatabases" }.into(), resources, condition: None })
    }
}

/// `security-group` → `SecurityGroup`, `instance_profile` → `InstanceProfile`.
fn camel(s: &str) -> String {
    s.split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests;
