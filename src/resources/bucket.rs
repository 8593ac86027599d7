//! S3 bucket, with its public access block, default encryption and tags.
//!
//! Contract:
//! 1. read: HeadBucket (404 = `None`), GetBucketTagging (no tag set = no
//!    tags), GetBucketEncryption, GetPublicAccessBlock.
//! 2. attributes: public_access_block (all four settings on), encryption
//!    (SSE-S3, AES256), tags; all update in place. The name forces a
//!    replacement.
//! 3. create: CreateBucket with the tags (LocationConstraint outside
//!    us-east-1), then the public access block and encryption, and the
//!    tags again where the endpoint dropped them. "Exists" is ready.
//!    Ownership: the tags; a bucket without them is adopted only when the
//!    record lists it (written before the create) and it holds nothing.
//! 4. delete: a bucket holding objects is kept under `on_destroy: retain`
//!    (the result says so) unless `--delete-data`; otherwise every object
//!    version and delete marker is removed, then the bucket.
//!    NoSuchBucket means done.

use super::cfn::{self, Part};
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags, TAG_PIPELINE};
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::spec::{self, OnDestroy};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use serde::Serialize;
use std::time::Duration;

pub struct Bucket {
    pub base: Base,
    pub spec: Option<spec::Bucket>,
}

impl Bucket {
    async fn put_public_access_block(&self, aws: &Aws) -> Result<(), AwsError> {
        let cfg = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        send!(
            "PutPublicAccessBlock",
            aws.s3.put_public_access_block().bucket(&self.base.name).public_access_block_configuration(cfg)
        )
        .map(drop)
    }

    async fn put_encryption(&self, aws: &Aws) -> Result<(), AwsError> {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .expect("algorithm set"),
            )
            .build();
        let cfg = ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("rules set");
        send!(
            "PutBucketEncryption",
            aws.s3.put_bucket_encryption().bucket(&self.base.name).server_side_encryption_configuration(cfg)
        )
        .map(drop)
    }

    /// The desired tags in S3's shape.
    fn s3_tags(&self) -> Vec<Tag> {
        let tag = |(k, v): (&String, &String)| Tag::builder().key(k).value(v).build().expect("key and value set");
        self.base.tags.iter().map(tag).collect()
    }

    async fn put_tags(&self, aws: &Aws) -> Result<(), AwsError> {
        let tagging = Tagging::builder().set_tag_set(Some(self.s3_tags())).build().expect("tag set");
        send!("PutBucketTagging", aws.s3.put_bucket_tagging().bucket(&self.base.name).tagging(tagging)).map(drop)
    }

    /// Deletes every object version and delete marker; returns how many.
    async fn empty(&self, aws: &Aws, p: &Progress) -> Result<usize, AwsError> {
        let mut removed = 0;
        loop {
            let page =
                send!("ListObjectVersions", aws.s3.list_object_versions().bucket(&self.base.name).max_keys(1000))?;
            let id = |key: Option<&str>, version: Option<&str>| {
                let b = ObjectIdentifier::builder().key(key.unwrap_or_default());
                b.set_version_id(version.map(str::to_string)).build().expect("key set")
            };
            let versions = page.versions().iter().map(|v| id(v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| id(m.key(), m.version_id()));
            let ids: Vec<ObjectIdentifier> = versions.chain(markers).collect();
            if ids.is_empty() {
                return Ok(removed);
            }
            removed += ids.len();
            p.say(format!("emptying: {removed} objects removed"));
            let delete = Delete::builder().set_objects(Some(ids)).quiet(true).build().expect("objects set");
            gone!("DeleteObjects", aws.s3.delete_objects().bucket(&self.base.name).delete(delete))?;
        }
    }

    /// The bucket's tags (none when it has no tag set).
    async fn live_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        let out = send!("GetBucketTagging", aws.s3.get_bucket_tagging().bucket(&self.base.name)).found()?;
        Ok(out
            .map(|t| t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
            .unwrap_or_default())
    }

    /// The bucket's tags from the plan's tag listing when it lists the
    /// bucket, else from S3.
    async fn listed_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        super::listed_tags(aws, &aws.scope().bucket(&self.base.name).to_string(), self.live_tags(aws)).await
    }

    /// When the bucket was created (seconds since the epoch).
    async fn created(&self, aws: &Aws) -> Result<Option<f64>, AwsError> {
        let out = send!("ListBuckets", aws.s3.list_buckets().prefix(&self.base.name))?;
        Ok(out
            .buckets()
            .iter()
            .find(|b| b.name() == Some(self.base.name.as_str()))
            .and_then(|b| b.creation_date())
            .map(|d| d.as_secs_f64()))
    }

    /// What a read found of a bucket that is there. A bucket without
    /// pipectl's tags, made after the record that names it was written,
    /// holding nothing: the crash of an earlier apply between CreateBucket
    /// and its tagging (where S3 took no tags at creation). It is adopted
    /// when the record lists it; one holding data, or older than the
    /// record (a record edited to name someone else's bucket), never is.
    async fn owned(&self, aws: &Aws, attrs: &Attributes, tags: Tags) -> Result<Observed, AwsError> {
        if !tags.contains_key(TAG_PIPELINE) && self.holds_objects(aws).await.found()? == Some(false) {
            if let Some(claim) = super::untagged_claim(&self.base.meta, self.created(aws).await?, &tags) {
                return Ok(Observed { tags: None, marker: Some(claim), ..Observed::of(attrs, None) });
            }
        }
        Ok(Observed::of(attrs, Some(tags)))
    }

    async fn holds_objects(&self, aws: &Aws) -> Result<bool, AwsError> {
        let page = send!("ListObjectVersions", aws.s3.list_object_versions().bucket(&self.base.name).max_keys(1))?;
        Ok(!page.versions().is_empty() || !page.delete_markers().is_empty())
    }
}

