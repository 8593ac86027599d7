//! Whether an agent host's service started: a check run on the host
//! through Systems Manager Run Command, and the pure decision over its
//! answer.
//!
//! The check (`script`) prints what it saw as `pipectl-…=` lines (the
//! service's state, its unit's load state and restarts, cloud-init's
//! status, for the Kinesis Agent whether its Java process runs) and exits
//! 0 only when the service is active. Otherwise it prints the last lines
//! of the service's log (the agent's log file, or the producer's journal)
//! and of `/var/log/cloud-init-output.log`. `judge` tells "still starting"
//! (user data still running, the unit not installed yet, systemd
//! activating it) from "failed" (the unit failed, restarted again and
//! again, or user data finished without it active); a failure ends the
//! wait with those lines, scrubbed and bounded.

use super::Progress;
use crate::aws::{wait_until, Aws, AwsError, Poll};
use crate::send;
use std::sync::Mutex;
use std::time::Duration;

/// The Kinesis Agent's log, as its package's log4j configuration writes it.
pub const AGENT_LOG: &str = "/var/log/aws-kinesis-agent/aws-kinesis-agent.log";
pub const CLOUD_INIT_LOG: &str = "/var/log/cloud-init-output.log";
/// Lines of each log in a failure.
pub const LOG_LINES: usize = 20;
/// Characters of one log line in a failure.
const LINE_CHARS: usize = 300;
/// Restarts after which a service systemd keeps restarting has failed.
const MAX_RESTARTS: u32 = 3;

/// The lines of the AWS-RunShellScript check for `service`.
pub fn script(service: &str) -> Vec<String> {
    let agent = service == "aws-kinesis-agent";
    let mut lines = vec![
        format!("svc={service}"),
        "state=$(systemctl is-active \"$svc\" 2>/dev/null || true)".into(),
        "unit=$(systemctl show -p LoadState --value \"$svc\" 2>/dev/null || true)".into(),
        "restarts=$(systemctl show -p NRestarts --value \"$svc\" 2>/dev/null || true)".into(),
        "ci=$(cloud-init status 2>/dev/null | sed -n 's/^status: *//p' | head -n 1)".into(),
        "proc=yes".into(),
    ];
    if agent {
        // The package's unit is made from an init script that starts the
        // agent in the background: "active" even when Java has died.
        lines.push("pgrep -f com.amazon.kinesis.streaming.agent.Agent >/dev/null || proc=no".into());
    }
    lines.extend([
        "echo \"pipectl-service=${state:-unknown}\"".into(),
        "echo \"pipectl-unit=${unit:-unknown}\"".into(),
        "echo \"pipectl-restarts=${restarts:-0}\"".into(),
        "echo \"pipectl-cloud-init=${ci:-unknown}\"".into(),
        "echo \"pipectl-process=$proc\"".into(),
        "if [ \"$state\" = active ] && [ \"$proc\" = yes ]; then exit 0; fi".into(),
    ]);
    let cut = format!("2>&1 | cut -c1-{LINE_CHARS}");
    if agent {
        lines.push(format!("echo 'pipectl-log={AGENT_LOG}'"));
        lines.push(format!("tail -n {LOG_LINES} {AGENT_LOG} {cut}"));
    } else {
        lines.push(format!("echo 'pipectl-log=journal of {service}'"));
        lines.push(format!("journalctl -u {service} -n {LOG_LINES} --no-pager {cut}"));
    }
    lines.push(format!("echo 'pipectl-log={CLOUD_INIT_LOG}'"));
    lines.push(format!("tail -n {LOG_LINES} {CLOUD_INIT_LOG} {cut}"));
    lines.push("exit 1".into());
    lines
}

/// What one answer of the check says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Not yet: ask again (with why, for the progress line).
    Starting(String),
    /// It will not start: why, with the last lines of its logs.
    Failed(String),
}

/// The decision over the check's Run Command status and standard output.
pub fn judge(status: &str, output: &str) -> Verdict {
    match status {
        "Success" => Verdict::Ready,
        "Pending" | "InProgress" | "Delayed" => Verdict::Starting(status.to_string()),
        "Failed" => from_output(output),
        // Cancelled, TimedOut: the check itself did not run (a host
        // rebooting, its agent restarting); ask again.
        other => Verdict::Starting(format!("the check did not run ({other})")),
    }
}

