//! The pure decision over one answer of the host check, given the healthy
//! answer before it, if any.
//!
//! Ready needs all of: cloud-init finished successfully (`done`, so the
//! whole user data ran, the `data:` file included), the service active,
//! its process running (the Kinesis Agent's Java, the producer's main
//! process), the data file present when the host has one, and all that at
//! two consecutive answers at least [`STABLE_SECS`] apart by the host's
//! clock, with the same process: Java that dies seconds after starting
//! (a bad configuration, a checkpoint error) is never read as ready.

use super::{LINE_CHARS, LOG_LINES};

/// Restarts after which a service systemd keeps restarting has failed.
const MAX_RESTARTS: u32 = 3;
/// How long, by the host's clock, the service must stay healthy (the same
/// process, active) between two consecutive answers.
pub const STABLE_SECS: u64 = 10;

/// A healthy answer: when the host gave it (its clock, in seconds) and
/// the process that was running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    pub at: u64,
    pub pid: String,
}

/// What one answer of the check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy now and at an answer at least [`STABLE_SECS`] before.
    Ready,
    /// Healthy now, not yet for long enough: ask again, remembering the
    /// first healthy answer of this run of them (with why, for progress).
    Steady(Healthy, String),
    /// The host answered and the service is not up yet: ask again, from
    /// scratch (with why).
    Starting(String),
    /// No answer yet, or the check did not run: ask again; what was seen
    /// before still counts.
    Waiting(String),
    /// It will not start: why, with the last lines of its logs.
    Failed(String),
    /// `Success` without any of the check's lines: the endpoint ran no
    /// script (an emulator answers so); nothing was verified.
    Unchecked,
}

/// Where cloud-init is with the user data.
#[derive(Debug, PartialEq, Eq)]
enum CloudInit {
    /// Running, not started yet, or not told: user data may still change things.
    Running,
    /// Finished, every stage successful (`done`, or `degraded done`:
    /// warnings only).
    Done,
    /// Finished with an error: the user data (or a module) failed.
    Error,
    /// Turned off: the user data never runs.
    Disabled,
}

fn cloud_init(status: &str) -> CloudInit {
    let s = status.trim();
    let degraded = s.strip_prefix("degraded").map(str::trim);
    match degraded.unwrap_or(s) {
        "done" => CloudInit::Done,
        "" if degraded.is_some() => CloudInit::Done,
        "error" => CloudInit::Error,
        "disabled" => CloudInit::Disabled,
        _ => CloudInit::Running,
    }
}

/// The decision over the check's Run Command status and standard output,
/// `earlier` being the first healthy answer of the current run of them.
pub fn judge(earlier: Option<&Healthy>, status: &str, output: &str) -> Verdict {
    match status {
        "Pending" | "InProgress" | "Delayed" => Verdict::Waiting(status.to_string()),
        "Success" | "Failed" => from_output(earlier, status, output),
        // Cancelled, TimedOut: the check itself did not run (a host
        // rebooting, its agent restarting); ask again.
        other => Verdict::Waiting(format!("the check did not run ({other})")),
    }
}

