//! The deployment's record as this deployment keeps it: what a run lists
//! (the spec's resources, what earlier runs left, the protection they
//! had, the old names of renamed addresses until their delete succeeds),
//! what the planner learns from it, and marking a run applied.

use super::Deployment;
use crate::engine::walk::Summary;
use crate::plan::planner::Context;
use crate::plan::{Action, Address, Kind, Plan};
use crate::resources::record::{retiring_address, Content, Record};
use crate::resources::{self, Meta, Res};
use anyhow::Context as _;
use std::collections::{BTreeMap, BTreeSet};

impl Deployment {
    /// The record as a resource to plan with: `content` to write, the
    /// record as read when opened, and the run's lock for its delete.
    pub(super) fn record_resource(&self, content: Option<Content>) -> Record {
        let record = Record::new(Deployment::record_address(), self.record_name.clone(), content, &self.meta);
        record.with_current(self.record.clone()).with_lock(self.along.clone())
    }

    pub(super) fn record_address() -> Address {
        Address::new(Kind::Record, "deployment")
    }

    /// The record's listing: `resources`, plus what earlier runs left,
    /// less what is `gone` (an address, or the old name of a renamed one
    /// under its [`retiring_address`]).
    pub(super) fn record_content(&self, resources: &BTreeMap<Address, Res>, gone: &[&Address]) -> Content {
        let listed = resources.iter().filter(|(a, _)| a.kind != Kind::Record).map(|(a, r)| (a, r.record_name()));
        let mut content = Content::of(&self.aws.region, listed);
        content.protected = resources.iter().filter(|(_, r)| r.protected()).map(|(a, _)| a.to_string()).collect();
        content.emptied =
            resources.iter().filter(|(_, r)| r.empties_on_destroy()).map(|(a, _)| a.to_string()).collect();
        content.created = Some(self.record.as_ref().and_then(|r| r.created).unwrap_or_else(crate::lock::now_secs));
        content.by = Some(crate::lock::who());
        // A targeted run knows only part of the spec: the whole one's cost stays.
        let earlier = self.record.as_ref().map(|r| (r.cost_per_hour, r.prices.clone()));
        (content.cost_per_hour, content.prices) = if self.targeted {
            earlier.unwrap_or_default()
        } else {
            let e = super::estimate(&self.aws.region, 0.0, resources);
            (Some(stored_cost(e.idle_hourly)), Some(e.prices_version))
        };
        // The bookkeeping stamps go on: a write is not an apply.
        content.stamps = self.record.as_ref().map(|r| r.stamps).unwrap_or_default();
        content.retiring = self.record.as_ref().map(|r| r.retiring.clone()).unwrap_or_default();
        // What the spec's resources are, by kind and name: one physical
        // resource is listed once, under the address that wants it now.
        let wanted = spelled(content.entries());
        for (a, n) in self.record.iter().flat_map(|r| &r.resources) {
            let taken = kind_of(a).is_some_and(|k| wanted.contains(&(k, n.clone())));
            match content.resources.get(a) {
                // Renamed: the old name stays until its delete succeeds.
                Some(new) if new != n && !taken => {
                    content.retiring.entry(a.clone()).or_default().insert(n.clone());
                }
                Some(_) => {}
                // Gone from the spec, unless another address has it now.
                None if !taken => {
                    content.resources.insert(a.clone(), n.clone());
                }
                None => {}
            }
        }
        // An old name some address lists again is no longer retiring.
        let listed = spelled(content.entries());
        content.retiring.retain(|a, names| {
            names.retain(|n| kind_of(a).is_none_or(|k| !listed.contains(&(k, n.clone()))));
            !names.is_empty()
        });
        // What the spec no longer has keeps the protection it had.
        let in_spec: BTreeSet<String> = resources.keys().map(Address::to_string).collect();
        let earlier = self.record.iter().flat_map(|r| &r.protected).filter(|a| !in_spec.contains(*a));
        content.protected.extend(earlier.cloned());
        let earlier = self.record.iter().flat_map(|r| &r.emptied).filter(|a| !in_spec.contains(*a));
        content.emptied.extend(earlier.cloned());
        let retired: Vec<(Address, Address, String)> = content.retiring_entries();
        for a in gone {
            content.resources.remove(&a.to_string());
            content.protected.remove(&a.to_string());
            content.emptied.remove(&a.to_string());
            for (_, of, name) in retired.iter().filter(|(r, _, _)| r == *a) {
                let key = of.to_string();
                let emptied = content.retiring.get_mut(&key).is_some_and(|names| {
                    names.remove(name);
                    names.is_empty()
                });
                if emptied {
                    content.retiring.remove(&key);
                }
            }
        }
        content
    }

