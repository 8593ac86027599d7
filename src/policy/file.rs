//! The policy file: YAML read with positions (the spec's reader), so a
//! wrong key or type is a diagnostic at its line and column, and every
//! decision can name the line that allowed it.

use crate::diag::{Diagnostic, Mark};
use crate::spec::decode::{Decoder, MapReader, Sp};
use crate::spec::yaml::{self, Node};
use crate::spec::SpecError;
use std::path::Path;

type S = Sp<String>;

/// Operator-approved grants beyond the deployment (`statements.allow`).
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedGrant {
    pub mark: Mark,
    pub actions: Vec<S>,
    pub resources: Vec<S>,
}

/// A policy file as written. A list left out allows nothing; `regions`
/// and each limit left out do not limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    /// The path as given, for messages.
    pub file: String,
    pub permissions_boundary: Option<S>,
    pub regions: Option<Vec<S>>,
    pub ssm: Vec<S>,
    pub secretsmanager: Vec<S>,
    pub roles: Vec<S>,
    pub ami_ids: Vec<S>,
    pub ami_owners: Vec<S>,
    pub subnets: Vec<S>,
    pub vpcs: Vec<S>,
    pub max_shards: Option<Sp<u32>>,
    pub max_hosts: Option<Sp<u32>>,
    pub max_monthly_cost: Option<Sp<f64>>,
    pub waivers: Option<Sp<bool>>,
    pub negations: Option<Sp<bool>>,
    pub allow: Vec<AllowedGrant>,
    /// Where each section starts (`secrets`, `amis`, ...), for hints.
    pub sections: Vec<(&'static str, Mark)>,
}

impl Policy {
    /// Reads and checks a policy file: every problem is a diagnostic.
    pub fn load(path: &Path) -> Result<Policy, SpecError> {
        let file = path.display().to_string();
        let text = read_bounded(path).map_err(|e| SpecError::Invalid {
            file: file.clone(),
            diagnostics: vec![Diagnostic::new(
                Mark::default(),
                "policy",
                format!("cannot read the policy file `{file}`: {e}"),
            )
            .hint("--policy (or PIPECTL_POLICY) names the operator's policy file; see docs/policy.md")],
        })?;
        Policy::parse(&text, &file).map_err(|diagnostics| SpecError::Invalid { file: file.clone(), diagnostics })
    }

    /// Reads a policy from text; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Policy, Vec<Diagnostic>> {
        let root = yaml::parse(text).map_err(|e| vec![e.diagnostic()])?;
        let mut d = Decoder::default();
        let mut p = Policy { file: file.to_string(), ..Policy::default() };
        read(&root, &mut d, &mut p);
        check(&mut p, &mut d);
        if d.diags.is_empty() {
            Ok(p)
        } else {
            d.diags.sort_by_key(|x| x.mark);
            Err(d.diags)
        }
    }

    /// Where `section` starts in the file, if it is there.
    pub fn section(&self, section: &str) -> Option<Mark> {
        self.sections.iter().find(|(s, _)| *s == section).map(|(_, m)| *m)
    }

    /// `file:line` of `mark`, for "allowed by".
    pub fn at(&self, mark: Mark) -> String {
        format!("{}:{}", self.file, mark.line)
    }
}

/// The file, never more than the spec's size limit.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let limit = yaml::MAX_BYTES as u64 + 1;
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, limit), &mut bytes)?;
    if bytes.len() > yaml::MAX_BYTES {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a policy file is at most 1 MiB"));
    }
    let text = String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    // Kept for errors to show their line.
    crate::diag::sources::remember(&path.display().to_string(), crate::diag::sources::strip_bom(&text));
    Ok(text)
}

