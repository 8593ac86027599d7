//! One apply or destroy per deployment at a time, and a run that knows
//! whether it holds its lock: held or lost, never both.
//!
//! The lock is an SSM parameter `/pipectl-lock/<pipeline>/<env>` created
//! with `PutParameter` without overwrite: SSM creates it for exactly one
//! caller and answers `ParameterAlreadyExists` to every other. Its value
//! says who holds it ([`Holder`]: user, host, process, its lease), for what
//! command, since when, and when the holder last renewed it; the holder
//! renews it every quarter of its lease while it runs (`renew`) and deletes
//! it when it ends.
//!
//! A run that cannot confirm its lock for half its lease, or finds it
//! taken, has lost it: it starts no new change, lets the running calls
//! finish, writes the record (which needs no lock), leaves the lock alone
//! and exits 1 saying so (`renew`, `cancel::lose`).
//!
//! A lock is stale, and is taken over with a note, when its holder is
//! provably gone (same kernel boot and pid namespace, pid gone: see
//! `holder`), or when it has not been renewed for the holder's lease (a
//! runner killed with SIGKILL, a cancelled CI job, another container).
//! The takeover is one compare-and-swap: of all runs that find the same
//! stale holder, exactly one replaces it (`takeover`). Anyone can break a
//! lock by hand with `pipectl unlock`.
//!
//! A lost answer to the create is retried by the SDK; the retry finds the
//! parameter there, and it is ours when it names this run.

mod holder;
mod renew;
mod takeover;

use crate::aws::{Aws, AwsError, Outcome};
use crate::{gone, send};
pub use holder::{holder_of, is_date, now_secs, rfc3339, rfc3339_f64, Holder, LEASE};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long after the lock was last seen to be this run's its release
/// deletes it without looking again (with the default lease; a twelfth of
/// a shorter one). Only a run that finds it stale (not renewed for its
/// lease) takes a lock over, so within this window that would take a
/// clock 110 s ahead; later, the release reads it first and leaves another
/// run's lock alone.
pub const SEEN_RECENTLY: Duration = Duration::from_secs(10);

/// [`SEEN_RECENTLY`] for a lock held for `lease`.
fn seen_recently(lease: Duration) -> Duration {
    SEEN_RECENTLY.min(lease / 12)
}

/// What a run and its renewer share: when the lock was last seen to be
/// this run's, and why it was lost, once it was.
#[derive(Clone)]
struct Shared(Arc<Mutex<State>>);

struct State {
    seen: Instant,
    lost: Option<String>,
}

impl Shared {
    fn new() -> Shared {
        Shared(Arc::new(Mutex::new(State { seen: Instant::now(), lost: None })))
    }

    fn seen(&self) -> Instant {
        self.0.lock().expect("lock state").seen
    }

    fn saw(&self, at: Instant) {
        self.0.lock().expect("lock state").seen = at;
    }

    fn lost(&self) -> Option<String> {
        self.0.lock().expect("lock state").lost.clone()
    }

    /// The lock is lost: said once, and the run stops.
    fn lose(&self, why: String) {
        self.0.lock().expect("lock state").lost.get_or_insert(why.clone());
        eprintln!("\nerror: this run lost the deployment's lock: {why}; stopping: nothing new starts");
        crate::cancel::lose(why);
    }

    /// Whether the lock was seen to be this run's within the window, and
    /// never lost.
    fn lately(&self, window: Duration) -> bool {
        let s = self.0.lock().expect("lock state");
        s.lost.is_none() && s.seen.elapsed() < window
    }
}

/// Who runs this process, for people: `user@host`.
pub fn who() -> String {
    let me = Holder::me("", LEASE);
    format!("{}@{}", me.user, me.host)
}

/// This process's run: `host:pid:start-nanos`, the same for every use.
/// Client tokens derive from it, so every attempt of this run at one create
/// is one idempotent request, and the next run's are new.
pub fn run_id() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        format!("{}:{}:{nanos}", holder::hostname(), std::process::id())
    })
}

/// The lock's parameter name.
pub fn parameter(pipeline: &str, env: &str) -> String {
    format!("/pipectl-lock/{pipeline}/{env}")
}

/// A held lock. Release it with [`Lock::release`]; while it lives a task
/// renews it, and says when it is lost ([`Lock::lost`]).
pub struct Lock {
    aws: Aws,
    name: String,
    holder: Holder,
    renewer: tokio::task::JoinHandle<()>,
    shared: Shared,
    /// Set once the lock went with the deployment record ([`Along`]).
    gone: Arc<std::sync::atomic::AtomicBool>,
}

/// What deleting the deployment record needs to delete the lock in the
/// same call: a destroy's record goes last, and the lock right after it,
/// so one DeleteParameters does both (a round trip less). It is used only
/// while the lock was seen to be this run's lately (as [`Lock::release`]
/// does); the lock's release then has nothing to do.
#[derive(Clone)]
pub struct Along {
    name: String,
    window: Duration,
    shared: Shared,
    renewer: tokio::task::AbortHandle,
    gone: Arc<std::sync::atomic::AtomicBool>,
}

