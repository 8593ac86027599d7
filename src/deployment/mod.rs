//! What a command works on: the validated spec (when there is one), the AWS
//! connection, the deployment record, and the resources built from them;
//! and the two plans made from those: apply and destroy.

use crate::aws::{Aws, Target};
use crate::cli::Global;
use crate::engine::{self, Work};
use crate::load::{self, Loaded};
use crate::lock::Lock;
use crate::plan::planner::{self, Previous, Subject};
use crate::plan::saved::Seen;
use crate::plan::{Address, Graph, Observed, Planned};
use crate::policy::{Decision, Operator};
use crate::resources::record::{Content, Record};
use crate::resources::{self, Meta, Res};
use crate::spec::{self, Options, SpecError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

mod kept;
mod police;
mod record;

/// Which way `--target` widens a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A target and what it depends on (plan, apply).
    Upstream,
    /// A target and what depends on it (destroy).
    Downstream,
}

/// Which read an observation answers: the spec's resource, the same address
/// under the name the record lists, or a resource only the record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Spec,
    Previous,
    Orphan,
}

/// A deployment: one pipeline and env in one account and region.
pub struct Deployment {
    pub aws: Aws,
    pub meta: Meta,
    /// The spec, when the command was given one.
    pub loaded: Option<Loaded>,
    /// The spec's graph, narrowed to `--target` (empty without a spec).
    pub graph: Graph,
    /// Whether `--target` narrowed the graph.
    pub targeted: bool,
    /// The SSM parameter of the deployment record.
    pub record_name: String,
    /// The record as it was read when the deployment was opened.
    pub record: Option<Content>,
    /// The run's lock, for the record's delete to take along.
    along: Option<crate::lock::Along>,
    /// What the operator says (`--policy`, `--allow-privilege-escalation`).
    pub operator: Operator,
    /// The operator's decisions on what the spec reaches for (offline ones;
    /// [`Deployment::police`] adds those that read AWS).
    pub decisions: Vec<Decision>,
}

/// The spec options from the global flags.
pub fn options(global: &Global) -> Options {
    Options {
        env: global.env.clone(),
        vars: global.vars.iter().cloned().collect(),
        region: global.region.clone(),
        account: None,
        code_root: global.code_root.clone(),
        var_files: global.var_files.clone(),
        removing: false,
        env_vars: crate::spec::vars::from_environment(std::env::vars_os()),
        recorded: BTreeMap::new(),
    }
}

/// The operator from the flags: the policy file (`--policy`,
/// `PIPECTL_POLICY`), read and checked, and `--allow-privilege-escalation`.
pub fn operator(global: &Global) -> Result<Operator, SpecError> {
    let policy = global.policy.as_deref().map(crate::policy::Policy::load).transpose()?;
    Ok(Operator { policy, honour_waivers: global.allow_privilege_escalation })
}

/// The spec loaded with the account, region and record: an earlier
/// default name stays only where its live resource is this deployment's
/// ([`kept::keep_only_owned`]); otherwise the spec is loaded again without
/// it, and the new default applies.
async fn reload_keeping_owned(path: &Path, opts: &mut Options, aws: &Aws) -> anyhow::Result<Result<Loaded, SpecError>> {
    let loaded = match load::load(path, opts) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    if !kept::keep_only_owned(aws, &loaded, &mut opts.recorded).await? {
        return Ok(Ok(loaded));
    }
    Ok(load::load(path, opts))
}

/// Where the flags (and the spec's region, if any) connect to.
fn target(global: &Global, spec_region: Option<String>) -> Target {
    Target {
        region: global.region.clone().or(spec_region),
        profile: global.profile.clone(),
        endpoint_url: global.endpoint_url.clone(),
        request_timeout: Some(std::time::Duration::from_secs(global.request_timeout)),
    }
}

/// Connects for the flags (and the spec's region, if any).
pub async fn connect(global: &Global, spec_region: Option<String>) -> anyhow::Result<Aws> {
    Aws::connect(&target(global, spec_region)).await
}

/// The deployment lock a command takes (see `crate::lock`).
#[derive(Debug, Clone, Copy)]
pub struct Locking<'a> {
    /// The command, shown to a run that waits for the lock.
    pub command: &'a str,
    /// How long to wait for another run's lock.
    pub wait: std::time::Duration,
}

