//! One apply or destroy per deployment at a time.
//!
//! The lock is an SSM parameter `/pipectl-lock/<pipeline>/<env>` created
//! with `PutParameter` without overwrite: SSM creates it for exactly one
//! caller and answers `ParameterAlreadyExists` to every other. Its value
//! says who holds it (user, host, process), for what command, since when,
//! and when the holder last renewed it; the holder renews it every
//! [`RENEW_EVERY`] while it runs and deletes it when it ends.
//!
//! A lock is stale, and is taken over with a note, when its holder ran on
//! this machine and that process is gone, or when it has not been renewed
//! for [`LEASE`] (a runner killed with SIGKILL, a cancelled CI job). Anyone
//! can break a lock by hand with `pipectl unlock`.
//!
//! A lost answer to the create is retried by the SDK; the retry finds the
//! parameter there, and it is ours when it names this run.

use crate::aws::{Aws, AwsError, Outcome};
use crate::{gone, send};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a holder renews its lock.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
/// How long a lock lives without renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How long after the lock was last seen to be this run's its release
/// deletes it without looking again. Only a run that finds it stale (not
/// renewed for [`LEASE`]) takes a lock over, so within this window that
/// would take a clock 110 s ahead; later, the release reads it first and
/// leaves another run's lock alone.
pub const SEEN_RECENTLY: Duration = Duration::from_secs(10);

/// When a lock was last seen to be this run's, shared with its renewer.
type Seen = std::sync::Arc<std::sync::Mutex<std::time::Instant>>;

/// Whether the lock was seen to be this run's within [`SEEN_RECENTLY`].
fn seen_lately(seen: &Seen) -> bool {
    seen.lock().expect("seen lock").elapsed() < SEEN_RECENTLY
}

/// What the lock parameter holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// This run, unique: `host:pid:start-nanos`.
    pub run: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    /// Seconds since the epoch.
    pub since: u64,
    pub renewed: u64,
}

impl Holder {
    /// This process, about to run `command`.
    pub fn me(command: &str) -> Holder {
        let now = now_secs();
        Holder {
            run: run_id().to_string(),
            user: ["USER", "LOGNAME", "USERNAME", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            command: command.to_string(),
            since: now,
            renewed: now,
        }
    }

    /// For people: `apply by ana@runner-7 (pid 4121) since 2026-11-29T10:00:00Z`.
    pub fn describe(&self) -> String {
        format!(
            "`{}` by {}@{} (pid {}) since {}, last renewed {} s ago",
            self.command,
            self.user,
            self.host,
            self.pid,
            rfc3339(self.since),
            now_secs().saturating_sub(self.renewed)
        )
    }

    /// Why the lock can be taken over, if it can.
    fn stale(&self) -> Option<String> {
        if self.host == hostname() && !process_alive(self.pid) {
            return Some(format!("its holder (pid {} on this machine) is no longer running", self.pid));
        }
        let age = now_secs().saturating_sub(self.renewed);
        (age > LEASE.as_secs()).then(|| format!("it has not been renewed for {age} s (lease {} s)", LEASE.as_secs()))
    }
}

/// Who runs this process, for people: `user@host`.
pub fn who() -> String {
    let me = Holder::me("");
    format!("{}@{}", me.user, me.host)
}

/// This process's run: `host:pid:start-nanos`, the same for every use.
/// Client tokens derive from it, so every attempt of this run at one create
/// is one idempotent request, and the next run's are new.
pub fn run_id() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        format!("{}:{}:{nanos}", hostname(), std::process::id())
    })
}

/// The lock's parameter name.
pub fn parameter(pipeline: &str, env: &str) -> String {
    format!("/pipectl-lock/{pipeline}/{env}")
}

