//! One decision for each thing a spec reaches for, and for each limit.
//!
//! Without a policy (a person deploying with their own credentials) what
//! the spec names is theirs to read and use, and no limit applies; the IAM
//! guard holds all the same: a statement's waiver counts only with
//! `--allow-privilege-escalation`, and `not_actions`/`not_resources` need
//! a policy that allows them.

use super::{Operator, Policy, Vars};
use crate::diag::{Diagnostic, Mark};
use crate::spec::guard::{self, Category, Finding};
use crate::spec::{Reach, Wants};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Refused,
    /// Decided once AWS is read (an AMI's owner, a subnet's VPC, the
    /// region connected to, the cost where the region is not known).
    Deferred,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Allowed => "allowed",
            Verdict::Refused => "refused",
            Verdict::Deferred => "at plan",
        })
    }
}

/// What the policy said about one thing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// `secret`, `parameter`, `role`, `pass-role`, `ami`, `subnet`,
    /// `region`, `grant`, `shards`, `hosts`, `monthly-cost`.
    pub kind: &'static str,
    /// Where in the spec.
    pub subject: String,
    pub value: String,
    pub verdict: Verdict,
    /// What decided: `file:line (section)`, `no policy`, or the flag.
    pub by: String,
    /// Why, in a sentence.
    pub reason: String,
    /// For a refusal: what the operator would add to the policy to allow it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add: Option<String>,
    #[serde(skip)]
    pub mark: Mark,
}

impl Decision {
    /// A refused decision as a diagnostic at its place in the spec.
    pub fn diagnostic(&self) -> Diagnostic {
        let hint = match &self.add {
            Some(add) => format!("the spec cannot allow this itself; if the operator agrees, {add}"),
            None => "the spec cannot allow this itself; the operator's policy decides".into(),
        };
        // The guard's refusals keep their own rule name.
        let rule = if self.kind == "grant" { "privilege-escalation" } else { "policy" };
        Diagnostic::new(self.mark, rule, format!("`{}` ({}): {}", self.subject, self.value, self.reason)).hint(hint)
    }
}

/// Decides on everything the spec reaches for.
pub fn decide(reach: &[Reach], op: &Operator, vars: &Vars) -> Vec<Decision> {
    reach.iter().map(|r| one(r, op, vars)).collect()
}

fn one(r: &Reach, op: &Operator, vars: &Vars) -> Decision {
    let mut d = Decision {
        kind: "",
        subject: r.subject.clone(),
        value: String::new(),
        verdict: Verdict::Allowed,
        by: "no policy".into(),
        reason: String::new(),
        add: None,
        mark: r.mark,
    };
    let policy = op.policy.as_ref();
    match &r.wants {
        Wants::Parameter { name } => {
            (d.kind, d.value) = ("parameter", name.clone());
            let list = policy.map(|p| (p, p.ssm.as_slice()));
            listed(&mut d, list, "secrets.ssm", name, vars, "an SSM parameter");
        }
        Wants::Secret { id } => {
            (d.kind, d.value) = ("secret", id.clone());
            let list = policy.map(|p| (p, p.secretsmanager.as_slice()));
            listed(&mut d, list, "secrets.secretsmanager", id, vars, "a Secrets Manager secret");
        }
        Wants::Role { role } | Wants::PassRole { role } => {
            d.kind = if matches!(r.wants, Wants::Role { .. }) { "role" } else { "pass-role" };
            d.value = role.clone();
            role_decision(&mut d, policy, role, vars);
        }
        Wants::Ami { ami } => {
            (d.kind, d.value) = ("ami", ami.clone());
            ami_decision(&mut d, policy, ami);
        }
        Wants::Subnet { subnet } => {
            (d.kind, d.value) = ("subnet", subnet.clone());
            subnet_decision(&mut d, policy, subnet);
        }
        Wants::Region { region } => {
            (d.kind, d.value) = ("region", region.clone());
            region_decision(&mut d, policy, region);
        }
        Wants::Grant { finding, waived } => {
            d.kind = "grant";
            d.value = format!("{} on {}", finding.action, finding.resource);
            grant_decision(&mut d, op, finding, *waived, vars);
        }
    }
    d
}

