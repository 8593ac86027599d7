//! Planning as pure functions: what the spec wants and what was read from
//! AWS in, a [`Plan`] and the order to execute it in out. No AWS here; the
//! engine reads, the planner decides.
//!
//! The rules, in the order they apply:
//! 1. Ownership: a resource that exists is this deployment's when it
//!    carries its tags, or, for kinds AWS cannot tag, when the record lists
//!    it under any key of its kind. Anything else is a conflict (`!`), untouched.
//! 2. Absent: create. Present and owned: no-op, update, or replace when a
//!    changed field cannot change in place.
//! 3. Rename: the record lists the address under another physical name
//!    that still exists and is owned: replace (delete the old name, create
//!    the new one).
//! 4. A dependent that must see an upstream change (a Firehose whose Glue
//!    table changes) is updated even when its own fields match.
//! 5. Orphans (in the record, gone from the spec) are deleted when owned,
//!    after everything else, producers first; never what the spec wants.
//! 6. Destroy: the graph reversed; what the record alone knows goes by
//!    kind, producers first, data last ([`Kind::destroy_rank`]). Absent is
//!    "already gone"; not owned is left alone.

use super::diff::{decide, mask, Action, Change, FieldChange, Operation, Plan, FORMAT_VERSION};
use super::graph::{Address, Graph};
use super::state::{Attrs, Observed, Owner};
use std::collections::{BTreeMap, BTreeSet};

/// node -> the nodes it waits for.
pub type Deps = BTreeMap<Address, BTreeSet<Address>>;

/// One resource as the spec wants it and as AWS has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub address: Address,
    /// The physical name, as people read it.
    pub name: String,
    /// `None` for a resource known only from the deployment record.
    pub desired: Option<Attrs>,
    /// Fields whose change forces delete-then-create.
    pub replace_on: &'static [&'static str],
    /// Fields whose values the plan never shows.
    pub sensitive: &'static [&'static str],
    /// Whether deleting it deletes data it holds.
    pub deletes_data: bool,
    /// Whether the spec protects it from deletion.
    pub protected: bool,
    /// Upstream resources whose update or replace must touch this one.
    pub refresh_on: BTreeSet<Address>,
    /// Whether what depends on it lives inside it (a network: its hosts
    /// and groups), so it cannot be deleted while they exist.
    pub container: bool,
    pub observed: Option<Observed>,
    /// How the deployment record spells its name (a table: `db/table`).
    pub recorded_as: String,
    /// The same address under the name the record lists, when it differs.
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Previous {
    pub name: String,
    /// As the record spells it.
    pub recorded_as: String,
    pub observed: Option<Observed>,
}

impl Subject {
    /// A subject with nothing desired and nothing read yet.
    pub fn new(address: Address, name: impl Into<String>) -> Subject {
        let name = name.into();
        Subject {
            address,
            recorded_as: name.clone(),
            name,
            desired: None,
            replace_on: &[],
            sensitive: &[],
            deletes_data: false,
            protected: false,
            refresh_on: BTreeSet::new(),
            container: false,
            observed: None,
            previous: None,
        }
    }
}

/// Who plans, where, and what the deployment record lists (address ->
/// physical name as recorded).
pub struct Context<'a> {
    pub owner: Owner,
    pub region: &'a str,
    pub account: &'a str,
    pub listed: BTreeMap<String, String>,
    /// Addresses the record says the spec protected (`protect:`), for
    /// what the spec no longer has.
    pub protected: BTreeSet<String>,
}

