//! `verify --clean`: this run's canaries taken out of the objects they
//! landed in, once the hops are checked, so that no query counts them.
//! Only objects holding one of this run's canaries are touched: written
//! back without the canary records (PutObject on the same key, with the
//! attributes the same GetObject answered, `attrs`), or deleted when
//! nothing else was in them; both only if the object still has the ETag
//! that was read (`If-Match`), so a concurrent change is never lost. Every
//! call names the account as the bucket's expected owner.

mod attrs;

use super::content::{self, Needle, Removal};
use super::decide::SKEW;
use crate::aws::{Aws, AwsError};
use crate::{gone, send};
use attrs::Attrs;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// A place canaries may land: a bucket, the static part of a Firehose's
/// prefix, and why its objects cannot show a canary when that is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub bucket: String,
    pub prefix: String,
    pub unread: Option<String>,
    /// The Firehose writing there: only its objects are touched.
    pub firehose: String,
}

/// What `--clean` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Cleaned {
    /// `s3://bucket/key: N canary records removed (rewritten|deleted)`.
    pub removed: Vec<String>,
    /// Objects it could not clean, with why (left as they are).
    pub not_removed: Vec<String>,
    /// Canaries found in no object searched (not arrived yet, in a stream
    /// only, or in an object it could not read).
    pub not_found: Vec<String>,
}

/// Takes `needles` out of the objects of `places` modified since `since`.
pub async fn clean(aws: &Aws, places: &BTreeSet<Place>, since: SystemTime, needles: &[Needle]) -> Cleaned {
    let mut done = Cleaned::default();
    let mut found = BTreeSet::new();
    for place in places {
        let at = |key: &str| format!("s3://{}/{key}", place.bucket);
        let keys = match list(aws, &place.bucket, &place.prefix, since - SKEW).await {
            Ok(k) => k,
            Err(e) => {
                done.not_removed.push(format!("{}: {e}", at(&place.prefix)));
                continue;
            }
        };
        for key in keys {
            // Only what this place's Firehose wrote: another path's objects
            // under the same or a wider prefix are never touched.
            if !super::decide::written_by(&key, &place.firehose) {
                continue;
            }
            if let Some(why) = &place.unread {
                done.not_removed.push(format!("{}: content not read ({why}); any canary in it stays", at(&key)));
                continue;
            }
            match one(aws, &place.bucket, &key, needles).await {
                Ok(None) => {}
                Ok(Some((holds, what))) => {
                    found.extend(holds);
                    done.removed.push(format!("{}: {what}", at(&key)));
                }
                Err(why) => done.not_removed.push(format!("{}: {why}", at(&key))),
            }
        }
    }
    let missing = needles.iter().enumerate().filter(|(i, _)| !found.contains(i));
    done.not_found = missing.map(|(_, n)| n.id.clone()).collect();
    done
}

/// How long each call is retried through throttling, 5xx and lost answers.
const BUDGET: Duration = Duration::from_secs(60);

/// The keys under `prefix` of `bucket` modified since `since`.
async fn list(aws: &Aws, bucket: &str, prefix: &str, since: SystemTime) -> Result<Vec<String>, AwsError> {
    let (mut token, mut keys) = (None, Vec::new());
    loop {
        let req = || {
            let req = aws.s3.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token.clone());
            req.set_expected_bucket_owner(aws.bucket_owner())
        };
        let page = crate::aws::retry(BUDGET, |_| false, || async { send!("ListObjectsV2", req()) }).await?;
        for o in page.contents() {
            let modified = o.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
            // An object larger than a Firehose writes is not one of its: never read.
            let size = u64::try_from(o.size().unwrap_or(0)).unwrap_or(0);
            if modified.is_some_and(|m| m >= since) && size <= super::columnar::MAX_OBJECT_BYTES as u64 {
                keys.extend(o.key().map(str::to_string));
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(keys);
        }
    }
}

/// An object as one GetObject answered: its body, the ETag of that body,
/// and what a PutObject must carry to keep the rest of it as it was.
struct Read {
    bytes: Vec<u8>,
    etag: String,
    attrs: Attrs,
}

