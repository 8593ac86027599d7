//! `pipectl produce`: records into a Kinesis stream with PutRecords, in
//! batches as large as the API takes (500 records, 5 MiB a call, 1 MiB a
//! record with its partition key), several calls in flight, only the
//! entries a call reports failed sent again with backoff.
//!
//! A reader thread pulls records from the [`source::Source`] (a file read
//! line by line, or a generator) and cuts them into batches, pacing them to
//! `--rate`; the sender sends each batch while the next fills. Memory is
//! bounded by the batches in flight, whatever the input's size.

pub mod generate;
pub mod source;

use crate::aws::{Aws, AwsError};
use source::{Item, Skipped, Source};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// PutRecords: records per call.
pub const MAX_RECORDS: usize = 500;
/// PutRecords: bytes per call, data and partition keys together.
pub const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// One record, data and partition key together.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// A partition key, in Unicode characters.
pub const MAX_KEY_CHARS: usize = 256;
/// How often the entries a call reports failed are sent again.
const MAX_ATTEMPTS: u32 = 10;
/// Under `--rate`, how long the first record of a batch may wait for more.
const LINGER: Duration = Duration::from_millis(100);

/// One record as sent.
#[derive(Debug, Clone)]
pub struct Entry {
    pub data: Vec<u8>,
    pub key: String,
}

impl Entry {
    fn size(&self) -> usize {
        self.data.len() + self.key.len()
    }
}

/// Records for one PutRecords call.
#[derive(Debug, Default)]
pub struct Batch {
    pub entries: Vec<Entry>,
    bytes: usize,
    first: Option<Instant>,
}

impl Batch {
    fn fits(&self, e: &Entry) -> bool {
        self.entries.len() < MAX_RECORDS && self.bytes + e.size() <= MAX_REQUEST_BYTES
    }

    fn push(&mut self, e: Entry) {
        self.bytes += e.size();
        self.first.get_or_insert_with(Instant::now);
        self.entries.push(e);
    }
}

/// When to stop and how fast to go.
#[derive(Debug, Clone, Default)]
pub struct Pace {
    /// Records per second at most.
    pub rate: Option<f64>,
    /// Records at most.
    pub limit: Option<u64>,
    /// Stop reading after this long.
    pub duration: Option<Duration>,
    /// PutRecords calls in flight at once.
    pub in_flight: usize,
}

/// What happened, counted as it happens (the progress bar reads it).
#[derive(Debug, Default)]
pub struct Totals {
    /// Records read from the source (sent or skipped).
    pub read: AtomicU64,
    pub delivered: AtomicU64,
    pub delivered_bytes: AtomicU64,
    /// Records that were still failing after every attempt, or whose call
    /// failed for good.
    pub failed: AtomicU64,
    /// Lines that could not become records.
    pub skipped: AtomicU64,
    /// PutRecords calls (each attempt of each batch).
    pub calls: AtomicU64,
    /// Entries sent again after a call reported them failed.
    pub retried: AtomicU64,
    /// Why records failed or were skipped: up to five reasons, each with
    /// how often it happened and where first.
    pub reasons: Mutex<Vec<Reason>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Reason {
    pub why: String,
    pub count: u64,
    pub first: String,
}

impl Totals {
    fn note(&self, why: String, first: impl FnOnce() -> String) {
        let mut r = self.reasons.lock().expect("reasons lock");
        if let Some(x) = r.iter_mut().find(|x| x.why == why) {
            x.count += 1;
        } else if r.len() < 5 {
            r.push(Reason { why, count: 1, first: first() });
        }
    }

    /// The reasons as one line: `why (N times, first at …)`.
    pub fn reasons_text(&self) -> String {
        let r = self.reasons.lock().expect("reasons lock");
        let parts: Vec<String> =
            r.iter().map(|x| format!("{} ({} times, first at {})", x.why, x.count, x.first)).collect();
        parts.join("; ")
    }

    pub fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }
}