/// Allowed when a pattern of the policy's list (at `key`) matches `value`.
fn listed(
    d: &mut Decision,
    list: Option<(&Policy, &[crate::spec::decode::Sp<String>])>,
    key: &str,
    value: &str,
    vars: &Vars,
    what: &str,
) {
    let Some((p, patterns)) = list else {
        d.reason = format!("{what} the identity running pipectl can read (no policy limits it)");
        return;
    };
    let section = key.split('.').next().unwrap_or(key);
    match patterns.iter().find(|pat| guard::glob_exact(&vars.fill(&pat.v), value)) {
        Some(pat) => {
            d.by = format!("{} ({key})", p.at(pat.mark));
            d.reason = format!("{what} the policy allows by `{}`", pat.v);
        }
        None => refuse(d, p, section, key, value, format!("{what} outside what the policy allows under `{key}`")),
    }
}

pub(super) fn refuse(d: &mut Decision, p: &Policy, section: &str, key: &str, value: &str, reason: String) {
    d.verdict = Verdict::Refused;
    d.by = format!("{} ({key})", p.file);
    d.reason = reason;
    let at = p.section(section).map(|m| format!(" (the section at line {})", m.line)).unwrap_or_default();
    d.add = Some(format!("add {} under `{key}` in {}{at}", serde_json::json!(value), p.file));
}

/// An existing role (to run as, or to pass): a pattern naming an ARN is
/// matched against the ARN, one naming a role against its name (in this
/// account only).
fn role_decision(d: &mut Decision, policy: Option<&Policy>, role: &str, vars: &Vars) {
    let Some(p) = policy else {
        d.reason = "an existing role the identity running pipectl may use (no policy limits it)".into();
        return;
    };
    let (account, name) = match role.strip_prefix("arn:") {
        Some(rest) => {
            let account = rest.split(':').nth(3).unwrap_or_default().to_string();
            (Some(account), role.rsplit('/').next().unwrap_or_default())
        }
        None => (None, role),
    };
    let same_account = match (&account, &vars.account) {
        (Some(a), Some(mine)) => a == mine,
        _ => true,
    };
    let hit = p.roles.iter().find(|pat| {
        let pattern = vars.fill(&pat.v);
        if pattern.starts_with("arn:") {
            role.starts_with("arn:") && guard::glob_exact(&pattern, role)
        } else {
            same_account && guard::glob_exact(&pattern, name)
        }
    });
    match hit {
        Some(pat) => {
            d.by = format!("{} (roles)", p.at(pat.mark));
            d.reason = format!("an existing role the policy allows by `{}`", pat.v);
        }
        None => refuse(d, p, "roles", "roles", role, "an existing role the policy does not list under `roles`".into()),
    }
}

fn ami_decision(d: &mut Decision, policy: Option<&Policy>, ami: &str) {
    let Some(p) = policy else {
        d.reason = "any AMI (no policy limits it)".into();
        return;
    };
    if let Some(id) = p.ami_ids.iter().find(|i| i.v == ami) {
        d.by = format!("{} (amis.ids)", p.at(id.mark));
        d.reason = "an AMI the policy lists".into();
        return;
    }
    // `al2023` is Amazon's, read from AWS's public parameter.
    if let (true, Some(o)) = (ami == "al2023", p.ami_owners.iter().find(|o| o.v == "amazon")) {
        d.by = format!("{} (amis.owners)", p.at(o.mark));
        d.reason = "Amazon Linux 2023, whose owner `amazon` the policy allows".into();
        return;
    }
    if ami != "al2023" && !p.ami_owners.is_empty() {
        d.verdict = Verdict::Deferred;
        d.by = format!("{} (amis.owners)", p.file);
        d.reason = "allowed only if its owner is one the policy lists: read from EC2 at plan time".into();
        return;
    }
    refuse(d, p, "amis", "amis.ids", ami, "an AMI the policy does not allow (`amis.ids`, `amis.owners`)".into());
}

