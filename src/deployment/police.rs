//! The operator's decisions that need AWS: an AMI's owner, a subnet's VPC,
//! the region connected to, and the plan's monthly cost; and the warnings
//! a plan repeats for every grant the operator allowed.

use super::Deployment;
use crate::aws::{Aws, Outcome};
use crate::load::Loaded;
use crate::policy::{self, Decision, Operator, Vars, Verdict};
use crate::send;

/// The policy's variables for a deployment.
pub(super) fn vars(loaded: &Loaded, aws: &Aws) -> Vars {
    Vars::of(&loaded.spec, Some(&aws.account), Some(&aws.region))
}

/// The region a command connects to, decided before any AWS call.
pub(super) fn region_first(op: &Operator, region: &str) -> anyhow::Result<()> {
    let d = policy::region(op, Some(region));
    if d.verdict != Verdict::Refused {
        return Ok(());
    }
    Err(crate::BadInput::error(
        format!("refused by the operator's policy before any AWS call: region `{region}`: {}", d.reason),
        format!(
            "pass `--region` with a region the policy allows; if the operator agrees, {}",
            d.add.unwrap_or_default()
        ),
    ))
}

/// One line for every grant of a `policy:` statement the operator
/// allowed: each plan repeats it.
pub(super) fn waivers(decisions: &[Decision]) -> Vec<String> {
    decisions
        .iter()
        .filter(|d| d.kind == "grant" && d.verdict == Verdict::Allowed)
        .map(|d| format!("{} grants {}: {}; allowed by {}", d.subject, d.value, d.reason, d.by))
        .collect()
}

impl Deployment {
    /// Every decision of the operator on this deployment, the ones that
    /// read AWS made now; the cost limit is held against what the whole
    /// spec costs at `gb_per_day` (a `--target` run cannot dodge it); a
    /// refusal is an error (exit 2) before any change.
    pub async fn police(&self, gb_per_day: f64) -> anyhow::Result<Vec<Decision>> {
        let op = &self.operator;
        let vars = self.loaded.as_ref().map(|l| vars(l, &self.aws)).unwrap_or_default();
        let mut out = Vec::new();
        for d in &self.decisions {
            out.push(match (d.kind, d.verdict) {
                ("ami", Verdict::Deferred) => policy::ami_owner(d, op, &vars, image_owner(&self.aws, &d.value).await?),
                ("subnet", Verdict::Deferred) => policy::subnet_vpc(d, op, subnet_vpc(&self.aws, &d.value).await?),
                _ => d.clone(),
            });
        }
        if op.policy.is_some() && !out.iter().any(|d| d.kind == "region") && self.loaded.is_some() {
            out.push(policy::region(op, Some(&self.aws.region)));
        }
        // Priced only under a cost limit: it builds every resource again.
        let limited = op.policy.as_ref().is_some_and(|p| p.max_monthly_cost.is_some());
        if let (Some(l), true) = (&self.loaded, limited) {
            let e = super::offline_estimate(l, &self.aws.region, gb_per_day);
            out.extend(policy::cost(op, e.monthly, &e.missing_prices));
        }
        let refused: Vec<String> = out
            .iter()
            .filter(|d| d.verdict == Verdict::Refused)
            .map(|d| format!("`{}` ({}): {}", d.subject, d.value, d.reason))
            .collect();
        if refused.is_empty() {
            return Ok(out);
        }
        let adds: Vec<String> =
            out.iter().filter(|d| d.verdict == Verdict::Refused).filter_map(|d| d.add.clone()).collect();
        Err(crate::BadInput::error(
            format!("refused by the operator's policy, nothing was changed: {}", refused.join("; ")),
            format!("the spec cannot allow this itself; if the operator agrees: {}", adds.join("; ")),
        ))
    }
}

/// The owner of an image as EC2 reads it: its account and alias.
async fn image_owner(aws: &Aws, id: &str) -> anyhow::Result<Option<(String, Option<String>)>> {
    let out = send!("DescribeImages", aws.ec2.describe_images().image_ids(id)).found()?;
    Ok(out.and_then(|o| {
        let image = o.images().first()?;
        Some((image.owner_id()?.to_string(), image.image_owner_alias().map(str::to_string)))
    }))
}

/// The VPC of a subnet as EC2 reads it.
async fn subnet_vpc(aws: &Aws, id: &str) -> anyhow::Result<Option<String>> {
    let out = send!("DescribeSubnets", aws.ec2.describe_subnets().subnet_ids(id)).found()?;
    Ok(out.and_then(|o| o.subnets().first().and_then(|s| s.vpc_id()).map(str::to_string)))
}