fn read(root: &Node, d: &mut Decoder, p: &mut Policy) {
    let Some(mut m) = MapReader::open(root, d, "") else { return };
    if let Some(v) = m.opt::<Sp<u32>>("version") {
        if v.v != 1 {
            let diag = Diagnostic::new(v.mark, "policy", format!("policy version {} is not known", v.v));
            m.decoder().error(diag.hint("write `version: 1`, or leave it out"));
        }
    }
    p.permissions_boundary = m.opt("permissions_boundary");
    p.regions = m.opt("regions");
    // A misspelt region would allow nothing and refuse every spec with a
    // message about the spec; it is the policy's error.
    for r in p.regions.iter().flatten() {
        if let crate::spec::regions::Region::Unknown { suggestion } = crate::spec::regions::check(&r.v) {
            let shown = crate::diag::value::quoted(&r.v);
            let diag = Diagnostic::new(r.mark, "region", format!("{shown} in `regions` is not an AWS region"))
                .label("no AWS partition has this region");
            let hint =
                suggestion.map_or_else(|| "for example `us-west-2`".to_string(), |s| format!("did you mean `{s}`?"));
            m.decoder().error(diag.hint(hint));
        }
    }
    // A key with nothing after it (a CI variable that expanded to
    // nothing) is an error, never "no limit" or "no boundary".
    for key in ["regions", "permissions_boundary"] {
        if let Some(node) = m.node_or_null(key).filter(|n| n.value == yaml::Value::Null) {
            let diag = Diagnostic::new(node.mark, "policy", format!("`{key}` is empty"));
            m.decoder().error(diag.hint("give it a value, or leave the key out (see docs/policy.md)"));
        }
    }
    p.roles = m.opt_or_default("roles");
    p.subnets = m.opt_or_default("subnets");
    p.vpcs = m.opt_or_default("vpcs");
    for key in ["secrets", "amis", "limits", "statements"] {
        let Some(node) = m.node(key) else { continue };
        p.sections.push((key, node.mark));
        let d = m.decoder();
        let Some(mut s) = MapReader::open(node, d, key) else { continue };
        let inners: &[&'static str] = match key {
            "secrets" => &["ssm", "secretsmanager"],
            "amis" => &["ids", "owners"],
            "limits" => &["shards", "hosts", "monthly_cost"],
            _ => &["waivers", "not_action"],
        };
        for inner in inners.iter().copied() {
            if let Some(n) = s.node_or_null(inner).filter(|n| n.value == yaml::Value::Null) {
                let diag = Diagnostic::new(n.mark, "policy", format!("`{key}.{inner}` is empty"));
                s.decoder().error(diag.hint("give it a value, or leave the key out (see docs/policy.md)"));
            }
        }
        match key {
            "secrets" => {
                p.ssm = s.opt_or_default("ssm");
                p.secretsmanager = s.opt_or_default("secretsmanager");
            }
            "amis" => {
                p.ami_ids = s.opt_or_default("ids");
                p.ami_owners = s.opt_or_default("owners");
            }
            "limits" => {
                p.max_shards = s.opt("shards");
                p.max_hosts = s.opt("hosts");
                p.max_monthly_cost = s.opt("monthly_cost");
            }
            _ => {
                p.waivers = s.opt("waivers");
                p.negations = s.opt("not_action");
                if let Some(list) = s.node("allow") {
                    p.allow = allowed(list, s.decoder());
                }
            }
        }
        s.finish();
    }
    for key in ["regions", "roles", "subnets", "vpcs"] {
        if let Some(node) = m.node(key) {
            p.sections.push((key, node.mark));
        }
    }
    m.finish();
}