fn subnet_decision(d: &mut Decision, policy: Option<&Policy>, subnet: &str) {
    let Some(p) = policy else {
        d.reason = "any subnet (no policy limits it)".into();
        return;
    };
    if let Some(s) = p.subnets.iter().find(|s| s.v == subnet) {
        d.by = format!("{} (subnets)", p.at(s.mark));
        d.reason = "a subnet the policy lists".into();
        return;
    }
    if subnet != "default" && !p.vpcs.is_empty() {
        d.verdict = Verdict::Deferred;
        d.by = format!("{} (vpcs)", p.file);
        d.reason = "allowed only if it is in a VPC the policy lists: read from EC2 at plan time".into();
        return;
    }
    refuse(d, p, "subnets", "subnets", subnet, "a subnet the policy does not allow (`subnets`, `vpcs`)".into());
}

/// The region a deployment is in (the spec's `region:`, or where it
/// connects).
pub fn region_decision(d: &mut Decision, policy: Option<&Policy>, region: &str) {
    let Some(regions) = policy.and_then(|p| p.regions.as_ref()) else {
        d.reason = match policy {
            Some(p) => {
                d.by = format!("{} (no `regions`)", p.file);
                "any region (the policy does not limit regions)".into()
            }
            None => "any region (no policy limits regions)".into(),
        };
        return;
    };
    let p = policy.expect("regions come from a policy");
    match regions.iter().find(|r| r.v == region) {
        Some(r) => {
            d.by = format!("{} (regions)", p.at(r.mark));
            d.reason = "a region the policy allows".into();
        }
        None => refuse(d, p, "regions", "regions", region, "a region the policy does not list".into()),
    }
}

/// A grant the guard found: allowed when the policy's `statements.allow`
/// covers it, or when the statement waives the guard and the operator
/// honours waivers; `NotAction`/`NotResource` only where the policy says
/// `statements.not_action: true`.
fn grant_decision(d: &mut Decision, op: &Operator, f: &Finding, waived: bool, vars: &Vars) {
    let policy = op.policy.as_ref();
    let file = policy.map_or("the policy file".to_string(), |p| p.file.clone());
    if let Some(p) = policy {
        d.by = format!("{} (statements)", p.file);
    }
    if f.category == Category::Negation {
        match policy.and_then(|p| p.negations.as_ref().filter(|n| n.v).map(|n| (p, n))) {
            Some((p, n)) => {
                d.by = format!("{} (statements.not_action)", p.at(n.mark));
                d.reason = f.why.clone();
            }
            None => {
                d.verdict = Verdict::Refused;
                d.by = policy.map_or("no policy".into(), |p| format!("{} (statements.not_action)", p.file));
                d.reason = format!("{}; refused unless the operator's policy allows it", f.why);
                d.add = Some(format!("set `not_action: true` under `statements` in {file}"));
            }
        }
        return;
    }
    if let Some((p, g)) = policy.and_then(|p| p.allow.iter().find(|g| covers(g, f, vars)).map(|g| (p, g))) {
        d.by = format!("{} (statements.allow)", p.at(g.mark));
        d.reason = format!("{}; the operator allows it", f.why);
        return;
    }
    let honoured = match policy.and_then(|p| p.waivers.as_ref()) {
        Some(w) if w.v => Some(format!("{} (statements.waivers)", policy.expect("a policy").at(w.mark))),
        _ if op.honour_waivers => Some("--allow-privilege-escalation".to_string()),
        _ => None,
    };
    match (waived, honoured) {
        (true, Some(by)) => {
            d.by = by;
            d.reason = format!("{}; the statement waives the guard and the operator honours it", f.why);
        }
        (true, None) => {
            d.verdict = Verdict::Refused;
            d.reason = format!(
                "{}; the statement says `allow_privilege_escalation: true`, which counts only where the operator honours waivers",
                f.why
            );
            d.add = Some(format!(
                "pass `--allow-privilege-escalation`, or set `waivers: true` under `statements` in {file}"
            ));
        }
        (false, _) => {
            d.verdict = Verdict::Refused;
            d.reason = f.why.clone();
            let grant =
                serde_json::json!({ "actions": [f.action], "resources": f.resource.split(", ").collect::<Vec<_>>() });
            d.add = Some(format!(
                "add {grant} under `statements.allow` in {file} (or name the exact actions and this pipeline's ARNs in the spec)"
            ));
        }
    }
}

