//! Sending the canaries and looking for them at the end of each path.

use super::{Check, Entry, Hop};
use crate::aws::{Aws, AwsError};
use crate::send;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

/// What a hop showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(String),
    NotDelivered(String),
    NotCheckable(String),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::NotDelivered(_) => "not delivered",
            Outcome::NotCheckable(_) => "not checkable",
        }
    }

    pub fn why(&self) -> &str {
        match self {
            Outcome::Delivered(w) | Outcome::NotDelivered(w) | Outcome::NotCheckable(w) => w,
        }
    }
}

/// A canary as sent: its id, when, and where PutRecord put it (a stream's
/// shard and sequence number), or why it could not be sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub at: SystemTime,
    pub position: Result<Option<(String, String)>, String>,
}

/// Sends one canary record (JSON and a newline) to an entry.
pub async fn send(aws: &Aws, entry: &Entry, id: &str, record: &serde_json::Value) -> Sent {
    let mut data = serde_json::to_vec(record).expect("JSON serializes");
    data.push(b'\n');
    let at = SystemTime::now();
    let position = match entry {
        Entry::Stream(name) => {
            let req = || {
                aws.kinesis
                    .put_record()
                    .stream_name(name)
                    .partition_key(id)
                    .data(aws_sdk_kinesis::primitives::Blob::new(data.clone()))
            };
            crate::aws::retry(Duration::from_secs(60), |_| false, || async { send!("PutRecord", req()) })
                .await
                .map(|o| Some((o.shard_id().to_string(), o.sequence_number().to_string())))
        }
        Entry::Firehose(name) => {
            let record = aws_sdk_firehose::types::Record::builder()
                .data(aws_sdk_firehose::primitives::Blob::new(data.clone()))
                .build()
                .expect("data set");
            let req = || aws.firehose.put_record().delivery_stream_name(name).record(record.clone());
            crate::aws::retry(Duration::from_secs(60), |_| false, || async { send!("PutRecord", req()) })
                .await
                .map(|_| None)
        }
    };
    Sent { id: id.to_string(), at, position: position.map_err(|e| describe(&e)) }
}

fn describe(e: &AwsError) -> String {
    if e.is_not_found() {
        format!("it is not there ({e})")
    } else {
        e.to_string()
    }
}

/// Looks for the canary at the end of `hop` until `deadline`.
pub async fn check(aws: &Aws, hop: &Hop, sent: &Sent, deadline: Instant, emulator: bool) -> Outcome {
    let position = match &sent.position {
        Ok(p) => p,
        Err(e) => return Outcome::NotDelivered(format!("the canary could not be sent: {e}")),
    };
    if let (true, Some(runs)) = (emulator, hop.runs) {
        return Outcome::NotCheckable(format!("this endpoint is an emulator, which does not run {runs}"));
    }
    let pause = if emulator { Duration::from_millis(500) } else { Duration::from_secs(5) };
    let result = match &hop.check {
        Check::InStream => in_stream(aws, hop, sent, position.as_ref()).await,
        Check::InS3 { bucket, prefix, gzip, columnar, opaque } => {
            let s3 = S3Check { bucket, prefix, gzip: *gzip, columnar: *columnar, opaque: *opaque };
            poll(deadline, pause, || s3.look(aws, sent)).await
        }
        Check::InLogs { log_group } => poll(deadline, pause, || in_logs(aws, log_group, sent)).await,
    };
    match result {
        Ok(Some(found)) => Outcome::Delivered(found),
        Ok(None) => Outcome::NotDelivered(format!("canary {} not seen there in time", sent.id)),
        Err(e) => Outcome::NotDelivered(describe(&e)),
    }
}

/// Calls `look` until it finds something or the deadline passes.
async fn poll<F, Fut>(deadline: Instant, pause: Duration, mut look: F) -> Result<Option<String>, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, AwsError>>,
{
    loop {
        if let Some(found) = look().await? {
            return Ok(Some(found));
        }
        if Instant::now() + pause > deadline || crate::cancel::sleep(pause).await.is_err() {
            return Ok(None);
        }
    }
}

async fn in_stream(
    aws: &Aws,
    hop: &Hop,
    sent: &Sent,
    position: Option<&(String, String)>,
) -> Result<Option<String>, AwsError> {
    let (Entry::Stream(stream), Some((shard, seq))) = (&hop.entry, position) else {
        return Ok(None);
    };
    let it = send!(
        "GetShardIterator",
        aws.kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(seq)
    )?;
    let Some(iterator) = it.shard_iterator() else { return Ok(None) };
    let page = send!("GetRecords", aws.kinesis.get_records().shard_iterator(iterator).limit(1))?;
    let found = page.records().first().is_some_and(|r| contains(r.data().as_ref(), &sent.id));
    Ok(found.then(|| format!("read back from {shard} at its sequence number")))
}

struct S3Check<'a> {
    bucket: &'a str,
    prefix: &'a str,
    gzip: bool,
    columnar: bool,
    opaque: Option<&'static str>,
}

impl S3Check<'_> {
    /// The objects under the prefix written since the canary was sent (a
    /// minute of clock skew allowed), opened and searched.
    async fn look(&self, aws: &Aws, sent: &Sent) -> Result<Option<String>, AwsError> {
        let since = sent.at - Duration::from_secs(60);
        let mut token = None;
        let mut arrived = None;
        loop {
            // The deployment's bucket: S3 refuses it if another account holds the name.
            let req = aws.s3.list_objects_v2().bucket(self.bucket).prefix(self.prefix).set_continuation_token(token);
            let page = send!("ListObjectsV2", req.set_expected_bucket_owner(aws.bucket_owner()))?;
            for o in page.contents() {
                let modified = o.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
                if modified.is_none_or(|m| m < since) {
                    continue;
                }
                let key = o.key().unwrap_or_default();
                if let Some(c) = self.opaque {
                    return Ok(Some(format!(
                        "s3://{}/{key} arrived after the canary ({c} objects are not opened)",
                        self.bucket
                    )));
                }
                let req = aws.s3.get_object().bucket(self.bucket).key(key);
                let body = send!("GetObject", req.set_expected_bucket_owner(aws.bucket_owner()))?;
                let bytes = body.body.collect().await.map(|b| b.into_bytes()).unwrap_or_default();
                if contains(&self.open(&bytes), &sent.id) {
                    return Ok(Some(format!("in s3://{}/{key}", self.bucket)));
                }
                arrived.get_or_insert_with(|| key.to_string());
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(match (self.columnar, arrived) {
            (true, Some(key)) => Some(format!(
                "s3://{}/{key} arrived after the canary (Parquet and ORC are not searched for it)",
                self.bucket
            )),
            _ => None,
        })
    }

    fn open(&self, bytes: &[u8]) -> Vec<u8> {
        if self.gzip || bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            if flate2::read::MultiGzDecoder::new(bytes).take(512 << 20).read_to_end(&mut out).is_ok() {
                return out;
            }
        }
        bytes.to_vec()
    }
}

async fn in_logs(aws: &Aws, log_group: &str, sent: &Sent) -> Result<Option<String>, AwsError> {
    let since = sent.at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as i64 - 60_000;
    let out = send!(
        "FilterLogEvents",
        aws.logs
            .filter_log_events()
            .log_group_name(log_group)
            .filter_pattern(format!("\"{}\"", sent.id))
            .start_time(since)
    )?;
    Ok(out.events().first().map(|e| format!("logged in {}", e.log_stream_name().unwrap_or(log_group))))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
