//! Pacing: every call pipectl sends waits for a token of its operation's
//! bucket, refilled at the rate AWS accepts that operation from one
//! account ([`TABLE`], `rates/aws.json`: the rates with their sources and
//! the date they were checked), so a big apply or destroy sends as fast as
//! AWS accepts and no faster, and never spends a retry on throttling.
//!
//! A bucket serves the waiting call of the highest priority first (the
//! executor gives each change the length of the critical path it starts,
//! [`with_priority`]), then the one that asked first. pipectl keeps one
//! token short of AWS's bucket and refills 2% slower, so calls that arrive
//! at AWS closer together than they left still find a token. AWS's buckets
//! are the account's, shared with every other client: a call throttled
//! anyway empties pipectl's bucket too ([`throttled`]), and is retried.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// `rates/aws.json`, as built into the binary.
pub const TABLE_JSON: &str = include_str!("../../rates/aws.json");

/// The table of AWS's control-plane rates.
#[derive(Debug, Deserialize)]
pub struct Table {
    pub checked: String,
    pub about: String,
    pub assumed_burst_seconds: BurstSeconds,
    pub services: BTreeMap<String, ServiceRates>,
}

/// How many seconds of its rate a bucket holds where AWS publishes only
/// the rate.
#[derive(Debug, Deserialize)]
pub struct BurstSeconds {
    pub read: f64,
    pub write: f64,
}

/// One service's rates.
#[derive(Debug, Deserialize)]
pub struct ServiceRates {
    pub source: String,
    pub published: bool,
    pub default: Entry,
    #[serde(default)]
    pub default_read: Option<Entry>,
    pub ops: BTreeMap<String, Entry>,
    pub unpaced: Vec<String>,
}

/// A rate a second (its bucket assumed), or a bucket AWS publishes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Rate(f64),
    Bucket { rate: f64, burst: f64 },
}

/// A token bucket: `burst` tokens at most, refilled at `rate` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

/// The table, read once. It is part of the binary; a test proves it reads.
pub static TABLE: LazyLock<Table> = LazyLock::new(|| serde_json::from_str(TABLE_JSON).expect("rates/aws.json reads"));

/// Whether an operation only reads, by its verb (how its assumed bucket is
/// sized).
pub fn reads(op: &str) -> bool {
    ["Describe", "Get", "List", "Head"].iter().any(|v| op.starts_with(v))
}

impl Table {
    /// AWS's bucket for `op` of `service` (a SigV4 signing name:
    /// `kinesis`, `monitoring`, …), or `None` when AWS limits it per
    /// shard, function or prefix rather than per account, or the service
    /// is not in the table.
    pub fn limit(&self, service: &str, op: &str) -> Option<Limit> {
        let s = self.services.get(service)?;
        if s.unpaced.iter().any(|u| u == op) {
            return None;
        }
        let read = reads(op);
        let entry = match s.ops.get(op) {
            Some(e) => *e,
            None if read => s.default_read.unwrap_or(s.default),
            None => s.default,
        };
        Some(match entry {
            Entry::Bucket { rate, burst } => Limit { rate, burst },
            Entry::Rate(rate) => {
                let seconds = if read { self.assumed_burst_seconds.read } else { self.assumed_burst_seconds.write };
                Limit { rate, burst: (rate * seconds).max(1.0) }
            }
        })
    }
}

/// The service of an SDK request, from its type's crate
/// (`aws_sdk_kinesis::…` is `kinesis`), as the table names it.
pub fn service_of(type_name: &str) -> &'static str {
    let krate = type_name.strip_prefix("aws_sdk_").and_then(|t| t.split("::").next()).unwrap_or("");
    match krate {
        "kinesis" => "kinesis",
        "firehose" => "firehose",
        "lambda" => "lambda",
        "iam" => "iam",
        "cloudwatchlogs" => "logs",
        "ec2" => "ec2",
        "s3" => "s3",
        "glue" => "glue",
        "ssm" => "ssm",
        "cloudwatch" => "monitoring",
        "secretsmanager" => "secretsmanager",
        "resourcegroupstagging" => "tagging",
        "sts" => "sts",
        _ => "",
    }
}