    /// Rewrites the record without resources that are gone.
    pub async fn forget(&self, gone: &[&Address]) -> anyhow::Result<()> {
        let content = self.record_content(&self.resources(), gone);
        let record = Record::new(Deployment::record_address(), self.record_name.clone(), Some(content), &self.meta);
        record.put(&self.aws).await.context("updating the deployment record")
    }

    /// Marks the deployment applied successfully now, for `gc`: after an
    /// apply whose every change succeeded, changed or not. A run that
    /// changed nothing rewrites the record's head as it read it; one that
    /// wrote the record reads its head again first.
    pub async fn mark_applied(&self, unchanged: bool) -> anyhow::Result<()> {
        let current = self.record.as_ref().filter(|_| unchanged);
        Record::mark_applied(&self.aws, &self.record_name, current)
            .await
            .context("marking the deployment applied in its record (what `pipectl gc` judges it by)")
    }

    /// The old names of renamed addresses this run settled, under their
    /// [`retiring_address`]: deleted by a replace or as leftovers, found
    /// gone, or no longer this deployment's to delete.
    pub fn settled(&self, plan: &Plan, summary: &Summary) -> Vec<Address> {
        let Some(record) = &self.record else { return Vec::new() };
        let unfinished: BTreeSet<String> = summary
            .failed
            .iter()
            .map(|(a, _)| a)
            .chain(&summary.skipped)
            .chain(&summary.not_started)
            .map(Address::to_string)
            .collect();
        let done: BTreeSet<String> = summary.done.iter().map(Address::to_string).collect();
        let res = self.resources();
        let leftovers: BTreeMap<String, Address> =
            record.retiring_entries().into_iter().map(|(r, _, _)| (r.to_string(), r)).collect();
        let mut out = Vec::new();
        for c in plan.changes.iter().filter(|c| !unfinished.contains(&c.address)) {
            if let Some(r) = leftovers.get(&c.address) {
                if done.contains(&c.address) || c.action == Action::NoOp {
                    out.push(r.clone());
                }
                continue;
            }
            // A rename: the old name of this address, replaced or not there.
            let Some(a) = Address::parse(&c.address) else { continue };
            let (Some(old), Some(r)) = (record.resources.get(&c.address), res.get(&a)) else { continue };
            if r.record_name() != *old && self.graph.nodes.contains_key(&a) {
                out.push(retiring_address(&a, old));
            }
        }
        out
    }

    /// Resources the record lists that the spec does not have, and the old
    /// names of renamed addresses still to delete; never what the spec
    /// wants (by kind and name, [`Deployment::wanted`]), and each physical
    /// resource once: an old name the record also lists under an address
    /// is deleted, if at all, as that address's.
    pub(super) fn orphans(&self) -> BTreeMap<Address, Res> {
        let in_spec = |a: &Address| self.loaded.as_ref().is_some_and(|l| l.graph.nodes.contains_key(a));
        let scope = self.aws.scope();
        let wanted = self.wanted();
        let mut seen = spelled(self.record.iter().flat_map(Content::entries));
        let listed = self
            .record
            .iter()
            .flat_map(Content::entries)
            .filter(|(a, n)| !in_spec(a) && !wanted.contains(&(a.kind, n.clone())));
        let retiring = self
            .record
            .iter()
            .flat_map(Content::retiring_entries)
            .filter(|(_, of, n)| !wanted.contains(&(of.kind, n.clone())) && seen.insert((of.kind, n.clone())));
        let emptied = |a: &Address| self.record.as_ref().is_some_and(|r| r.emptied.contains(&a.to_string()));
        let orphans: Vec<(Address, Address, String)> = listed.map(|(a, n)| (a.clone(), a, n)).chain(retiring).collect();
        orphans
            .into_iter()
            .map(|(a, of, n)| {
                // What the spec said goes with its data still does.
                let meta = Meta { delete_data: self.meta.delete_data || emptied(&of), ..self.meta.clone() };
                let res = resources::from_record(&a, &n, &scope, &meta);
                (a, res)
            })
            .collect()
    }

