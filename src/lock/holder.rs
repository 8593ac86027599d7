//! Who holds a lock, and whether that holder can be proved gone.
//!
//! The lock's value names its holder: the run, who and where, its lease,
//! and what makes its process identifiable on its machine: the kernel's
//! boot id, the pid namespace, and the process's start time. A holder is
//! judged dead from here only when all three say the pid means the same
//! process table it ran in (same boot, same pid namespace) and that pid
//! is gone or now belongs to a process started at another time. Anything
//! less (another machine, another container, a value written by an older
//! pipectl without these fields) is left to the lease: a holder whose
//! containers share a host name but not a pid namespace is never taken
//! for dead because its pid means nothing here.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lock lives without renewal, unless `PIPECTL_LOCK_LEASE`
/// (seconds) says otherwise for the runs that set it. Each holder writes
/// its lease into the lock, and others judge it by that.
pub const LEASE: Duration = Duration::from_secs(120);

/// The shortest lease a run may ask for: renewals come at a quarter of it.
const MIN_LEASE: Duration = Duration::from_secs(2);

/// The lease this run holds its lock for.
pub fn lease() -> anyhow::Result<Duration> {
    let Ok(v) = std::env::var("PIPECTL_LOCK_LEASE") else {
        return Ok(LEASE);
    };
    match v.trim().parse::<u64>().map(Duration::from_secs) {
        Ok(d) if d >= MIN_LEASE => Ok(d),
        _ => Err(crate::BadInput::error(
            format!("PIPECTL_LOCK_LEASE=`{v}` is not a number of seconds of at least {}", MIN_LEASE.as_secs()),
            "unset it for the default (120), or give seconds, e.g. `PIPECTL_LOCK_LEASE=300`",
        )),
    }
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
    /// The holder's lease in seconds (0: written before leases were
    /// recorded, [`LEASE`]).
    #[serde(default)]
    pub lease: u64,
    /// `/proc/sys/kernel/random/boot_id` where the holder ran (empty: unknown).
    #[serde(default)]
    pub boot: String,
    /// The holder's pid namespace, `/proc/self/ns/pid` (empty: unknown).
    #[serde(default)]
    pub pidns: String,
    /// The holder's start time, in clock ticks after boot (`/proc/<pid>/stat`; 0: unknown).
    #[serde(default)]
    pub started: u64,
}

/// Where this process runs, for judging whether a holder's pid means
/// anything here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    pub boot: String,
    pub pidns: String,
}

impl Here {
    pub fn now() -> Here {
        Here { boot: boot_id(), pidns: pid_namespace() }
    }
}

