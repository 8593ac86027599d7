//! Which earlier default names a deployment keeps: only those whose live
//! resource is this deployment's own (`docs/names.md`).
//!
//! The record alone proves nothing: it may have been edited (the spec and
//! its record can come from a pull request), or list a name an apply was
//! killed before creating, or a name another account took since. Keeping
//! such a name would adopt someone else's bucket, or create the very name
//! that collides. So a kept name stands only when the resource of that name
//! exists and carries this deployment's ownership tags (or, for a dashboard,
//! its marker), the test a plan makes before it touches anything.

use crate::aws::Aws;
use crate::engine;
use crate::load::Loaded;
use crate::plan::Address;
use crate::resources::{self, Meta};
use std::collections::BTreeMap;

/// Takes out of `recorded` every name `loaded` keeps whose live resource is
/// not this deployment's: missing, untagged, another deployment's, or in
/// another account. Reads only the kept candidates. Whether anything was
/// taken out (the spec is then loaded again without it).
pub(super) async fn keep_only_owned(
    aws: &Aws,
    loaded: &Loaded,
    recorded: &mut BTreeMap<String, String>,
) -> anyhow::Result<bool> {
    if loaded.kept.is_empty() {
        return Ok(false);
    }
    let meta = Meta::of(&loaded.spec, &aws.region);
    let scope = aws.scope();
    let mut reads = Vec::new();
    let mut unreadable = Vec::new();
    for (address, name) in &loaded.kept {
        match Address::parse(address) {
            Some(a) => reads.push((address.clone(), resources::from_record(&a, name, &scope, &meta))),
            None => unreadable.push(address.clone()),
        }
    }
    let owner = meta.owner();
    let seen = engine::read_all(aws, reads, engine::MAX_READS, engine::Depth::Owner).await?;
    let disowned = seen
        .into_iter()
        .filter(|(_, observed)| !observed.as_ref().is_some_and(|o| owner.owns(o, true)))
        .map(|(address, _)| address)
        .chain(unreadable);
    let mut dropped = false;
    for address in disowned {
        dropped |= recorded.remove(&address).is_some();
    }
    Ok(dropped)
}