/// What opening a deployment reads while STS answers which account this
/// is (none of it needs the account).
#[derive(Debug, Clone, Copy)]
enum Beside<'a> {
    /// Nothing: a command that uses only the spec's resources.
    Nothing,
    /// The deployment record.
    Record,
    /// The deployment's lock, then the record (a run that held the lock
    /// may have changed it).
    Locked(Locking<'a>),
}

/// What connecting finds: the connection, the record, and the lock when
/// one was asked for.
type Connected = (Aws, Option<Content>, Option<Lock>);

/// Connects, reading what `beside` asks for while STS answers.
async fn connect_for(
    target: &Target,
    pipeline: &str,
    env: &str,
    record_name: &str,
    beside: Beside<'_>,
    operator: &Operator,
) -> anyhow::Result<Connected> {
    let aws = Aws::configure(target).await?;
    // The region is known before any call: a policy refusing it stops here.
    police::region_first(operator, &aws.region)?;
    let record = async {
        let lock = match beside {
            Beside::Nothing => return Ok((None, None)),
            Beside::Record => None,
            Beside::Locked(l) => Some(Lock::acquire(&aws, pipeline, env, l.command, l.wait).await?),
        };
        match Record::fetch(&aws, record_name).await {
            Ok(r) => Ok((r, lock)),
            Err(e) => {
                let_go(lock).await;
                Err(anyhow::Error::new(e).context("reading the deployment record"))
            }
        }
    };
    match tokio::join!(aws.clone().identified(), record) {
        (Ok(aws), Ok((record, lock))) => Ok((aws, record, lock)),
        (Err(e), Ok((_, lock))) => {
            let_go(lock).await;
            Err(e)
        }
        // Credentials STS refuses explain a refused lock or read best.
        (Err(e), Err(_)) | (Ok(_), Err(e)) => Err(e),
    }
}

/// Releases a lock taken for a command that fails before it starts: the
/// command's error is what the user sees.
async fn let_go(lock: Option<Lock>) {
    if let Some(lock) = lock {
        let _ = lock.release().await;
    }
}

/// `--target` patterns that select nothing: a spec error, before AWS.
/// A deployment named on the command line (`--pipeline`, `--env`), before
/// any AWS call: both must be names a spec could give (`default` is the
/// deployment without an env), or they could reach other parameters.
pub fn check_pipeline(pipeline: &str, env: &str) -> anyhow::Result<()> {
    spec::rules::pipeline_name(pipeline)
        .map_err(|m| crate::BadInput::error(format!("--pipeline: {m}"), "for example `--pipeline taxi-lab`"))?;
    if env != "default" {
        spec::rules::env_name(env)
            .map_err(|m| crate::BadInput::error(format!("--env: {m}"), "for example `--env pr-42`"))?;
    }
    Ok(())
}

fn check_targets(loaded: &Loaded, targets: &[String]) -> Result<(), SpecError> {
    let unknown = loaded.graph.unknown_targets(targets);
    if unknown.is_empty() {
        return Ok(());
    }
    let diagnostics = unknown
        .iter()
        .map(|t| {
            crate::diag::Diagnostic::new(Default::default(), "target", format!("--target `{t}` selects no resource"))
                .hint("give an address like `stream.trips` or a kind like `stream` (see `pipectl graph`)")
        })
        .collect();
    Err(SpecError::Invalid { file: loaded.file.clone(), diagnostics })
}

impl Deployment {
    /// Validates the spec offline (bad input never reaches AWS), then
    /// connects, reads the record, and loads the spec again with the
    /// account and region known.
    pub async fn open(global: &Global, path: &Path, targets: &[String], reach: Reach) -> anyhow::Result<Deployment> {
        Ok(Deployment::open_with(global, path, targets, reach, |_| Ok(()), Beside::Record).await?.0)
    }

    /// A deployment for a command that uses only the spec's resources, with
    /// `check` run on the offline spec before AWS is reached: the command's
    /// own flags checked against the spec (bad input exits 2 with nothing
    /// sent). The record is read only with `names_from_record`, for a
    /// command that finds buckets or dashboards by name: an earlier
    /// pipectl's default name is kept there (`docs/names.md`).
    pub async fn open_checked(
        global: &Global,
        path: &Path,
        reach: Reach,
        names_from_record: bool,
        check: impl FnOnce(&Loaded) -> anyhow::Result<()>,
    ) -> anyhow::Result<Deployment> {
        let beside = if names_from_record { Beside::Record } else { Beside::Nothing };
        Ok(Deployment::open_with(global, path, &[], reach, check, beside).await?.0)
    }

