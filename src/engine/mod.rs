//! Planning and executing against live AWS. Knows resources only through
//! the `Resource` trait: reads every node concurrently, decides an action
//! per node, then walks the graph (or its reverse, for destroy).

pub mod walk;

use crate::aws::Aws;
use crate::plan::diff::{decide, FORMAT_VERSION};
use crate::plan::{Action, Address, Change, Plan};
use crate::resources::record::Content;
use crate::resources::{destroy_rank, Deleted, Meta, Observed, Progress, Res};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use walk::{walk, Event, Summary};

/// One node of a plan: the resource, what was read, and what to do.
#[derive(Clone)]
pub struct Step {
    pub res: Res,
    /// The same resource under its previous name, when the name changed.
    pub previous: Option<Res>,
    pub observed: Option<Observed>,
    pub change: Change,
}

/// A plan with what it needs to be executed.
pub struct Planned {
    pub plan: Plan,
    pub steps: BTreeMap<Address, Step>,
    pub deps: BTreeMap<Address, BTreeSet<Address>>,
}

fn conflict_reason(meta: &Meta, observed: &Observed) -> String {
    match &observed.tags {
        Some(t) if t.contains_key(crate::resources::TAG_PIPELINE) => format!(
            "it exists and belongs to pipeline `{}` env `{}`, not `{}`/`{}`; pipectl will not touch it",
            t.get(crate::resources::TAG_PIPELINE).map_or("?", String::as_str),
            t.get(crate::resources::TAG_ENV).map_or("?", String::as_str),
            meta.pipeline,
            meta.env
        ),
        Some(_) => "it exists without pipectl's ownership tags; pipectl will not touch it (rename it in the spec, or delete or import it by hand)".into(),
        None => "it exists but is not listed in this deployment's record; pipectl will not touch it".into(),
    }
}

/// What a plan is made from.
pub struct PlanInput<'a> {
    pub aws: &'a Aws,
    pub meta: &'a Meta,
    pub resources: &'a BTreeMap<Address, Res>,
    /// The graph's edges: node -> what it depends on.
    pub deps: BTreeMap<Address, BTreeSet<Address>>,
    /// The graph's stable topological order, for the rendering.
    pub order: Vec<Address>,
    /// The deployment record as it is now.
    pub record: Option<&'a Content>,
    /// Resources the record lists but the spec no longer has.
    pub orphans: Vec<Res>,
    pub parallelism: usize,
}