/// Whether an operator's grant covers a finding: some action pattern of
/// it matches the finding's action as written, and every resource of the
/// finding is matched by one of its resource patterns.
fn covers(g: &super::AllowedGrant, f: &Finding, vars: &Vars) -> bool {
    let action = g.actions.iter().any(|a| guard::glob(&vars.fill(&a.v), &f.action));
    let resources = f.resource.split(", ").all(|r| g.resources.iter().any(|p| guard::glob_exact(&vars.fill(&p.v), r)));
    action && resources
}

/// The policy's limits on the spec's size: provisioned shards (an
/// on-demand stream counts as the 4 it starts with) and hosts. `mark`
/// gives where each section of the spec starts.
pub fn limits(spec: &crate::spec::Spec, op: &Operator, mark: impl Fn(&str) -> Mark) -> Vec<Decision> {
    let Some(p) = &op.policy else { return Vec::new() };
    let shards: u32 = spec
        .streams
        .values()
        .map(|s| match s.mode {
            crate::spec::StreamMode::Provisioned { shards } => shards,
            crate::spec::StreamMode::OnDemand => 4,
        })
        .sum();
    let hosts = spec.agents.len() as u32;
    let mut out = Vec::new();
    for (kind, section, total, limit) in
        [("shards", "streams", shards, &p.max_shards), ("hosts", "agents", hosts, &p.max_hosts)]
    {
        let Some(limit) = limit else { continue };
        out.push(limit_decision(p, kind, section, total as f64, limit.v as f64, limit.mark, mark(section)));
    }
    out
}

/// The monthly cost of the plan against `limits.monthly_cost`. What the
/// price table cannot price (`missing`: an instance type, a region) makes
/// the limit impossible to hold, so it is refused, never taken as free.
pub fn cost(op: &Operator, monthly: f64, missing: &[String]) -> Option<Decision> {
    let p = op.policy.as_ref()?;
    let limit = p.max_monthly_cost.as_ref()?;
    let top = Mark { line: 1, col: 1 };
    let mut d = limit_decision(p, "monthly-cost", "cost", monthly, limit.v, limit.mark, top);
    if !missing.is_empty() {
        d.verdict = Verdict::Refused;
        d.reason = format!(
            "the cost limit of {} cannot be held: the price table has no price for {}",
            limit.v,
            missing.join(", ")
        );
        d.add = Some(format!(
            "remove `limits.monthly_cost` from {}, or use what the price table (prices/aws.json) prices",
            p.file
        ));
    }
    Some(d)
}

pub(super) fn limit_decision(
    p: &Policy,
    kind: &'static str,
    subject: &str,
    total: f64,
    limit: f64,
    at: Mark,
    mark: Mark,
) -> Decision {
    let key = if kind == "monthly-cost" { "limits.monthly_cost".to_string() } else { format!("limits.{kind}") };
    let allowed = total <= limit;
    Decision {
        kind,
        subject: subject.to_string(),
        value: if kind == "monthly-cost" { format!("{:.2}", total.max(0.0)) } else { format!("{total}") },
        verdict: if allowed { Verdict::Allowed } else { Verdict::Refused },
        by: format!("{} ({key})", p.at(at)),
        reason: format!("{kind} {} the limit of {limit}", if allowed { "within" } else { "over" }),
        add: (!allowed).then(|| format!("raise `{key}` to {} or more in {}", total.ceil(), p.file)),
        mark,
    }
}

#[cfg(test)]
mod tests {
    use super::super::live::{ami_owner, subnet_vpc};
    use super::*;
    use crate::spec::guard::judge;

    fn reach(subject: &str, wants: Wants) -> Reach {
        Reach { mark: Mark { line: 3, col: 5 }, subject: subject.into(), wants }
    }