fn from_output(earlier: Option<&Healthy>, status: &str, output: &str) -> Verdict {
    let (facts, logs) = output.split_once("pipectl-log=").map_or((output, ""), |(f, l)| (f, l));
    let fact = |key: &str| {
        facts.lines().find_map(|l| l.trim().strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::trim)
    };
    let Some(state) = fact("pipectl-service") else {
        if status == "Success" && !output.contains("pipectl-") {
            return Verdict::Unchecked;
        }
        // Not our script's answer (the shell could not run it): ask again.
        return Verdict::Waiting("the check gave no answer".into());
    };
    let unit = fact("pipectl-unit").unwrap_or("unknown");
    let ci = fact("pipectl-cloud-init").unwrap_or("unknown");
    let restarts: u32 = fact("pipectl-restarts").and_then(|r| r.parse().ok()).unwrap_or(0);
    let pid = fact("pipectl-pid").filter(|p| !p.is_empty() && *p != "0");
    let process = fact("pipectl-process") != Some("no") && pid.is_some();
    let data_missing = fact("pipectl-data") == Some("missing");
    let data_path = fact("pipectl-data-path").unwrap_or("the data file");
    let failed = |why: String| Verdict::Failed(format!("{why}{}", logs_text(logs)));
    match cloud_init(ci) {
        CloudInit::Error => return failed(format!("user data failed (cloud-init {ci}); the service is {state}")),
        CloudInit::Disabled => return failed("cloud-init is disabled: the user data did not run".into()),
        _ if restarts >= MAX_RESTARTS => return failed(format!("systemd restarted it {restarts} times")),
        CloudInit::Running if unit == "not-found" => {
            return Verdict::Starting(format!("user data still installing it (cloud-init {ci})"))
        }
        // The user data may still (re)start it: a unit failed before the
        // user data wrote its configuration is not the end.
        CloudInit::Running => return Verdict::Starting(format!("{state}, user data still running (cloud-init {ci})")),
        CloudInit::Done => {}
    }
    match state {
        "failed" => failed("its unit failed".into()),
        "active" if !process => failed("its unit is active but its process is not running".into()),
        "active" if data_missing => failed(format!("user data ended ({ci}) but {data_path} is missing")),
        "active" => {
            let Some(at) = fact("pipectl-time").and_then(|t| t.parse::<u64>().ok()) else {
                return Verdict::Waiting("the check gave no time".into());
            };
            let now = Healthy { at, pid: pid.unwrap_or_default().to_string() };
            match earlier {
                Some(e) if e.pid == now.pid && now.at >= e.at + STABLE_SECS => Verdict::Ready,
                Some(e) if e.pid == now.pid => {
                    let why = format!("active for {} s of {STABLE_SECS} s", now.at.saturating_sub(e.at));
                    Verdict::Steady(e.clone(), why)
                }
                _ => Verdict::Steady(now, format!("active; checking it stays so for {STABLE_SECS} s")),
            }
        }
        "activating" => Verdict::Starting(format!("activating (cloud-init {ci})")),
        _ if unit == "not-found" => failed(format!("user data ended ({ci}) without installing it")),
        _ => failed(format!("user data ended ({ci}) and it is {state}")),
    }
}