impl Holder {
    /// This process, about to run `command`, holding for `lease`.
    pub fn me(command: &str, lease: Duration) -> Holder {
        let now = now_secs();
        let here = Here::now();
        Holder {
            run: super::run_id().to_string(),
            user: ["USER", "LOGNAME", "USERNAME", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            command: command.to_string(),
            since: now,
            renewed: now,
            lease: lease.as_secs(),
            boot: here.boot,
            pidns: here.pidns,
            started: start_time(std::process::id()).unwrap_or_default(),
        }
    }

    /// For people: `apply by ana@runner-7 (pid 4121) since 2026-11-29T10:00:00Z`.
    pub fn describe(&self) -> String {
        self.describe_at(now_secs())
    }

    /// [`Holder::describe`] at `now`; a renewal in the future says so
    /// instead of "0 s ago".
    pub fn describe_at(&self, now: u64) -> String {
        let renewed = match now.checked_sub(self.renewed) {
            Some(ago) => format!("last renewed {ago} s ago"),
            None if self.renewed_ahead(now) => format!("renewed at {}, in the future: invalid", rfc3339(self.renewed)),
            None => format!("renewed {} s ahead of this clock", self.renewed - now),
        };
        format!(
            "`{}` by {}@{} (pid {}) since {}, {renewed}",
            self.command,
            self.user,
            self.host,
            self.pid,
            rfc3339(self.since)
        )
    }

    /// Whether the lock says it was renewed more than its lease ahead of
    /// `now`: no clock that may hold a lock is that far off, so the time
    /// is invalid and says nothing of whether its holder lives.
    pub fn renewed_ahead(&self, now: u64) -> bool {
        self.renewed.saturating_sub(now) > self.lease().as_secs()
    }

    /// The lease others judge this holder by.
    pub fn lease(&self) -> Duration {
        if self.lease == 0 {
            LEASE
        } else {
            Duration::from_secs(self.lease)
        }
    }

    /// Why the lock can be taken over, if it can: its holder is provably
    /// gone, or its lease ran out; `unchanged` is how long this run has
    /// seen the lock's value stay the same (see [`Holder::stale_at`]).
    pub fn stale(&self, unchanged: Duration) -> Option<String> {
        self.stale_at(now_secs(), unchanged, &Here::now(), start_time)
    }

    /// [`Holder::stale`] at `now`, from `here`, where `start_of` gives the
    /// start time of a running pid. Besides the lease by the holder's
    /// clock, a lock whose value this run has seen unchanged for the whole
    /// lease by its own clock is stale: a live holder rewrites it every
    /// quarter of its lease. That is what judges a lock whose `renewed` is
    /// in the future, whatever the clocks say.
    pub fn stale_at(
        &self,
        now: u64,
        unchanged: Duration,
        here: &Here,
        start_of: impl Fn(u32) -> Option<u64>,
    ) -> Option<String> {
        if let Some(why) = self.gone(here, start_of) {
            return Some(why);
        }
        let lease = self.lease().as_secs();
        if unchanged.as_secs() > lease {
            let ahead = if self.renewed_ahead(now) { " (its renewal time is in the future)" } else { "" };
            return Some(format!(
                "it has not changed for the {} s this run watched it (lease {lease} s){ahead}",
                unchanged.as_secs()
            ));
        }
        let age = now.saturating_sub(self.renewed);
        (age > lease).then(|| format!("it has not been renewed for {age} s (lease {lease} s)"))
    }

    /// Why the holder is certainly not running, when that can be known
    /// from here: it ran in this kernel boot and this pid namespace, and
    /// its pid is gone or belongs to a process started at another time.
    fn gone(&self, here: &Here, start_of: impl Fn(u32) -> Option<u64>) -> Option<String> {
        let known = !self.boot.is_empty() && !self.pidns.is_empty() && self.started != 0 && self.pid != 0;
        if !known || here.boot.is_empty() || self.boot != here.boot || self.pidns != here.pidns {
            return None;
        }
        match start_of(self.pid) {
            None => Some(format!("its holder (pid {} on this machine) is no longer running", self.pid)),
            Some(t) if t != self.started => Some(format!(
                "its holder (pid {} on this machine) is no longer running: that pid is another process now",
                self.pid
            )),
            Some(_) => None,
        }
    }
}

/// What a lock parameter's value says (an unreadable one still names a holder).
pub fn holder_of(value: &str) -> Holder {
    serde_json::from_str(value).unwrap_or(Holder {
        run: value.to_string(),
        user: "?".into(),
        host: "?".into(),
        pid: 0,
        command: "?".into(),
        since: 0,
        renewed: 0,
        lease: 0,
        boot: String::new(),
        pidns: String::new(),
        started: 0,
    })
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_DATE: u64 = 253_402_300_799;

/// Seconds since the epoch as RFC 3339 (UTC). Total: a time read from AWS
/// may be anything, and one no date can say reads `(invalid time N)`.
pub fn rfc3339(secs: u64) -> String {
    match UNIX_EPOCH.checked_add(Duration::from_secs(secs)).filter(|_| secs <= LAST_DATE) {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => format!("(invalid time {secs})"),
    }
}

/// Whether a stamp read from AWS (seconds since the epoch) is a date
/// RFC 3339 can write.
pub fn is_date(secs: f64) -> bool {
    secs.is_finite() && (0.0..=LAST_DATE as f64).contains(&secs)
}

/// [`rfc3339`] for a stamp stored as a number of seconds that may carry a
/// fraction (a record's `applied`, `changed`, `written`): negative, not a
/// number, or past year 9999, it reads `(invalid time N)`.
pub fn rfc3339_f64(secs: f64) -> String {
    if is_date(secs) {
        rfc3339(secs as u64)
    } else {
        format!("(invalid time {secs})")
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// This kernel boot (Linux), else empty.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|b| b.trim().to_string()).unwrap_or_default()
}

/// This process's pid namespace, `pid:[4026531836]` (Linux), else empty.
fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

/// When `pid` started, in clock ticks after boot, if it is running
/// (Linux: field 22 of `/proc/<pid>/stat`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    start_time_of(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line; the command name (field 2) may
/// hold spaces and parentheses, so fields are counted after the last `)`.
fn start_time_of(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Here {
        Here { boot: "b-1".into(), pidns: "pid:[4026531836]".into() }
    }

    fn holder() -> Holder {
        Holder {
            run: "h:42:1".into(),
            user: "ana".into(),
            host: "runner".into(),
            pid: 42,
            command: "apply".into(),
            since: 1000,
            renewed: 1000,
            lease: 120,
            boot: "b-1".into(),
            pidns: "pid:[4026531836]".into(),
            started: 777,
        }
    }

    #[test]
    fn a_holder_in_this_boot_and_pid_namespace_whose_pid_is_gone_is_dead() {
        let why = holder().stale_at(1001, Duration::ZERO, &here(), |_| None).unwrap();
        assert!(why.contains("no longer running"), "{why}");
    }

    #[test]
    fn a_reused_pid_is_not_the_holder() {
        let why = holder().stale_at(1001, Duration::ZERO, &here(), |_| Some(778)).unwrap();
        assert!(why.contains("another process"), "{why}");
        assert_eq!(holder().stale_at(1001, Duration::ZERO, &here(), |_| Some(777)), None, "the holder itself, running");
    }

    #[test]
    fn a_holder_in_another_container_or_boot_is_judged_by_its_lease_only() {
        let other_ns = Holder { pidns: "pid:[4026532999]".into(), ..holder() };
        assert_eq!(
            other_ns.stale_at(1001, Duration::ZERO, &here(), |_| None),
            None,
            "same host name, other pid namespace"
        );
        let other_boot = Holder { boot: "b-0".into(), ..holder() };
        assert_eq!(other_boot.stale_at(1001, Duration::ZERO, &here(), |_| None), None, "before a reboot");
        let unknown_here = Here { boot: String::new(), pidns: String::new() };
        let blank = Holder { boot: String::new(), pidns: String::new(), ..holder() };
        assert_eq!(blank.stale_at(1001, Duration::ZERO, &unknown_here, |_| None), None, "nothing known on either side");
        let why = other_ns.stale_at(1000 + 121, Duration::ZERO, &here(), |_| None).unwrap();
        assert!(why.contains("not been renewed for 121 s (lease 120 s)"), "{why}");
    }

    #[test]
    fn an_old_lock_value_parses_and_is_judged_by_the_default_lease() {
        let old =
            r#"{"run":"h:42:1","user":"ana","host":"runner","pid":42,"command":"apply","since":1000,"renewed":1000}"#;
        let h = holder_of(old);
        assert_eq!((h.run.as_str(), h.lease(), h.started), ("h:42:1", LEASE, 0));
        assert_eq!(h.stale_at(1001, Duration::ZERO, &here(), |_| None), None, "no liveness fields: never judged dead");
        assert!(h.stale_at(1000 + LEASE.as_secs() + 1, Duration::ZERO, &here(), |_| None).is_some());
    }

    #[test]
    fn a_holder_states_its_own_lease() {
        let short = Holder { lease: 4, ..holder() };
        assert_eq!(short.stale_at(1004, Duration::ZERO, &here(), |_| Some(777)), None);
        assert!(short.stale_at(1005, Duration::ZERO, &here(), |_| Some(777)).is_some());
    }

    #[test]
    fn this_process_is_alive_by_its_own_description() {
        let me = Holder::me("apply", LEASE);
        assert_eq!(me.stale(Duration::ZERO), None);
        assert!(me.describe().contains("`apply` by"));
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(me.started > 0 && !me.boot.is_empty() && !me.pidns.is_empty(), "{me:?}");
        }
    }

    #[test]
    fn the_start_time_is_read_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(start_time_of(stat), Some(98765));
        assert_eq!(start_time_of("garbage"), None);
    }

    #[test]
    fn odd_time_fields_no_more_panic_every_time_renders() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(LAST_DATE), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(LAST_DATE + 1), "(invalid time 253402300800)");
        assert_eq!(rfc3339(u64::MAX), "(invalid time 18446744073709551615)");
        assert_eq!(rfc3339_f64(1_700_000_000.5), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_f64(1_796_631_000_000.0), "(invalid time 1796631000000)");
        assert_eq!(rfc3339_f64(-1.0), "(invalid time -1)");
        assert_eq!(rfc3339_f64(f64::NAN), "(invalid time NaN)");
        let odd = Holder { since: u64::MAX, renewed: u64::MAX, ..holder() };
        assert!(odd.describe_at(1000).contains("(invalid time 18446744073709551615)"), "{}", odd.describe_at(1000));
        let year_10000 = Holder { since: LAST_DATE + 1, renewed: 0, ..holder() };
        assert!(year_10000.describe_at(1000).contains("last renewed 1000 s ago"));
    }

    #[test]
    fn odd_time_fields_no_more_a_renewal_in_the_future_does_not_hold_forever() {
        let ahead = Holder { renewed: u64::MAX, ..holder() };
        let other = Here { boot: "b-9".into(), pidns: String::new() };
        assert!(ahead.renewed_ahead(1000));
        assert_eq!(
            ahead.stale_at(1000, Duration::from_secs(120), &other, |_| None),
            None,
            "watched for the lease only"
        );
        let why = ahead.stale_at(1000, Duration::from_secs(121), &other, |_| None).unwrap();
        assert!(why.contains("in the future"), "{why}");
        assert!(ahead.describe_at(1000).contains("in the future: invalid"), "{}", ahead.describe_at(1000));
        // A clock a little ahead is not invalid, and a lock a live holder
        // keeps rewriting is never stale by watching.
        let skewed = Holder { renewed: 1010, ..holder() };
        assert!(!skewed.renewed_ahead(1000));
        assert_eq!(skewed.stale_at(1000, Duration::from_secs(30), &other, |_| None), None);
    }
}