tokio::task_local! {
    static PRIORITY: u64;
}

/// Runs `fut` with its calls served at `priority` (higher first).
pub async fn with_priority<F: std::future::Future>(priority: u64, fut: F) -> F::Output {
    PRIORITY.scope(priority, fut).await
}

/// The priority of calls that must not wait: shielded work (the lock's
/// renewal and release, the record's last write; `cancel::shielded`),
/// which is bounded in time, and a few calls at most. A renewal held in a
/// line slowed by throttles would cost the run its lock. They take their
/// token at once, leaving the bucket in debt that the calls behind them
/// pay.
pub const URGENT: u64 = u64::MAX;

/// The priority the calls of this task are served at (0 outside a change).
pub fn current_priority() -> u64 {
    PRIORITY.try_with(|p| *p).unwrap_or(0)
}

/// pipectl's side of AWS's bucket: a token short, refilled 2% slower.
fn ours(l: Limit) -> Limit {
    Limit { rate: l.rate * 0.98, burst: (l.burst - 1.0).max(1.0) }
}

/// One bucket and the calls waiting for it, highest priority first, then
/// first come.
struct Bucket {
    limit: Limit,
    tokens: f64,
    at: Instant,
    /// The share of the rate in use: halved by each throttled answer
    /// (someone else spends the account's tokens too), back to whole
    /// over [`RECOVERY`] without one.
    share: f64,
    waiting: BTreeSet<(std::cmp::Reverse<u64>, u64)>,
}

/// How long a bucket takes to go back from its slowest to its whole rate.
const RECOVERY: Duration = Duration::from_secs(20);
/// The slowest a bucket goes: a tenth of its rate.
const SLOWEST: f64 = 0.1;

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Self {
        Bucket { limit, tokens: limit.burst, at: now, share: 1.0, waiting: BTreeSet::new() }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.limit.rate * self.share).min(self.limit.burst);
        self.share = (self.share + dt / RECOVERY.as_secs_f64()).min(1.0);
        self.at = now;
    }
}

/// A bucket's operation: (service, operation).
type Key = (&'static str, &'static str);

/// The buckets of one process (AWS counts per account; a process talks to
/// one).
#[derive(Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<Key, (Bucket, Arc<Notify>)>>,
    seq: std::sync::atomic::AtomicU64,
}

static PACER: LazyLock<Pacer> = LazyLock::new(Pacer::default);

/// The run is stopping: a call not yet sent is not sent (work that must
/// finish after a stop runs `cancel::shielded`, and is paced as usual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// Waits for a token of `op`'s bucket (no wait for an unpaced call).
pub async fn pace(service: &'static str, op: &'static str) -> Result<(), Stopped> {
    match TABLE.limit(service, op) {
        Some(limit) => {
            let priority = if crate::cancel::is_shielded() { URGENT } else { current_priority() };
            PACER.take(service, op, ours(limit), priority).await
        }
        None => Ok(()),
    }
}

/// AWS throttled `op` anyway (another client of the account spent its
/// tokens): the next calls wait for a refill, at half the rate it had,
/// which recovers over [`RECOVERY`].
pub fn throttled(service: &'static str, op: &'static str) {
    PACER.drain(service, op);
}

/// Sends `call` at its bucket's pace; a throttled answer drains the bucket.
pub async fn paced<T>(
    service: &'static str,
    op: &'static str,
    call: impl std::future::Future<Output = Result<T, super::AwsError>>,
) -> Result<T, super::AwsError> {
    if pace(service, op).await.is_err() {
        return Err(super::AwsError::fatal(op, "not sent: the run is stopping"));
    }
    let answer = learn::CALL.scope((service, op), call).await;
    if answer.as_ref().is_err_and(|e| e.throttled()) {
        throttled(service, op);
    }
    answer
}