/// The logs the check printed, each as its last lines, every line cut to
/// [`LINE_CHARS`], scrubbed of every value pipectl knows to be secret.
fn logs_text(logs: &str) -> String {
    let mut out = String::new();
    for section in format!("pipectl-log={logs}").split("pipectl-log=").skip(1) {
        let (name, body) = section.split_once('\n').unwrap_or((section, ""));
        let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
        let last = &lines[lines.len().saturating_sub(LOG_LINES)..];
        out.push_str(&format!("\nlast lines of {}:", name.trim()));
        if last.is_empty() {
            out.push_str(" (none)");
        }
        for l in last {
            let cut: String = l.chars().take(LINE_CHARS).collect();
            out.push_str(&format!("\n  {cut}"));
        }
    }
    crate::scrub::text(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as the check prints it.
    struct A<'a> {
        state: &'a str,
        unit: &'a str,
        ci: &'a str,
        restarts: u32,
        pid: &'a str,
        time: u64,
        data: Option<&'a str>,
        logs: &'a str,
    }

    const UP: A =
        A { state: "active", unit: "loaded", ci: "done", restarts: 0, pid: "4242", time: 1_000, data: None, logs: "" };

    impl A<'_> {
        fn text(&self) -> String {
            let process = if self.pid.is_empty() { "no" } else { "yes" };
            let mut t = format!(
                "pipectl-service={}\npipectl-unit={}\npipectl-restarts={}\npipectl-cloud-init={}\npipectl-process={process}\npipectl-pid={}\npipectl-time={}\n",
                self.state, self.unit, self.restarts, self.ci, self.pid, self.time
            );
            if let Some(d) = self.data {
                t.push_str(&format!("pipectl-data={d}\npipectl-data-path=/tmp/yellow_tripdata.csv\n"));
            }
            t + self.logs
        }
        fn judged(&self, earlier: Option<&Healthy>) -> Verdict {
            let status = if self.state == "active" && self.ci == "done" { "Success" } else { "Failed" };
            judge(earlier, status, &self.text())
        }
    }

    const LOGS: &str = "pipectl-log=/var/log/aws-kinesis-agent/aws-kinesis-agent.log\n\
        2026-01-01 00:00:00 (main) Agent ERROR Unhandled error.\n\
        java.lang.RuntimeException: Failed to create or connect to the checkpoint database.\n\
        pipectl-log=/var/log/cloud-init-output.log\n\
        install: invalid group 'aws-kinesis-agent-user'\n";

    fn healthy(v: Verdict) -> Healthy {
        match v {
            Verdict::Steady(h, _) => h,
            other => panic!("not steady: {other:?}"),
        }
    }

    #[test]
    fn java_dying_seconds_after_start_is_not_ready() {
        // One healthy answer is not enough.
        let first = healthy(UP.judged(None));
        assert_eq!(first, Healthy { at: 1_000, pid: "4242".into() });
        // Still the same process 4 s later: not yet.
        let v = A { time: 1_004, ..UP }.judged(Some(&first));
        assert_eq!(healthy(v), first, "the window runs from the first healthy answer");
        // Java has died: the agent's SysV unit still says active.
        let v = A { pid: "", time: 1_008, logs: LOGS, ..UP }.judged(Some(&first));
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("its unit is active but its process is not running") && t.contains("checkpoint database")),
            "{v:?}"
        );
        // Died and started again between two answers: another process, the window starts over.
        let v = A { pid: "5151", time: 1_020, ..UP }.judged(Some(&first));
        assert_eq!(healthy(v), Healthy { at: 1_020, pid: "5151".into() });
        // The same process, 10 s on by the host's clock: ready.
        assert_eq!(A { time: 1_010, ..UP }.judged(Some(&first)), Verdict::Ready);
    }

    #[test]
    fn a_failed_unit_while_cloud_init_runs_is_still_starting() {
        let v = A { state: "failed", ci: "running", pid: "", logs: LOGS, ..UP }.judged(None);
        assert!(matches!(&v, Verdict::Starting(t) if t.contains("user data still running")), "{v:?}");
        // Active while user data still runs (the data file not written yet): not ready.
        let v = A { ci: "running", ..UP }.judged(None);
        assert!(matches!(v, Verdict::Starting(_)), "{v:?}");
        // Unless systemd gave up on it.
        let v = A { state: "failed", ci: "running", restarts: 3, logs: LOGS, ..UP }.judged(None);
        assert!(matches!(&v, Verdict::Failed(t) if t.starts_with("systemd restarted it 3 times")), "{v:?}");
        // Failed once user data ended: failed.
        let v = A { state: "failed", pid: "", logs: LOGS, ..UP }.judged(None);
        assert!(matches!(&v, Verdict::Failed(t) if t.starts_with("its unit failed")), "{v:?}");
    }

    #[test]
    fn user_data_that_failed_after_the_agent_started_is_reported() {
        let logs = "pipectl-log=/var/log/aws-kinesis-agent/aws-kinesis-agent.log\n\
            pipectl-log=/var/log/cloud-init-output.log\n\
            + python3 /opt/pipectl/producer.py write-csv /opt/pipectl/data.json\n\
            OSError: [Errno 28] No space left on device\n";
        let earlier = Healthy { at: 900, pid: "4242".into() };
        let v = A { ci: "error", logs, ..UP }.judged(Some(&earlier));
        let Verdict::Failed(t) = v else { panic!("{v:?}") };
        assert!(t.starts_with("user data failed (cloud-init error); the service is active"), "{t}");
        assert!(t.contains("last lines of /var/log/cloud-init-output.log:\n  + python3"), "{t}");
        assert!(t.contains("No space left on device"), "{t}");
        let v = A { ci: "disabled", ..UP }.judged(None);
        assert!(matches!(&v, Verdict::Failed(t) if t.contains("did not run")), "{v:?}");
        // Warnings only: finished.
        assert!(matches!(A { ci: "degraded done", ..UP }.judged(None), Verdict::Steady(..)));
    }

    #[test]
    fn ready_needs_the_data_file() {
        let with = A { data: Some("present"), ..UP };
        let first = healthy(with.judged(None));
        assert_eq!(A { time: 1_011, ..with }.judged(Some(&first)), Verdict::Ready);
        let v = A { data: Some("missing"), time: 1_011, ..UP }.judged(Some(&first));
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("user data ended (done) but /tmp/yellow_tripdata.csv is missing")),
            "{v:?}"
        );
    }

    #[test]
    fn a_failed_start_is_reported_with_the_last_lines_of_the_agents_log() {
        let v = A { state: "failed", pid: "", logs: LOGS, ..UP }.judged(None);
        let Verdict::Failed(text) = v else { panic!("{v:?}") };
        assert!(
            text.contains("last lines of /var/log/aws-kinesis-agent/aws-kinesis-agent.log:\n  2026-01-01"),
            "{text}"
        );
        assert!(text.contains("checkpoint database"));
        assert!(text.contains("last lines of /var/log/cloud-init-output.log:\n  install: invalid group"), "{text}");
        let v = A { state: "inactive", pid: "", logs: LOGS, ..UP }.judged(None);
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("user data ended (done) and it is inactive")),
            "{v:?}"
        );
        let v = A { state: "inactive", unit: "not-found", pid: "", ..UP }.judged(None);
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("user data ended (done) without installing it")),
            "{v:?}"
        );
        let journal = "pipectl-log=journal of pipectl-producer\nTraceback\n";
        let v = A { state: "activating", restarts: 4, logs: journal, ..UP }.judged(None);
        assert!(
            matches!(&v, Verdict::Failed(t) if t.contains("restarted it 4 times") && t.contains("  Traceback")),
            "{v:?}"
        );
    }

    #[test]
    fn a_host_still_starting_is_asked_again() {
        assert_eq!(judge(None, "Success", ""), Verdict::Unchecked, "moto answers Success without output");
        assert!(matches!(judge(None, "InProgress", ""), Verdict::Waiting(_)));
        let v = A { state: "inactive", unit: "not-found", ci: "running", pid: "", ..UP }.judged(None);
        assert_eq!(v, Verdict::Starting("user data still installing it (cloud-init running)".into()));
        assert!(matches!(A { state: "activating", pid: "", ..UP }.judged(None), Verdict::Starting(_)));
        assert!(matches!(A { state: "inactive", ci: "not run", pid: "", ..UP }.judged(None), Verdict::Starting(_)));
        assert!(matches!(judge(None, "Failed", "bash: cannot run"), Verdict::Waiting(_)));
        assert!(matches!(judge(None, "TimedOut", ""), Verdict::Waiting(_)));
        assert!(matches!(judge(None, "Cancelled", ""), Verdict::Waiting(_)));
    }

    #[test]
    fn the_logs_are_bounded_and_scrubbed() {
        crate::scrub::secret("hunter2-very-secret");
        let mut logs = String::from("pipectl-log=journal of pipectl-producer\n");
        for i in 0..100 {
            logs.push_str(&format!("line {i} password=hunter2-very-secret {}\n", "x".repeat(1000)));
        }
        let Verdict::Failed(text) = A { state: "failed", logs: &logs, ..UP }.judged(None) else { panic!() };
        assert!(!text.contains("hunter2-very-secret"), "scrubbed");
        assert!(text.contains("(sensitive)"));
        assert!(!text.contains("line 79 "), "only the last {LOG_LINES} lines");
        assert!(text.contains("line 80 ") && text.contains("line 99 "));
        assert!(text.lines().all(|l| l.chars().count() <= LINE_CHARS + 2), "each line cut");
    }
}