impl Context<'_> {
    /// Whether the deployment owns what was read at `address`, the record
    /// listing it as `recorded_as` under any address of its kind (a key
    /// renamed, a name moved: the same resource; see [`Owner::owns`]).
    fn owns(&self, address: &Address, recorded_as: &str, observed: &Observed) -> bool {
        let kind = |a: &str| Address::parse(a).map(|a| a.kind);
        let recorded = self.listed.iter().any(|(a, n)| n == recorded_as && kind(a) == Some(address.kind));
        self.owner.owns(observed, recorded)
    }

    /// The plan, each delete or replace that loses data marked, and marked
    /// protected where the spec (or the record, for what it lost) protects it.
    fn plan(&self, operation: Operation, mut changes: Vec<Change>, subjects: &[&Subject]) -> Plan {
        let by_address: BTreeMap<String, &Subject> = subjects.iter().map(|s| (s.address.to_string(), *s)).collect();
        for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Delete | Action::Replace)) {
            let Some(s) = by_address.get(&c.address) else { continue };
            c.data_loss = s.deletes_data;
            c.protected = s.deletes_data && (s.protected || self.protected.contains(&c.address));
        }
        Plan {
            format_version: FORMAT_VERSION,
            operation,
            pipeline: self.owner.pipeline.clone(),
            env: self.owner.env.clone(),
            region: self.region.to_string(),
            account: self.account.to_string(),
            changes,
            warnings: Vec::new(),
            notes: Vec::new(),
            cost: None,
            policy: None,
        }
    }
}

/// A plan with the order to execute it in.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub deps: Deps,
}

impl Planned {
    /// The changes that touch AWS, by address.
    pub fn mutations(&self) -> BTreeMap<Address, Action> {
        let changes = self.plan.changes.iter().filter(|c| c.action.mutates());
        changes.filter_map(|c| Some((Address::parse(&c.address)?, c.action))).collect()
    }

    pub fn change(&self, address: &Address) -> Option<&Change> {
        let a = address.to_string();
        self.plan.changes.iter().find(|c| c.address == a)
    }
}

fn change(s: &Subject, action: Action) -> Change {
    Change::new(s.address.to_string(), s.name.clone(), action)
}

/// The plan that makes AWS match the spec. `deps` and `order` are the
/// spec's graph; `orphans` are what the record lists and the spec no
/// longer has.
pub fn apply(ctx: &Context, deps: &Deps, order: &[Address], subjects: &[Subject], orphans: &[Subject]) -> Planned {
    let mut by_address: BTreeMap<&Address, Change> = BTreeMap::new();
    for s in subjects {
        by_address.insert(&s.address, decide_one(ctx, s));
    }
    // Rule 4, in graph order so a touch propagates no further than asked.
    for a in order {
        let Some(s) = subjects.iter().find(|s| &s.address == a) else { continue };
        let upstream = s
            .refresh_on
            .iter()
            .find(|u| by_address.get(u).is_some_and(|c| matches!(c.action, Action::Update | Action::Replace)));
        let Some(c) = by_address.get_mut(a) else { continue };
        if let (Some(up), Action::NoOp, Some(_)) = (upstream, c.action, &s.observed) {
            c.action = Action::Update;
            c.changes.push(FieldChange {
                field: "schema".into(),
                before: serde_json::json!("as last read"),
                after: serde_json::json!(format!("re-read: `{up}` changes")),
            });
        }
    }
    // A container is replaced only when nothing lives inside it: its
    // delete would fail half-way, after the plan had started.
    for s in subjects.iter().filter(|s| s.container) {
        let Some(c) = by_address.get_mut(&s.address) else { continue };
        if c.action != Action::Replace {
            continue;
        }
        let inside: Vec<String> = subjects
            .iter()
            .filter(|d| d.observed.is_some() && deps.get(&d.address).is_some_and(|x| x.contains(&s.address)))
            .map(|d| format!("`{}`", d.address))
            .collect();
        if !inside.is_empty() {
            c.action = Action::Conflict;
            c.conflict = Some(format!(
                "replacing it ({} cannot change in place) would delete it under {}, which live inside it; \
                 destroy them with it first (`pipectl destroy SPEC --target {}`), then apply",
                c.replace_reasons.join(", "),
                inside.join(", "),
                s.address
            ));
        }
    }
    let mut changes: Vec<Change> = order.iter().filter_map(|a| by_address.remove(a)).collect();
    changes.extend(by_address.into_values());
    // Rule 5: orphans after everything the spec has, producers first.
    let mut orphans: Vec<&Subject> = orphans.iter().collect();
    orphans.sort_by_key(|o| (o.address.kind.destroy_rank(), o.address.clone()));
    let mut all_deps = deps.clone();
    for o in &orphans {
        let earlier = orphans.iter().filter(|x| x.address.kind.destroy_rank() < o.address.kind.destroy_rank());
        let waits: BTreeSet<Address> = deps.keys().cloned().chain(earlier.map(|x| x.address.clone())).collect();
        all_deps.insert(o.address.clone(), waits);
        changes.push(decide_removal(ctx, o, "listed in the record but "));
    }
    let all: Vec<&Subject> = subjects.iter().chain(orphans).collect();
    Planned { plan: ctx.plan(Operation::Apply, changes, &all), deps: all_deps }
}

