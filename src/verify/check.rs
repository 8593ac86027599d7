//! Sending the canaries, asking the service whether it runs what a hop
//! needs, and reading where each hop ends (the decision is `decide`'s).

use super::canary::Pair;
use super::decide::{self, Object, Seen};
use super::{Check, Entry, Hop, Runs};
use crate::aws::{Aws, AwsError};
use crate::send;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What a hop showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(String),
    NotDelivered(String),
    /// The service answered that it does not run what the hop needs.
    NotCheckable(String),
    /// Objects arrived whose content cannot show a canary: proves nothing.
    NotRead(String),
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::NotDelivered(_) => "not delivered",
            Outcome::NotCheckable(_) => "not checkable",
            Outcome::NotRead(_) => "not read",
        }
    }

    pub fn why(&self) -> &str {
        match self {
            Outcome::Delivered(w) | Outcome::NotDelivered(w) | Outcome::NotCheckable(w) | Outcome::NotRead(w) => w,
        }
    }
}

/// A path's canaries as sent: when, and where PutRecord put the last one
/// (a stream's shard and sequence number), or why they could not be sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: SystemTime,
    pub position: Result<Option<(String, String)>, String>,
}

/// How long a read is retried through throttling and 5xx answers.
const READ_BUDGET: Duration = Duration::from_secs(30);