    /// [`Deployment::open`] for a command that changes AWS: under the
    /// deployment's lock, the record read once it is held.
    pub async fn open_locked(
        global: &Global,
        path: &Path,
        targets: &[String],
        reach: Reach,
        locking: Locking<'_>,
    ) -> anyhow::Result<(Deployment, Lock)> {
        let (d, lock) =
            Deployment::open_with(global, path, targets, reach, |_| Ok(()), Beside::Locked(locking)).await?;
        Ok((d, lock.expect("a lock was asked for")))
    }

    async fn open_with(
        global: &Global,
        path: &Path,
        targets: &[String],
        reach: Reach,
        check: impl FnOnce(&Loaded) -> anyhow::Result<()>,
        beside: Beside<'_>,
    ) -> anyhow::Result<(Deployment, Option<Lock>)> {
        let mut opts = options(global);
        opts.removing = reach == Reach::Downstream;
        let operator = operator(global)?;
        let offline = load::load(path, &opts)?;
        load::warn(&offline);
        // Deleting what the deployment owns reaches nothing beyond it: a
        // destroy is never held back by a policy made stricter since.
        let policed = reach == Reach::Upstream;
        if policed {
            load::police(&offline, &operator, None, offline.spec.region.as_deref())?;
        }
        check_targets(&offline, targets)?;
        check(&offline)?;
        let (pipeline, env) = (&offline.spec.pipeline, &offline.spec.env);
        let record_name = offline.spec.record_name();
        let target = target(global, offline.spec.region.clone());
        let none = Operator::default();
        let op = if policed { &operator } else { &none };
        let (aws, record, lock) = connect_for(&target, pipeline, env, &record_name, beside, op).await?;
        opts.account = Some(aws.account.clone());
        opts.region = Some(aws.region.clone());
        opts.recorded = record.as_ref().map(|r| r.resources.clone()).unwrap_or_default();
        let loaded = match reload_keeping_owned(path, &mut opts, &aws).await {
            Ok(l) => l,
            Err(e) => {
                let_go(lock).await;
                return Err(e);
            }
        };
        let loaded = loaded.and_then(|l| match policed {
            true => load::police(&l, &operator, Some(&aws.account), Some(&aws.region)).map(|d| (l, d)),
            false => Ok((l, Vec::new())),
        });
        let (loaded, decisions) = match loaded {
            Ok(l) => l,
            Err(e) => {
                let_go(lock).await;
                return Err(e.into());
            }
        };
        for value in loaded.plain_environment(&[&aws.region, &aws.account]) {
            crate::scrub::plain(&value);
        }
        let graph = loaded.graph.restrict(targets, reach == Reach::Upstream);
        let mut meta = Meta::of(&loaded.spec, &aws.region);
        meta.permissions_boundary = operator.boundary(&police::vars(&loaded, &aws));
        debug_assert_eq!((&meta.pipeline, &meta.env), (pipeline, env), "the lock's deployment is the spec's");
        let targeted = !targets.is_empty();
        let along = lock.as_ref().map(Lock::along);
        let d = Deployment {
            aws,
            meta,
            loaded: Some(loaded),
            graph,
            targeted,
            record_name,
            record: None,
            along,
            operator,
            decisions,
        };
        Ok((d.with_record(record), lock))
    }

    /// A deployment known only from its record (destroy without a spec,
    /// gc), under its lock; the record is read once the lock is held.
    pub async fn from_record(
        global: &Global,
        pipeline: &str,
        env: &str,
        locking: Locking<'_>,
    ) -> anyhow::Result<(Deployment, Lock)> {
        check_pipeline(pipeline, env)?;
        let env = env.to_string();
        let record_name = crate::names::record_parameter(pipeline, &env);
        let (aws, record, lock) = connect_for(
            &target(global, None),
            pipeline,
            &env,
            &record_name,
            Beside::Locked(locking),
            &Operator::default(),
        )
        .await?;
        let meta = Meta {
            pipeline: pipeline.to_string(),
            env,
            region: aws.region.clone(),
            spec_tags: Default::default(),
            delete_data: false,
            timeouts: Default::default(),
            record_written: None,
            permissions_boundary: None,
        };
        let lock = lock.expect("a lock was asked for");
        let graph = Graph::default();
        let along = Some(lock.along());
        let d = Deployment {
            aws,
            meta,
            loaded: None,
            graph,
            targeted: false,
            record_name,
            record: None,
            along,
            operator: Operator::default(),
            decisions: Vec::new(),
        };
        Ok((d.with_record(record), lock))
    }

