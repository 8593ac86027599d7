//! S3 bucket, with its public access block, default encryption and tags.
//!
//! Contract:
//! 1. read: HeadBucket (404 = `None`), GetBucketTagging (no tag set = no
//!    tags), GetBucketEncryption, GetPublicAccessBlock. Every call about
//!    the bucket names the deployment's account as its expected owner
//!    (`crate::aws::s3`): a bucket S3 refuses as the account's, and that
//!    the account's bucket list does not hold, is another account's, read
//!    as such (a conflict), whatever its tags say.
//! 2. attributes: public_access_block (all four settings on, or not
//!    required: `public_access_block: false`), encryption (`AES256` under
//!    `encryption: aes256`; `NONE` under `none`, where plain SSE-S3 reads
//!    as `NONE` too: it is S3's own default on AWS since January 2023, and
//!    what DeleteBucketEncryption returns a bucket to), tags; all update
//!    in place (a block or encryption no longer wanted is deleted). The
//!    name forces a replacement.
//! 3. create: CreateBucket with the tags (LocationConstraint outside
//!    us-east-1), then the public access block and encryption, and the
//!    tags again where the endpoint dropped them. "Exists" is ready.
//!    Ownership: the tags; a bucket without them is adopted only when the
//!    record lists it (written before the create) and it holds nothing.
//!    A name another account holds is an error saying so.
//! 4. delete: a bucket holding objects is kept under `on_destroy: retain`
//!    (the result says so) unless `--delete-data`; otherwise every object
//!    version and delete marker is removed, then the bucket.
//!    NoSuchBucket means done.

use super::cfn::{self, Part};
use super::{gone_if_absent, to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags, TAG_PIPELINE};
use crate::aws::s3::AnotherAccount;
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::spec::{self, BucketEncryption, OnDestroy};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput;
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
    /// The encryption and public access block the spec asks for (the
    /// defaults for a bucket known only from the record).
    fn wanted(&self) -> (BucketEncryption, bool) {
        self.spec.as_ref().map_or((BucketEncryption::Aes256, true), |s| (s.encryption, s.public_access_block))
    }

    async fn put_public_access_block(&self, aws: &Aws) -> Result<(), AwsError> {
        let cfg = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        let req = aws.s3.put_public_access_block().bucket(&self.base.name).public_access_block_configuration(cfg);
        send!("PutPublicAccessBlock", req.set_expected_bucket_owner(aws.bucket_owner())).map(drop)
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
        let req = aws.s3.put_bucket_encryption().bucket(&self.base.name).server_side_encryption_configuration(cfg);
        send!("PutBucketEncryption", req.set_expected_bucket_owner(aws.bucket_owner())).map(drop)
    }

    /// The desired tags in S3's shape.
    fn s3_tags(&self) -> Vec<Tag> {
        let tag = |(k, v): (&String, &String)| Tag::builder().key(k).value(v).build().expect("key and value set");
        self.base.tags.iter().map(tag).collect()
    }

    async fn put_tags(&self, aws: &Aws) -> Result<(), AwsError> {
        let tagging = Tagging::builder().set_tag_set(Some(self.s3_tags())).build().expect("tag set");
        let req = aws.s3.put_bucket_tagging().bucket(&self.base.name).tagging(tagging);
        send!("PutBucketTagging", req.set_expected_bucket_owner(aws.bucket_owner())).map(drop)
    }

    /// Deletes every object version and delete marker; returns how many.
    async fn empty(&self, aws: &Aws, p: &Progress) -> Result<usize, AwsError> {
        let mut removed = 0;
        loop {
            let req = aws.s3.list_object_versions().bucket(&self.base.name).max_keys(1000);
            let page = send!("ListObjectVersions", req.set_expected_bucket_owner(aws.bucket_owner()))?;
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
            let req = aws.s3.delete_objects().bucket(&self.base.name).delete(delete);
            gone!("DeleteObjects", req.set_expected_bucket_owner(aws.bucket_owner()))?;
        }
    }

    /// The bucket's tags (none when it has no tag set).
    async fn live_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        let req = aws.s3.get_bucket_tagging().bucket(&self.base.name);
        let out = send!("GetBucketTagging", req.set_expected_bucket_owner(aws.bucket_owner())).found()?;
        Ok(out
            .map(|t| t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
            .unwrap_or_default())
    }

    /// The bucket's tags from the plan's tag listing when it lists the
    /// bucket, else from S3.
    async fn listed_tags(&self, aws: &Aws) -> Result<Tags, AwsError> {
        super::listed_tags(aws, &aws.scope().bucket(&self.base.name).to_string(), self.live_tags(aws)).await
    }

    /// Whether the bucket is there (`Some`), as the account's.
    async fn head(&self, aws: &Aws) -> Result<Option<()>, AwsError> {
        let req = aws.s3.head_bucket().bucket(&self.base.name);
        send!("HeadBucket", req.set_expected_bucket_owner(aws.bucket_owner())).map(drop).found()
    }

    /// The read's answer when HeadBucket says the bucket is not there to
    /// read (gone, refused, an error); `None` when it is.
    async fn unless_here(
        &self,
        aws: &Aws,
        head: Result<Option<()>, AwsError>,
    ) -> Option<Result<Option<Observed>, AwsError>> {
        match head {
            Err(e) if e.denied() => Some(self.refused(aws, e).await),
            Err(e) => Some(Err(e)),
            Ok(None) => Some(Ok(None)),
            Ok(Some(())) => None,
        }
    }

    /// What a read makes of S3's refusal of HeadBucket naming the account
    /// as the bucket's owner: another account's bucket is there and not
    /// this deployment's (a conflict, never touched), whatever it carries;
    /// a refusal for the account's own bucket is the error it is.
    async fn refused(&self, aws: &Aws, refusal: AwsError) -> Result<Option<Observed>, AwsError> {
        let AnotherAccount = aws.refused_bucket(&self.base.name, refusal).await?;
        Ok(Some(Observed { another_account: true, ..Observed::empty() }))
    }

    /// The default encryption as the diff compares it: the algorithm
    /// (`AES256`, `aws:kms`, ...), or `NONE` without a configuration.
    /// Under `encryption: none`, plain SSE-S3 reads as `NONE`: it is what
    /// AWS applies to every bucket without one of its own.
    fn encryption_of(&self, out: Option<GetBucketEncryptionOutput>) -> String {
        let algorithm = crate::aws::s3::default_encryption(out.as_ref());
        match algorithm {
            Some(a) if a == "AES256" && self.wanted().0 == BucketEncryption::None => "NONE".into(),
            Some(a) => a,
            None => "NONE".into(),
        }
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
        let req = aws.s3.list_object_versions().bucket(&self.base.name).max_keys(1);
        let page = send!("ListObjectVersions", req.set_expected_bucket_owner(aws.bucket_owner()))?;
        Ok(!page.versions().is_empty() || !page.delete_markers().is_empty())
    }
}