/// Sends a path's canary records (JSON and a newline each) to its entry, in
/// order, with one partition key: a stream keeps them in that order.
pub async fn send(aws: &Aws, entry: &Entry, key: &str, records: &[serde_json::Value]) -> Sent {
    let at = SystemTime::now();
    let mut position = Ok(None);
    for record in records {
        let mut data = serde_json::to_vec(record).expect("JSON serializes");
        data.push(b'\n');
        let sent = match entry {
            Entry::Stream(name) => {
                let after = position.as_ref().ok().and_then(|p: &Option<(String, String)>| p.clone()).map(|p| p.1);
                let req = || {
                    aws.kinesis
                        .put_record()
                        .stream_name(name)
                        .partition_key(key)
                        .set_sequence_number_for_ordering(after.clone())
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
        position = sent.map_err(|e| describe(&e));
        if position.is_err() {
            break;
        }
    }
    Sent { at, position }
}

fn describe(e: &AwsError) -> String {
    if e.is_not_found() {
        format!("it is not there ({e})")
    } else {
        e.to_string()
    }
}

/// Whether the service runs what the hop needs: `Ok(None)` when it does
/// (or nothing is needed), `Ok(Some(answer))` quoting the answer that says
/// it does not, `Err` when what it needs is not there.
pub async fn runnable(aws: &Aws, runs: &Runs) -> Result<Option<String>, String> {
    match runs {
        Runs::Nothing => Ok(None),
        Runs::StreamFirehose(name) => {
            let req = || aws.firehose.describe_delivery_stream().delivery_stream_name(name);
            let out = crate::aws::retry(READ_BUDGET, |_| false, || async { send!("DescribeDeliveryStream", req()) })
                .await
                .map_err(|e| format!("firehose {name}: {}", describe(&e)))?;
            let source = out.delivery_stream_description().and_then(|d| d.source());
            let started =
                source.and_then(|s| s.kinesis_stream_source_description()).and_then(|k| k.delivery_start_timestamp());
            Ok(started.is_none().then(|| {
                "the service reports no delivery start for this Firehose's stream source (DescribeDeliveryStream: \
                 no Source.KinesisStreamSourceDescription.DeliveryStartTimestamp)"
                    .to_string()
            }))
        }
        Runs::Function { function, stream } => {
            let (mapping, dry_run) = futures_util::join!(mapping_result(aws, function, stream), dry_run(aws, function));
            let answers: Vec<String> = [mapping?, dry_run?].into_iter().flatten().collect();
            Ok((!answers.is_empty())
                .then(|| format!("the service does not run function {function}: {}", answers.join("; "))))
        }
    }
}

/// The trigger's event source mapping: an answer when it has no
/// `LastProcessingResult` at all (AWS answers "No records processed" before
/// the first batch; an emulator that runs no function, none).
async fn mapping_result(aws: &Aws, function: &str, stream: &str) -> Result<Option<String>, String> {
    let suffix = format!(":stream/{stream}");
    let mut marker = None;
    loop {
        let req = || aws.lambda.list_event_source_mappings().function_name(function).set_marker(marker.clone());
        let page = crate::aws::retry(READ_BUDGET, |_| false, || async { send!("ListEventSourceMappings", req()) })
            .await
            .map_err(|e| format!("function {function}: {}", describe(&e)))?;
        let found =
            page.event_source_mappings().iter().find(|m| m.event_source_arn().is_some_and(|a| a.ends_with(&suffix)));
        if let Some(m) = found {
            let uuid = m.uuid().unwrap_or_default();
            return Ok(m
                .last_processing_result()
                .is_none()
                .then(|| format!("its trigger {uuid} reports no LastProcessingResult (ListEventSourceMappings)")));
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Err(format!("function {function} has no trigger reading stream {stream}"));
        }
    }
}

/// `Invoke` with `InvocationType=DryRun`: an answer when it is a function
/// error (an emulator that cannot start the function says why).
async fn dry_run(aws: &Aws, function: &str) -> Result<Option<String>, String> {
    let req =
        || aws.lambda.invoke().function_name(function).invocation_type(aws_sdk_lambda::types::InvocationType::DryRun);
    let out = crate::aws::retry(READ_BUDGET, |_| false, || async { send!("Invoke", req()) })
        .await
        .map_err(|e| format!("function {function}: {}", describe(&e)))?;
    Ok(out.function_error().map(|kind| {
        let payload = out.payload().map(|p| String::from_utf8_lossy(p.as_ref()).trim().to_string()).unwrap_or_default();
        let payload: String = payload.chars().take(200).collect();
        if payload.is_empty() {
            format!("Invoke (DryRun) answered a function error ({kind})")
        } else {
            format!("Invoke (DryRun) answered a function error ({kind}): {payload}")
        }
    }))
}

/// Looks for the pair at the end of `hop` until `deadline`; once only when
/// the service said it does not run the hop (found: delivered all the same).
pub async fn check(aws: &Aws, hop: &Hop, pair: &Pair, sent: &Sent, deadline: Instant) -> Outcome {
    let position = match &sent.position {
        Ok(p) => p,
        Err(e) => return Outcome::NotDelivered(format!("the canary could not be sent: {e}")),
    };
    let unrun = match runnable(aws, &hop.runs).await {
        Ok(answer) => answer,
        Err(e) => return Outcome::NotDelivered(e),
    };
    // A Firehose transforming with a function needs the service to run it
    // too; a canary coming out while it says it does not run the function
    // went around it, and shows nothing of the transform.
    let mut around = false;
    let unrun = match &hop.check {
        Check::InS3 { processor: Some(p), .. } => match dry_run(aws, p).await {
            Ok(None) => unrun,
            Ok(Some(answer)) => {
                around = true;
                let said = format!("the service does not run the Firehose's transform function {p}: {answer}");
                Some(unrun.map_or(said.clone(), |u| format!("{u}; {said}")))
            }
            Err(e) => return Outcome::NotDelivered(e),
        },
        _ => unrun,
    };
    let mut reader = Reader { aws, read: HashMap::new() };
    let mut pause = Duration::from_millis(500);
    loop {
        let seen = match &hop.check {
            Check::InStream => in_stream(aws, hop, pair, position.as_ref()).await,
            Check::InS3 { bucket, prefix, unread, firehose, .. } => reader
                .objects(bucket, prefix, firehose, unread.as_deref(), sent.at)
                .await
                .map(|o| decide::in_objects(bucket, &o, sent.at, pair, &hop.shape)),
            Check::InLogs { log_group } => in_logs(aws, log_group, pair, sent).await,
        };
        let seen = match seen {
            Ok(s) => s,
            Err(e) => return Outcome::NotDelivered(describe(&e)),
        };
        match (seen, &unrun) {
            (Seen::Found(f), Some(answer)) if around => {
                return Outcome::NotCheckable(format!("{answer}; the canary came out untransformed ({f})"))
            }
            (Seen::Found(f), _) => return Outcome::Delivered(f),
            (Seen::Dropped(d), _) => return Outcome::NotDelivered(d),
            // Known from the spec: what arrives there cannot show the canary.
            (Seen::Unread(u), None) if matches!(&hop.check, Check::InS3 { unread: Some(_), .. }) => {
                return Outcome::NotRead(u)
            }
            (_, Some(answer)) => {
                return Outcome::NotCheckable(format!("{answer}; the canary was not there at one look"))
            }
            (seen, None) if Instant::now() + pause > deadline => {
                return match seen {
                    Seen::Unread(u) => Outcome::NotRead(u),
                    _ => Outcome::NotDelivered(format!("canary {} not seen there in time", pair.keep.id)),
                }
            }
            _ => {}
        }
        if crate::cancel::sleep(pause).await.is_err() {
            return Outcome::NotDelivered(format!("stopped before canary {} was seen", pair.keep.id));
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn in_stream(aws: &Aws, hop: &Hop, pair: &Pair, position: Option<&(String, String)>) -> Result<Seen, AwsError> {
    let (Entry::Stream(stream), Some((shard, seq))) = (&hop.entry, position) else {
        return Ok(Seen::Nothing);
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
    let Some(iterator) = it.shard_iterator() else { return Ok(Seen::Nothing) };
    let page = send!("GetRecords", aws.kinesis.get_records().shard_iterator(iterator).limit(1))?;
    let id = pair.keep.id.as_bytes();
    let found = page.records().first().is_some_and(|r| super::content::contains(r.data().as_ref(), id));
    Ok(if found { Seen::Found(format!("read back from {shard} at its sequence number")) } else { Seen::Nothing })
}

/// The objects of one hop, each fetched once (by key and ETag) and shared
/// between looks, with what its search found (`Object::searched`).
pub struct Reader<'a> {
    pub aws: &'a Aws,
    pub read: HashMap<(String, String), Arc<Object>>,
}

impl Reader<'_> {
    /// The objects `firehose` wrote under `prefix` of `bucket` modified
    /// since `sent` (less
    /// the skew `decide` allows), with their bodies; objects of a
    /// content that cannot show a canary (`unread`, why) are listed, not
    /// fetched.
    pub async fn objects(
        &mut self,
        bucket: &str,
        prefix: &str,
        firehose: &str,
        unread: Option<&str>,
        sent: SystemTime,
    ) -> Result<Vec<Arc<Object>>, AwsError> {
        let aws = self.aws;
        let since = sent - decide::SKEW;
        let mut token = None;
        let mut out = Vec::new();
        loop {
            // The deployment's bucket: S3 refuses it if another account holds the name.
            let req = || {
                let req = aws.s3.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token.clone());
                req.set_expected_bucket_owner(aws.bucket_owner())
            };
            let page = crate::aws::retry(READ_BUDGET, |_| false, || async { send!("ListObjectsV2", req()) }).await?;
            for o in page.contents() {
                let Some(modified) = o.last_modified().and_then(|t| SystemTime::try_from(*t).ok()) else { continue };
                if modified < since {
                    continue;
                }
                let key = o.key().unwrap_or_default().to_string();
                if !decide::written_by(&key, firehose) {
                    continue;
                }
                let id = (key.clone(), o.e_tag().unwrap_or_default().to_string());
                if let Some(known) = self.read.get(&id) {
                    out.push(Arc::clone(known));
                    continue;
                }
                let size = u64::try_from(o.size().unwrap_or(0)).unwrap_or(0);
                let body = match unread {
                    Some(why) => Err(why.to_string()),
                    // Not what a Firehose writes (its largest buffer is 128 MiB): not fetched.
                    None if size > super::columnar::MAX_OBJECT_BYTES as u64 => {
                        Err(format!("{size} bytes, more than a Firehose writes; not fetched"))
                    }
                    None => Ok(get(aws, bucket, &key).await?),
                };
                let object = Arc::new(Object::new(key, modified, body));
                self.read.insert(id, Arc::clone(&object));
                out.push(object);
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

pub async fn get(aws: &Aws, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let fetch = || async {
        let req = aws.s3.get_object().bucket(bucket).key(key).set_expected_bucket_owner(aws.bucket_owner());
        let out = send!("GetObject", req)?;
        let cut = |e| AwsError::fatal("GetObject", format!("the body of s3://{bucket}/{key} was cut: {e}"));
        out.body.collect().await.map(|b| b.into_bytes().to_vec()).map_err(|e| cut(e).mark_transient())
    };
    crate::aws::retry(READ_BUDGET, |_| false, fetch).await
}

async fn in_logs(aws: &Aws, log_group: &str, pair: &Pair, sent: &Sent) -> Result<Seen, AwsError> {
    let since = sent.at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as i64 - 60_000;
    let page = |token: Option<String>| async move {
        let req = || {
            aws.logs
                .filter_log_events()
                .log_group_name(log_group)
                .filter_pattern(format!("\"{}\"", pair.keep.id))
                .start_time(since)
                .set_next_token(token.clone())
        };
        let out = crate::aws::retry(READ_BUDGET, |_| false, || async { send!("FilterLogEvents", req()) }).await?;
        let events = out.events().iter().map(|e| {
            (e.log_stream_name().unwrap_or(log_group).to_string(), e.message().unwrap_or_default().to_string())
        });
        Ok((events.collect(), out.next_token().map(str::to_string)))
    };
    let (events, more) = super::logs::read(super::logs::MAX_PAGES, page).await?;
    Ok(match decide::in_events(&events, pair) {
        Seen::Nothing if more => Seen::Unread(format!(
            "{log_group}: {} pages of FilterLogEvents read without the canary, more left unread",
            super::logs::MAX_PAGES
        )),
        seen => seen,
    })
}
