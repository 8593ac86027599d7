//! `pipectl status`: data flowing through every hop, from CloudWatch
//! (`docs/status.md`). Exit 4 with `--fail-on` when a hop has one of the
//! verdicts named. `--html FILE` also writes the report as a page
//! (`docs/status-html.md`): the path checked before any AWS call.

use super::emitln;
use crate::aws::AwsError;
use crate::cli::{Global, StatusArgs};
use crate::deployment::{Deployment, Reach};
use crate::status::{self, Verdict};
use crate::{BadInput, Hinted};
use std::process::ExitCode;

/// The exit code of `--fail-on` when a hop has a verdict it names.
pub const FAILED_ON: u8 = 4;

pub async fn run(g: &Global, a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let inputs: Vec<&std::path::Path> = std::iter::once(a.spec.as_path())
        .chain(g.var_files.iter().map(|f| f.as_path()))
        .chain(g.policy.as_deref())
        .collect();
    // Checked on the offline spec, before any AWS call: a spec with
    // nothing for data to go through, and a page path that cannot be
    // written, are bad input. The names are the record's, as `outputs`'.
    let d = Deployment::open_checked(g, &a.spec, Reach::Upstream, true, |offline| {
        let scope = crate::names::Scope::new(offline.spec.region.as_deref().unwrap_or("us-east-1"), "0");
        if status::hops::plan(&offline.spec, &scope).0.is_empty() {
            return Err(BadInput::error(
                "the spec has no stream, Firehose, function or agent host: nothing for data to flow through",
                "status shows the hops of `streams:`, `firehoses:`, `functions:` and `agents:`",
            ));
        }
        match &a.html {
            Some(page) => super::report_file::check(page, "--html", &inputs),
            None => Ok(()),
        }
    })
    .await?;
    if a.watch {
        return status::watch::run(&d, a.since, a.interval, g.json).await;
    }
    let report = status::read(&d, a.since).await.map_err(hint_denied)?;
    // The report first: a page that cannot be written after all (its
    // folder was checked) does not hide it.
    if g.json {
        emitln!("{}", serde_json::to_string(&report)?);
    } else {
        let colour = crate::term::colour(crate::term::Stream::Stdout);
        emitln!("{}", status::text::render(&report, colour).trim_end());
    }
    if let Some(page) = &a.html {
        super::report_file::write(page, "--html", &status::html::page(&report), &inputs)?;
        eprintln!("wrote the page to `{}`", page.display());
    }
    gate(&report, &a.fail_on)
}

/// A refused GetMetricData says which permission the identity lacks.
fn hint_denied(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<AwsError>() {
        Some(aws)
            if aws.op == "GetMetricData" && aws.code.as_deref().is_some_and(|c| c.starts_with("AccessDenied")) =>
        {
            Hinted {
                message: aws.to_string(),
                hint:
                    "status needs `cloudwatch:GetMetricData`: `pipectl deployer-policy SPEC --include status` grants it"
                        .into(),
            }
            .into()
        }
        _ => e,
    }
}

/// Exit 4 naming the hops whose verdict `fail_on` names, else success.
/// A gate on a pipeline pipectl has no record of deploying here fails:
/// there is nothing to gate on (another `--env`, `--region` or account).
fn gate(report: &status::Report, fail_on: &[Verdict]) -> anyhow::Result<ExitCode> {
    if fail_on.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !report.deployed {
        eprintln!(
            "error: pipectl has no record of deploying `{}` (env `{}`) in {}, account {}: nothing to gate on",
            report.pipeline, report.env, report.region, report.account
        );
        return Ok(ExitCode::from(FAILED_ON));
    }
    let failed = report.with(fail_on);
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for h in &failed {
        eprintln!("error: {} is {}: {}", h.id, h.verdict.as_str(), h.reason);
    }
    Ok(ExitCode::from(FAILED_ON))
}