/// The object, or `None` when it is gone.
async fn read(aws: &Aws, bucket: &str, key: &str) -> Result<Option<Read>, AwsError> {
    let fetch = || async {
        let req = aws.s3.get_object().bucket(bucket).key(key).set_expected_bucket_owner(aws.bucket_owner());
        let out = send!("GetObject", req)?;
        let (etag, attrs) = (out.e_tag().unwrap_or_default().to_string(), Attrs::of(&out));
        let cut = |e| AwsError::fatal("GetObject", format!("the body of s3://{bucket}/{key} was cut: {e}"));
        let bytes = out.body.collect().await.map(|b| b.into_bytes().to_vec()).map_err(|e| cut(e).mark_transient())?;
        Ok(Read { bytes, etag, attrs })
    };
    match crate::aws::retry(BUDGET, |_| false, fetch).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if no_such_key(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One object without the canaries: which needles it held and what was
/// done, `None` when it holds none (or is gone), or why it was left.
async fn one(
    aws: &Aws,
    bucket: &str,
    key: &str,
    needles: &[Needle],
) -> Result<Option<(BTreeSet<usize>, String)>, String> {
    let Some(read) = read(aws, bucket, key).await.map_err(|e| e.to_string())? else { return Ok(None) };
    let stays = |why: String| format!("content not read ({why}); any canary in it stays");
    let holds = content::find(&read.bytes, needles).map_err(stays)?.found;
    if holds.is_empty() {
        return Ok(None);
    }
    if read.etag.is_empty() {
        return Err("GetObject gave no ETag to make the rewrite conditional on; left as it is".into());
    }
    let stays = |why: String| format!("not rewritten ({why}); any canary in it stays");
    let what = match content::remove(&read.bytes, needles).map_err(stays)? {
        Removal::Unchanged => return Ok(None),
        Removal::Rewritten { bytes, removed, kept } => {
            if let Some(why) = read.attrs.refusal() {
                return Err(format!("{} in it: {why}", records(removed)));
            }
            put_back(aws, bucket, key, &read, bytes).await?;
            format!("{} removed, {kept} other records kept (rewritten)", records(removed))
        }
        Removal::Emptied { removed } => {
            delete(aws, bucket, key, &read.etag).await?;
            format!("{} removed, nothing else in it (deleted)", records(removed))
        }
    };
    Ok(Some((holds, what)))
}

/// Writes `bytes` in place of the object read, with its attributes, only
/// if it still has the ETag read. A refused condition is our own write
/// when the object now holds exactly `bytes` (an earlier attempt whose
/// answer was lost); anything else changed it: left as it is.
async fn put_back(aws: &Aws, bucket: &str, key: &str, was: &Read, bytes: Vec<u8>) -> Result<(), String> {
    let req = || {
        let put = was.attrs.onto(aws.s3.put_object()).bucket(bucket).key(key).if_match(&was.etag);
        let body = aws_sdk_s3::primitives::ByteStream::from(bytes.clone());
        put.body(body).set_expected_bucket_owner(aws.bucket_owner())
    };
    let e = match crate::aws::retry(BUDGET, |_| false, || async { send!("PutObject", req()) }).await {
        Ok(_) => return Ok(()),
        Err(e) if changed_since(&e) => e,
        Err(e) => return Err(e.to_string()),
    };
    match read(aws, bucket, key).await {
        Ok(Some(now)) if now.bytes == bytes => Ok(()),
        Ok(now) => Err(changed(&was.etag, now.map(|n| n.etag).as_deref())),
        Err(then) => Err(format!("{}: {e}; reading it again: {then}", changed(&was.etag, None))),
    }
}

/// Deletes the object only if it still has the ETag read (S3 answers 412
/// otherwise, for general-purpose buckets since September 2025); gone
/// already is done.
async fn delete(aws: &Aws, bucket: &str, key: &str, etag: &str) -> Result<(), String> {
    let req = || {
        let req = aws.s3.delete_object().bucket(bucket).key(key).if_match(etag);
        req.set_expected_bucket_owner(aws.bucket_owner())
    };
    match crate::aws::retry(BUDGET, |_| false, || async { gone!("DeleteObject", req()) }).await {
        Ok(()) => Ok(()),
        // If-Match on an object no longer there: an earlier attempt whose answer was lost.
        Err(e) if no_such_key(&e) => Ok(()),
        Err(e) if changed_since(&e) => Err(changed(etag, None)),
        Err(e) => Err(e.to_string()),
    }
}

fn no_such_key(e: &AwsError) -> bool {
    e.is_not_found() || e.code.as_deref() == Some("NoSuchKey")
}

/// S3 refused a write conditional on the ETag read: the object changed.
fn changed_since(e: &AwsError) -> bool {
    matches!(e.code.as_deref(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
}

fn changed(then: &str, now: Option<&str>) -> String {
    let now = now.map_or(String::new(), |n| format!(", {n} now"));
    format!("changed since it was read (ETag {then} when read{now}); left as it is, with any canary in it")
}

fn records(n: usize) -> String {
    if n == 1 {
        "1 canary record".into()
    } else {
        format!("{n} canary records")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws_error(code: &str) -> AwsError {
        AwsError { op: "PutObject", code: Some(code.into()), message: "m".into(), class: crate::aws::Class::Fatal }
    }

    #[test]
    fn a_concurrent_change_is_told_from_other_refusals() {
        assert!(changed_since(&aws_error("PreconditionFailed")));
        assert!(changed_since(&aws_error("ConditionalRequestConflict")));
        assert!(!changed_since(&aws_error("AccessDenied")));
        assert!(no_such_key(&aws_error("NoSuchKey")));
        let says = changed("\"abc\"", Some("\"def\""));
        assert!(says.starts_with("changed since it was read (ETag \"abc\" when read, \"def\" now)"), "{says}");
    }
}
