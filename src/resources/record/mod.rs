//! The deployment record: an SSM parameter `/pipectl/<pipeline>/<env>`
//! listing the address and physical name of every resource of the
//! deployment, the addresses the spec protects, what it costs, and, for
//! an address whose name changed, the old names still to delete.
//!
//! Contract:
//! 1. read: GetParameter; absent = `None`. Tags via ListTagsForResource.
//! 2. Every other node depends on the record, so it is written before the
//!    first mutation, listing everything apply is about to create. A crash
//!    or a cancelled job therefore leaves a record of what may exist.
//! 3. update in place: the whole content is compared ([`Content::compared`]:
//!    every stored field but who wrote it), so any field that differs, one
//!    added later included, is written (PutParameter, Overwrite).
//! 4. delete: last of a destroy (everything depends on it); if anything
//!    failed before, it stays, so the next destroy finds what is left.
//! 5. Stored compressed (`stored.rs`): a listing that fits a standard
//!    parameter (4 KB) is stored inline; a larger one is cut into 4 KB parts
//!    at `/pipectl-parts/<pipeline>/<env>/<gen>/<i>` (standard parameters,
//!    no tier fees), `gen` being the first 12 hex digits of the SHA-256 of
//!    the stored text. Parts are written first, then the head naming them,
//!    then parts of other generations are deleted: a run stopped at any
//!    point leaves a head whose parts all exist. A record written as plain
//!    JSON by an earlier pipectl is read as it is and stored in the new
//!    form on its next write. Reads are bounded by the largest record a
//!    spec can make: a head claiming more is a damaged record.
//! 6. Liveness: the head carries when the deployment was last applied
//!    successfully (`applied`, refreshed by every successful apply, a no-op
//!    one included, by rewriting the head alone) and when its listing last
//!    changed (`changed`); `gc` judges staleness by `applied`.
//! 7. Renames: an address whose physical name changes keeps the old name
//!    under `retiring` until its delete has succeeded, so a failed delete
//!    or a killed run leaves it tracked for the next apply or destroy.

use super::cfn;
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::plan::Address;
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod list;
mod stored;

pub use list::{last_applied, list, Basis, Damaged, Listed, Listing};
use stored::{part_name, NAMES_PER_CALL};
pub use stored::{Stamps, MAX_JSON, MAX_PARTS, MAX_STANDARD};

/// What the record holds: a version, and address -> physical name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Content {
    pub v: u32,
    pub region: String,
    pub resources: BTreeMap<String, String>,
    /// Addresses the spec protects (`protect:`), so a resource removed
    /// from the spec stays protected until a run with `--allow-data-loss`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub protected: BTreeSet<String>,
    /// Addresses whose data the spec says goes with them on destroy (a
    /// bucket's `on_destroy: delete`), so a destroy from the record empties
    /// them as a destroy from the spec would.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub emptied: BTreeSet<String>,
    /// When the deployment was first applied (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// Who last changed it: `user@host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What the deployment costs idle, per hour, as last applied, and the
    /// price table's version (`crate::cost`): what `list` and `gc` show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<String>,
    /// Address -> the physical names it had before a rename, as the record
    /// spells them, until the old resource's delete has succeeded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retiring: BTreeMap<String, BTreeSet<String>>,
    /// When SSM last wrote the parameter (seconds since the epoch, with
    /// its fraction), as read; not part of the stored text.
    #[serde(skip)]
    pub written: Option<f64>,
    /// Whether the record was stored in parts, as read; not stored.
    #[serde(skip)]
    pub in_parts: bool,
    /// When last applied and last changed: kept in the head, not the listing.
    #[serde(skip)]
    pub stamps: Stamps,
    /// The head parameter's text as read, to mark a run applied by
    /// rewriting it alone.
    #[serde(skip)]
    pub head: Option<String>,
}

/// Stored fields that are no reason to write the record: who wrote it
/// last changes with whoever runs, not with the deployment.
const NOT_COMPARED: &[&str] = &["by"];