fn allowed(list: &Node, d: &mut Decoder) -> Vec<AllowedGrant> {
    let yaml::Value::Seq(items) = &list.value else {
        d.error(crate::spec::decode::type_diagnostic("statements.allow", list, "a list of grants"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(mut g) = MapReader::open(item, d, format!("statements.allow[{i}]")) else { continue };
        let grant = AllowedGrant {
            mark: g.mark,
            actions: g.req_or_default("actions"),
            resources: g.req_or_default("resources"),
        };
        g.finish();
        out.push(grant);
    }
    out
}

/// The rules a policy's values must keep.
fn check(p: &mut Policy, d: &mut Decoder) {
    let mut bad =
        |mark: Mark, message: String, hint: &str| d.error(Diagnostic::new(mark, "policy", message).hint(hint));
    if let Some(b) = &p.permissions_boundary {
        let ok = b.v.starts_with("arn:") && b.v.contains(":iam::") && b.v.contains(":policy/");
        if !ok {
            bad(
                b.mark,
                format!("`{}` is not the ARN of an IAM managed policy", b.v),
                "e.g. `arn:aws:iam::${account}:policy/pipectl-ci-boundary`",
            );
        }
    }
    for o in &p.ami_owners {
        let ok = o.v == "amazon" || o.v == "${account}" || (o.v.len() == 12 && o.v.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            bad(
                o.mark,
                format!("`{}` is not an AMI owner", o.v),
                "an account id (12 digits), `${account}` or `amazon`",
            );
        }
    }
    if let Some(c) = &p.max_monthly_cost {
        if !c.v.is_finite() || c.v < 0.0 {
            bad(c.mark, format!("`{}` is not an amount", c.v), "a number of dollars a month, e.g. `200`");
        }
    }
    for g in &p.allow {
        for a in &g.actions {
            if a.v != "*" && !a.v.contains(':') {
                bad(a.mark, format!("`{}` is not an IAM action", a.v), "write `service:Action`, e.g. `s3:GetObject`");
            }
        }
        for r in &g.resources {
            if r.v != "*" && !r.v.starts_with("arn:") {
                bad(r.mark, format!("`{}` is neither an ARN nor `*`", r.v), "e.g. `arn:aws:s3:::reference-data/*`");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_read_with_its_line() {
        let text = "version: 1
permissions_boundary: arn:aws:iam::${account}:policy/ci-boundary
regions: [us-east-1]
secrets:
  ssm: [\"/${pipeline}/${env}/*\"]
  secretsmanager: [\"${pipeline}/*\"]
roles: [ci-reader]
amis: { ids: [ami-0123456789abcdef0], owners: [amazon] }
subnets: [default]
vpcs: [vpc-0abc1234]
limits: { shards: 4, hosts: 1, monthly_cost: 150 }
statements:
  waivers: false
  not_action: true
  allow:
    - { actions: [s3:GetObject], resources: [\"arn:aws:s3:::ref/*\"] }
";
        let p = Policy::parse(text, "ci.yaml").unwrap();
        assert_eq!(p.ssm[0].v, "/${pipeline}/${env}/*");
        assert_eq!(p.ssm[0].mark.line, 5);
        assert_eq!(p.secretsmanager[0].v, "${pipeline}/*");
        assert_eq!(p.roles[0].v, "ci-reader");
        assert_eq!((p.ami_ids.len(), p.ami_owners[0].v.as_str()), (1, "amazon"));
        assert_eq!(p.max_shards.as_ref().map(|s| s.v), Some(4));
        assert_eq!(p.max_monthly_cost.as_ref().map(|s| s.v), Some(150.0));
        assert_eq!(p.negations.as_ref().map(|s| s.v), Some(true));
        assert_eq!(p.allow[0].actions[0].v, "s3:GetObject");
        assert_eq!(p.section("secrets").map(|m| m.line), Some(5), "where its entries start");
        assert_eq!(p.at(p.roles[0].mark), "ci.yaml:7");
    }

    #[test]
    fn a_misspelt_region_in_the_policy_is_its_error() {
        let e = Policy::parse("regions: [us-east-1, eu-wset-1]\n", "p.yaml").unwrap_err();
        assert_eq!((e[0].rule, e[0].mark.line, e[0].mark.col), ("region", 1, 22), "{e:?}");
        assert_eq!(e[0].hint.as_deref(), Some("did you mean `eu-west-1`?"));
        assert!(Policy::parse("regions: [eu-central-9]\n", "p.yaml").is_ok(), "a region opened since is allowed");
    }

    #[test]
    fn mistakes_are_diagnostics_at_their_place() {
        let e = Policy::parse("secrets: { sssm: [x] }\nlimits: { shards: many }\n", "p.yaml").unwrap_err();
        assert!(e.iter().any(|d| d.rule == "unknown-key" && d.hint.as_deref() == Some("did you mean `ssm`?")), "{e:?}");
        assert!(e.iter().any(|d| d.rule == "type" && d.mark.line == 2), "{e:?}");
        let e = Policy::parse("permissions_boundary: admin\namis: { owners: [me] }\n", "p.yaml").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(Policy::parse("version: 2\n", "p.yaml").is_err());
        assert!(Policy::parse("{}", "p.yaml").is_ok(), "an empty policy allows nothing beyond the pipeline");
    }
}