    /// Every resource the whole spec wants (`--target` or not), by kind and
    /// name as the record spells it: none of them is ever a leftover.
    pub(super) fn wanted(&self) -> BTreeSet<(Kind, String)> {
        let Some(loaded) = &self.loaded else { return BTreeSet::new() };
        let res = crate::resolve::resources(&loaded.spec, &loaded.graph, &self.aws.scope(), &self.meta);
        res.iter().map(|(a, r)| (a.kind, r.record_name())).collect()
    }

    /// One note naming what keeps the default name an earlier pipectl gave
    /// it (no note when nothing does).
    pub(super) fn kept_notes(&self) -> Vec<String> {
        let Some(loaded) = &self.loaded else { return Vec::new() };
        if loaded.kept.is_empty() {
            return Vec::new();
        }
        let kept: Vec<String> = loaded.kept.iter().map(|(a, n)| format!("{a} as `{n}`")).collect();
        vec![format!(
            "{} keep{} the default name an earlier pipectl gave {}, so nothing moves; new deployments' \
             defaults carry the account and region (set `name:` to choose; see docs/names.md)",
            kept.join(", "),
            if kept.len() == 1 { "s" } else { "" },
            if kept.len() == 1 { "it" } else { "them" },
        )]
    }

    /// What the planner needs to know of this deployment.
    pub(super) fn context(&self) -> Context<'_> {
        let mut protected = self.record.as_ref().map(|r| r.protected.clone()).unwrap_or_default();
        // An old name holds what its address held: protected the same.
        for (r, of, _) in self.record.iter().flat_map(Content::retiring_entries) {
            if protected.contains(&of.to_string()) {
                protected.insert(r.to_string());
            }
        }
        Context {
            owner: self.meta.owner(),
            region: &self.aws.region,
            account: &self.aws.account,
            listed: self.listed(),
            protected,
        }
    }

    /// What the record lists, address -> name, old names of renamed
    /// addresses under their [`retiring_address`].
    pub(super) fn listed(&self) -> BTreeMap<String, String> {
        let Some(r) = &self.record else { return BTreeMap::new() };
        let retiring = r.retiring_entries().into_iter().map(|(a, _, n)| (a.to_string(), n));
        r.resources.clone().into_iter().chain(retiring).collect()
    }
}

/// Listed names by kind and name.
fn spelled(entries: impl IntoIterator<Item = (Address, String)>) -> BTreeSet<(Kind, String)> {
    entries.into_iter().map(|(a, n)| (a.kind, n)).collect()
}

/// The kind of an address as the record spells it (`None`: one this build
/// does not know).
fn kind_of(address: &str) -> Option<Kind> {
    Address::parse(address).map(|a| a.kind)
}

/// A cost as the record keeps it: to a billionth of a dollar, few enough
/// digits that reading the record back gives the same number (a sum of
/// prices written with every digit read back one step off, and the
/// re-plan showed the record changed).
fn stored_cost(hourly: f64) -> f64 {
    (hourly * 1e9).round() / 1e9
}

#[cfg(test)]
mod cost_tests {
    #[test]
    fn a_cost_in_the_record_reads_back_as_written() {
        for hourly in [1.084109589041096, 1.0841095890410961, 0.051369863013698634, 37.43 / 730.0, 1234.5678901234] {
            let kept = super::stored_cost(hourly);
            let back: f64 = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
            assert_eq!(back.to_bits(), kept.to_bits(), "{hourly}");
            assert!((kept - hourly).abs() < 1e-9);
        }
    }
}
