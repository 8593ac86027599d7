//! `policy:` statements, judged by the guard, and what the spec reaches for
//! beyond its own pipeline (`Reach`), each kept with where it is written
//! for the operator's policy to decide on.

use super::*;
use crate::spec::guard::{self, Grant};
use crate::spec::reach::{Reach, Wants};

impl Builder<'_> {
    /// `policy:` statements: actions `service:Action` (`*` and `?` allowed
    /// in the action part), resources ARNs (with `${...}` references) or
    /// `*`; `not_actions`/`not_resources` in their place. What the guard
    /// finds is kept on the statement and recorded as a reach.
    pub(super) fn statements(&mut self, raw: &[RawStatement], path: &str) -> Vec<Statement> {
        let mut out = Vec::new();
        for (i, st) in raw.iter().enumerate() {
            let at = format!("{path}.policy[{i}]");
            let pairs = [(&st.actions, &st.not_actions, "actions"), (&st.resources, &st.not_resources, "resources")];
            let mut broken = false;
            for (plain, not, what) in pairs {
                if plain.is_empty() == not.is_empty() {
                    let message = if plain.is_empty() {
                        format!("a statement needs `{what}` (or `not_{what}`)")
                    } else {
                        format!("a statement has either `{what}` or `not_{what}`, not both")
                    };
                    self.err(st.mark, "policy", message, Some(format!("e.g. `{what}: [...]`")));
                    broken = true;
                }
            }
            if broken {
                continue;
            }
            for a in st.actions.iter().chain(&st.not_actions) {
                let ok = a.v == "*"
                    || a.v.split_once(':').is_some_and(|(svc, act)| {
                        !svc.is_empty()
                            && svc.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                            && !act.is_empty()
                            && act.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
                    });
                if !ok {
                    self.bad(
                        a.mark,
                        "policy",
                        format!("`{}` is not an IAM action", a.v),
                        "write `service:Action`, e.g. `s3:GetObject`",
                    );
                }
            }
            let mut texts = |list: &[S]| -> Vec<String> {
                let mut resources = Vec::new();
                for r in list {
                    let text = self.interp(r, true).map(|i| i.text).unwrap_or_else(|| r.v.clone());
                    if text != "*" && !text.starts_with("arn:") {
                        self.bad(
                            r.mark,
                            "policy",
                            format!("`{text}` is neither an ARN nor `*`"),
                            "e.g. `arn:aws:s3:::bucket/*` or `${buckets.lake.arn}`",
                        );
                    }
                    resources.push(text);
                }
                resources
            };
            let resources = texts(&st.resources);
            let not_resources = texts(&st.not_resources);
            let values = |list: &[S]| list.iter().map(|a| a.v.clone()).collect::<Vec<String>>();
            let (actions, not_actions) = (values(&st.actions), values(&st.not_actions));
            let own = self.own_arns();
            let grant = Grant {
                actions: &actions,
                not_actions: &not_actions,
                resources: &resources,
                not_resources: &not_resources,
            };
            let findings = guard::judge(grant, &own);
            let waived = st.allow_privilege_escalation.as_ref().is_some_and(|b| b.v);
            for f in &findings {
                let wants = Wants::Grant { finding: f.clone(), waived };
                self.reach.push(Reach { mark: st.mark, subject: at.clone(), wants });
            }
            // One named role beyond this deployment, handed to a service.
            if actions.iter().any(|a| guard::glob(a, "iam:PassRole")) {
                for r in resources.iter().filter(|r| !r.contains(['*', '?']) && !guard::is_own(r, &own)) {
                    let wants = Wants::PassRole { role: r.clone() };
                    self.reach.push(Reach { mark: st.mark, subject: at.clone(), wants });
                }
            }
            out.push(Statement { actions, not_actions, resources, not_resources, findings, waived });
        }
        out
    }

    /// The ARNs of this deployment's resources, as far as they are known
    /// (offline, `${account}` and `${region}` stay symbolic, as they do in
    /// the statements' own references).
    fn own_arns(&self) -> Vec<String> {
        let mut own: Vec<String> = self.refs.values().filter_map(|(_, arn)| arn.clone()).collect();
        // The roles pipectl makes for the spec (those named so far).
        let scope = self.scope();
        own.extend(self.names.get("role").into_iter().flatten().map(|(name, ..)| scope.role(name).to_string()));
        own
    }

    /// Records what the built spec reaches for beyond its pipeline, with
    /// the position where each is written: the region, secret references,
    /// existing roles, and each host's AMI and subnet. (Statements record
    /// theirs as they are built.)
    pub(super) fn reaches(&mut self, raw: &RawSpec, spec: &Spec) {
        let mut add = |mark: Mark, subject: String, wants: Wants| self.reach.push(Reach { mark, subject, wants });
        if let (Some(r), Some(region)) = (&raw.region, &spec.region) {
            add(r.mark, "region".into(), Wants::Region { region: region.clone() });
        }
        for (k, r) in &raw.functions {
            let Some(f) = spec.functions.get(&k.v) else { continue };
            for (var, value) in &r.environment {
                let Some(v) = f.environment.get(&var.v) else { continue };
                for (_, secret) in &v.secrets {
                    let subject = format!("functions.{}.environment.{}", k.v, var.v);
                    let wants = match secret {
                        SecretRef::Ssm(name) => Wants::Parameter { name: name.clone() },
                        SecretRef::Secret { id, .. } => Wants::Secret { id: id.clone() },
                    };
                    add(value.mark, subject, wants);
                }
            }
            if let (Some(m), Some(role)) = (&r.role, &f.role) {
                add(m.mark, format!("functions.{}.role", k.v), Wants::Role { role: role.clone() });
            }
        }
        for (k, r) in &raw.firehoses {
            if let (Some(m), Some(role)) = (&r.role, spec.firehoses.get(&k.v).and_then(|f| f.role.as_ref())) {
                add(m.mark, format!("firehoses.{}.role", k.v), Wants::Role { role: role.clone() });
            }
        }
        for (k, r) in &raw.agents {
            let Some(a) = spec.agents.get(&k.v) else { continue };
            let mark = |m: Option<Mark>| m.unwrap_or(r.mark);
            let ami = match &a.ami {
                Ami::Al2023 => "al2023".to_string(),
                Ami::Id(id) => id.clone(),
            };
            add(mark(r.ami.as_ref().map(|m| m.mark)), format!("agents.{}.ami", k.v), Wants::Ami { ami });
            let subnet = match &a.subnet {
                SubnetChoice::Default => Some("default".to_string()),
                SubnetChoice::Id(id) => Some(id.clone()),
                SubnetChoice::Network { .. } => None,
            };
            if let Some(subnet) = subnet {
                let at = mark(r.subnet.as_ref().map(|m| m.mark));
                add(at, format!("agents.{}.subnet", k.v), Wants::Subnet { subnet });
            }
        }
    }
}