    fn vars() -> Vars {
        Vars { pipeline: "p".into(), env: "pr-1".into(), account: Some("123456789012".into()), region: None }
    }

    fn op(policy: &str) -> Operator {
        Operator { policy: Some(Policy::parse(policy, "ci.yaml").unwrap()), honour_waivers: false }
    }

    fn verdict(op: &Operator, wants: Wants) -> Decision {
        decide(&[reach("x", wants)], op, &vars()).remove(0)
    }

    #[test]
    fn without_a_policy_references_are_the_callers_and_guards_hold() {
        let none = Operator::default();
        assert_eq!(verdict(&none, Wants::Secret { id: "prod/db".into() }).verdict, Verdict::Allowed);
        assert_eq!(verdict(&none, Wants::Role { role: "admin".into() }).verdict, Verdict::Allowed);
        let (a, r) = (vec!["iam:PassRole".to_string()], vec!["*".to_string()]);
        let f =
            judge(crate::spec::guard::Grant { actions: &a, not_actions: &[], resources: &r, not_resources: &[] }, &[])
                .remove(0);
        let waived = Wants::Grant { finding: f.clone(), waived: true };
        let d = verdict(&none, waived.clone());
        assert_eq!(d.verdict, Verdict::Refused, "a waiver alone never switches the guard off");
        assert!(d.add.as_deref().unwrap().contains("--allow-privilege-escalation"), "{d:?}");
        let flag = Operator { honour_waivers: true, ..Operator::default() };
        assert_eq!(verdict(&flag, waived).verdict, Verdict::Allowed);
        assert_eq!(verdict(&flag, Wants::Grant { finding: f, waived: false }).verdict, Verdict::Refused);
    }

    #[test]
    fn secrets_match_the_policys_patterns_with_its_variables() {
        let p = op("secrets:\n  ssm: [\"/${pipeline}/${env}/*\"]\n  secretsmanager: [\"${pipeline}/*\"]\n");
        assert_eq!(verdict(&p, Wants::Parameter { name: "/p/pr-1/token".into() }).verdict, Verdict::Allowed);
        let d = verdict(&p, Wants::Parameter { name: "/prod/db".into() });
        assert_eq!(d.verdict, Verdict::Refused);
        assert_eq!(d.add.as_deref(), Some("add \"/prod/db\" under `secrets.ssm` in ci.yaml (the section at line 2)"));
        assert_eq!(verdict(&p, Wants::Secret { id: "p/db".into() }).verdict, Verdict::Allowed);
        assert_eq!(verdict(&p, Wants::Secret { id: "prod/db".into() }).verdict, Verdict::Refused);
        assert_eq!(verdict(&p, Wants::Parameter { name: "/p/pr-2/token".into() }).verdict, Verdict::Refused);
    }