/// An item as an entry: its own key or a random one, cut to Kinesis's
/// length; `Err` when it is over the record limit.
fn entry(item: Item, rng: &mut fastrand::Rng) -> Result<Entry, String> {
    let key = match item.key {
        Some(k) => k.chars().take(MAX_KEY_CHARS).collect(),
        None => format!("{:032x}", rng.u128(..)),
    };
    let e = Entry { data: item.data, key };
    if e.size() > MAX_RECORD_BYTES {
        return Err(format!("a record of {} bytes is over Kinesis's 1 MiB limit", e.data.len()));
    }
    Ok(e)
}

/// Reads the source into batches on the calling (blocking) thread, pacing
/// them, and hands each to `send`; stops at the end, the limit, the
/// duration, a stop request or a read error.
pub fn read_batches(
    mut source: Source,
    pace: &Pace,
    totals: &Totals,
    stop: &AtomicBool,
    mut send: impl FnMut(Batch) -> bool,
) -> std::io::Result<()> {
    let start = Instant::now();
    let mut rng = fastrand::Rng::new();
    let mut batch = Batch::default();
    let mut count: u64 = 0;
    loop {
        if stop.load(Ordering::Relaxed) || crate::cancel::requested() {
            break;
        }
        if pace.limit.is_some_and(|l| count >= l) || pace.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        if let Some(rate) = pace.rate {
            let due = start + Duration::from_secs_f64(count as f64 / rate);
            let now = Instant::now();
            if due > now {
                // Send what waited long enough rather than hold it for more.
                if batch.first.is_some_and(|f| due.duration_since(f) >= LINGER) && !send(std::mem::take(&mut batch)) {
                    break;
                }
                if crate::cancel::sleep_blocking(due - now).is_err() {
                    break;
                }
            }
        }
        let Some(next) = source.next() else { break };
        count += 1;
        totals.read.fetch_add(1, Ordering::Relaxed);
        let item = match next? {
            Ok(item) => item,
            Err(Skipped { line, why }) => {
                totals.skipped.fetch_add(1, Ordering::Relaxed);
                totals.note(format!("skipped: {why}"), || format!("line {line}"));
                continue;
            }
        };
        match entry(item, &mut rng) {
            Ok(e) => {
                if !batch.fits(&e) && !send(std::mem::take(&mut batch)) {
                    break;
                }
                batch.push(e);
            }
            Err(why) => {
                totals.skipped.fetch_add(1, Ordering::Relaxed);
                totals.note(format!("skipped: {why}"), || format!("record {count}"));
            }
        }
    }
    if !batch.entries.is_empty() {
        send(batch);
    }
    Ok(())
}

