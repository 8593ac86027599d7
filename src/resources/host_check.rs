//! Whether an agent host's service started: a check run on the host
//! through Systems Manager Run Command, and the pure decision over its
//! answers (`judge`).
//!
//! The check (`script`) prints what it saw as `pipectl-…=` lines (the
//! service's state, its unit's load state and restarts, cloud-init's
//! status, the service's process id (for the Kinesis Agent its Java
//! process, found by `pgrep`; for the producer the unit's main process),
//! the host's clock, and with `data:` whether the file is at its path) and
//! exits 0 only when all of it is as a started host has it. Otherwise it
//! prints the last lines of the service's log (the agent's log file, or
//! the producer's journal) and of `/var/log/cloud-init-output.log`.
//! `judge` tells "still starting" from "failed" and "ready" (healthy at
//! two consecutive answers [`STABLE_SECS`] apart); a failure ends the wait
//! with those lines, scrubbed and bounded.

mod judge;

pub use judge::{judge, Healthy, Verdict, STABLE_SECS};

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
pub(crate) const LINE_CHARS: usize = 300;

/// A word for the shell: `text` in single quotes.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The lines of the AWS-RunShellScript check for `service`, and for the
/// file the host's `data:` writes, if any.
pub fn script(service: &str, data: Option<&str>) -> Vec<String> {
    let agent = service == "aws-kinesis-agent";
    let mut lines = vec![
        format!("svc={service}"),
        "state=$(systemctl is-active \"$svc\" 2>/dev/null || true)".into(),
        "unit=$(systemctl show -p LoadState --value \"$svc\" 2>/dev/null || true)".into(),
        "restarts=$(systemctl show -p NRestarts --value \"$svc\" 2>/dev/null || true)".into(),
        "ci=$(cloud-init status 2>/dev/null | sed -n 's/^status: *//p' | head -n 1)".into(),
    ];
    if agent {
        // The package's unit is made from an init script that starts the
        // agent in the background: "active" even when Java has died. The
        // oldest match: the same process at two checks is the same start.
        lines.push("pid=$(pgrep -o -f com.amazon.kinesis.streaming.agent.Agent || true)".into());
    } else {
        lines.push("pid=$(systemctl show -p MainPID --value \"$svc\" 2>/dev/null || true)".into());
    }
    lines.extend([
        "proc=yes".into(),
        "case \"$pid\" in ''|0) proc=no ;; esac".into(),
        "ok=yes".into(),
        "[ \"$state\" = active ] && [ \"$proc\" = yes ] && [ \"$ci\" = done ] || ok=no".into(),
        "echo \"pipectl-service=${state:-unknown}\"".into(),
        "echo \"pipectl-unit=${unit:-unknown}\"".into(),
        "echo \"pipectl-restarts=${restarts:-0}\"".into(),
        "echo \"pipectl-cloud-init=${ci:-unknown}\"".into(),
        "echo \"pipectl-process=$proc\"".into(),
        "echo \"pipectl-pid=${pid:-0}\"".into(),
        "echo \"pipectl-time=$(date +%s)\"".into(),
    ]);
    if let Some(path) = data {
        lines.push(format!("data={}", quoted(path)));
        lines.push(
            "if [ -f \"$data\" ]; then echo pipectl-data=present; else echo pipectl-data=missing; ok=no; fi".into(),
        );
        lines.push("echo \"pipectl-data-path=$data\"".into());
    }
    lines.push("if [ \"$ok\" = yes ]; then exit 0; fi".into());
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

/// Waits until `service` is active on host `id`, asking it through Run
/// Command until it registers with Systems Manager and the check answers;
/// a failed start ends the wait with its logs.
pub async fn wait(
    aws: &Aws,
    id: &str,
    service: &str,
    data: Option<&str>,
    what: &str,
    timeout: Duration,
    p: &Progress,
) -> Result<(), AwsError> {
    let command: Mutex<Option<String>> = Mutex::new(None);
    let last = Mutex::new(String::from("not asked yet"));
    let healthy: Mutex<Option<Healthy>> = Mutex::new(None);
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
                    .parameters("commands", script(service, data))
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
        let earlier = healthy.lock().expect("healthy lock").clone();
        let verdict = judge(earlier.as_ref(), &status, &output);
        // A finished check is not asked again: send a new one.
        if !matches!(status.as_str(), "Pending" | "InProgress" | "Delayed") {
            *command.lock().expect("command lock") = None;
        }
        Ok(match verdict {
            Verdict::Ready => Poll::Ready,
            Verdict::Unchecked if aws.endpoint.is_some() => {
                p.say(format!("{service}: the endpoint ran no check (an emulator); not verified"));
                Poll::Ready
            }
            Verdict::Unchecked => seen("the check answered without its report".into()),
            Verdict::Failed(why) => Poll::Failed(format!("{service} did not start: {why}")),
            Verdict::Steady(first, why) => {
                *healthy.lock().expect("healthy lock") = Some(first);
                seen(why)
            }
            Verdict::Starting(why) => {
                *healthy.lock().expect("healthy lock") = None;
                seen(why)
            }
            Verdict::Waiting(why) => seen(why),
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

    #[test]
    fn the_check_reads_the_services_own_log() {
        let agent = script("aws-kinesis-agent", None).join("\n");
        assert!(agent.contains(&format!("tail -n 20 {AGENT_LOG}")));
        assert!(agent.contains("pgrep -o -f com.amazon.kinesis.streaming.agent.Agent"));
        assert!(agent.contains(&format!("tail -n 20 {CLOUD_INIT_LOG}")));
        assert!(!agent.contains("pipectl-data"));
        let producer = script("pipectl-producer", None).join("\n");
        assert!(producer.contains("journalctl -u pipectl-producer -n 20 --no-pager"));
        assert!(producer.contains("MainPID"));
        assert!(!producer.contains("pgrep"));
    }

    #[test]
    fn the_check_looks_for_the_data_file_quoted() {
        let lines = script("aws-kinesis-agent", Some("/tmp/it's here.csv"));
        assert!(lines.contains(&"data='/tmp/it'\\''s here.csv'".to_string()), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("pipectl-data=missing")));
    }
}