    #[test]
    fn roles_amis_subnets_and_regions_are_the_operators() {
        let p = op("roles: [ci-*, \"arn:aws:iam::${account}:role/svc/x\"]\namis: { ids: [ami-0aaaaaaa], owners: [amazon] }\nsubnets: [default]\nvpcs: [vpc-1]\nregions: [eu-west-1]\n");
        let v = |w| verdict(&p, w).verdict;
        assert_eq!(v(Wants::Role { role: "ci-reader".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::Role { role: "arn:aws:iam::123456789012:role/ci-reader".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::Role { role: "arn:aws:iam::999999999999:role/ci-reader".into() }), Verdict::Refused);
        assert_eq!(v(Wants::Role { role: "arn:aws:iam::123456789012:role/svc/x".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::PassRole { role: "arn:aws:iam::123456789012:role/admin".into() }), Verdict::Refused);
        assert_eq!(v(Wants::Ami { ami: "ami-0aaaaaaa".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::Ami { ami: "al2023".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::Ami { ami: "ami-0bbbbbbb".into() }), Verdict::Deferred);
        assert_eq!(v(Wants::Subnet { subnet: "default".into() }), Verdict::Allowed);
        assert_eq!(v(Wants::Subnet { subnet: "subnet-0abc1234".into() }), Verdict::Deferred);
        assert_eq!(v(Wants::Region { region: "us-east-1".into() }), Verdict::Refused);
        let strict = op("{}");
        assert_eq!(verdict(&strict, Wants::Ami { ami: "al2023".into() }).verdict, Verdict::Refused);
        assert_eq!(verdict(&strict, Wants::Subnet { subnet: "default".into() }).verdict, Verdict::Refused);
        assert_eq!(verdict(&strict, Wants::Region { region: "us-east-1".into() }).verdict, Verdict::Allowed);
        let d = verdict(&p, Wants::Ami { ami: "ami-0bbbbbbb".into() });
        let own =
            ami_owner(&d, &op("amis: { owners: [\"${account}\"] }\n"), &vars(), Some(("123456789012".into(), None)));
        assert_eq!(own.verdict, Verdict::Allowed, "{own:?}");
        let amazon = Some(("137112412989".into(), Some("amazon".into())));
        assert_eq!(ami_owner(&d, &p, &vars(), amazon).verdict, Verdict::Allowed);
        assert_eq!(ami_owner(&d, &p, &vars(), Some(("999999999999".into(), None))).verdict, Verdict::Refused);
        assert_eq!(ami_owner(&d, &p, &vars(), None).verdict, Verdict::Refused);
        let d = verdict(&p, Wants::Subnet { subnet: "subnet-0abc1234".into() });
        assert_eq!(subnet_vpc(&d, &p, Some("vpc-1".into())).verdict, Verdict::Allowed);
        assert_eq!(subnet_vpc(&d, &p, Some("vpc-2".into())).verdict, Verdict::Refused);
    }

    #[test]
    fn operator_grants_cover_findings_and_negations_need_the_policy() {
        let p = op("statements:\n  allow:\n    - { actions: [\"s3:Get*\"], resources: [\"arn:aws:s3:::ref/*\"] }\n");
        let grant = |a: &str, r: &str| {
            let (a, r) = (vec![a.to_string()], vec![r.to_string()]);
            let g = crate::spec::guard::Grant { actions: &a, not_actions: &[], resources: &r, not_resources: &[] };
            Wants::Grant { finding: judge(g, &[]).remove(0), waived: false }
        };
        assert_eq!(verdict(&p, grant("s3:GetObject", "arn:aws:s3:::ref/x")).verdict, Verdict::Allowed);
        assert_eq!(verdict(&p, grant("s3:GetObject", "arn:aws:s3:::other/x")).verdict, Verdict::Refused);
        assert_eq!(verdict(&p, grant("s3:*", "arn:aws:s3:::ref/x")).verdict, Verdict::Refused, "wider than allowed");
        let negation = Finding {
            category: Category::Negation,
            action: "NotAction [s3:*]".into(),
            resource: "*".into(),
            why: "x".into(),
        };
        let w = Wants::Grant { finding: negation, waived: true };
        assert_eq!(
            verdict(&Operator { honour_waivers: true, ..Operator::default() }, w.clone()).verdict,
            Verdict::Refused
        );
        assert_eq!(verdict(&op("statements: { not_action: true }\n"), w).verdict, Verdict::Allowed);
    }

    #[test]
    fn limits_count_shards_and_hosts() {
        let l = crate::load::load_pipeline("lab");
        let p = op("limits: { shards: 0, hosts: 5, monthly_cost: 1 }\n");
        let d = limits(&l.spec, &p, |_| Mark::default());
        assert_eq!(
            d.iter().map(|d| (d.kind, d.verdict)).collect::<Vec<_>>(),
            [("shards", Verdict::Refused), ("hosts", Verdict::Allowed)]
        );
        assert_eq!(cost(&p, 30.0, &[]).unwrap().verdict, Verdict::Refused);
        let big = op("limits: { monthly_cost: 100000 }\n");
        assert_eq!(cost(&big, 30.0, &[]).unwrap().verdict, Verdict::Allowed);
        assert_eq!(cost(&big, 30.0, &["agent.x: `ec2.p5.48xlarge`".into()]).unwrap().verdict, Verdict::Refused);
        assert!(cost(&Operator::default(), 30.0, &[]).is_none());
    }
}
