//! `verify --clean`: this run's canaries taken out of the objects they
//! landed in, once the hops are checked, so that no query counts them.
//! Only objects holding one of this run's canaries are touched: written
//! back without the canary records (PutObject on the same key), or deleted
//! when nothing else was in them; every call names the account as the
//! bucket's expected owner.

use super::check::Reader;
use super::content::{self, Needle, Removal};
use crate::aws::{Aws, AwsError};
use crate::{gone, send};
use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

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
    let mut reader = Reader { aws, read: HashMap::new() };
    for place in places {
        let at = |key: &str| format!("s3://{}/{key}", place.bucket);
        let objects =
            match reader.objects(&place.bucket, &place.prefix, &place.firehose, place.unread.as_deref(), since).await {
                Ok(o) => o,
                Err(e) => {
                    done.not_removed.push(format!("{}: {e}", at(&place.prefix)));
                    continue;
                }
            };
        for o in objects {
            let bytes = match &o.body {
                Ok(b) => b,
                Err(why) => {
                    done.not_removed.push(format!("{}: content not read ({why}); any canary in it stays", at(&o.key)));
                    continue;
                }
            };
            let holds = match content::find(bytes, needles) {
                Ok(f) => f.found,
                Err(why) => {
                    done.not_removed.push(format!("{}: content not read ({why}); any canary in it stays", at(&o.key)));
                    continue;
                }
            };
            if holds.is_empty() {
                continue;
            }
            match rewrite(aws, &place.bucket, &o.key, bytes, needles).await {
                Ok(Some(what)) => {
                    found.extend(holds);
                    done.removed.push(format!("{}: {what}", at(&o.key)));
                }
                Ok(None) => {}
                Err(why) => done.not_removed.push(format!("{}: {why}", at(&o.key))),
            }
        }
    }
    let missing = needles.iter().enumerate().filter(|(i, _)| !found.contains(i));
    done.not_found = missing.map(|(_, n)| n.id.clone()).collect();
    done
}

/// Writes the object back without the canaries, or deletes it when only
/// canaries were in it; says which.
async fn rewrite(
    aws: &Aws,
    bucket: &str,
    key: &str,
    bytes: &[u8],
    needles: &[Needle],
) -> Result<Option<String>, String> {
    let err = |e: AwsError| e.to_string();
    match content::remove(bytes, needles)? {
        Removal::Unchanged => Ok(None),
        Removal::Rewritten { bytes, removed, kept } => {
            let req = || {
                let body = aws_sdk_s3::primitives::ByteStream::from(bytes.clone());
                aws.s3.put_object().bucket(bucket).key(key).body(body).set_expected_bucket_owner(aws.bucket_owner())
            };
            crate::aws::retry(std::time::Duration::from_secs(60), |_| false, || async { send!("PutObject", req()) })
                .await
                .map_err(err)?;
            Ok(Some(format!("{} removed, {kept} other records kept (rewritten)", records(removed))))
        }
        Removal::Emptied { removed } => {
            let req = aws.s3.delete_object().bucket(bucket).key(key).set_expected_bucket_owner(aws.bucket_owner());
            gone!("DeleteObject", req).map_err(err)?;
            Ok(Some(format!("{} removed, nothing else in it (deleted)", records(removed))))
        }
    }
}

fn records(n: usize) -> String {
    if n == 1 {
        "1 canary record".into()
    } else {
        format!("{n} canary records")
    }
}