fn from_output(output: &str) -> Verdict {
    let (facts, logs) = output.split_once("pipectl-log=").map_or((output, ""), |(f, l)| (f, l));
    let fact = |key: &str| {
        facts.lines().find_map(|l| l.trim().strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::trim)
    };
    let Some(state) = fact("pipectl-service") else {
        // Not our script's answer (the shell could not run it): ask again.
        return Verdict::Starting("the check gave no answer".into());
    };
    let unit = fact("pipectl-unit").unwrap_or("unknown");
    let ci = fact("pipectl-cloud-init").unwrap_or("unknown");
    let restarts: u32 = fact("pipectl-restarts").and_then(|r| r.parse().ok()).unwrap_or(0);
    let process = fact("pipectl-process") != Some("no");
    // cloud-init: `running` / `not started` while user data may still
    // install the service; `done`, `error` or `degraded …` once it ended.
    let finished = ["done", "error", "degraded", "disabled"].iter().any(|s| ci.starts_with(s));
    let why = if state == "failed" {
        Some("its unit failed".to_string())
    } else if restarts >= MAX_RESTARTS {
        Some(format!("systemd restarted it {restarts} times"))
    } else if !finished {
        None
    } else if state == "active" && !process {
        Some("its unit is active but the agent's process is not running".to_string())
    } else if state == "activating" {
        None
    } else if unit == "not-found" {
        Some(format!("user data ended ({ci}) without installing it"))
    } else {
        Some(format!("user data ended ({ci}) and it is {state}"))
    };
    match why {
        Some(why) => Verdict::Failed(format!("{why}{}", logs_text(logs))),
        None if unit == "not-found" => Verdict::Starting(format!("user data still installing it (cloud-init {ci})")),
        None => Verdict::Starting(format!("{state} (cloud-init {ci})")),
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

/// Waits until `service` is active on host `id`, asking it through Run
/// Command until it registers with Systems Manager and the check answers;
/// a failed start ends the wait with its logs.
pub async fn wait(
    aws: &Aws,
    id: &str,
    service: &str,
    what: &str,
    timeout: Duration,
    p: &Progress,
) -> Result<(), AwsError> {
    let command: Mutex<Option<String>> = Mutex::new(None);
    let last = Mutex::new(String::from("not asked yet"));
    let seen = |why: String| {
        p.say(format!("waiting for {service}: {why}"));
        *last.lock().expect("last lock") = why.clone();
        Poll::NotYet(why)
    };
    let waited = wait_until(what, timeout, super::usual::HOST_SERVICE, || async {
        let sent = command.lock().expect("command lock").clone();
        let Some(cid) = sent else {
            let out = send!(
                "SendCommand",
                aws.ssm
                    .send_command()
                    .instance_ids(id)
                    .document_name("AWS-RunShellScript")
                    .comment(format!("pipectl: is {service} running"))
                    .parameters("commands", script(service))
            );
            return Ok(match out {
                Ok(o) => {
                    *command.lock().expect("command lock") =
                        o.command().and_then(|c| c.command_id()).map(str::to_string);
                    Poll::NotYet("asked the host".into())
                }
                Err(e) if e.code.as_deref() == Some("InvalidInstanceId") => {
                    seen("the host is not registered with Systems Manager yet".into())
                }
                Err(e) => return Err(e),
            });
        };
        let out = send!("GetCommandInvocation", aws.ssm.get_command_invocation().command_id(&cid).instance_id(id));
        let (status, output) = match out {
            Ok(o) => (
                o.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                o.standard_output_content().unwrap_or_default().to_string(),
            ),
            Err(e) if e.code.as_deref() == Some("InvocationDoesNotExist") => return Ok(Poll::NotYet("sent".into())),
            Err(e) => return Err(e),
        };
        Ok(match judge(&status, &output) {
            Verdict::Ready => Poll::Ready,
            Verdict::Failed(why) => Poll::Failed(format!("{service} did not start: {why}")),
            Verdict::Starting(why) => {
                // A finished check is not asked again: send a new one.
                if !matches!(status.as_str(), "Pending" | "InProgress" | "Delayed") {
                    *command.lock().expect("command lock") = None;
                }
                seen(why)
            }
        })
    })
    .await;
    waited.map_err(|e| {
        if e.message.contains("not ready after") {
            let last = last.lock().expect("last lock").clone();
            AwsError { message: format!("{} (last seen: {last})", e.message), ..e }
        } else {
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(state: &str, unit: &str, ci: &str, restarts: u32, process: &str, logs: &str) -> String {
        format!(
            "pipectl-service={state}\npipectl-unit={unit}\npipectl-restarts={restarts}\npipectl-cloud-init={ci}\npipectl-process={process}\n{logs}"
        )
    }

    const LOGS: &str = "pipectl-log=/var/log/aws-kinesis-agent/aws-kinesis-agent.log\n\
        2026-01-01 00:00:00 (main) Agent ERROR Unhandled error.\n\
        java.lang.RuntimeException: Failed to create or connect to the checkpoint database.\n\
        pipectl-log=/var/log/cloud-init-output.log\n\
        install: invalid group 'aws-kinesis-agent-user'\n";

    #[test]
    fn a_failed_start_is_reported_with_the_last_lines_of_the_agents_log() {
        let v = judge("Failed", &answer("failed", "loaded", "done", 0, "no", LOGS));
        let Verdict::Failed(text) = v else { panic!("{v:?}") };
        assert!(text.starts_with("its unit failed"), "{text}");
        assert!(
            text.contains("last lines of /var/log/aws-kinesis-agent/aws-kinesis-agent.log:\n  2026-01-01"),
            "{text}"
        );
        assert!(text.contains("checkpoint database"));
        assert!(text.contains("last lines of /var/log/cloud-init-output.log:\n  install: invalid group"), "{text}");
        // User data ended, the service inactive: failed, whatever the unit says.
        let v = judge("Failed", &answer("inactive", "loaded", "error", 0, "no", LOGS));
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("user data ended (error) and it is inactive")),
            "{v:?}"
        );
        let v = judge("Failed", &answer("inactive", "not-found", "done", 0, "no", LOGS));
        assert!(
            matches!(&v, Verdict::Failed(t) if t.starts_with("user data ended (done) without installing it")),
            "{v:?}"
        );
        // The agent's unit says active, its Java process is gone.
        let v = judge("Failed", &answer("active", "loaded", "done", 0, "no", LOGS));
        assert!(matches!(&v, Verdict::Failed(t) if t.contains("process is not running")), "{v:?}");
        // A producer systemd keeps restarting.
        let v = judge(
            "Failed",
            &answer("activating", "loaded", "done", 4, "yes", "pipectl-log=journal of pipectl-producer\nTraceback\n"),
        );
        assert!(
            matches!(&v, Verdict::Failed(t) if t.contains("restarted it 4 times") && t.contains("  Traceback")),
            "{v:?}"
        );
    }

    #[test]
    fn a_host_still_starting_is_asked_again() {
        assert_eq!(judge("Success", ""), Verdict::Ready, "moto answers Success without output");
        assert!(matches!(judge("InProgress", ""), Verdict::Starting(_)));
        let v = judge("Failed", &answer("inactive", "not-found", "running", 0, "yes", LOGS));
        assert_eq!(v, Verdict::Starting("user data still installing it (cloud-init running)".into()));
        assert!(matches!(
            judge("Failed", &answer("activating", "loaded", "running", 0, "no", "")),
            Verdict::Starting(_)
        ));
        assert!(matches!(judge("Failed", &answer("activating", "loaded", "done", 1, "no", "")), Verdict::Starting(_)));
        assert!(matches!(judge("Failed", &answer("inactive", "loaded", "not run", 0, "no", "")), Verdict::Starting(_)));
        assert!(matches!(judge("Failed", "bash: cannot run"), Verdict::Starting(_)));
        assert!(matches!(judge("TimedOut", ""), Verdict::Starting(_)));
        assert!(matches!(judge("Cancelled", ""), Verdict::Starting(_)));
    }

    #[test]
    fn the_logs_are_bounded_and_scrubbed() {
        crate::scrub::secret("hunter2-very-secret");
        let mut logs = String::from("pipectl-log=journal of pipectl-producer\n");
        for i in 0..100 {
            logs.push_str(&format!("line {i} password=hunter2-very-secret {}\n", "x".repeat(1000)));
        }
        let Verdict::Failed(text) = judge("Failed", &answer("failed", "loaded", "done", 0, "yes", &logs)) else {
            panic!()
        };
        assert!(!text.contains("hunter2-very-secret"), "scrubbed");
        assert!(text.contains("(sensitive)"));
        assert!(!text.contains("line 79 "), "only the last {LOG_LINES} lines");
        assert!(text.contains("line 80 ") && text.contains("line 99 "));
        assert!(text.lines().all(|l| l.chars().count() <= LINE_CHARS + 2), "each line cut");
    }

    #[test]
    fn the_check_reads_the_services_own_log() {
        let agent = script("aws-kinesis-agent").join("\n");
        assert!(agent.contains(&format!("tail -n 20 {AGENT_LOG}")));
        assert!(agent.contains("pgrep -f com.amazon.kinesis.streaming.agent.Agent"));
        assert!(agent.contains(&format!("tail -n 20 {CLOUD_INIT_LOG}")));
        let producer = script("pipectl-producer").join("\n");
        assert!(producer.contains("journalctl -u pipectl-producer -n 20 --no-pager"));
        assert!(!producer.contains("pgrep"));
    }
}
