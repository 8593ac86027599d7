//! The deployment record: an SSM parameter `/pipectl/<pipeline>/<env>`
//! listing the address and physical name of every resource of the
//! deployment.
//!
//! Contract:
//! 1. read: GetParameter; absent = `None`. Tags via ListTagsForResource.
//! 2. Every other node depends on the record, so it is written before the
//!    first mutation, listing everything apply is about to create. A crash
//!    or a cancelled job therefore leaves a record of what may exist.
//! 3. update in place: the listing (PutParameter, Overwrite).
//! 4. delete: last of a destroy (everything depends on it); if anything
//!    failed before, it stays, so the next destroy finds what is left.
//! 5. A standard parameter holds 4 KB. A larger listing goes to the
//!    Advanced tier (8 KB, billed per parameter-month); past 8 KB apply
//!    refuses before any mutation.

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

pub const MAX_STANDARD: usize = 4096;
pub const MAX_ADVANCED: usize = 8192;

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
    /// When the deployment was first applied (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// Who last changed it: `user@host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When SSM last wrote the parameter (seconds since the epoch, with
    /// its fraction), as read; not part of the stored text.
    #[serde(skip)]
    pub written: Option<f64>,
}

impl Content {
    /// The listing of `resources` (address -> name as the record spells it).
    pub fn of<'a>(region: &str, resources: impl IntoIterator<Item = (&'a Address, String)>) -> Content {
        let resources = resources.into_iter().map(|(a, n)| (a.to_string(), n)).collect();
        Content {
            v: 1,
            region: region.to_string(),
            resources,
            protected: BTreeSet::new(),
            created: None,
            by: None,
            written: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("record serializes")
    }

    pub fn parse(text: &str) -> Option<Content> {
        serde_json::from_str(text).ok()
    }

    /// The listing as (address, name), addresses this build understands.
    pub fn entries(&self) -> Vec<(Address, String)> {
        self.resources.iter().filter_map(|(a, n)| Address::parse(a).map(|a| (a, n.clone()))).collect()
    }
}

/// A deployment found by its record.
#[derive(Debug, Clone)]
pub struct Listed {
    pub pipeline: String,
    pub env: String,
    pub content: Content,
}

impl Listed {
    /// When the record was last written (whole seconds since the epoch).
    pub fn changed(&self) -> Option<u64> {
        self.content.written.map(|w| w.max(0.0) as u64)
    }
}

/// The deployments in this account and region (all, or one pipeline's),
/// from their records.
pub async fn list(aws: &Aws, pipeline: Option<&str>) -> Result<Vec<Listed>, AwsError> {
    let path = pipeline.map_or_else(|| "/pipectl".to_string(), |p| format!("/pipectl/{p}"));
    let mut out = Vec::new();
    for p in aws.parameters_by_path(&path).await? {
        let parts: Vec<&str> = p.name().unwrap_or_default().trim_start_matches('/').split('/').collect();
        let (["pipectl", pipeline, env], Some(content)) = (parts.as_slice(), p.value().and_then(Content::parse)) else {
            continue;
        };
        let content = Content { written: p.last_modified_date().map(|d| d.as_secs_f64()), ..content };
        out.push(Listed { pipeline: pipeline.to_string(), env: env.to_string(), content });
    }
    out.sort_by(|a, b| (&a.pipeline, &a.env).cmp(&(&b.pipeline, &b.env)));
    Ok(out)
}

/// What the diff compares: the listing and the tags.
#[derive(Serialize)]
struct Attributes<'a> {
    resources: &'a BTreeMap<String, String>,
    protected: &'a BTreeSet<String>,
    tags: &'a Tags,
}

pub struct Record {
    pub(super) base: Base,
    content: Option<Content>,
    /// What the caller already read from SSM (`Some(None)`: no record), so
    /// a plan does not fetch the parameter a second time.
    current: Option<Option<Content>>,
}

impl Record {
    pub fn new(address: Address, name: String, content: Option<Content>, meta: &Meta) -> Self {
        Record { base: Base::new(address, name, meta), content, current: None }
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
        Ok(p.value().and_then(Content::parse).map(|c| Content { written, ..c }))
    }

    /// Writes the record's content over the current one.
    pub async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        self.write(aws, true).await
    }

    async fn write(&self, aws: &Aws, overwrite: bool) -> Result<(), AwsError> {
        let text = self.content.as_ref().map(Content::to_json).unwrap_or_default();
        if text.len() > MAX_ADVANCED {
            return Err(AwsError::fatal(
                "PutParameter",
                format!(
                    "the deployment record is {} bytes; SSM holds at most {MAX_ADVANCED}: split the pipeline",
                    text.len()
                ),
            ));
        }
        let tier = if text.len() > MAX_STANDARD { ParameterTier::Advanced } else { ParameterTier::Standard };
        retry(
            Duration::from_secs(60),
            |_| false,
            || {
                let mut req = aws
                    .ssm
                    .put_parameter()
                    .name(&self.base.name)
                    .value(&text)
                    .r#type(ParameterType::String)
                    .tier(tier.clone())
                    .description("pipectl deployment record: every resource of this pipeline and env")
                    .overwrite(overwrite);
                if !overwrite {
                    req = req.set_tags(Some(ssm_tags(&self.base.tags)));
                }
                async move { send!("PutParameter", req).map(drop) }
            },
        )
        .await
    }
}

fn ssm_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

#[async_trait]
impl Resource for Record {
    fn desired(&self) -> Option<Attrs> {
        let c = self.content.as_ref()?;
        Some(to_attrs(&Attributes { resources: &c.resources, protected: &c.protected, tags: &self.base.tags }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let content = match &self.current {
            Some(known) => known.clone(),
            None => Record::fetch(aws, &self.base.name).await?,
        };
        let Some(content) = content else {
            return Ok(None);
        };
        let tags = send!(
            "ListTagsForResource",
            aws.ssm
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(&self.base.name)
        )?;
        let tags: Tags = tags.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        let attrs = to_attrs(&Attributes { resources: &content.resources, protected: &content.protected, tags: &tags });
        Ok(Some(Observed { attrs, tags: Some(tags), marker: None }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        match self.write(aws, false).await {
            // A retried create whose first response was lost.
            Err(e) if e.code.as_deref() == Some("ParameterAlreadyExists") => self.write(aws, true).await,
            other => other,
        }
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c == "resources") {
            self.write(aws, true).await?;
        }
        Ok(())
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

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        gone_if_absent(gone!("DeleteParameter", aws.ssm.delete_parameter().name(&self.base.name)))
    }
}
