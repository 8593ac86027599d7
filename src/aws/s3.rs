//! Who owns a bucket. S3 bucket names are global: a bucket of the name a
//! spec wants may be another account's, made before the deployment's and
//! tagged like it. Every S3 call about a bucket pipectl manages names the
//! deployment's account as the bucket's expected owner
//! ([`Aws::bucket_owner`], S3's `ExpectedBucketOwner`), and S3 answers a
//! call about another account's bucket with 403 AccessDenied instead of
//! acting on it. [`Aws::refused_bucket`] tells that answer from
//! credentials that may not read the account's own bucket.

use super::{Aws, AwsError};

/// Codes of AWS's "you may not" answers.
const DENIED: [&str; 4] = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"];

/// The error code of an answer: AWS's, or for an S3 HEAD answer, which
/// has no body to carry one, what its status says (404 is `NotFound`,
/// filled in by the SDK; 403 is `AccessDenied`).
pub fn code(code: Option<&str>, status: Option<u16>) -> Option<String> {
    match (code, status) {
        (Some(c), _) => Some(c.to_string()),
        (None, Some(403)) => Some("AccessDenied".into()),
        (None, _) => None,
    }
}

impl AwsError {
    /// AWS refused the call as not allowed (for S3 with an expected
    /// owner: perhaps because the bucket is another account's).
    pub fn denied(&self) -> bool {
        self.code.as_deref().is_some_and(|c| DENIED.contains(&c))
    }
}

/// All four settings of a public access block on.
pub fn blocks_all(c: Option<&aws_sdk_s3::types::PublicAccessBlockConfiguration>) -> bool {
    c.is_some_and(|c| {
        c.block_public_acls() == Some(true)
            && c.ignore_public_acls() == Some(true)
            && c.block_public_policy() == Some(true)
            && c.restrict_public_buckets() == Some(true)
    })
}

/// The algorithm of a bucket's default encryption (`AES256`, `aws:kms`,
/// ...), `None` without a configuration.
pub fn default_encryption(
    out: Option<&aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput>,
) -> Option<String> {
    out.and_then(|o| o.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string())
}

/// A bucket that belongs to another AWS account than the deployment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnotherAccount;

impl Aws {
    /// The account every S3 call about one of the deployment's buckets
    /// names as the bucket's owner: the deployment's, from STS (`None`
    /// only before STS answered, where no bucket call is made).
    pub fn bucket_owner(&self) -> Option<String> {
        (!self.account.is_empty()).then(|| self.account.clone())
    }

    /// What S3's refusal of a call naming the deployment's account as
    /// `bucket`'s owner means: another account's bucket when the
    /// account's own bucket list (ListBuckets lists only the caller's
    /// buckets) does not hold it; else `refusal` itself, which then means
    /// these credentials may not act on the account's own bucket. When the
    /// list cannot be read either, the refusal says both are possible.
    pub async fn refused_bucket(&self, bucket: &str, refusal: AwsError) -> Result<AnotherAccount, AwsError> {
        match crate::send!("ListBuckets", self.s3.list_buckets().prefix(bucket)) {
            Ok(out) if out.buckets().iter().any(|b| b.name() == Some(bucket)) => Err(refusal),
            Ok(_) => Ok(AnotherAccount),
            Err(_) => Err(AwsError {
                message: format!(
                    "{}: bucket `{bucket}` belongs to another AWS account, or these credentials may not read it",
                    refusal.message
                ),
                ..refusal
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_head_reads_as_access_denied() {
        assert_eq!(code(None, Some(403)).as_deref(), Some("AccessDenied"));
        assert_eq!(code(Some("NotFound"), Some(404)).as_deref(), Some("NotFound"));
        assert_eq!(code(None, Some(500)), None);
        let e = AwsError {
            op: "HeadBucket",
            code: code(None, Some(403)),
            message: "x".into(),
            class: super::super::Class::Fatal,
        };
        assert!(e.denied());
        assert_eq!(super::super::classify(e.code.as_deref(), Some(403)), super::super::Class::Fatal, "never retried");
    }
}
