//! Retrying, pacing and waiting: the SDK's retry configuration, retries
//! above it, [`Pace`], [`wait_until`] and what this process started.

use super::*;

/// The SDK's retry configuration: standard mode, 5 attempts. AWS_RETRY_MODE
/// (`standard` | `adaptive`) and AWS_MAX_ATTEMPTS override it.
///
/// Adaptive mode is not the default because its client-side rate limiter,
/// measured here against an emulator that throttles every 6th call, made a
/// 3-resource apply take 37 s instead of 2 s: a deploy tool makes few calls,
/// so the rate it measures, and then enforces, is tiny.
pub fn retry_config() -> RetryConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let base = match std::env::var("AWS_RETRY_MODE").as_deref() {
        Ok("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    base.with_max_attempts(attempts)
}

/// Retries `op` while it fails with a transient error (or one `also_retry`
/// accepts, e.g. an IAM role that has not propagated yet), until `budget`
/// is spent. Transient errors back off exponentially with jitter (AWS asks
/// for it when throttling); errors that mean AWS is still settling are
/// tried again at the [`Pace`] of a wait, so the retry follows soon after
/// AWS is ready.
pub async fn retry<T, F, Fut>(budget: Duration, also_retry: impl Fn(&AwsError) -> bool, op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_paced(budget, Pace::new(Duration::ZERO), also_retry, op).await
}

/// [`retry`], for an `also_retry` condition that settles at `pace` (a
/// role's propagation, timed from the role's creation).
pub async fn retry_paced<T, F, Fut>(
    budget: Duration,
    pace: Pace,
    also_retry: impl Fn(&AwsError) -> bool,
    mut op: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut backoff = Duration::from_millis(200);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.class == Class::Transient && start.elapsed() + backoff < budget => {
                if jittered(backoff).await.is_err() {
                    return Err(e.interrupted());
                }
                backoff = (backoff * 2).min(Duration::from_secs(8));
            }
            Err(e) if also_retry(&e) && start.elapsed() + pace.next() < budget => {
                if crate::cancel::sleep(pace.next()).await.is_err() {
                    return Err(e.interrupted());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long a call still has once the run is stopping: one in flight
/// usually answers within it; one the SDK is retrying (its backoff, up
/// to 20 s a pause, is its own) or that hangs is abandoned, its outcome
/// unknown, as after a lost answer: the next run converges from it.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// How long each shielded call (the lock's renewal and release, the
/// record's last write) still has once the calls of the run were
/// abandoned ([`STOP_GRACE`] after a stop)...
pub const SHIELDED_CALL: Duration = Duration::from_secs(2);
/// ...and when, after the stop, every one of them is abandoned: a stopping
/// run exits within seconds however long AWS takes; a lock it could not
/// release is left to its lease.
pub const SHIELDED_TOTAL: Duration = Duration::from_secs(7);

/// Every SDK call (`send!`, `gone!`): its answer, or, [`STOP_GRACE`]
/// after a stop, an error saying it was abandoned. Shielded work (the
/// lock's renewal and release, the record's last write) gets its answer
/// while the run goes on, and within its own bound after a stop
/// ([`SHIELDED_CALL`], [`SHIELDED_TOTAL`]).
pub async fn unless_stopped<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if crate::cancel::is_shielded() {
        let began = Instant::now();
        return tokio::select! {
            answer = call => answer,
            () = crate::cancel::shield_ends(began, STOP_GRACE, SHIELDED_CALL, SHIELDED_TOTAL) => Err(AwsError::fatal(
                op,
                "no answer in time after the stop: abandoned (the run is stopping)",
            )),
        };
    }
    tokio::select! {
        answer = call => answer,
        () = crate::cancel::stopped_for(STOP_GRACE) => Err(AwsError::fatal(
            op,
            format!("no answer {} s after the stop: abandoned (the run is stopping)", STOP_GRACE.as_secs()),
        )),
    }
}

/// When to look again at something AWS is making ready, so that the look
/// after it became ready comes soon relative to the whole wait, whatever
/// AWS's speed that day: never later than 3% of the time waited so far,
/// and 1% from half the kind's `usual` time to twice it, when AWS usually
/// finishes (at least 50 ms apart, at most 10 s). The first look after the
/// immediate one comes at a tenth of the kind's `usual` time: AWS does not
/// finish sooner even in a fast hour, and an endpoint that is already
/// ready (an emulator) answers at the immediate look. The number of looks
/// grows with the logarithm of the wait: about 125 from a tenth of the
/// usual time to the usual time; each is paced like any call
/// (`aws::rate`), so many waits of one kind share their describe's rate.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    start: Instant,
    usual: Duration,
}

impl Pace {
    /// The share of the time waited so far that a ready resource may go
    /// unnoticed...
    pub const SLACK: f64 = 0.03;
    /// ...and near the kind's usual time.
    pub const SLACK_NEAR: f64 = 0.01;
    const FLOOR: Duration = Duration::from_millis(50);
    const CEILING: Duration = Duration::from_secs(10);

    pub fn new(usual: Duration) -> Pace {
        Pace { start: Instant::now(), usual }
    }

    /// The pace of something that started settling when this process
    /// marked `key` ([`settling`]: a role created, encryption started),
    /// else now.
    pub fn since(key: &str, usual: Duration) -> Pace {
        Pace { start: settling::started(key).unwrap_or_else(Instant::now), usual }
    }

    /// The pause before the next look.
    pub fn next(&self) -> Duration {
        Pace::after(self.start.elapsed(), self.usual)
    }

    /// The pause before the next look, `elapsed` into a wait.
    pub fn after(elapsed: Duration, usual: Duration) -> Duration {
        let first = usual / 10;
        if elapsed < first {
            return (first - elapsed).max(Pace::FLOOR);
        }
        let near = elapsed >= usual / 2 && elapsed <= usual * 2;
        elapsed.mul_f64(if near { Pace::SLACK_NEAR } else { Pace::SLACK }).clamp(Pace::FLOOR, Pace::CEILING)
    }
}

/// A backoff of half to all of `base` (AWS asks for jitter), ended by a
/// stop.
pub async fn jittered(base: Duration) -> Result<(), crate::cancel::Cancelled> {
    let jitter = 0.5 + fastrand::f64() / 2.0;
    crate::cancel::sleep(base.mul_f64(jitter)).await
}

/// Polls `check` until it says ready, at the [`Pace`] of a wait usually
/// `usual` long, for at most `timeout`. Readiness itself is the
/// resource's pure predicate; this only schedules the looking.
pub async fn wait_until<F, Fut>(
    what: &str,
    timeout: Duration,
    pace: impl Into<Pace>,
    mut check: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, AwsError>>,
{
    let start = Instant::now();
    let pace = pace.into();
    loop {
        match check().await {
            Ok(Poll::Ready) => return Ok(()),
            Ok(Poll::Failed(msg)) => return Err(AwsError::fatal("wait", format!("{what}: {msg}"))),
            Ok(Poll::NotYet(_)) => {}
            Err(e) if e.class == Class::Transient => {}
            Err(e) => return Err(e),
        }
        let delay = pace.next();
        if start.elapsed() + delay > timeout {
            return Err(AwsError::fatal("wait", format!("{what}: not ready after {}s", timeout.as_secs())));
        }
        if crate::cancel::sleep(delay).await.is_err() {
            return Err(AwsError::fatal("wait", format!("{what}: interrupted before it was ready")));
        }
    }
}

impl From<Duration> for Pace {
    /// The pace of a wait usually `usual` long, starting now.
    fn from(usual: Duration) -> Pace {
        Pace::new(usual)
    }
}

/// When this process started something AWS finishes on its own time (a
/// role created: propagation; a stream's encryption started), by key
/// (`role/<name>`, `stream/<name>`), so what waits on it paces its looks
/// from then, not from when it started waiting.
pub mod settling {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    use std::time::Instant;

    static STARTED: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

    pub fn mark(key: String) {
        STARTED.lock().expect("settling lock").insert(key, Instant::now());
    }

    pub fn started(key: &str) -> Option<Instant> {
        STARTED.lock().expect("settling lock").get(key).copied()
    }
}

/// One look at a resource that is becoming usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    Ready,
    /// Still on its way, with AWS's status for the progress line.
    NotYet(String),
    /// AWS says it will never become ready (e.g. CREATING_FAILED).
    Failed(String),
}

impl AwsError {
    /// This error, as the last answer of a wait or retry a stop ended:
    /// final, so nothing retries it (the executor resumes no change).
    pub fn interrupted(self) -> AwsError {
        let message = format!("{} (interrupted: the run is stopping)", self.message);
        AwsError { message, class: Class::Fatal, ..self }
    }
}
