//! Buckets and the account that owns them. Bucket names are global: a
//! bucket of the wanted name may be another account's, made first and
//! tagged like the deployment's. moto keeps one account and ignores
//! `x-amz-expected-bucket-owner`, so the fault proxy answers for S3 the
//! way it does for another account's bucket ([`Owners`]).

use crate::emulator::Moto;
use crate::faults::{Faults, Proxy, Stats};
use std::sync::atomic::Ordering;

/// moto's account: the one STS names, and so the deployment's.
const ACCOUNT: &str = "123456789012";

/// An S3 request as far as whose bucket it is about.
pub struct Owners<'a> {
    line: &'a str,
    method: &'a str,
    /// The bucket in the path (path-style addressing); `None` for
    /// ListBuckets and for requests to other services.
    bucket: Option<&'a str>,
    s3: bool,
    /// CreateBucket, which takes no expected owner.
    creates: bool,
    expected: Option<&'a str>,
}

impl<'a> Owners<'a> {
    pub fn of(line: &'a str, service: &str, header: impl Fn(&str) -> Option<&'a str>) -> Owners<'a> {
        let s3 = service == "s3";
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut segments = path.trim_start_matches('/').splitn(2, '/');
        let bucket = segments.next().filter(|b| s3 && !b.is_empty());
        let key = segments.next().filter(|k| !k.is_empty());
        let creates =
            method == "PUT" && key.is_none() && query.split('&').all(|q| q.is_empty() || q.starts_with("x-id="));
        Owners { line, method, bucket, s3, creates, expected: header("x-amz-expected-bucket-owner") }
    }

    /// ListBuckets: the caller's buckets only.
    pub fn lists_buckets(&self) -> bool {
        self.s3 && self.method == "GET" && self.bucket.is_none()
    }

    /// Under `require`, counts a call about a bucket and records it when
    /// it does not name `require` as the owner (CreateBucket cannot).
    pub fn count(&self, require: Option<&str>, stats: &Stats) {
        let (Some(account), Some(_), false) = (require, self.bucket, self.creates) else { return };
        stats.bucket_calls.fetch_add(1, Ordering::SeqCst);
        if self.expected != Some(account) {
            stats.ownerless.lock().unwrap().push(self.line.to_string());
        }
    }

    /// S3's answer about `bucket` of account `owner`: CreateBucket finds
    /// the name taken (409 BucketAlreadyExists); a call naming another
    /// expected owner is refused (403 AccessDenied, without a body for a
    /// HEAD); a call naming none is S3's to answer, as it is.
    pub fn refusal(&self, owned: Option<(&str, &str)>) -> Option<Vec<u8>> {
        let (bucket, owner) = owned.filter(|(b, _)| self.bucket == Some(*b))?;
        let (status, code) = if self.creates {
            ("409 Conflict", "BucketAlreadyExists")
        } else if self.expected.is_some_and(|e| e != owner) {
            ("403 Forbidden", "AccessDenied")
        } else {
            return None;
        };
        let body = match self.method {
            "HEAD" => String::new(),
            _ => format!("<Error><Code>{code}</Code><Message>{bucket}: injected by the test proxy</Message></Error>"),
        };
        let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n", body.len());
        Some(format!("{head}Connection: close\r\n\r\n{body}").into_bytes())
    }
}

/// A ListBuckets answer without `bucket`.
pub fn unlisted(body: &str, bucket: &str) -> String {
    let name = format!("<Name>{bucket}</Name>");
    let Some(at) = body.find(&name) else { return body.to_string() };
    let start = body[..at].rfind("<Bucket>").unwrap_or(at);
    let end = body[at..].find("</Bucket>").map_or(at + name.len(), |e| at + e + "</Bucket>".len());
    format!("{}{}", &body[..start], &body[end..])
}

fn via(proxy: &Proxy, args: &[&str]) -> crate::util::Run {
    crate::util::pipectl(args).aws_env(&proxy.url).run()
}

/// A bucket made first by another account under the name the spec
/// wants, tagged as this deployment's and holding an object, is a
/// conflict: plan names it as another account's, apply changes nothing,
/// destroy leaves it and its data. Without the expected owner, its tags
/// made it this deployment's.
#[test]
fn a_bucket_precreated_in_another_account_is_not_read_as_ours() {
    let Some(moto) = Moto::start() else { return };
    let bucket = "victim-lake-precreated";
    let sdk = moto.sdk();
    sdk.run(async {
        sdk.s3.create_bucket().bucket(bucket).send().await.unwrap();
        let tag = |k: &str, v: &str| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap();
        let tags = aws_sdk_s3::types::Tagging::builder()
            .tag_set(tag("pipectl:pipeline", "victim"))
            .tag_set(tag("pipectl:env", "default"))
            .tag_set(tag("pipectl:region", "us-east-1"))
            .build()
            .unwrap();
        sdk.s3.put_bucket_tagging().bucket(bucket).tagging(tags).send().await.unwrap();
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"planted");
        sdk.s3.put_object().bucket(bucket).key("planted.json").body(body).send().await.unwrap();
    });
    let faults = Faults { bucket_owner: Some((bucket, "111122223333")), ..Faults::default() };
    let proxy = Proxy::start(&moto.url, faults);
    let text = format!("pipeline: victim\nbuckets:\n  lake: {{ name: {bucket}, on_destroy: delete }}\n");
    let spec = crate::util::temp_spec("buckets", "precreated", &text).display().to_string();

    let plan = via(&proxy, &["plan", &spec]).expect_code(1);
    assert!(plan.stdout.contains("! bucket.lake"), "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("belongs to another AWS account"), "{}", plan.stdout);
    assert!(plan.stderr.contains("`bucket.lake`"), "the error names it: {}", plan.stderr);

    let apply = via(&proxy, &["apply", &spec, "--yes"]).expect_code(1);
    assert!(apply.stdout.contains("belongs to another AWS account"), "{}\n{}", apply.stdout, apply.stderr);
    let destroy = via(&proxy, &["destroy", &spec, "--yes", "--delete-data", "--allow-data-loss"]);
    assert!(destroy.stderr.contains("left alone: it belongs to another AWS account"), "{}", destroy.stderr);
    assert_eq!(proxy.stats.calls("PUT") + proxy.stats.calls("DELETE") + proxy.stats.calls("POST"), 0, "S3 untouched");
    let objects = sdk.run(sdk.s3.list_objects_v2().bucket(bucket).send()).unwrap();
    assert_eq!(objects.contents().len(), 1, "its data stays");
}

