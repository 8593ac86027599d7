//! The decisions made once AWS is read or the region is known: an AMI's
//! owner, a subnet's VPC, the region connected to, the cost where it
//! cannot be priced offline.

use super::decide::{refuse, region_decision, Decision, Verdict};
use super::{Operator, Vars};
use crate::diag::Mark;

/// The region a run connects to, when the spec did not say it (a spec's
/// `region:` is decided with the rest); `None` offline: decided at plan.
pub fn region(op: &Operator, region: Option<&str>) -> Decision {
    let Some(region) = region else {
        let mut d = blank("region", "region", "(where pipectl connects)");
        d.verdict = Verdict::Deferred;
        d.by = op.policy.as_ref().map_or("no policy".into(), |p| format!("{} (regions)", p.file));
        d.reason = "the region `--region` or the AWS configuration gives: decided at plan time".into();
        return d;
    };
    let mut d = blank("region", "region", region);
    region_decision(&mut d, op.policy.as_ref(), region);
    d
}

/// The monthly cost when it cannot be priced offline (no region known).
pub fn cost_at_plan(op: &Operator) -> Option<Decision> {
    let p = op.policy.as_ref()?;
    let limit = p.max_monthly_cost.as_ref()?;
    let mut d = blank("monthly-cost", "cost", "(priced in the region connected to)");
    d.verdict = Verdict::Deferred;
    d.by = format!("{} (limits.monthly_cost)", p.at(limit.mark));
    d.reason = "the plan's estimate, priced once the region is known: decided at plan time".into();
    Some(d)
}

/// A deferred AMI decision, given the image's owner as EC2 reads it (the
/// account id and, for Amazon's, the alias `amazon`); `None`: no such image.
pub fn ami_owner(d: &Decision, op: &Operator, vars: &Vars, owner: Option<(String, Option<String>)>) -> Decision {
    let mut d = d.clone();
    let Some(p) = &op.policy else { return d };
    let Some((account, alias)) = owner else {
        d.verdict = Verdict::Refused;
        d.reason = "EC2 knows no such image in this region".into();
        return d;
    };
    let hit = p.ami_owners.iter().find(|o| vars.fill(&o.v) == account || Some(o.v.as_str()) == alias.as_deref());
    match hit {
        Some(o) => {
            d.verdict = Verdict::Allowed;
            d.by = format!("{} (amis.owners)", p.at(o.mark));
            d.reason = format!("an AMI of {account}, an owner the policy allows");
        }
        None => {
            let value = d.value.clone();
            refuse(
                &mut d,
                p,
                "amis",
                "amis.ids",
                &value,
                format!("an AMI of {account}, an owner the policy does not list"),
            );
        }
    }
    d
}

/// A deferred subnet decision, given the subnet's VPC as EC2 reads it;
/// `None`: no such subnet.
pub fn subnet_vpc(d: &Decision, op: &Operator, vpc: Option<String>) -> Decision {
    let mut d = d.clone();
    let Some(p) = &op.policy else { return d };
    let Some(vpc) = vpc else {
        d.verdict = Verdict::Refused;
        d.reason = "EC2 knows no such subnet in this region".into();
        return d;
    };
    match p.vpcs.iter().find(|v| v.v == vpc) {
        Some(v) => {
            d.verdict = Verdict::Allowed;
            d.by = format!("{} (vpcs)", p.at(v.mark));
            d.reason = format!("a subnet of {vpc}, a VPC the policy allows");
        }
        None => {
            let value = d.value.clone();
            refuse(
                &mut d,
                p,
                "subnets",
                "subnets",
                &value,
                format!("a subnet of {vpc}, a VPC the policy does not list"),
            );
        }
    }
    d
}

fn blank(kind: &'static str, subject: &str, value: &str) -> Decision {
    Decision {
        kind,
        subject: subject.to_string(),
        value: value.to_string(),
        verdict: Verdict::Allowed,
        by: "no policy".into(),
        reason: String::new(),
        add: None,
        mark: Mark::default(),
    }
}
