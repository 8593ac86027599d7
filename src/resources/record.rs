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
//! 5. Stored compressed (zlib, base64) with no size ceiling: a listing
//!    that fits a standard parameter (4 KB) is stored inline; a larger one
//!    is cut into 4 KB parts at `/pipectl-parts/<pipeline>/<env>/<gen>/<i>`
//!    (standard parameters, no tier fees), `gen` being the first 12 hex
//!    digits of the SHA-256 of the stored text. Parts are written first,
//!    then the head naming them, then parts of other generations are
//!    deleted: a run stopped at any point leaves a head whose parts all
//!    exist. A record written as plain JSON by an earlier pipectl is read
//!    as it is and stored in the new form on its next write.

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

/// What a standard SSM parameter holds.
pub const MAX_STANDARD: usize = 4096;
/// The characters of stored text in one part.
const PART: usize = 4000;
/// GetParameters and DeleteParameters take at most this many names.
const NAMES_PER_CALL: usize = 10;

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
    /// What the deployment costs idle, per hour, as last applied, and the
    /// price table's version (`crate::cost`): what `list` and `gc` show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<String>,
    /// When SSM last wrote the parameter (seconds since the epoch, with
    /// its fraction), as read; not part of the stored text.
    #[serde(skip)]
    pub written: Option<f64>,
    /// Whether the record was stored in parts, as read; not stored.
    #[serde(skip)]
    pub in_parts: bool,
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
            cost_per_hour: None,
            prices: None,
            written: None,
            in_parts: false,
        }
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
        use base64::Engine as _;
        use sha2::Digest as _;
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(self.to_json().as_bytes()).expect("writes to memory");
        let data = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("writes to memory"));
        let inline = Head { format: FORMAT.into(), data: Some(data.clone()), ..Head::default() };
        let text = serde_json::to_string(&inline).expect("head serializes");
        if text.len() <= MAX_STANDARD {
            return (text, None);
        }
        let sha = hex(&sha2::Sha256::digest(data.as_bytes()));
        let generation = sha[..12].to_string();
        let parts: Vec<String> =
            data.as_bytes().chunks(PART).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let head = Head {
            format: FORMAT.into(),
            data: None,
            parts: parts.len(),
            generation: Some(generation.clone()),
            sha256: Some(sha),
        };
        (serde_json::to_string(&head).expect("head serializes"), Some((generation, parts)))
    }

    /// The listing as (address, name), addresses this build understands.
    pub fn entries(&self) -> Vec<(Address, String)> {
        self.resources.iter().filter_map(|(a, n)| Address::parse(a).map(|a| (a, n.clone()))).collect()
    }
}

const FORMAT: &str = "zlib+base64";

/// The head parameter of a stored record: the compressed listing itself,
/// or the generation, count and digest of its parts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Head {
    format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    parts: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a head parameter's text says.
#[derive(Debug, PartialEq)]
enum Stored {
    /// The whole listing (inline, or plain JSON from an earlier pipectl).
    Whole(Content),
    /// A listing in parts: their generation, count and digest.
    Parts { generation: String, count: usize, sha256: String },
}

fn read_head(text: &str) -> Result<Stored, String> {
    if let Ok(head) = serde_json::from_str::<Head>(text) {
        if head.format != FORMAT {
            return Err(format!(
                "it is stored as `{}`, which this pipectl does not read: upgrade pipectl",
                head.format
            ));
        }
        return match (head.data, head.generation, head.sha256) {
            (Some(data), _, _) => inflate(&data).map(Stored::Whole),
            (None, Some(generation), Some(sha256)) if head.parts > 0 => {
                Ok(Stored::Parts { generation, count: head.parts, sha256 })
            }
            _ => Err("its head names neither a listing nor its parts".into()),
        };
    }
    // Plain JSON: the format before compression.
    Content::parse(text).map(Stored::Whole).ok_or_else(|| "it is not a listing pipectl wrote".to_string())
}

fn inflate(data: &str) -> Result<Content, String> {
    use base64::Engine as _;
    use std::io::Read as _;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|e| format!("not base64: {e}"))?;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(bytes.as_slice())
        .take(64 << 20)
        .read_to_string(&mut json)
        .map_err(|e| format!("not zlib: {e}"))?;
    Content::parse(&json).ok_or_else(|| "its listing is not JSON pipectl wrote".to_string())
}

/// The listing from its parts, in order, checked against the head's digest.
fn join_parts(parts: &[String], sha256: &str) -> Result<Content, String> {
    use sha2::Digest as _;
    let data = parts.concat();
    if hex(&sha2::Sha256::digest(data.as_bytes())) != sha256 {
        return Err("its parts do not match the digest in its head".into());
    }
    inflate(&data)
}

fn part_name(record: &str, generation: &str, i: usize) -> String {
    format!("{}/{generation}/{i}", crate::names::record_parts_path(record))
}

fn damaged(record: &str, why: String) -> AwsError {
    AwsError::fatal(
        "GetParameter",
        format!(
            "the deployment record `{record}` cannot be read: {why}; \
             `pipectl unlock` does not help here: restore the parameter or delete it to start over"
        ),
    )
}

