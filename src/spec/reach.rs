//! What a spec reaches for beyond its own pipeline, each with where it is
//! written: secrets and parameters it reads, existing roles it runs as or
//! passes, the AMI and subnet of a host, the region, and every grant of a
//! `policy:` statement the guard found. The spec only says what it wants;
//! the operator's policy (`crate::policy`) decides on each.

use super::guard::Finding;
use crate::diag::Mark;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reach {
    #[serde(skip)]
    pub mark: Mark,
    /// Where in the spec, e.g. `functions.filter.environment.TOKEN`.
    pub subject: String,
    #[serde(flatten)]
    pub wants: Wants,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Wants {
    /// `${ssm:NAME}`.
    Parameter { name: String },
    /// `${secret:ID}` (Secrets Manager).
    Secret { id: String },
    /// `role:`: an existing role, by name or ARN, to run as.
    Role { role: String },
    /// `iam:PassRole` on one role that is not this deployment's.
    PassRole { role: String },
    /// A host's `ami:` (`al2023` or an id).
    Ami { ami: String },
    /// A host's `subnet:` (`default` or an id); a network of the spec's
    /// own is not beyond it.
    Subnet { subnet: String },
    /// The spec's `region:`.
    Region { region: String },
    /// A grant the guard refuses unless the operator allows it; `waived`:
    /// the statement says `allow_privilege_escalation: true`.
    Grant { finding: Finding, waived: bool },
}
