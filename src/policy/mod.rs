//! The operator's policy: what a spec may do beyond its own pipeline.
//!
//! A spec often comes from a pull request and runs with the CI role's
//! credentials, so what it may reach (secrets, existing roles, AMIs,
//! subnets, regions, sizes, cost, waivers of the IAM guard) is not the
//! spec's to say. The operator says it in a YAML file the CI configuration
//! names (`--policy FILE` or `PIPECTL_POLICY`), which the spec cannot name,
//! include or weaken. `decide` turns what a spec reaches for
//! (`spec::Reach`) into one [`Decision`] each; a refused one stops the
//! command before any change. The format is documented in
//! `docs/policy.md`.

mod decide;
mod file;
mod live;

pub use decide::{cost, decide, limits, Decision, Verdict};
pub use file::{AllowedGrant, Policy};
pub use live::{ami_owner, cost_at_plan, region, subnet_vpc};

/// What the operator says: the policy file, and `--allow-privilege-escalation`.
#[derive(Debug, Clone, Default)]
pub struct Operator {
    pub policy: Option<Policy>,
    /// `--allow-privilege-escalation`: honour the waivers statements carry
    /// (`allow_privilege_escalation: true`), as `statements.waivers` does.
    pub honour_waivers: bool,
}

/// What patterns of a policy may use: `${pipeline}`, `${env}`,
/// `${account}`, `${region}`. Never the spec's `${var.NAME}`: variables are
/// set by whoever runs the spec, and are substituted into the spec before
/// the policy judges it, never into the policy.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub pipeline: String,
    pub env: String,
    /// `None` offline: a pattern's `${account}` then matches only the
    /// spec's own `${account}` (the check is made again once it is known).
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Vars {
    /// The variables of a spec's deployment; `None` where not known yet.
    pub fn of(spec: &crate::spec::Spec, account: Option<&str>, region: Option<&str>) -> Vars {
        Vars {
            pipeline: spec.pipeline.clone(),
            env: spec.env.clone(),
            account: account.map(str::to_string),
            region: region.map(str::to_string),
        }
    }

    /// `pattern` with its variables filled in; what is not known yet
    /// (offline) stays as written, so it matches only a spec's own
    /// `${account}`: a literal account in a spec is decided once connected.
    pub fn fill(&self, pattern: &str) -> String {
        self.fill_symbolic(pattern)
    }

    /// `text` with its variables filled in; what is not known yet stays
    /// as written (`${account}`), as the spec's own names do offline.
    pub fn fill_symbolic(&self, text: &str) -> String {
        self.fill_or(text, "${account}", "${region}")
    }

    fn fill_or(&self, text: &str, account: &str, region: &str) -> String {
        text.replace("${pipeline}", &self.pipeline)
            .replace("${env}", &self.env)
            .replace("${account}", self.account.as_deref().unwrap_or(account))
            .replace("${region}", self.region.as_deref().unwrap_or(region))
    }
}

impl Operator {
    /// The permissions boundary every role pipectl creates gets, with the
    /// policy's variables filled in.
    pub fn boundary(&self, vars: &Vars) -> Option<String> {
        let p = self.policy.as_ref()?;
        p.permissions_boundary.as_ref().map(|b| vars.fill_symbolic(&b.v))
    }
}