/// Reads every resource (at most `parallelism` at once) and decides.
/// Orphans are planned for deletion after everything else.
pub async fn plan(input: PlanInput<'_>) -> anyhow::Result<Planned> {
    let PlanInput { aws, meta, resources, deps: graph_deps, order, record, orphans, parallelism } = input;
    let graph_deps = &graph_deps;
    let listed: BTreeMap<String, String> = record.map(|r| r.resources.clone()).unwrap_or_default();
    let sem = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
    let mut reads = tokio::task::JoinSet::new();
    let mut all: Vec<(Res, bool)> = resources.values().map(|r| (r.clone(), false)).collect();
    all.extend(orphans.into_iter().map(|r| (r, true)));
    // A renamed resource: the record names the old physical name.
    let mut previous: BTreeMap<Address, Res> = BTreeMap::new();
    for r in resources.values() {
        if let Some(old) = listed.get(&r.address().to_string()) {
            let same = old == r.name() || old.ends_with(&format!("/{}", r.name()));
            if !same {
                previous.insert(r.address().clone(), crate::resources::from_record(r.address(), old, aws, meta));
            }
        }
    }
    for (r, orphan) in all {
        let aws = aws.clone();
        let sem = sem.clone();
        let prev = previous.get(r.address()).cloned();
        reads.spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore open");
            let observed = read(&r, &aws).await;
            let prev_observed = match &prev {
                Some(p) => read(p, &aws).await.map(|o| o.map(|o| (p.clone(), o))),
                None => Ok(None),
            };
            (r, orphan, observed, prev_observed)
        });
    }
    let mut steps = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(j) = reads.join_next().await {
        let (r, orphan, observed, prev) = j.expect("read task");
        let observed = match observed {
            Ok(o) => o,
            Err(e) => {
                errors.push(format!("reading `{}` ({}): {e}", r.address(), r.name()));
                continue;
            }
        };
        let prev = prev.unwrap_or(None);
        let address = r.address().clone();
        let owned = |o: &Observed| match &o.tags {
            Some(t) => meta.owns(t),
            None => listed.contains_key(&address.to_string()),
        };
        let mut change = Change {
            address: address.to_string(),
            name: r.name().to_string(),
            action: Action::NoOp,
            changes: vec![],
            replace_reasons: vec![],
            conflict: None,
            previous_name: None,
        };
        if orphan {
            change.action = match &observed {
                Some(o) if owned(o) => Action::Delete,
                Some(o) => {
                    change.conflict = Some(format!("listed in the record but {}", conflict_reason(meta, o)));
                    Action::NoOp
                }
                None => Action::NoOp,
            };
        } else {
            let desired = r.desired().expect("spec resources have a desired state");
            let (action, changes, reasons) =
                decide(&desired, observed.as_ref(), observed.as_ref().is_none_or(owned), r.replace_on());
            change.action = action;
            change.changes = changes;
            change.replace_reasons = reasons;
            if action == Action::Conflict {
                change.conflict = observed.as_ref().map(|o| conflict_reason(meta, o));
            }
        }
        let mut previous_res = None;
        if let Some((p, po)) = prev {
            if owned(&po) && !orphan {
                change.previous_name = Some(p.name().to_string());
                change.replace_reasons.push("name".into());
                change.action = Action::Replace;
                previous_res = Some(p);
            }
        }
        steps.insert(address, Step { res: r, previous: previous_res, observed, change });
    }
    if !errors.is_empty() {
        anyhow::bail!("could not read the live state:\n  {}", errors.join("\n  "));
    }
    // Resources that must see an upstream change (a Firehose whose Glue
    // table changes) are touched even when their own attributes match.
    for a in &order {
        let Some(deps) = graph_deps.get(a) else {
            continue;
        };
        let changed: Vec<&Address> = deps
            .iter()
            .filter(|d| steps.get(*d).is_some_and(|s| matches!(s.change.action, Action::Update | Action::Replace)))
            .collect();
        let Some(step) = steps.get_mut(a) else {
            continue;
        };
        if step.change.action != Action::NoOp || step.observed.is_none() {
            continue;
        }
        if let Some(up) = changed.into_iter().find(|d| step.res.refresh_on_change_of(d)) {
            step.change.action = Action::Update;
            step.change.changes.push(crate::plan::FieldChange {
                field: "schema".into(),
                before: serde_json::json!("as last read"),
                after: serde_json::json!(format!("re-read: `{up}` changes")),
            });
        }
    }
    // Orphans have no graph: they go after everything else, producers first.
    let mut deps = graph_deps.clone();
    let orphan_addrs: Vec<Address> = steps.keys().filter(|a| !graph_deps.contains_key(*a)).cloned().collect();
    for o in &orphan_addrs {
        let d: BTreeSet<Address> = orphan_addrs
            .iter()
            .filter(|x| destroy_rank(x.kind) < destroy_rank(o.kind))
            .cloned()
            .chain(graph_deps.keys().filter(|a| a.kind != crate::plan::Kind::Record).cloned())
            .collect();
        deps.insert(o.clone(), d);
    }
    let mut ordered: Vec<Change> = order.iter().filter_map(|a| steps.get(a)).map(|s| s.change.clone()).collect();
    let mut tail: Vec<&Address> = orphan_addrs.iter().collect();
    tail.sort_by_key(|a| (destroy_rank(a.kind), (*a).clone()));
    ordered.extend(tail.into_iter().filter_map(|a| steps.get(a)).map(|s| s.change.clone()));
    Ok(Planned {
        plan: Plan {
            format_version: FORMAT_VERSION,
            pipeline: meta.pipeline.clone(),
            env: meta.env.clone(),
            region: aws.region.clone(),
            account: aws.account.clone(),
            changes: ordered,
        },
        steps,
        deps,
    })
}

/// Reads are safe to repeat: transient failures beyond the SDK's own
/// attempts are retried for up to a minute.
async fn read(r: &Res, aws: &Aws) -> Result<Option<Observed>, crate::aws::AwsError> {
    crate::aws::retry(std::time::Duration::from_secs(60), |_| false, || r.read(aws)).await
}

