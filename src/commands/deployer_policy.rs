//! `pipectl deployer-policy SPEC`: the IAM policy a CI role needs for a
//! spec (see `crate::deployer`), printed as JSON. Offline: the spec is
//! validated and policed as `validate` does, and nothing is sent to AWS.

use super::emitln;
use crate::cli::{DeployerPolicyArgs, Extra, Global};
use crate::deployment::options;
use crate::names::Scope;
use crate::BadInput;
use std::process::ExitCode;

/// What stands for each `*` of `--env-pattern` while the spec is loaded
/// (an env name must be one), replaced by `*` in the policy.
const WILD: &str = "wild0card";

/// The account of the ARNs when `--account` is not given.
pub const ACCOUNT_PLACEHOLDER: &str = "${AWS::AccountId}";

pub fn run(g: &Global, a: &DeployerPolicyArgs) -> anyhow::Result<ExitCode> {
    let env = match (&g.env, &a.env_pattern) {
        (Some(_), Some(_)) => {
            return Err(BadInput::error(
                "`--env` and `--env-pattern` both name the env",
                "give `--env` for one deployment, or `--env-pattern` for every env it matches",
            ))
        }
        (_, Some(pattern)) => Some(env_of_pattern(pattern)?),
        (env, None) => env.clone(),
    };
    if let Some(account) = &a.account {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadInput::error(
                format!("`{account}` is not an AWS account id"),
                "an account id is 12 digits, e.g. `--account 123456789012`",
            ));
        }
    }
    if a.env_pattern.is_some() {
        let text = std::fs::read_to_string(&a.spec).unwrap_or_default();
        if text.contains(WILD) {
            return Err(BadInput::error(
                format!("`{}` holds `{WILD}`, which `--env-pattern` uses to stand for `*`", a.spec.display()),
                "give one `--env` at a time for this spec",
            ));
        }
    }
    let opts = crate::spec::Options { env, account: a.account.clone(), ..options(g) };
    let loaded = crate::load::load(&a.spec, &opts)?;
    let region = g.region.clone().or_else(|| loaded.spec.region.clone()).ok_or_else(|| {
        BadInput::error(
            format!("`{}` names no region, and the policy's role names and ARNs carry one", loaded.file),
            "pass `--region`, or write `region:` in the spec",
        )
    })?;
    let operator = crate::deployment::operator(g)?;
    crate::load::police(&loaded, &operator, a.account.as_deref(), Some(&region))?;
    let account = a.account.clone().unwrap_or_else(|| ACCOUNT_PLACEHOLDER.into());
    let request = crate::deployer::Request {
        loaded: &loaded,
        scope: Scope::new(region, account.clone()),
        import: a.include.contains(&Extra::Import),
    };
    let doc = crate::deployer::document(&request);
    let doc = match a.split {
        true => serde_json::Value::from(crate::deployer::split(&doc, crate::deployer::MANAGED_POLICY_LIMIT)),
        false => doc,
    };
    let text = serde_json::to_string_pretty(&doc)?.replace("${account}", &account);
    let text = if a.env_pattern.is_some() { text.replace(WILD, "*") } else { text };
    emitln!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The env a pattern is loaded as: each `*` a valid stand-in, so the
/// names it makes pass the spec's rules.
fn env_of_pattern(pattern: &str) -> anyhow::Result<String> {
    let env = pattern.replace('*', WILD);
    crate::spec::rules::env_name(&env).map_err(|e| {
        BadInput::error(
            format!("`--env-pattern {pattern}` matches no env name: {}", e.replace(WILD, "*")),
            "a pattern is an env name with `*` for any characters, e.g. `pr-*`",
        )
    })?;
    Ok(env)
}