/// Rules 1-3 for one resource the spec has.
fn decide_one(ctx: &Context, s: &Subject) -> Change {
    let desired = s.desired.as_ref().expect("a resource of the spec has desired attributes");
    let owned = s.observed.as_ref().is_none_or(|o| ctx.owns(&s.address, &s.recorded_as, o));
    let (action, mut fields, reasons) = decide(desired, s.observed.as_ref(), owned, s.replace_on);
    mask(&mut fields, s.sensitive);
    let mut c = change(s, action);
    c.changes = fields;
    c.replace_reasons = reasons;
    if action == Action::Conflict {
        c.conflict = s.observed.as_ref().map(|o| ctx.owner.conflict_reason(o));
    }
    if let Some(Previous { name, recorded_as, observed: Some(old) }) = &s.previous {
        if ctx.owns(&s.address, recorded_as, old) {
            c.previous_name = Some(name.clone());
            c.replace_reasons.push("name".into());
            c.action = Action::Replace;
        }
    }
    c
}

/// Delete when owned, leave alone otherwise, nothing when gone.
fn decide_removal(ctx: &Context, s: &Subject, conflict_prefix: &str) -> Change {
    match &s.observed {
        None => Change { note: Some("already gone".into()), ..change(s, Action::NoOp) },
        Some(o) if ctx.owns(&s.address, &s.recorded_as, o) => change(s, Action::Delete),
        Some(o) => Change {
            conflict: Some(format!("{conflict_prefix}{}", ctx.owner.conflict_reason(o))),
            ..change(s, Action::Conflict)
        },
    }
}

/// The plan that deletes every subject. `reversed` holds the graph's
/// edges turned around for the subjects the spec has; the others (from
/// the record alone) are ordered by kind.
///
/// A resource the record lists under its name that reads as absent is
/// deleted all the same (a delete of what is gone is done): a resource
/// made moments ago may not be visible to reads yet, and once the record
/// is gone nothing would remember it.
pub fn destroy(ctx: &Context, reversed: &Deps, subjects: &[Subject]) -> Planned {
    let addresses: Vec<Address> = subjects.iter().map(|s| s.address.clone()).collect();
    let deps = deletion_order(reversed, &addresses);
    let by_address: BTreeMap<&Address, &Subject> = subjects.iter().map(|s| (&s.address, s)).collect();
    let changes = Graph::order_of(&deps)
        .iter()
        .map(|a| {
            let s = by_address[a];
            let recorded = ctx.listed.get(&a.to_string()).is_some_and(|n| *n == s.recorded_as);
            match decide_removal(ctx, s, "left alone: ") {
                c if c.action == Action::NoOp && recorded => Change {
                    action: Action::Delete,
                    note: Some("not found when read; deleted anyway in case it is not visible yet".into()),
                    ..c
                },
                c => c,
            }
        })
        .collect();
    let all: Vec<&Subject> = subjects.iter().collect();
    Planned { plan: ctx.plan(Operation::Destroy, changes, &all), deps }
}