impl Content {
    /// The listing of `resources` (address -> name as the record spells it).
    pub fn of<'a>(region: &str, resources: impl IntoIterator<Item = (&'a Address, String)>) -> Content {
        let resources = resources.into_iter().map(|(a, n)| (a.to_string(), n)).collect();
        Content { v: 1, region: region.to_string(), resources, ..Content::default() }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("record serializes")
    }

    pub fn parse(text: &str) -> Option<Content> {
        serde_json::from_str(text).ok()
    }

    /// The stored form: the head parameter's text and, for a listing too
    /// large to sit in the head, the generation and the parts' texts.
    pub fn encode(&self) -> (String, Option<(String, Vec<String>)>) {
        stored::encode(self)
    }

    /// Everything stored that decides whether the record needs writing:
    /// every field of the listing as serialized, less [`NOT_COMPARED`]. A
    /// field added to [`Content`] is compared without being named here.
    pub fn compared(&self) -> Attrs {
        let mut attrs = to_attrs(self);
        // A field left out when empty is compared as null, so emptying it
        // is a change too.
        for f in stored_fields() {
            attrs.entry(f.to_string()).or_insert(serde_json::Value::Null);
        }
        for f in NOT_COMPARED {
            attrs.remove(*f);
        }
        attrs
    }

    /// The listing as (address, name), addresses this build understands.
    pub fn entries(&self) -> Vec<(Address, String)> {
        self.resources.iter().filter_map(|(a, n)| Address::parse(a).map(|a| (a, n.clone()))).collect()
    }

    /// The old names still to delete, each under an address of its own
    /// (see [`retiring_address`]), with the address it retires from.
    pub fn retiring_entries(&self) -> Vec<(Address, Address, String)> {
        self.retiring
            .iter()
            .filter_map(|(a, names)| Address::parse(a).map(|a| (a, names)))
            .flat_map(|(a, names)| names.iter().map(move |n| (retiring_address(&a, n), a.clone(), n.clone())))
            .collect()
    }
}

/// Every field of [`Content`] that is stored, as serde names them: taken
/// from its derived `Deserialize`, so a field added later is in it
/// without being listed anywhere.
fn stored_fields() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    struct Names<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only a struct's field names are asked for"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only a struct's field names are asked for"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    static FIELDS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        let _ = Content::deserialize(Names(&mut fields));
        fields
    })
}

/// The address a plan gives the old resource of `address` named `name`:
/// the same kind, so it is read, owned and ordered as one, and a key that
/// says what it is (`stream.trips~old-name`).
pub fn retiring_address(address: &Address, name: &str) -> Address {
    Address::new(address.kind, format!("{}~{name}", address.key))
}

/// What the diff compares: the whole content (as [`Content::compared`])
/// and the tags.
fn attributes(c: &Content, tags: &Tags) -> Attrs {
    let mut attrs = c.compared();
    attrs.insert("tags".into(), serde_json::to_value(tags).expect("tags serialize"));
    attrs
}

pub struct Record {
    pub(super) base: Base,
    content: Option<Content>,
    /// What the caller already read from SSM (`Some(None)`: no record), so
    /// a plan does not fetch the parameter a second time.
    current: Option<Option<Content>>,
    /// The run's lock, deleted in the same call as the record.
    along: Option<crate::lock::Along>,
}

impl Record {
    pub fn new(address: Address, name: String, content: Option<Content>, meta: &Meta) -> Self {
        Record { base: Base::new(address, name, meta), content, current: None, along: None }
    }

    /// The same record, whose delete takes the run's lock with it.
    pub fn with_lock(mut self, along: Option<crate::lock::Along>) -> Self {
        self.along = along;
        self
    }

    /// The same record, with its current content as the caller read it.
    pub fn with_current(mut self, current: Option<Content>) -> Self {
        self.current = Some(current);
        self
    }

    /// The record's current content, if there is one.
    pub async fn fetch(aws: &Aws, name: &str) -> Result<Option<Content>, AwsError> {
        let out = send!("GetParameter", aws.ssm.get_parameter().name(name));
        let Some(p) = out.found()?.and_then(|o| o.parameter().cloned()) else { return Ok(None) };
        let written = p.last_modified_date().map(|d| d.as_secs_f64());
        let content = stored::load(aws, name, p.value().unwrap_or_default()).await?;
        Ok(Some(Content { written, ..content }))
    }