fn notes_channel(events: &UnboundedSender<Event>) -> UnboundedSender<(Address, String)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Address, String)>();
    let events = events.clone();
    tokio::spawn(async move {
        while let Some((address, note)) = rx.recv().await {
            let _ = events.send(Event::Note { address, note });
        }
    });
    tx
}

/// Executes the mutating steps of a plan in dependency order.
pub async fn apply(aws: &Aws, planned: &Planned, parallelism: usize, events: &UnboundedSender<Event>) -> Summary {
    let todo: BTreeSet<&Address> =
        planned.steps.iter().filter(|(_, s)| s.change.action.mutates()).map(|(a, _)| a).collect();
    let deps: BTreeMap<Address, BTreeSet<Address>> = planned
        .deps
        .iter()
        .filter(|(a, _)| todo.contains(a))
        .map(|(a, d)| (a.clone(), d.iter().filter(|x| todo.contains(x)).cloned().collect()))
        .collect();
    let notes = notes_channel(events);
    walk(&deps, parallelism, events, |a| {
        let step = planned.steps[&a].clone();
        let aws = aws.clone();
        let p = Progress::new(a.clone(), Some(notes.clone()));
        async move {
            let r = &step.res;
            let result = match step.change.action {
                Action::Create => r.create(&aws, &p).await.map(|_| None),
                Action::Update => {
                    let changed: Vec<String> = step.change.changes.iter().map(|c| c.field.clone()).collect();
                    let before = step.observed.clone().expect("update of something observed");
                    r.update(&aws, &before, &changed, &p).await.map(|_| None)
                }
                Action::Replace => {
                    let old = step.previous.clone().unwrap_or_else(|| r.clone());
                    p.say(format!("deleting `{}`", old.name()));
                    match old.delete(&aws, &p).await {
                        Ok(Deleted::Retained(why)) => {
                            Err(crate::aws::AwsError::fatal("replace", format!("cannot replace: {why}")))
                        }
                        Ok(Deleted::Gone) => {
                            p.say(format!("creating `{}`", r.name()));
                            r.create(&aws, &p).await.map(|_| None)
                        }
                        Err(e) => Err(e),
                    }
                }
                Action::Delete => r.delete(&aws, &p).await.map(|d| match d {
                    Deleted::Gone => None,
                    Deleted::Retained(why) => Some(why),
                }),
                Action::NoOp | Action::Conflict => Ok(None),
            };
            result.map_err(|e| format!("{} `{}`: {e}", step.change.action.verb(), r.name()))
        }
    })
    .await
}

/// Deletes every resource, dependents first. A resource already gone is
/// done; one not owned by this pipeline/env is left alone and reported.
pub async fn destroy(
    aws: &Aws,
    meta: &Meta,
    resources: &BTreeMap<Address, Res>,
    deps: &BTreeMap<Address, BTreeSet<Address>>,
    listed: &BTreeSet<String>,
    parallelism: usize,
    events: &UnboundedSender<Event>,
) -> Summary {
    let notes = notes_channel(events);
    walk(deps, parallelism, events, |a| {
        let r = resources[&a].clone();
        let aws = aws.clone();
        let meta = meta.clone();
        let in_record = listed.contains(&a.to_string());
        let p = Progress::new(a.clone(), Some(notes.clone()));
        async move {
            let observed = r.read(&aws).await.map_err(|e| format!("read `{}`: {e}", r.name()))?;
            let Some(o) = observed else {
                return Ok(Some("already gone".into()));
            };
            let owned = match &o.tags {
                Some(t) => meta.owns(t),
                None => in_record,
            };
            if !owned {
                return Ok(Some(format!("left alone: {}", conflict_reason(&meta, &o))));
            }
            match r.delete(&aws, &p).await {
                Ok(Deleted::Gone) => Ok(None),
                Ok(Deleted::Retained(why)) => Ok(Some(why)),
                Err(e) => Err(format!("delete `{}`: {e}", r.name())),
            }
        }
    })
    .await
}

/// Destroy order when there is no spec: by kind, producers first, the
/// record last.
pub fn rank_deps(addresses: &[Address]) -> BTreeMap<Address, BTreeSet<Address>> {
    addresses
        .iter()
        .map(|a| {
            let d = addresses.iter().filter(|x| destroy_rank(x.kind) < destroy_rank(a.kind)).cloned().collect();
            (a.clone(), d)
        })
        .collect()
}