/// What the diff compares: all four public-access settings on, SSE-S3.
#[derive(Serialize)]
struct Attributes {
    public_access_block: bool,
    encryption: String,
    tags: Tags,
}

#[async_trait]
impl Resource for Bucket {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let access = serde_json::json!({
            "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true,
        });
        let sse = serde_json::json!({
            "ServerSideEncryptionConfiguration": [{ "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }]
        });
        let props = serde_json::json!({
            "BucketName": self.base.name,
            "PublicAccessBlockConfiguration": access,
            "BucketEncryption": sse,
            "Tags": cfn::tags(&self.base.tags),
        });
        Ok(vec![Part::new("AWS::S3::Bucket", props).retain(s.on_destroy == OnDestroy::Retain || s.protect)])
    }
    /// Only when emptied: `on_destroy: delete` or `--delete-data`; under
    /// `retain` a bucket holding objects is kept.
    fn deletes_data(&self) -> bool {
        self.base.meta.delete_data || self.spec.as_ref().is_some_and(|s| s.on_destroy == OnDestroy::Delete)
    }
    fn protected(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.protect)
    }
    fn desired(&self) -> Option<Attrs> {
        self.spec.as_ref()?;
        Some(to_attrs(&Attributes {
            public_access_block: true,
            encryption: "AES256".into(),
            tags: self.base.tags.clone(),
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // Its four calls side by side; a bucket that is not there answers
        // "not found" to each, and the HeadBucket answer decides.
        let (head, tags, encryption, pab) = tokio::join!(
            async { send!("HeadBucket", aws.s3.head_bucket().bucket(&self.base.name)).found() },
            self.listed_tags(aws),
            async {
                Ok::<_, AwsError>(
                    match send!("GetBucketEncryption", aws.s3.get_bucket_encryption().bucket(&self.base.name))
                        .found()?
                    {
                        Some(o) => o
                            .server_side_encryption_configuration()
                            .and_then(|c| c.rules().first())
                            .and_then(|r| r.apply_server_side_encryption_by_default())
                            .map(|d| d.sse_algorithm().as_str().to_string())
                            .unwrap_or_else(|| "NONE".into()),
                        None => "NONE".into(),
                    },
                )
            },
            async {
                Ok::<_, AwsError>(
                    match send!("GetPublicAccessBlock", aws.s3.get_public_access_block().bucket(&self.base.name))
                        .found()?
                    {
                        Some(o) => o.public_access_block_configuration().is_some_and(|c| {
                            c.block_public_acls() == Some(true)
                                && c.ignore_public_acls() == Some(true)
                                && c.block_public_policy() == Some(true)
                                && c.restrict_public_buckets() == Some(true)
                        }),
                        None => false,
                    },
                )
            },
        );
        if head?.is_none() {
            return Ok(None);
        }
        let (tags, encryption, pab) = (tags?, encryption?, pab?);
        let attrs = Attributes { public_access_block: pab, encryption, tags: tags.clone() };
        self.owned(aws, &attrs, tags).await.map(Some)
    }

    /// Whether it is there and whose: HeadBucket and the tags, without the
    /// settings only a diff compares.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let (head, tags) = tokio::join!(
            async { send!("HeadBucket", aws.s3.head_bucket().bucket(&self.base.name)).found() },
            self.listed_tags(aws),
        );
        if head?.is_none() {
            return Ok(None);
        }
        let tags = tags?;
        let attrs = Attributes { public_access_block: false, encryption: String::new(), tags: tags.clone() };
        self.owned(aws, &attrs, tags).await.map(Some)
    }

    /// The record lists the bucket before this runs (every node waits for
    /// the record), and the tags go in the create call; where an endpoint
    /// drops them they are written right after. "Already yours" is an
    /// earlier attempt's bucket when it carries this deployment's tags, or
    /// none and holds nothing; any other is left alone.
    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(self.s3_tags()));
        if aws.region != "us-east-1" {
            config = config.location_constraint(BucketLocationConstraint::from(aws.region.as_str()));
        }
        let req = aws.s3.create_bucket().bucket(&self.base.name).create_bucket_configuration(config.build());
        if send!("CreateBucket", req).created()?.is_none() {
            // The plan, moments ago, found no bucket: this one is an earlier
            // attempt's, unless it is tagged for someone else or holds data.
            let owner = self.base.meta.owner();
            let tags = self.live_tags(aws).await?;
            let theirs = tags.contains_key(TAG_PIPELINE) && !owner.owns_tags(&tags);
            if theirs || (!tags.contains_key(TAG_PIPELINE) && self.holds_objects(aws).await?) {
                let o = Observed::of(&Attrs::new(), Some(tags));
                let why = owner.conflict_reason(&o);
                return Err(AwsError::fatal("CreateBucket", format!("`{}`: {why}", self.base.name)));
            }
        }
        // A new bucket may not be visible to every S3 endpoint at once.
        let budget = Duration::from_secs(60);
        retry(budget, |e| e.is_not_found(), || self.put_public_access_block(aws)).await?;
        retry(budget, |e| e.is_not_found(), || self.put_encryption(aws)).await?;
        retry(budget, |e| e.is_not_found(), || super::converge(self, aws, p)).await
    }

    /// S3 replaces the whole tag set: the desired tags are written as one.
    async fn add_tags(&self, aws: &Aws, _set: &Tags) -> Result<(), AwsError> {
        self.put_tags(aws).await
    }

    async fn remove_tags(&self, aws: &Aws, _keys: &[String]) -> Result<(), AwsError> {
        self.put_tags(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        for c in changed {
            match c.as_str() {
                "public_access_block" => self.put_public_access_block(aws).await?,
                "encryption" => self.put_encryption(aws).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let retain =
            self.spec.as_ref().is_none_or(|s| s.on_destroy == OnDestroy::Retain) && !self.base.meta.delete_data;
        // "No such bucket" ends in the delete below, which takes it as done.
        // A writer still finishing (a Firehose being deleted flushes its
        // last buffer) can land objects after the bucket was emptied:
        // DeleteBucket then says BucketNotEmpty, and the bucket is looked
        // at again.
        let start = std::time::Instant::now();
        loop {
            let holds = self.holds_objects(aws).await.found()?.unwrap_or(false);
            if holds {
                if retain {
                    return Ok(Deleted::Retained(format!(
                        "bucket `{}` holds objects and `on_destroy` is `retain`: kept (use `on_destroy: delete` or `--delete-data`)",
                        self.base.name
                    )));
                }
                let n = self.empty(aws, p).await?;
                p.say(format!("emptied ({n} objects and versions)"));
            }
            match gone!("DeleteBucket", aws.s3.delete_bucket().bucket(&self.base.name)) {
                Err(e) if e.code.as_deref() == Some("BucketNotEmpty") && start.elapsed() < self.timeout() => {
                    p.say("objects landed after emptying; emptying again");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                other => return gone_if_absent(other),
            }
        }
    }
}