impl Along {
    /// The lock's name, when it may go with the record: its renewal is
    /// stopped first. `None` when it was not seen to be this run's lately.
    pub fn take(&self) -> Option<&str> {
        if !self.shared.lately(self.window) {
            return None;
        }
        self.renewer.abort();
        Some(&self.name)
    }

    /// Says the lock was deleted with the record.
    pub fn went(&self) {
        self.gone.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Another run holds the lock.
#[derive(Debug, thiserror::Error)]
#[error("deployment `{deployment}` is locked by {}", holder.describe())]
pub struct Locked {
    pub deployment: String,
    pub holder: Holder,
}

/// A run that lost its lock: another run may have changed AWS alongside.
#[derive(Debug, thiserror::Error)]
#[error(
    "this run lost the lock of deployment `{deployment}` ({why}): another run may have changed AWS \
     concurrently; this run started nothing after it knew"
)]
pub struct Lost {
    pub deployment: String,
    pub why: String,
}

/// The pause between looks at a lock another run holds.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

impl Lock {
    /// Takes the lock for `command`, waiting up to `wait` for the holder to
    /// finish (zero: fail at once, naming the holder). A signal ends the
    /// wait (the run exits 130).
    ///
    /// Every look that does not take the lock goes through the same end of
    /// the loop: the timeout, then a pause a stop ends. A holder with odd
    /// or empty fields is one more holder, stale by its lease.
    pub async fn acquire(aws: &Aws, pipeline: &str, env: &str, command: &str, wait: Duration) -> anyhow::Result<Lock> {
        crate::cancel::install();
        let name = parameter(pipeline, env);
        let me = Holder::me(command, holder::lease()?);
        let start = Instant::now();
        let mut watch = Watch::default();
        let mut said = false;
        loop {
            if crate::cancel::requested() {
                anyhow::bail!("interrupted while waiting for the lock of `{pipeline}/{env}`");
            }
            // Throttling or a 5xx is tried again: a lost create finds the lock
            // naming this run, a lost takeover finds its own marker.
            let patience = Duration::from_secs(60);
            let look = crate::aws::retry(patience, |_| false, || try_create(aws, &name, &me)).await?;
            let (pause, limit) = match look {
                Look::Created => break,
                Look::Held(other) if other.run == me.run => break,
                // Released between the two calls: soon again, as nobody's.
                Look::Vanished => (Duration::from_millis(100 + fastrand::u64(..200)), wait.max(TRANSIENT)),
                Look::Held(other) => {
                    let unchanged = watch.unchanged(&other);
                    if let Some(why) = other.stale(unchanged) {
                        eprintln!("note: taking over a stale lock: {why} ({})", other.describe());
                        let take = || takeover::take_over(aws, &name, &other, &me);
                        if crate::aws::retry(patience, |_| false, take).await? {
                            eprintln!("note: took over the lock from {}", other.describe());
                            break;
                        }
                        // Another run took it over, or is taking it: look again soon.
                        (Duration::from_millis(300 + fastrand::u64(..300)), wait.max(TRANSIENT))
                    } else {
                        if start.elapsed() < wait && !said {
                            eprintln!("waiting for the lock: held by {}", other.describe());
                            said = true;
                        }
                        (LOOK_AGAIN, wait)
                    }
                }
            };
            if start.elapsed() >= limit {
                let deployment = format!("{pipeline}/{env}");
                return Err(match watch.last {
                    Some(holder) => anyhow::Error::new(Locked { deployment, holder }),
                    None => anyhow::anyhow!("the lock of `{deployment}` kept changing hands"),
                }
                .context(crate::Hinted {
                    message: "another run is changing this deployment".into(),
                    hint: "wait for it (`--lock-timeout 10m`), or, if it is dead, run `pipectl unlock`".into(),
                }));
            }
            if crate::cancel::sleep(pause.min(limit.saturating_sub(start.elapsed()))).await.is_err() {
                anyhow::bail!("interrupted while waiting for the lock of `{pipeline}/{env}`");
            }
        }
        let shared = Shared::new();
        let renewer =
            tokio::spawn(crate::cancel::shielded(renew::renew(aws.clone(), name.clone(), me.clone(), shared.clone())));
        Ok(Lock { aws: aws.clone(), name, holder: me, renewer, shared, gone: Default::default() })
    }

    /// What lets the deployment record's delete take the lock with it.
    pub fn along(&self) -> Along {
        Along {
            name: self.name.clone(),
            window: seen_recently(self.holder.lease()),
            shared: self.shared.clone(),
            renewer: self.renewer.abort_handle(),
            gone: self.gone.clone(),
        }
    }

    /// Why the lock was lost, once it was.
    pub fn lost(&self) -> Option<String> {
        self.shared.lost()
    }