    fn with_record(mut self, record: Option<Content>) -> Deployment {
        self.meta.record_written = record.as_ref().and_then(|r| r.written);
        self.record = record;
        self
    }

    /// What the spec's resources cost while deployed, with `gb_per_day`
    /// into each stream and Firehose.
    pub fn estimate(&self, gb_per_day: f64) -> crate::cost::Estimate {
        estimate(&self.aws.region, gb_per_day, &self.resources())
    }

    /// The resources of the (narrowed) graph, the record among them
    /// listing what this run may create plus what earlier runs left, so
    /// nothing is forgotten if the run stops half-way.
    pub fn resources(&self) -> BTreeMap<Address, Res> {
        let Some(loaded) = &self.loaded else { return BTreeMap::new() };
        let scope = self.aws.scope();
        let mut res = crate::resolve::resources(&loaded.spec, &self.graph, &scope, &self.meta);
        let ra = Deployment::record_address();
        if self.graph.nodes.contains_key(&ra) {
            let content = self.record_content(&res, &[]);
            res.insert(ra, Arc::new(self.record_resource(Some(content))));
        }
        res
    }

    /// The plan that makes AWS match the spec, with what executing it needs.
    pub async fn plan(&self) -> anyhow::Result<(Planned, BTreeMap<Address, Work>)> {
        self.plan_reading().await.map(|(planned, work, _)| (planned, work))
    }