/// The listing a head parameter's text stands for, fetching its parts.
async fn load(aws: &Aws, record: &str, text: &str) -> Result<Content, AwsError> {
    let (generation, count, sha256) = match read_head(text).map_err(|e| damaged(record, e))? {
        Stored::Whole(c) => return Ok(Content { in_parts: false, ..c }),
        Stored::Parts { generation, count, sha256 } => (generation, count, sha256),
    };
    let names: Vec<String> = (0..count).map(|i| part_name(record, &generation, i)).collect();
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for batch in names.chunks(NAMES_PER_CALL) {
        let out = retry(
            Duration::from_secs(60),
            |_| false,
            || async { send!("GetParameters", aws.ssm.get_parameters().set_names(Some(batch.to_vec()))) },
        )
        .await?;
        for p in out.parameters() {
            found.insert(p.name().unwrap_or_default().to_string(), p.value().unwrap_or_default().to_string());
        }
    }
    let mut parts = Vec::with_capacity(count);
    for n in &names {
        let Some(v) = found.remove(n) else { return Err(damaged(record, format!("its part `{n}` is missing"))) };
        parts.push(v);
    }
    join_parts(&parts, &sha256).map(|c| Content { in_parts: true, ..c }).map_err(|e| damaged(record, e))
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
        let name = p.name().unwrap_or_default();
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        let (["pipectl", pipeline, env], Some(text)) = (parts.as_slice(), p.value()) else {
            continue;
        };
        let content = match load(aws, name, text).await {
            Ok(c) => c,
            // Something else under /pipectl, or a damaged record: listed
            // by the commands that work on it, not here.
            Err(e) if e.class == crate::aws::Class::Fatal => continue,
            Err(e) => return Err(e),
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
        let content = load(aws, name, p.value().unwrap_or_default()).await?;
        Ok(Some(Content { written, ..content }))
    }

    /// Writes the record's content over the current one.
    pub async fn put(&self, aws: &Aws) -> Result<(), AwsError> {
        self.write(aws, true).await
    }

    /// Writes parts (if any), then the head, then removes the parts of
    /// other generations: readers see the old listing or the new one.
    async fn write(&self, aws: &Aws, overwrite: bool) -> Result<(), AwsError> {
        let (head, parts) = self.content.as_ref().map(Content::encode).unwrap_or_default();
        let keep = parts.as_ref().map(|(g, _)| g.clone());
        for (i, text) in parts.iter().flat_map(|(_, p)| p.iter()).enumerate() {
            let generation = keep.as_deref().expect("parts have a generation");
            let name = part_name(&self.base.name, generation, i);
            put_parameter(aws, &name, text, true, None).await?;
        }
        let tags = (!overwrite).then(|| ssm_tags(&self.base.tags));
        put_parameter(aws, &self.base.name, &head, overwrite, tags).await?;
        self.remove_parts(aws, keep.as_deref()).await
    }

    /// Deletes this record's parts, except those of generation `keep`.
    async fn remove_parts(&self, aws: &Aws, keep: Option<&str>) -> Result<(), AwsError> {
        let path = crate::names::record_parts_path(&self.base.name);
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
        let attrs = to_attrs(&Attributes { resources: &content.resources, protected: &content.protected, tags: &tags });
        Ok(Some(Observed::with_attrs(attrs, Some(tags))))
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
            self.remove_parts(aws, None).await?;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;

    fn content(n: usize) -> Content {
        let addrs: Vec<Address> = (0..n).map(|i| Address::new(Kind::Stream, format!("stream-{i:04}"))).collect();
        let names = addrs.iter().enumerate().map(|(i, a)| (a, format!("bench-pipeline-default-stream-{i:04}")));
        let mut c = Content::of("eu-west-1", names);
        c.created = Some(1_700_000_000);
        c.by = Some("ci@runner".into());
        c
    }

    #[test]
    fn a_small_listing_sits_in_the_head() {
        let c = content(40);
        let (head, parts) = c.encode();
        assert!(parts.is_none());
        assert!(head.len() <= MAX_STANDARD);
        assert_eq!(read_head(&head), Ok(Stored::Whole(c)));
    }

    #[test]
    fn a_thousand_resources_go_in_parts_that_join_back() {
        let c = content(1000);
        assert!(c.to_json().len() > 8192, "larger than the old ceiling");
        let (head, parts) = c.encode();
        let (generation, parts) = parts.expect("parts");
        assert!(head.len() <= MAX_STANDARD && parts.iter().all(|p| p.len() <= MAX_STANDARD));
        let Ok(Stored::Parts { generation: g, count, sha256 }) = read_head(&head) else { panic!("{head}") };
        assert_eq!((g, count), (generation, parts.len()));
        assert_eq!(join_parts(&parts, &sha256), Ok(c.clone()));
        // The same listing is stored the same way: a rewrite is idempotent.
        assert_eq!(c.encode().0, head);
    }

    #[test]
    fn damaged_parts_are_refused_not_misread() {
        let (head, parts) = content(1000).encode();
        let (_, mut parts) = parts.unwrap();
        let Ok(Stored::Parts { sha256, .. }) = read_head(&head) else { panic!() };
        parts.swap(0, 1);
        assert!(join_parts(&parts, &sha256).unwrap_err().contains("digest"));
        parts.pop();
        assert!(join_parts(&parts, &sha256).is_err());
    }

    #[test]
    fn a_record_of_the_earlier_plain_format_is_read() {
        let c = content(3);
        assert_eq!(read_head(&c.to_json()), Ok(Stored::Whole(c)));
        assert!(read_head(r#"{"format":"zstd","data":"x"}"#).unwrap_err().contains("upgrade"));
        assert!(read_head("not json").is_err());
    }
}