/// The one ordering of deletions: the reversed graph's edges where there
/// are some, and by [`Kind::destroy_rank`] between a node the graph does
/// not know and every other node.
///
/// [`Kind::destroy_rank`]: super::graph::Kind::destroy_rank
pub fn deletion_order(reversed: &Deps, addresses: &[Address]) -> Deps {
    let loose: BTreeSet<&Address> = addresses.iter().filter(|a| !reversed.contains_key(*a)).collect();
    let rank = |a: &Address| a.kind.destroy_rank();
    addresses
        .iter()
        .map(|a| {
            let graph_edges = reversed.get(a).into_iter().flatten().filter(|d| addresses.contains(d)).cloned();
            let by_rank =
                addresses.iter().filter(|x| rank(x) < rank(a) && (loose.contains(a) || loose.contains(x))).cloned();
            (a.clone(), graph_edges.chain(by_rank).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::graph::Kind;
    use crate::plan::state::Tags;
    use serde_json::json;

    fn owner() -> Owner {
        Owner { pipeline: "p".into(), env: "e".into(), region: "us-east-1".into() }
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn attrs(v: serde_json::Value) -> Attrs {
        serde_json::from_value(v).unwrap()
    }

    fn seen(v: serde_json::Value, tags: Option<Tags>) -> Option<Observed> {
        Some(Observed::of(&v, tags))
    }

    /// An untaggable resource read with this deployment's marker.
    fn marked(v: serde_json::Value) -> Option<Observed> {
        Some(Observed::marked(&v, owner().tags()))
    }

    fn wanted(a: &str, name: &str, v: serde_json::Value) -> Subject {
        Subject { desired: Some(attrs(v)), ..Subject::new(addr(a), name) }
    }

    fn test_context(listed: &BTreeMap<String, String>) -> Context<'static> {
        Context {
            owner: owner(),
            region: "us-east-1",
            account: "1",
            listed: listed.clone(),
            protected: BTreeSet::new(),
        }
    }

    fn plan_apply(subjects: &[Subject], orphans: &[Subject], listed: &[(&str, &str)], deps: &Deps) -> Planned {
        let listed: BTreeMap<String, String> = listed.iter().map(|(a, n)| (a.to_string(), n.to_string())).collect();
        let ctx = test_context(&listed);
        let order = Graph::order_of(deps);
        plan_with(&ctx, deps, &order, subjects, orphans)
    }

    fn plan_with(ctx: &Context, deps: &Deps, order: &[Address], s: &[Subject], o: &[Subject]) -> Planned {
        apply(ctx, deps, order, s, o)
    }

    fn actions(p: &Planned) -> Vec<(String, Action)> {
        p.plan.changes.iter().map(|c| (c.address.clone(), c.action)).collect()
    }

    fn no_deps(subjects: &[&str]) -> Deps {
        subjects.iter().map(|a| (addr(a), BTreeSet::new())).collect()
    }

    #[test]
    fn ownership_decides_between_update_and_conflict() {
        let mine = Subject {
            observed: seen(json!({"shards": 1}), Some(owner().tags())),
            ..wanted("stream.a", "p-a", json!({"shards": 2}))
        };
        let foreign_tags = Tags::from([("team".into(), "x".into())]);
        let theirs = Subject {
            observed: seen(json!({"shards": 2}), Some(foreign_tags)),
            ..wanted("stream.b", "p-b", json!({"shards": 2}))
        };
        // A kind without tags is owned only through the record (under the
        // same name) and its marker.
        let table = |key: &str, observed| Subject {
            observed,
            recorded_as: format!("db/{key}"),
            ..wanted(&format!("glue_table.{key}"), key, json!({"cols": 2}))
        };
        let table_listed = table("t", marked(json!({"cols": 1})));
        let table_unlisted = table("u", marked(json!({"cols": 1})));
        let table_unmarked = table("v", seen(json!({"cols": 1}), None));
        let table_renamed_in_record = table("w", marked(json!({"cols": 1})));
        let all = [mine, theirs, table_listed, table_unlisted, table_unmarked, table_renamed_in_record];
        let deps = no_deps(&["stream.a", "stream.b", "glue_table.t", "glue_table.u", "glue_table.v", "glue_table.w"]);
        let listed = [("glue_table.t", "db/t"), ("glue_table.v", "db/v"), ("glue_table.w", "db/other")];
        let p = plan_apply(&all, &[], &listed, &deps);
        assert_eq!(p.change(&addr("stream.a")).unwrap().action, Action::Update);
        let b = p.change(&addr("stream.b")).unwrap();
        assert_eq!(b.action, Action::Conflict);
        assert!(b.conflict.as_deref().unwrap().contains("without pipectl's ownership tags"));
        assert_eq!(p.change(&addr("glue_table.t")).unwrap().action, Action::Update);
        let u = p.change(&addr("glue_table.u")).unwrap();
        assert_eq!(u.action, Action::Conflict);
        assert!(u.conflict.as_deref().unwrap().contains("the record does not list it under this name"));
        let v = p.change(&addr("glue_table.v")).unwrap();
        assert_eq!(v.action, Action::Conflict, "listed but without the marker: someone else's");
        assert!(v.conflict.as_deref().unwrap().contains("without pipectl's marker"));
        assert_eq!(p.change(&addr("glue_table.w")).unwrap().action, Action::Conflict);
        assert_eq!(p.plan.conflicts().count(), 4);
    }

    #[test]
    fn a_network_with_hosts_inside_is_not_replaced() {
        let tags = Some(owner().tags());
        let network = Subject {
            replace_on: &["cidr"],
            container: true,
            observed: seen(json!({"cidr": "10.0.0.0/16"}), tags.clone()),
            ..wanted("network.n", "p-n", json!({"cidr": "10.1.0.0/16"}))
        };
        let host = Subject { observed: seen(json!({"t": 1}), tags), ..wanted("agent.h", "p-h", json!({"t": 1})) };
        let mut deps = no_deps(&["network.n", "agent.h"]);
        deps.get_mut(&addr("agent.h")).unwrap().insert(addr("network.n"));
        let p = plan_apply(&[network.clone(), host], &[], &[], &deps);
        let n = p.change(&addr("network.n")).unwrap();
        assert_eq!(n.action, Action::Conflict);
        assert!(n.conflict.as_deref().unwrap().contains("under `agent.h`"), "{n:?}");
        // Nothing inside yet: replaced.
        let empty = Subject { observed: None, ..wanted("agent.h", "p-h", json!({"t": 1})) };
        let p = plan_apply(&[network, empty], &[], &[], &deps);
        assert_eq!(p.change(&addr("network.n")).unwrap().action, Action::Replace);
    }

    #[test]
    fn absent_is_created_and_a_forcing_field_replaces() {
        let new = wanted("bucket.b", "p-b", json!({"tags": {}}));
        let forced = Subject {
            replace_on: &["source"],
            observed: seen(json!({"source": "direct"}), Some(owner().tags())),
            ..wanted("firehose.f", "p-f", json!({"source": "stream"}))
        };
        let p = plan_apply(&[new, forced], &[], &[], &no_deps(&["bucket.b", "firehose.f"]));
        assert_eq!(p.change(&addr("bucket.b")).unwrap().action, Action::Create);
        let f = p.change(&addr("firehose.f")).unwrap();
        assert_eq!((f.action, f.replace_reasons.clone()), (Action::Replace, vec!["source".to_string()]));
    }

    #[test]
    fn a_rename_replaces_only_what_the_deployment_owns() {
        let tags = Some(owner().tags());
        let renamed = Subject {
            previous: Some(Previous {
                name: "p-old".into(),
                recorded_as: "p-old".into(),
                observed: seen(json!({}), tags.clone()),
            }),
            ..wanted("stream.s", "p-new", json!({"shards": 1}))
        };
        let p = plan_apply(std::slice::from_ref(&renamed), &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
        let c = p.change(&addr("stream.s")).unwrap();
        assert_eq!(c.action, Action::Replace);
        assert_eq!(c.previous_name.as_deref(), Some("p-old"));
        assert_eq!(c.replace_reasons, ["name"]);
        // The old name now belongs to someone else: create the new one, leave the old alone.
        let foreign = Subject {
            previous: Some(Previous {
                name: "p-old".into(),
                recorded_as: "p-old".into(),
                observed: seen(json!({}), Some(Tags::new())),
            }),
            ..renamed.clone()
        };
        let p = plan_apply(&[foreign], &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
        assert_eq!(p.change(&addr("stream.s")).unwrap().action, Action::Create);
        // The old name is gone already: a plain create.
        let gone = Subject {
            previous: Some(Previous { name: "p-old".into(), recorded_as: "p-old".into(), observed: None }),
            ..renamed
        };
        let p = plan_apply(&[gone], &[], &[("stream.s", "p-old")], &no_deps(&["stream.s"]));
        assert_eq!(p.change(&addr("stream.s")).unwrap().action, Action::Create);
    }

    #[test]
    fn an_upstream_change_touches_the_dependents_that_ask_for_it() {
        let tags = Some(owner().tags());
        let table = Subject {
            observed: marked(json!({"columns": 1})),
            recorded_as: "db/t".into(),
            ..wanted("glue_table.t", "t", json!({"columns": 2}))
        };
        let firehose = Subject {
            refresh_on: BTreeSet::from([addr("glue_table.t")]),
            observed: seen(json!({"buffer": 5}), tags.clone()),
            ..wanted("firehose.f", "p-f", json!({"buffer": 5}))
        };
        // A dependent that does not ask stays unchanged.
        let function =
            Subject { observed: seen(json!({"m": 1}), tags), ..wanted("function.x", "p-x", json!({"m": 1})) };
        let mut deps = no_deps(&["glue_table.t", "firehose.f", "function.x"]);
        deps.get_mut(&addr("firehose.f")).unwrap().insert(addr("glue_table.t"));
        deps.get_mut(&addr("function.x")).unwrap().insert(addr("glue_table.t"));
        let p = plan_apply(&[table, firehose, function], &[], &[("glue_table.t", "db/t")], &deps);
        assert_eq!(
            actions(&p),
            [
                ("glue_table.t".into(), Action::Update),
                ("firehose.f".into(), Action::Update),
                ("function.x".into(), Action::NoOp)
            ]
        );
        assert_eq!(p.change(&addr("firehose.f")).unwrap().changes[0].field, "schema");
    }

    #[test]
    fn a_key_renamed_keeps_an_untaggable_resource_listed_under_the_old_key() {
        let table = |key: &str| Subject {
            observed: marked(json!({"cols": 1})),
            recorded_as: "db/t".into(),
            ..wanted(&format!("glue_table.{key}"), "t", json!({"cols": 1}))
        };
        for (listed, action) in [("glue_table.old", "db/t"), ("stream.old", "db/t"), ("glue_table.old", "db/u")]
            .into_iter()
            .zip([Action::NoOp, Action::Conflict, Action::Conflict])
        {
            let p = plan_apply(&[table("new")], &[], &[listed], &no_deps(&["glue_table.new"]));
            assert_eq!(p.change(&addr("glue_table.new")).unwrap().action, action, "{listed:?}");
        }
    }

    #[test]
    fn orphans_are_deleted_when_owned_after_everything_producers_first() {
        let tags = Some(owner().tags());
        let kept = Subject { observed: seen(json!({}), tags.clone()), ..wanted("bucket.b", "p-b", json!({})) };
        let stream = Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr("stream.old"), "p-old") };
        let trigger = Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr("trigger.t"), "f ← s") };
        let gone = Subject::new(addr("function.gone"), "p-gone");
        let foreign = Subject { observed: seen(json!({}), Some(Tags::new())), ..Subject::new(addr("stream.x"), "p-x") };
        let p = plan_apply(&[kept], &[stream, gone, foreign, trigger], &[], &no_deps(&["bucket.b"]));
        assert_eq!(
            actions(&p),
            [
                ("bucket.b".into(), Action::NoOp),
                ("trigger.t".into(), Action::Delete),
                ("function.gone".into(), Action::NoOp),
                ("stream.old".into(), Action::Delete),
                ("stream.x".into(), Action::Conflict),
            ]
        );
        assert_eq!(p.change(&addr("function.gone")).unwrap().note.as_deref(), Some("already gone"));
        assert!(p.change(&addr("stream.x")).unwrap().conflict.as_deref().unwrap().starts_with("listed in the record"));
        // Orphans wait for the spec's resources and for the producers among them.
        assert!(p.deps[&addr("stream.old")].contains(&addr("bucket.b")));
        assert!(p.deps[&addr("stream.old")].contains(&addr("trigger.t")));
        assert!(!p.deps[&addr("trigger.t")].contains(&addr("stream.old")));
    }

    #[test]
    fn destroy_follows_the_reversed_graph_and_ranks_the_rest() {
        let owner = owner();
        let listed = BTreeMap::new();
        let ctx = test_context(&listed);
        let tags = Some(owner.tags());
        let subject = |a: &str| Subject { observed: seen(json!({}), tags.clone()), ..Subject::new(addr(a), a) };
        // From the spec: bucket <- firehose (reversed: the firehose goes first).
        let mut reversed = Deps::new();
        reversed.insert(addr("bucket.b"), BTreeSet::from([addr("firehose.f")]));
        reversed.insert(addr("firehose.f"), BTreeSet::new());
        // From the record alone: an agent host (a producer) and a stream.
        let subjects = [subject("bucket.b"), subject("firehose.f"), subject("agent.h"), subject("stream.s")];
        let p = destroy(&ctx, &reversed, &subjects);
        assert_eq!(p.plan.operation, Operation::Destroy);
        assert!(actions(&p).iter().all(|(_, a)| *a == Action::Delete));
        let order: Vec<String> = p.plan.changes.iter().map(|c| c.address.clone()).collect();
        assert_eq!(order, ["agent.h", "firehose.f", "stream.s", "bucket.b"]);
        assert!(p.deps[&addr("bucket.b")].contains(&addr("stream.s")), "the loose stream goes before data");
        assert!(p.deps[&addr("firehose.f")].contains(&addr("agent.h")));
        assert!(p.deps[&addr("bucket.b")].contains(&addr("agent.h")));
        assert!(Kind::Agent.destroy_rank() < Kind::Bucket.destroy_rank());
    }

    #[test]
    fn destroy_leaves_alone_what_is_not_owned_and_notes_what_is_gone() {
        let listed = BTreeMap::from([("glue_table.t".to_string(), "db/t".to_string())]);
        let ctx = test_context(&listed);
        let foreign = Subject {
            observed: seen(json!({}), Some(Tags::from([("pipectl:pipeline".into(), "q".into())]))),
            ..Subject::new(addr("stream.s"), "s")
        };
        let gone = Subject::new(addr("bucket.b"), "b");
        let table = Subject {
            observed: marked(json!({})),
            recorded_as: "db/t".into(),
            ..Subject::new(addr("glue_table.t"), "t")
        };
        let p = destroy(&ctx, &Deps::new(), &[foreign, gone, table]);
        let s = p.change(&addr("stream.s")).unwrap();
        assert_eq!(s.action, Action::Conflict);
        assert!(s.conflict.as_deref().unwrap().starts_with("left alone: it exists and belongs to pipeline `q`"));
        assert_eq!(p.change(&addr("bucket.b")).unwrap().note.as_deref(), Some("already gone"));
        assert_eq!(p.change(&addr("glue_table.t")).unwrap().action, Action::Delete);
        assert!(!p.plan.is_empty());
    }
}
