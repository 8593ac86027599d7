//! S3 bucket, with its public access block, default encryption and tags.
//!
//! Contract:
//! 1. read: HeadBucket (404 = `None`), GetBucketTagging (no tag set = no
//!    tags), GetBucketEncryption, GetPublicAccessBlock.
//! 2. attributes: public_access_block (all four settings on), encryption
//!    (SSE-S3, AES256), tags; all update in place. The name forces a
//!    replacement.
//! 3. create: CreateBucket (LocationConstraint outside us-east-1), then the
//!    public access block, encryption and tags. "Exists" is ready.
//! 4. delete: a bucket holding objects is kept under `on_destroy: retain`
//!    (the result says so) unless `--delete-data`; otherwise every object
//!    version and delete marker is removed, then the bucket.
//!    NoSuchBucket means done.

use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
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

    async fn put_tags(&self, aws: &Aws) -> Result<(), AwsError> {
        let tags: Vec<Tag> = self
            .base
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
            .collect();
        let tagging = Tagging::builder().set_tag_set(Some(tags)).build().expect("tag set");
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
    fn desired(&self) -> Option<Attrs> {
        self.spec.as_ref()?;
        Some(to_attrs(&Attributes {
            public_access_block: true,
            encryption: "AES256".into(),
            tags: self.base.tags.clone(),
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        match send!("HeadBucket", aws.s3.head_bucket().bucket(&self.base.name)).found()? {
            Some(_) => {}
            None => return Ok(None),
        }
        let tags: Tags = match send!("GetBucketTagging", aws.s3.get_bucket_tagging().bucket(&self.base.name)).found()? {
            Some(t) => t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            None => Tags::new(),
        };
        let encryption =
            match send!("GetBucketEncryption", aws.s3.get_bucket_encryption().bucket(&self.base.name)).found()? {
                Some(o) => o
                    .server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| d.sse_algorithm().as_str().to_string())
                    .unwrap_or_else(|| "NONE".into()),
                None => "NONE".into(),
            };
        let pab =
            match send!("GetPublicAccessBlock", aws.s3.get_public_access_block().bucket(&self.base.name)).found()? {
                Some(o) => o.public_access_block_configuration().is_some_and(|c| {
                    c.block_public_acls() == Some(true)
                        && c.ignore_public_acls() == Some(true)
                        && c.block_public_policy() == Some(true)
                        && c.restrict_public_buckets() == Some(true)
                }),
                None => false,
            };
        let attrs = Attributes { public_access_block: pab, encryption, tags: tags.clone() };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let mut req = aws.s3.create_bucket().bucket(&self.base.name);
        if aws.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                    .build(),
            );
        }
        send!("CreateBucket", req).created()?;
        let budget = Duration::from_secs(60);
        retry(budget, |e| e.is_not_found(), || self.put_public_access_block(aws)).await?;
        retry(budget, |e| e.is_not_found(), || self.put_encryption(aws)).await?;
        retry(budget, |e| e.is_not_found(), || self.put_tags(aws)).await
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
        let holds = match self.holds_objects(aws).await.found()? {
            Some(h) => h,
            None => return Ok(Deleted::Gone),
        };
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
        gone_if_absent(gone!("DeleteBucket", aws.s3.delete_bucket().bucket(&self.base.name)))
    }
}