/// A held lock. Release it with [`Lock::release`]; while it lives a task
/// renews it.
pub struct Lock {
    aws: Aws,
    name: String,
    holder: Holder,
    renewer: tokio::task::JoinHandle<()>,
    /// When the lock was last seen to be this run's (taken, or read back
    /// by the renewer).
    seen: Seen,
    /// Set once the lock went with the deployment record ([`Along`]).
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What deleting the deployment record needs to delete the lock in the
/// same call: a destroy's record goes last, and the lock right after it,
/// so one DeleteParameters does both (a round trip less). It is used only
/// while the lock was seen to be this run's within [`SEEN_RECENTLY`] (as
/// [`Lock::release`] does); the lock's release then has nothing to do.
#[derive(Clone)]
pub struct Along {
    name: String,
    seen: Seen,
    renewer: tokio::task::AbortHandle,
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Along {
    /// The lock's name, when it may go with the record: its renewal is
    /// stopped first. `None` when it was not seen to be this run's lately.
    pub fn take(&self) -> Option<&str> {
        if !seen_lately(&self.seen) {
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

impl Lock {
    /// Takes the lock for `command`, waiting up to `wait` for the holder to
    /// finish (zero: fail at once, naming the holder).
    pub async fn acquire(aws: &Aws, pipeline: &str, env: &str, command: &str, wait: Duration) -> anyhow::Result<Lock> {
        let name = parameter(pipeline, env);
        let me = Holder::me(command);
        let start = std::time::Instant::now();
        let mut said = false;
        loop {
            match try_create(aws, &name, &me).await? {
                None => break,
                Some(other) if other.run == me.run => break,
                Some(other) if other.run.is_empty() => continue,
                Some(other) => {
                    if let Some(why) = other.stale() {
                        eprintln!("note: taking over a stale lock: {why} ({})", other.describe());
                        delete_if(aws, &name, &other.run).await?;
                        continue;
                    }
                    if start.elapsed() >= wait {
                        let deployment = format!("{pipeline}/{env}");
                        return Err(anyhow::Error::new(Locked { deployment, holder: other }).context(crate::Hinted {
                            message: "another run is changing this deployment".into(),
                            hint: "wait for it (`--lock-timeout 10m`), or, if it is dead, run `pipectl unlock`".into(),
                        }));
                    }
                    if !said {
                        eprintln!("waiting for the lock: held by {}", other.describe());
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_secs(2).min(wait.saturating_sub(start.elapsed()))).await;
                }
            }
        }
        let seen: Seen = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        let renewer = tokio::spawn(renew(aws.clone(), name.clone(), me.clone(), seen.clone()));
        Ok(Lock { aws: aws.clone(), name, holder: me, renewer, seen, gone: Default::default() })
    }

    /// What lets the deployment record's delete take the lock with it.
    pub fn along(&self) -> Along {
        Along {
            name: self.name.clone(),
            seen: self.seen.clone(),
            renewer: self.renewer.abort_handle(),
            gone: self.gone.clone(),
        }
    }

    /// Deletes the lock if it is still this run's: at once when it was
    /// seen to be within [`SEEN_RECENTLY`], else after reading it; nothing
    /// when it went with the record.
    pub async fn release(self) -> anyhow::Result<()> {
        self.renewer.abort();
        if self.gone.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        if seen_lately(&self.seen) {
            gone!("DeleteParameter", self.aws.ssm.delete_parameter().name(&self.name))?;
        } else {
            delete_if(&self.aws, &self.name, &self.holder.run).await?;
        }
        Ok(())
    }
}

/// Creates the lock parameter; `None` when it was created for `me`,
/// else the holder found there.
async fn try_create(aws: &Aws, name: &str, me: &Holder) -> Result<Option<Holder>, AwsError> {
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
        return Ok(None);
    }
    match read(aws, name).await? {
        Some(holder) => Ok(Some(holder)),
        // Released between the two calls: try again, as nobody's.
        None => Ok(Some(Holder { run: String::new(), renewed: 0, host: String::new(), ..me.clone() })),
    }
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

/// What a lock parameter's value says (an unreadable one still names a holder).
fn holder_of(value: &str) -> Holder {
    serde_json::from_str(value).unwrap_or(Holder {
        run: value.to_string(),
        user: "?".into(),
        host: "?".into(),
        pid: 0,
        command: "?".into(),
        since: 0,
        renewed: 0,
    })
}

/// Deletes the lock when `run` holds it.
async fn delete_if(aws: &Aws, name: &str, run: &str) -> Result<(), AwsError> {
    if read(aws, name).await?.is_some_and(|h| h.run == run) {
        gone!("DeleteParameter", aws.ssm.delete_parameter().name(name))?;
    }
    Ok(())
}

/// Breaks the lock whoever holds it; returns who did.
pub async fn unlock(aws: &Aws, pipeline: &str, env: &str) -> Result<Option<Holder>, AwsError> {
    let name = parameter(pipeline, env);
    let holder = read(aws, &name).await?;
    if holder.is_some() {
        gone!("DeleteParameter", aws.ssm.delete_parameter().name(&name))?;
    }
    Ok(holder)
}

/// Renews the lock every [`RENEW_EVERY`] while it is still ours.
async fn renew(aws: Aws, name: String, me: Holder, seen: Seen) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let looked = std::time::Instant::now();
        if !matches!(read(&aws, &name).await, Ok(Some(h)) if h.run == me.run) {
            return;
        }
        *seen.lock().expect("seen lock") = looked;
        let value = serde_json::to_string(&Holder { renewed: now_secs(), ..me.clone() }).expect("holder serializes");
        let req = aws.ssm.put_parameter().name(&name).value(value).overwrite(true);
        let _ = send!("PutParameter", req);
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether a process of this machine is running (Linux: `/proc/<pid>`;
/// elsewhere assumed alive, so only the lease breaks the lock).
fn process_alive(pid: u32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_stale_when_its_process_is_gone_or_its_lease_ran_out() {
        let me = Holder::me("apply");
        assert_eq!(me.stale(), None, "a live holder on this machine");
        let dead = Holder { pid: u32::MAX, ..me.clone() };
        assert!(dead.stale().unwrap().contains("no longer running"));
        let elsewhere = Holder { host: "another-runner".into(), pid: 1, ..me.clone() };
        assert_eq!(elsewhere.stale(), None);
        let expired = Holder { renewed: now_secs() - LEASE.as_secs() - 5, ..elsewhere };
        assert!(expired.stale().unwrap().contains("not been renewed"));
        assert!(me.describe().contains("`apply` by"));
    }
}