    /// Writes the record's content over the current one.
    pub async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        self.write(aws, true).await
    }

    /// Writes the record's content, stamped changed now.
    async fn write(&self, aws: &Aws, overwrite: bool) -> Result<(), AwsError> {
        let content =
            self.content.clone().map(|c| Content { stamps: Stamps { changed: Some(now()), ..c.stamps }, ..c });
        let tags = (!overwrite).then(|| ssm_tags(&self.base.tags));
        write_stored(aws, &self.base.name, content.as_ref(), overwrite, tags).await
    }

    /// Marks the deployment applied successfully now (what `gc` judges
    /// staleness by), whether or not the run changed anything: the head
    /// (`current`'s as read, else read now) rewritten with its `applied`
    /// stamp alone, one PutParameter; a record an earlier pipectl wrote is
    /// written whole, in the current form. Nothing when there is no record.
    pub async fn mark_applied(aws: &Aws, name: &str, current: Option<&Content>) -> Result<(), AwsError> {
        let content = match current.filter(|c| c.head.is_some()) {
            Some(c) => c.clone(),
            None => match Record::fetch(aws, name).await? {
                Some(c) => c,
                None => return Ok(()),
            },
        };
        let at = now();
        if let Some(head) = content.head.as_deref().and_then(|h| stored::with_applied(h, at)) {
            return put_parameter(aws, name, &head, true, None).await;
        }
        let changed = content.stamps.changed.or(content.written);
        let c = Content { stamps: Stamps { applied: Some(at), changed }, ..content };
        write_stored(aws, name, Some(&c), true, None).await
    }
}

/// Now, in seconds since the epoch with milliseconds: a stamp.
pub fn now() -> f64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// Writes parts (if any), then the head, then removes the parts of other
/// generations: readers see the old listing or the new one.
async fn write_stored(
    aws: &Aws,
    record: &str,
    content: Option<&Content>,
    overwrite: bool,
    tags: Option<Vec<Tag>>,
) -> Result<(), AwsError> {
    let (head, parts) = content.map(Content::encode).unwrap_or_default();
    let keep = parts.as_ref().map(|(g, _)| g.clone());
    for (i, text) in parts.iter().flat_map(|(_, p)| p.iter()).enumerate() {
        let generation = keep.as_deref().expect("parts have a generation");
        put_parameter(aws, &part_name(record, generation, i), text, true, None).await?;
    }
    put_parameter(aws, record, &head, overwrite, tags).await?;
    remove_parts(aws, record, keep.as_deref()).await
}

/// Deletes the record's parts, except those of generation `keep`.
async fn remove_parts(aws: &Aws, record: &str, keep: Option<&str>) -> Result<(), AwsError> {
    let path = crate::names::record_parts_path(record);
    let stale: Vec<String> = aws
        .parameters_by_path(&path)
        .await?
        .iter()
        .filter_map(|p| p.name().map(str::to_string))
        .filter(|n| keep.is_none_or(|g| !n.starts_with(&format!("{path}/{g}/"))))
        .collect();
    for batch in stale.chunks(NAMES_PER_CALL) {
        retry(
            Duration::from_secs(60),
            |_| false,
            || async {
                gone!("DeleteParameters", aws.ssm.delete_parameters().set_names(Some(batch.to_vec()))).map(drop)
            },
        )
        .await?;
    }
    Ok(())
}

async fn put_parameter(
    aws: &Aws,
    name: &str,
    text: &str,
    overwrite: bool,
    tags: Option<Vec<Tag>>,
) -> Result<(), AwsError> {
    retry(
        Duration::from_secs(60),
        |_| false,
        || {
            let req = aws
                .ssm
                .put_parameter()
                .name(name)
                .value(text)
                .r#type(ParameterType::String)
                .tier(ParameterTier::Standard)
                .description("pipectl deployment record: every resource of this pipeline and env")
                .overwrite(overwrite)
                .set_tags(tags.clone());
            async move { send!("PutParameter", req).map(drop) }
        },
    )
    .await
}

fn ssm_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