/// apply, a re-plan, an update that removes the encryption and the
/// public access block, outputs and destroy (emptying a bucket): every S3
/// call about a bucket names the deployment's account as its owner.
#[test]
fn every_s3_call_names_the_expected_bucket_owner() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(&moto.url, Faults { require_owner: Some(ACCOUNT), ..Faults::default() });
    let text = "pipeline: owned\nbuckets:\n  a: { on_destroy: delete }\n  b: { on_destroy: delete, encryption: none, public_access_block: false }\n";
    let spec = crate::util::temp_spec("buckets", "owner", text).display().to_string();
    via(&proxy, &["apply", &spec, "--yes"]).expect_code(0);
    via(&proxy, &["plan", &spec, "--detailed-exitcode"]).expect_code(0);

    // By hand, around pipectl: an object to empty, a KMS key and a block
    // where the spec wants neither.
    let sdk = moto.sdk();
    sdk.run(async {
        use aws_sdk_s3::types as s3;
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"{}");
        sdk.s3.put_object().bucket("owned-a-123456789012-us-east-1").key("x.json").body(body).send().await.unwrap();
        let by_default = s3::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(s3::ServerSideEncryption::AwsKms)
            .kms_master_key_id("alias/hand-made")
            .build()
            .unwrap();
        let rule = s3::ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build();
        let sse = s3::ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
        sdk.s3
            .put_bucket_encryption()
            .bucket("owned-b-123456789012-us-east-1")
            .server_side_encryption_configuration(sse)
            .send()
            .await
            .unwrap();
        let on = s3::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        sdk.s3
            .put_public_access_block()
            .bucket("owned-b-123456789012-us-east-1")
            .public_access_block_configuration(on)
            .send()
            .await
            .unwrap();
    });
    let plan = via(&proxy, &["plan", &spec, "--detailed-exitcode"]).expect_code(2);
    assert!(plan.stdout.contains(r#"encryption: "aws:kms" -> "NONE""#), "{}", plan.stdout);
    assert!(plan.stdout.contains("public_access_block: true -> false"), "{}", plan.stdout);
    via(&proxy, &["apply", &spec, "--yes"]).expect_code(0);
    via(&proxy, &["plan", &spec, "--detailed-exitcode"]).expect_code(0);
    let (sse, block) = sdk.run(async {
        let sse = sdk.s3.get_bucket_encryption().bucket("owned-b-123456789012-us-east-1").send().await;
        (sse, sdk.s3.get_public_access_block().bucket("owned-b-123456789012-us-east-1").send().await)
    });
    assert!(sse.is_err() && block.is_err(), "removed through the proxy: {sse:?} {block:?}");
    via(&proxy, &["outputs", &spec]).expect_code(0);
    via(&proxy, &["destroy", &spec, "--yes", "--wait"]).expect_code(0);

    assert!(sdk.leftovers().iter().all(|l| !l.starts_with("bucket")), "{:?}", sdk.leftovers());
    let ownerless = proxy.stats.ownerless.lock().unwrap().clone();
    assert!(ownerless.is_empty(), "S3 calls without the expected owner:\n{}", ownerless.join("\n"));
    assert!(proxy.stats.bucket_calls.load(Ordering::SeqCst) >= 30, "{:?}", proxy.stats);
}

/// `export cloudformation --code-bucket` into another account's bucket:
/// the code would run with the stack's roles, so it is not uploaded.
#[test]
fn export_uploads_code_only_into_a_bucket_of_the_account() {
    let Some(moto) = Moto::start() else { return };
    let sdk = moto.sdk();
    sdk.run(async { sdk.s3.create_bucket().bucket("code-elsewhere").send().await.unwrap() });
    let proxy =
        Proxy::start(&moto.url, Faults { bucket_owner: Some(("code-elsewhere", "111122223333")), ..Faults::default() });
    let out = crate::util::scratch().join(format!("export-elsewhere-{}.yaml", std::process::id()));
    let out = out.display().to_string();
    let args = ["export", "cloudformation", "pipelines/lab.yaml", "--code-bucket", "code-elsewhere", "--out", &out];
    let run = via(&proxy, &args).expect_code(1);
    assert!(run.stderr.contains("cannot upload code to `code-elsewhere`"), "{}", run.stderr);
    let listed = sdk.run(sdk.s3.list_objects_v2().bucket("code-elsewhere").send()).unwrap();
    assert!(listed.contents().is_empty(), "nothing uploaded");
}