impl Pacer {
    /// Takes one token, waiting in line by priority; `Stopped` once the
    /// run is stopping (unless shielded), the call then never sent.
    pub async fn take(
        &self,
        service: &'static str,
        op: &'static str,
        limit: Limit,
        priority: u64,
    ) -> Result<(), Stopped> {
        let stopping = || crate::cancel::requested() && !crate::cancel::is_shielded();
        if stopping() {
            return Err(Stopped);
        }
        let key = (service, op);
        if priority == URGENT {
            let mut b = self.buckets.lock().expect("pacer lock");
            let (bucket, _) =
                b.entry(key).or_insert_with(|| (Bucket::new(limit, Instant::now()), Arc::new(Notify::new())));
            bucket.refill(Instant::now());
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let me = (std::cmp::Reverse(priority), self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let notify = {
            let mut b = self.buckets.lock().expect("pacer lock");
            let (bucket, notify) =
                b.entry(key).or_insert_with(|| (Bucket::new(limit, Instant::now()), Arc::new(Notify::new())));
            bucket.waiting.insert(me);
            notify.clone()
        };
        // A call abandoned while it waits (a stop) leaves the line.
        struct InLine<'a>(&'a Pacer, Key, (std::cmp::Reverse<u64>, u64), bool);
        // .3: served (out of the line already).
        impl Drop for InLine<'_> {
            fn drop(&mut self) {
                if !self.3 {
                    let mut b = self.0.buckets.lock().expect("pacer lock");
                    if let Some((bucket, notify)) = b.get_mut(&self.1) {
                        bucket.waiting.remove(&self.2);
                        notify.notify_waiters();
                    }
                }
            }
        }
        let mut line = InLine(self, key, me, false);
        loop {
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let wait = {
                let mut b = self.buckets.lock().expect("pacer lock");
                let (bucket, _) = b.get_mut(&key).expect("bucket made");
                let now = Instant::now();
                bucket.refill(now);
                if bucket.waiting.first() == Some(&me) {
                    if bucket.tokens >= 1.0 {
                        bucket.tokens -= 1.0;
                        bucket.waiting.remove(&me);
                        line.3 = true;
                        // The next in line looks again.
                        notify.notify_waiters();
                        return Ok(());
                    }
                    Some(Duration::from_secs_f64((1.0 - bucket.tokens) / (bucket.limit.rate * bucket.share)))
                } else {
                    None
                }
            };
            // First in line: until the next token; else until the line
            // moves. Either ends early for someone of a higher priority,
            // and for a stop (not shielded: `cancel::sleep` then ends).
            let pause = wait.unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                slept = crate::cancel::sleep(pause) => {
                    if slept.is_err() || stopping() {
                        return Err(Stopped);
                    }
                }
                () = &mut woken => {}
            }
        }
    }

    fn drain(&self, service: &'static str, op: &'static str) {
        let mut b = self.buckets.lock().expect("pacer lock");
        if let Some((bucket, notify)) = b.get_mut(&(service, op)) {
            bucket.refill(Instant::now());
            bucket.tokens = bucket.tokens.min(0.0);
            bucket.share = (bucket.share / 2.0).max(SLOWEST);
            notify.notify_waiters();
        }
    }
}

/// An AWS service, as far as how hard pipectl may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Kinesis,
    Firehose,
    Lambda,
    Iam,
    Logs,
    Ec2,
    S3,
    Glue,
    Ssm,
    CloudWatch,
}

impl Service {
    /// How many reads of this service's resources run at once: a bound on
    /// calls in flight, beside the pacing of each call at its rate
    /// ([`pace`]).
    /// The rate is the pacer's; these only keep a plan's reads of one
    /// service from all going out in the same instant.
    pub const fn read_concurrency(self) -> usize {
        match self {
            Service::CloudWatch | Service::Lambda | Service::Iam | Service::Glue | Service::Ssm => 10,
            Service::Firehose | Service::Logs | Service::Kinesis | Service::Ec2 | Service::S3 => 20,
        }
    }
}

mod learn;
pub use learn::Learn;

#[cfg(test)]
mod tests;