#[async_trait]
impl Resource for Record {
    /// Not exported: a stack is its own record of what it made.
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<cfn::Part>, String> {
        Ok(Vec::new())
    }
    fn desired(&self) -> Option<Attrs> {
        let c = self.content.as_ref()?;
        Some(attributes(c, &self.base.tags))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let content = match &self.current {
            Some(known) => known.clone(),
            None => Record::fetch(aws, &self.base.name).await?,
        };
        let Some(content) = content else {
            return Ok(None);
        };
        // From the plan's tag listing when it lists the record.
        let own = async {
            let req = aws
                .ssm
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(&self.base.name);
            let out = send!("ListTagsForResource", req)?;
            Ok(out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
        };
        let tags = super::listed_tags(aws, &aws.scope().parameter(&self.base.name).to_string(), own).await?;
        let attrs = attributes(&content, &tags);
        Ok(Some(Observed::with_attrs(attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        match self.write(aws, false).await {
            // A retried create whose first response was lost.
            Err(e) if e.code.as_deref() == Some("ParameterAlreadyExists") => self.write(aws, true).await,
            other => other,
        }
    }

    /// Any field that differs: the whole record is written (tags are
    /// written apart, and never reach here).
    async fn update(&self, aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        self.write(aws, true).await
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        let (kind, id) = (ResourceTypeForTagging::Parameter, &self.base.name);

        let req = aws.ssm.add_tags_to_resource().resource_type(kind.clone()).resource_id(id);
        send!("AddTagsToResource", req.set_tags(Some(ssm_tags(set))))?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        let (kind, id) = (ResourceTypeForTagging::Parameter, &self.base.name);

        let req = aws.ssm.remove_tags_from_resource().resource_type(kind).resource_id(id);
        gone!("RemoveTagsFromResource", req.set_tag_keys(Some(remove.to_vec())))?;
        Ok(())
    }

    /// The record, then any parts; a record stored whole, read here, goes
    /// with the run's lock in one call (nothing is left to do after it).
    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        // Parts, if the record as read had any (or it was not read here):
        // a record stored whole has none to look for.
        let parts = self.current.as_ref().is_none_or(|c| c.as_ref().is_none_or(|c| c.in_parts));
        if let Some((along, lock)) = self.along.as_ref().filter(|_| !parts).and_then(|a| Some((a, a.take()?))) {
            // Names already gone come back as InvalidParameters, not an error.
            gone!("DeleteParameters", aws.ssm.delete_parameters().names(&self.base.name).names(lock))?;
            along.went();
            return Ok(Deleted::Gone);
        }
        let deleted = gone_if_absent(gone!("DeleteParameter", aws.ssm.delete_parameter().name(&self.base.name)))?;
        if parts {
            remove_parts(aws, &self.base.name, None).await?;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_field_decides_whether_the_record_is_written() {
        let fields = stored_fields();
        for f in
            ["v", "region", "resources", "protected", "emptied", "created", "by", "cost_per_hour", "prices", "retiring"]
        {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        assert!(!fields.contains(&"written") && !fields.contains(&"stamps"), "what is not stored is not compared");
        let base = Content::of("us-east-1", []);
        let protected = Content { protected: ["stream.s".to_string()].into(), ..base.clone() };
        let costly = Content { cost_per_hour: Some(0.03), ..base.clone() };
        let emptied = Content { emptied: ["bucket.b".to_string()].into(), ..base.clone() };
        let renamed =
            Content { retiring: [("stream.s".to_string(), ["old".to_string()].into())].into(), ..base.clone() };
        for changed in [&protected, &costly, &renamed, &emptied] {
            let (was, now) = (base.compared(), changed.compared());
            assert_ne!(was, now);
            // Either way: emptying a field is a change as much as filling it.
            assert_eq!(was.keys().collect::<Vec<_>>(), now.keys().collect::<Vec<_>>());
        }
        // Who wrote it and when are no reason to write it again.
        let other = Content {
            by: Some("someone@else".into()),
            stamps: Stamps { applied: Some(1.0), changed: None },
            ..base.clone()
        };
        assert_eq!(other.compared(), base.compared());
    }
}
