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
mod tests;