/// What the diff compares: the public access block (all four settings
/// on), the default encryption, the tags.
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
        // Written out either way: a bucket CloudFormation makes without
        // the property gets AWS's default block.
        let on = s.public_access_block;
        let access = serde_json::json!({
            "BlockPublicAcls": on, "IgnorePublicAcls": on, "BlockPublicPolicy": on, "RestrictPublicBuckets": on,
        });
        let mut props = serde_json::json!({
            "BucketName": self.base.name,
            "PublicAccessBlockConfiguration": access,
            "Tags": cfn::tags(&self.base.tags),
        });
        if s.encryption == BucketEncryption::Aes256 {
            props["BucketEncryption"] = serde_json::json!({
                "ServerSideEncryptionConfiguration": [{ "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }]
            });
        }
        Ok(vec![Part::new("AWS::S3::Bucket", props).retain(s.on_destroy == OnDestroy::Retain || s.protect)])
    }
    /// Only when emptied: `on_destroy: delete` or `--delete-data`; under
    /// `retain` a bucket holding objects is kept.
    fn deletes_data(&self) -> bool {
        self.base.meta.delete_data || self.spec.as_ref().is_some_and(|s| s.on_destroy == OnDestroy::Delete)
    }
    fn empties_on_destroy(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.on_destroy == OnDestroy::Delete)
    }
    fn protected(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| s.protect)
    }
    fn desired(&self) -> Option<Attrs> {
        self.spec.as_ref()?;
        let (encryption, block) = self.wanted();
        let encryption = match encryption {
            BucketEncryption::Aes256 => "AES256",
            BucketEncryption::None => "NONE",
        };
        Some(to_attrs(&Attributes {
            public_access_block: block,
            encryption: encryption.into(),
            tags: self.base.tags.clone(),
        }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // Its four calls side by side; a bucket that is not there answers
        // "not found" to each, and the HeadBucket answer decides.
        let name = &self.base.name;
        let (head, tags, encryption, pab) = tokio::join!(
            self.head(aws),
            self.listed_tags(aws),
            async {
                let req = aws.s3.get_bucket_encryption().bucket(name);
                send!("GetBucketEncryption", req.set_expected_bucket_owner(aws.bucket_owner())).found()
            },
            async {
                let req = aws.s3.get_public_access_block().bucket(name);
                send!("GetPublicAccessBlock", req.set_expected_bucket_owner(aws.bucket_owner())).found()
            },
        );
        if let Some(answer) = self.unless_here(aws, head).await {
            return answer;
        }
        let tags = tags?;
        let attrs = Attributes {
            public_access_block: crate::aws::s3::blocks_all(
                pab?.as_ref().and_then(|o| o.public_access_block_configuration()),
            ),
            encryption: self.encryption_of(encryption?),
            tags: tags.clone(),
        };
        self.owned(aws, &attrs, tags).await.map(Some)
    }

    /// Whether it is there and whose: HeadBucket and the tags, without the
    /// settings only a diff compares.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let (head, tags) = tokio::join!(self.head(aws), self.listed_tags(aws));
        if let Some(answer) = self.unless_here(aws, head).await {
            return answer;
        }
        let tags = tags?;
        let attrs = Attributes { public_access_block: false, encryption: String::new(), tags: tags.clone() };
        self.owned(aws, &attrs, tags).await.map(Some)
    }

    /// The record lists the bucket before this runs (every node waits for
    /// the record), and the tags go in the create call; where an endpoint
    /// drops them they are written right after. "Already yours" is an
    /// earlier attempt's bucket when it carries this deployment's tags, or
    /// none and holds nothing; any other is left alone. CreateBucket names
    /// no expected owner: its answer says whose the name is (S3's
    /// BucketAlreadyExists: another account's), and every call after it
    /// names the account.
    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let mut config = CreateBucketConfiguration::builder().set_tags(Some(self.s3_tags()));
        if aws.region != "us-east-1" {
            config = config.location_constraint(BucketLocationConstraint::from(aws.region.as_str()));
        }
        let req = aws.s3.create_bucket().bucket(&self.base.name).create_bucket_configuration(config.build());
        let created = match send!("CreateBucket", req) {
            Err(e) if e.code.as_deref() == Some("BucketAlreadyExists") => {
                let message = format!(
                    "bucket `{}` belongs to another AWS account (bucket names are global): give it another name in the spec",
                    self.base.name
                );
                return Err(AwsError { message, ..e });
            }
            other => other.created()?,
        };
        if created.is_none() {
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
        // What the spec does not want (AWS's default block on a new
        // bucket) the convergence removes.
        let budget = Duration::from_secs(60);
        let (encryption, block) = self.wanted();
        if block {
            retry(budget, |e| e.is_not_found(), || self.put_public_access_block(aws)).await?;
        }
        if encryption == BucketEncryption::Aes256 {
            retry(budget, |e| e.is_not_found(), || self.put_encryption(aws)).await?;
        }
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
        let (encryption, block) = self.wanted();
        let name = &self.base.name;
        for c in changed {
            match (c.as_str(), block, encryption) {
                ("public_access_block", true, _) => self.put_public_access_block(aws).await?,
                ("public_access_block", false, _) => {
                    let req = aws.s3.delete_public_access_block().bucket(name);
                    gone!("DeletePublicAccessBlock", req.set_expected_bucket_owner(aws.bucket_owner()))?
                }
                ("encryption", _, BucketEncryption::Aes256) => self.put_encryption(aws).await?,
                ("encryption", _, BucketEncryption::None) => {
                    let req = aws.s3.delete_bucket_encryption().bucket(name);
                    gone!("DeleteBucketEncryption", req.set_expected_bucket_owner(aws.bucket_owner()))?
                }
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
            let req = aws.s3.delete_bucket().bucket(&self.base.name);
            match gone!("DeleteBucket", req.set_expected_bucket_owner(aws.bucket_owner())) {
                Err(e) if e.code.as_deref() == Some("BucketNotEmpty") && start.elapsed() < self.timeout() => {
                    p.say("objects landed after emptying; emptying again");
                    if crate::cancel::sleep(std::time::Duration::from_millis(500)).await.is_err() {
                        return Err(e.interrupted());
                    }
                }
                other => return gone_if_absent(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::ServerSideEncryptionRule as Rule;

    fn bucket(encryption: BucketEncryption, public_access_block: bool) -> Bucket {
        let meta = crate::resources::Meta {
            pipeline: "p".into(),
            env: "e".into(),
            region: "us-east-1".into(),
            spec_tags: Tags::new(),
            delete_data: false,
            timeouts: Default::default(),
            record_written: None,
            permissions_boundary: None,
        };
        let address = crate::plan::Address::parse("bucket.b").unwrap();
        let spec = spec::Bucket {
            name: "b".into(),
            on_destroy: OnDestroy::Retain,
            protect: true,
            encryption,
            public_access_block,
        };
        Bucket { base: Base::new(address, "b", &meta), spec: Some(spec) }
    }

    fn sse(algorithm: ServerSideEncryption) -> Option<GetBucketEncryptionOutput> {
        let by_default = ServerSideEncryptionByDefault::builder().sse_algorithm(algorithm).build().unwrap();
        let rule = Rule::builder().apply_server_side_encryption_by_default(by_default).build();
        let cfg = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
        Some(GetBucketEncryptionOutput::builder().server_side_encryption_configuration(cfg).build())
    }

    #[test]
    fn plain_sse_s3_is_s3s_default_under_encryption_none() {
        let aes = bucket(BucketEncryption::Aes256, true);
        assert_eq!(aes.encryption_of(sse(ServerSideEncryption::Aes256)), "AES256");
        assert_eq!(aes.encryption_of(None), "NONE");
        let none = bucket(BucketEncryption::None, false);
        assert_eq!(none.encryption_of(sse(ServerSideEncryption::Aes256)), "NONE", "AWS's default since 2023");
        assert_eq!(none.encryption_of(sse(ServerSideEncryption::AwsKms)), "aws:kms", "a key is not the default");
        let desired = none.desired().unwrap();
        assert_eq!((&desired["encryption"], &desired["public_access_block"]), (&"NONE".into(), &false.into()));
    }
}