    /// [`Deployment::plan`], with what was read of each resource it is
    /// made from, as digests (a saved plan's `observed`): by address, a
    /// renamed resource's old name as `address (was NAME)`.
    pub async fn plan_reading(&self) -> anyhow::Result<(Planned, BTreeMap<Address, Work>, BTreeMap<String, Seen>)> {
        let res = self.resources();
        let listed = self.listed();
        let orphans = if self.targeted { BTreeMap::new() } else { self.orphans() };
        let scope = self.aws.scope();
        // A renamed resource: the record names the old physical name,
        // unless another address of the spec wants that name now.
        let wanted = self.wanted();
        let previous: BTreeMap<Address, Res> = res
            .iter()
            .filter_map(|(a, r)| {
                let old = listed.get(&a.to_string()).filter(|old| **old != r.record_name())?;
                if wanted.contains(&(a.kind, old.clone())) {
                    return None;
                }
                Some((a.clone(), resources::from_record(a, old, &scope, &self.meta)))
            })
            .collect();
        let mut reads: Vec<((Address, Slot), Res)> = Vec::new();
        for (slot, set) in [(Slot::Spec, &res), (Slot::Previous, &previous), (Slot::Orphan, &orphans)] {
            reads.extend(set.iter().map(|(a, r)| ((a.clone(), slot), r.clone())));
        }
        // What is never shown is never digested either: a digest of a short
        // secret (a PIN in a function's environment) can be reversed.
        let sensitive: BTreeMap<(Address, Slot), &'static [&'static str]> =
            reads.iter().map(|(k, r)| (k.clone(), r.sensitive())).collect();
        let mut seen: BTreeMap<(Address, Slot), Option<Observed>> =
            engine::read_all(&self.aws, reads, engine::MAX_READS, engine::Depth::Full).await?.into_iter().collect();
        let read = seen
            .iter()
            .map(|((a, slot), o)| {
                let key = match (slot, previous.get(a)) {
                    (Slot::Previous, Some(p)) => format!("{a} (was {})", p.name()),
                    _ => a.to_string(),
                };
                let hidden = sensitive.get(&(a.clone(), *slot)).copied().unwrap_or_default();
                (key, Seen::of(o.as_ref(), hidden))
            })
            .collect();
        let mut take = |a: &Address, slot: Slot| seen.remove(&(a.clone(), slot)).flatten();
        let deps = self.graph.deps();
        let mut subjects = Vec::new();
        for (a, r) in &res {
            let refresh_on = deps.get(a).into_iter().flatten().filter(|d| r.refresh_on_change_of(d)).cloned().collect();
            let previous = previous.get(a).map(|p| Previous {
                name: p.name().to_string(),
                recorded_as: p.record_name(),
                observed: take(a, Slot::Previous),
            });
            subjects.push(Subject {
                desired: r.desired(),
                replace_on: r.replace_on(),
                sensitive: r.sensitive(),
                deletes_data: r.deletes_data(),
                protected: r.protected(),
                container: r.container(),
                refresh_on,
                observed: take(a, Slot::Spec),
                recorded_as: r.record_name(),
                previous,
                ..Subject::new(a.clone(), r.name())
            });
        }
        let orphan_subjects: Vec<Subject> = orphans
            .iter()
            .map(|(a, r)| Subject {
                observed: take(a, Slot::Orphan),
                recorded_as: r.record_name(),
                deletes_data: r.deletes_data(),
                ..Subject::new(a.clone(), r.name())
            })
            .collect();
        let ctx = self.context();
        let mut planned = planner::apply(&ctx, &deps, &self.graph.topo_order(), &subjects, &orphan_subjects);
        planned.plan.warnings = police::waivers(&self.decisions);
        planned.plan.notes = self.kept_notes();
        let work = work(res.into_iter().chain(orphans), subjects.into_iter().chain(orphan_subjects), |a| {
            planned.change(a).and_then(|c| c.previous_name.as_ref()).and_then(|_| previous.get(a).cloned())
        });
        Ok((planned, work, read))
    }

    /// The plan that deletes the deployment: the spec's graph reversed
    /// (narrowed to `--target` and what depends on it), or, without a spec
    /// or for what the spec no longer has, the record's listing by kind.
    pub async fn plan_destroy(&self) -> anyhow::Result<(Planned, BTreeMap<Address, Work>)> {
        let mut res = self.resources();
        let mut reversed = self.graph.reversed().deps();
        let ra = Deployment::record_address();
        if self.targeted {
            // A partial destroy keeps the record: other resources remain.
            res.remove(&ra);
            reversed.remove(&ra);
        } else {
            res.extend(self.orphans());
            if self.record.is_some() {
                res.entry(ra).or_insert_with(|| Arc::new(self.record_resource(None)));
            }
        }
        let reads = res.iter().map(|(a, r)| (a.clone(), r.clone())).collect();
        let mut seen: BTreeMap<Address, Option<Observed>> =
            engine::read_all(&self.aws, reads, engine::MAX_READS, engine::Depth::Owner).await?.into_iter().collect();
        let subjects: Vec<Subject> = res
            .iter()
            .map(|(a, r)| Subject {
                observed: seen.remove(a).flatten(),
                recorded_as: r.record_name(),
                deletes_data: r.deletes_data(),
                protected: r.protected(),
                ..Subject::new(a.clone(), r.name())
            })
            .collect();
        let ctx = self.context();
        let planned = planner::destroy(&ctx, &reversed, &subjects);
        Ok((planned, work(res, subjects, |_| None)))
    }
}

/// What executing each subject needs.
fn work(
    res: impl IntoIterator<Item = (Address, Res)>,
    subjects: impl IntoIterator<Item = Subject>,
    previous: impl Fn(&Address) -> Option<Res>,
) -> BTreeMap<Address, Work> {
    let mut observed: BTreeMap<Address, Option<Observed>> =
        subjects.into_iter().map(|s| (s.address, s.observed)).collect();
    res.into_iter()
        .map(|(a, r)| {
            let w = Work { res: r, previous: previous(&a), observed: observed.remove(&a).flatten() };
            (a, w)
        })
        .collect()
}

/// What a spec loaded offline costs in `region` (no account is needed to
/// price it).
pub fn offline_estimate(loaded: &Loaded, region: &str, gb_per_day: f64) -> crate::cost::Estimate {
    let scope = crate::names::Scope::new(region, "000000000000");
    let meta = Meta::of(&loaded.spec, region);
    let resources = crate::resolve::resources(&loaded.spec, &loaded.graph, &scope, &meta);
    estimate(region, gb_per_day, &resources)
}

fn estimate(region: &str, gb_per_day: f64, resources: &BTreeMap<Address, Res>) -> crate::cost::Estimate {
    let usages = resources.iter().map(|(a, r)| (a.to_string(), r.usage()));
    crate::cost::estimate(region, gb_per_day, usages, crate::cost::table())
}