    /// Deletes the lock if it is still this run's: at once when it was
    /// seen to be lately, else after reading it; nothing when it went with
    /// the record. A lost lock is left alone (it may be another run's):
    /// the release then fails with [`Lost`].
    pub async fn release(self) -> anyhow::Result<()> {
        self.renewer.abort();
        if let Some(why) = self.shared.lost() {
            let deployment = self.name.trim_start_matches("/pipectl-lock/").to_string();
            return Err(anyhow::Error::new(Lost { deployment, why }).context(crate::Hinted {
                message: "the deployment's lock was lost while this run held it".into(),
                hint: "see what the other run did (`pipectl plan`) before running again".into(),
            }));
        }
        if self.gone.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let released = if self.shared.lately(seen_recently(self.holder.lease())) {
            gone!("DeleteParameter", self.aws.ssm.delete_parameter().name(&self.name))
        } else {
            delete_if(&self.aws, &self.name, &self.holder.run).await
        };
        if let Err(e) = &released {
            if crate::cancel::requested() {
                // The run's own error is what it reports; say this here.
                eprintln!(
                    "warning: the lock `{}` could not be released after the stop ({e}): it is left to expire \
                     after its lease ({} s), or run `pipectl unlock`",
                    self.name,
                    self.holder.lease().as_secs()
                );
            }
        }
        Ok(released?)
    }
}

/// How long a waiting run keeps looking when the lock changes hands under
/// it (released between two calls, taken over by another run), however
/// short its `--lock-timeout`: these pass within moments.
const TRANSIENT: Duration = Duration::from_secs(10);

/// What one look at the lock found.
enum Look {
    /// Created for this run.
    Created,
    /// Held, by this run (a lost answer to its create) or another.
    Held(Holder),
    /// Released between the create and the read.
    Vanished,
}

/// The holder last seen, and since when (by this run's clock) its value
/// has not changed.
#[derive(Default)]
struct Watch {
    last: Option<Holder>,
    since: Option<Instant>,
}

impl Watch {
    /// How long `holder` has been seen unchanged.
    fn unchanged(&mut self, holder: &Holder) -> Duration {
        if self.last.as_ref() != Some(holder) {
            self.last = Some(holder.clone());
            self.since = Some(Instant::now());
        }
        self.since.map(|s| s.elapsed()).unwrap_or_default()
    }
}

/// Creates the lock parameter, or finds who holds it.
async fn try_create(aws: &Aws, name: &str, me: &Holder) -> Result<Look, AwsError> {
    let value = serde_json::to_string(me).expect("holder serializes");
    let req = aws
        .ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .description("pipectl lock: one apply or destroy at a time")
        .overwrite(false);
    if send!("PutParameter", req).created()?.is_some() {
        return Ok(Look::Created);
    }
    Ok(read(aws, name).await?.map_or(Look::Vanished, Look::Held))
}

/// The holder of the lock, if there is one.
pub async fn read(aws: &Aws, name: &str) -> Result<Option<Holder>, AwsError> {
    let out = send!("GetParameter", aws.ssm.get_parameter().name(name)).found()?;
    let value = out.as_ref().and_then(|o| o.parameter()).and_then(|p| p.value());
    Ok(value.map(holder_of))
}

/// Every lock held in this account and region, by (pipeline, env): one
/// call for all of them.
pub async fn all(aws: &Aws) -> Result<std::collections::BTreeMap<(String, String), Holder>, AwsError> {
    let mut out = std::collections::BTreeMap::new();
    for p in aws.parameters_by_path("/pipectl-lock").await? {
        let parts: Vec<&str> = p.name().unwrap_or_default().trim_start_matches('/').split('/').collect();
        if let (["pipectl-lock", pipeline, env], Some(v)) = (parts.as_slice(), p.value()) {
            out.insert((pipeline.to_string(), env.to_string()), holder_of(v));
        }
    }
    Ok(out)
}

/// Deletes the lock when `run` holds it.
async fn delete_if(aws: &Aws, name: &str, run: &str) -> Result<(), AwsError> {
    if read(aws, name).await?.is_some_and(|h| h.run == run) {
        gone!("DeleteParameter", aws.ssm.delete_parameter().name(name))?;
    }
    Ok(())
}

/// Breaks the lock whoever holds it, and the takeover markers a run that
/// died mid-takeover left; returns who held it.
pub async fn unlock(aws: &Aws, pipeline: &str, env: &str) -> Result<Option<Holder>, AwsError> {
    let name = parameter(pipeline, env);
    let holder = read(aws, &name).await?;
    if holder.is_some() {
        gone!("DeleteParameter", aws.ssm.delete_parameter().name(&name))?;
    }
    let markers: Vec<String> = aws
        .parameters_by_path(&format!("{name}/takeover"))
        .await?
        .iter()
        .filter_map(|p| p.name().map(str::to_string))
        .collect();
    for names in markers.chunks(10) {
        gone!("DeleteParameters", aws.ssm.delete_parameters().set_names(Some(names.to_vec())))?;
    }
    Ok(holder)
}