/// Sends one batch; only the entries a call reports failed are sent again,
/// with jittered backoff. A call refused for good (no stream, no access)
/// is returned as the error.
pub async fn put(aws: &Aws, stream: &str, batch: Batch, totals: &Totals) -> Result<(), AwsError> {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::PutRecordsRequestEntry;
    let mut pending = batch.entries;
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=MAX_ATTEMPTS {
        let sent = crate::aws::retry(
            Duration::from_secs(300),
            |_| false,
            || {
                totals.calls.fetch_add(1, Ordering::Relaxed);
                let records = pending.iter().map(|e| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(e.data.clone()))
                        .partition_key(&e.key)
                        .build()
                        .expect("data and key are set")
                });
                let req = aws.kinesis.put_records().stream_name(stream).set_records(Some(records.collect()));
                async move { crate::send!("PutRecords", req) }
            },
        )
        .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                totals.failed.fetch_add(pending.len() as u64, Ordering::Relaxed);
                return Err(e);
            }
        };
        let mut failed = Vec::new();
        for (e, result) in pending.into_iter().zip(out.records()) {
            match result.error_code() {
                None => {
                    totals.delivered.fetch_add(1, Ordering::Relaxed);
                    totals.delivered_bytes.fetch_add(e.data.len() as u64, Ordering::Relaxed);
                }
                Some(code) => {
                    if attempt == MAX_ATTEMPTS {
                        let why = format!("failed after {MAX_ATTEMPTS} attempts: {code}");
                        totals.note(why, || result.error_message().unwrap_or("no message").to_string());
                    }
                    failed.push(e);
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if attempt == MAX_ATTEMPTS {
            totals.failed.fetch_add(failed.len() as u64, Ordering::Relaxed);
            return Ok(());
        }
        totals.retried.fetch_add(failed.len() as u64, Ordering::Relaxed);
        pending = failed;
        if crate::aws::jittered(delay).await.is_err() {
            totals.failed.fetch_add(pending.len() as u64, Ordering::Relaxed);
            return Ok(());
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Ok(())
}

/// Reads `source` and sends all of it to `stream`; returns the totals, or
/// the first error that stopped it (a read error, a call refused for good).
pub async fn produce(aws: &Aws, stream: &str, source: Source, pace: Pace, totals: Arc<Totals>) -> anyhow::Result<()> {
    let in_flight = pace.in_flight.max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(in_flight);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (totals, stop) = (totals.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            read_batches(source, &pace, &totals, &stop, |b| tx.blocking_send(b).is_ok())
        })
    };
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut calls = tokio::task::JoinSet::new();
    let mut first_error: Option<AwsError> = None;
    while let Some(batch) = rx.recv().await {
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let (aws, stream, totals) = (aws.clone(), stream.to_string(), totals.clone());
        calls.spawn(async move {
            let r = put(&aws, &stream, batch, &totals).await;
            drop(permit);
            r
        });
        while let Some(done) = calls.try_join_next() {
            if let Err(e) = done.expect("put task") {
                first_error.get_or_insert(e);
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    while let Some(done) = calls.join_next().await {
        if let Err(e) = done.expect("put task") {
            first_error.get_or_insert(e);
        }
    }
    reader.await.expect("reader thread")?;
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, size: usize) -> Source {
        let line = format!("{{\"x\":\"{}\"}}\n", "a".repeat(size));
        Source::json(Box::new(std::io::Cursor::new(line.repeat(n).into_bytes())), None)
    }

    fn batches(source: Source, pace: Pace) -> (Vec<usize>, Totals) {
        let totals = Totals::default();
        let mut sizes = Vec::new();
        read_batches(source, &pace, &totals, &AtomicBool::new(false), |b| {
            sizes.push(b.entries.len());
            true
        })
        .unwrap();
        (sizes, totals)
    }

    #[test]
    fn batches_hold_500_records_at_most() {
        let (sizes, totals) = batches(lines(1201, 10), Pace::default());
        assert_eq!(sizes, vec![500, 500, 201]);
        assert_eq!(Totals::get(&totals.read), 1201);
    }

    #[test]
    fn batches_stay_under_five_mebibytes() {
        // 100 KiB records: 51 of them are over 5 MiB with their keys.
        let (sizes, _) = batches(lines(120, 100 * 1024), Pace::default());
        assert_eq!(sizes, vec![51, 51, 18]);
    }

    #[test]
    fn a_record_over_one_mebibyte_is_skipped_and_said() {
        let (sizes, totals) = batches(lines(2, 1024 * 1024), Pace::default());
        assert!(sizes.is_empty());
        assert_eq!(Totals::get(&totals.skipped), 2);
        assert_eq!(totals.reasons.lock().unwrap()[0].count, 2);
        assert!(totals.reasons_text().contains("over Kinesis's 1 MiB limit (2 times, first at record 1)"));
    }

    #[test]
    fn the_limit_stops_reading_and_the_rate_paces_it() {
        let (sizes, _) = batches(lines(1000, 1), Pace { limit: Some(30), ..Pace::default() });
        assert_eq!(sizes, vec![30]);
        let start = Instant::now();
        let (sizes, _) = batches(lines(1000, 1), Pace { limit: Some(40), rate: Some(100.0), ..Pace::default() });
        let took = start.elapsed();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(sizes.len() >= 3, "records are sent as they come, not held for a full batch: {sizes:?}");
        assert!(took >= Duration::from_millis(380), "40 records at 100/s take 0.39 s at least: {took:?}");
    }

    #[test]
    fn keys_are_random_unless_the_record_names_one_and_are_cut_to_256_chars() {
        let mut rng = fastrand::Rng::with_seed(1);
        let a = entry(Item { data: b"x".to_vec(), key: None }, &mut rng).unwrap();
        let b = entry(Item { data: b"x".to_vec(), key: None }, &mut rng).unwrap();
        assert_ne!(a.key, b.key);
        let long = entry(Item { data: b"x".to_vec(), key: Some("é".repeat(300)) }, &mut rng).unwrap();
        assert_eq!(long.key.chars().count(), 256);
    }
}
