//! `pipectl status`: data flowing through every hop, from CloudWatch
//! (`docs/status.md`). Exit 4 with `--fail-on` when a hop has one of the
//! verdicts named.

use super::emitln;
use crate::cli::{Global, StatusArgs};
use crate::deployment::{Deployment, Reach};
use crate::status::{self, Verdict};
use std::process::ExitCode;

/// The exit code of `--fail-on` when a hop has a verdict it names.
pub const FAILED_ON: u8 = 4;

pub async fn run(g: &Global, a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let d = Deployment::open(g, &a.spec, &[], Reach::Upstream).await?;
    if a.watch {
        return status::watch::run(&d, a.since, a.interval, g.json).await;
    }
    let report = status::read(&d, a.since).await?;
    if g.json {
        emitln!("{}", serde_json::to_string(&report)?);
    } else {
        let colour = crate::term::colour(crate::term::Stream::Stdout);
        emitln!("{}", status::text::render(&report, colour).trim_end());
    }
    gate(&report, &a.fail_on)
}

/// Exit 4 naming the hops whose verdict `fail_on` names, else success.
fn gate(report: &status::Report, fail_on: &[Verdict]) -> anyhow::Result<ExitCode> {
    let failed = report.with(fail_on);
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for h in &failed {
        eprintln!("error: {} is {}: {}", h.id, h.verdict.as_str(), h.reason);
    }
    Ok(ExitCode::from(FAILED_ON))
}
