//! `pipectl deployer-policy SPEC`: the IAM policy a CI role needs for a
//! spec (see `crate::deployer`), printed as JSON. Offline: the spec is
//! validated and policed as `validate` does, and nothing is sent to AWS.

use super::emitln;
use crate::cli::{DeployerPolicyArgs, Extra, Global};
use crate::deployer::{Sizing, MANAGED_POLICIES_PER_ROLE};
use crate::deployment::options;
use crate::names::Scope;
use crate::BadInput;
use std::process::ExitCode;

/// What stands for each `*` of `--env-pattern` while the spec is loaded
/// (an env name must be one), replaced by `*` in the policy. The policy is
/// made twice, once with each: a stand-in that came from the spec rather
/// than the env (a YAML escape can spell it) is in one result and not the
/// other, and the two differ.
const WILD: [&str; 2] = ["wild0card", "wild1card"];

/// The account of the ARNs when `--account` is not given.
pub const ACCOUNT_PLACEHOLDER: &str = "${AWS::AccountId}";

pub fn run(g: &Global, a: &DeployerPolicyArgs) -> anyhow::Result<ExitCode> {
    if g.env.is_some() && a.env_pattern.is_some() {
        return Err(BadInput::error(
            "`--env` and `--env-pattern` both name the env",
            "give `--env` for one deployment, or `--env-pattern` for every env it matches",
        ));
    }
    if let Some(account) = &a.account {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadInput::error(
                format!("`{account}` is not an AWS account id"),
                "an account id is 12 digits, e.g. `--account 123456789012`",
            ));
        }
    }
    let text = match &a.env_pattern {
        None => policy(g, a, g.env.clone(), None)?,
        Some(pattern) => {
            let spec = std::fs::read_to_string(&a.spec).unwrap_or_default();
            if let Some(w) = WILD.iter().find(|w| spec.contains(*w)) {
                return Err(BadInput::error(
                    format!("`{}` holds `{w}`, which `--env-pattern` uses to stand for `*`", a.spec.display()),
                    "give one `--env` at a time for this spec",
                ));
            }
            let [first, second] =
                WILD.map(|w| env_of_pattern(pattern, w).and_then(|env| policy(g, a, Some(env), Some(w))));
            let (first, second) = (first?, second?);
            if first != second {
                return Err(BadInput::error(
                    format!(
                        "`{}` spells the env pattern's stand-in in a name (through an escape), which would widen it to `*`",
                        a.spec.display()
                    ),
                    "write names from `${env}`, or give one `--env` at a time for this spec",
                ));
            }
            first
        }
    };
    emitln!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The policy's text for `env`, each `wild` in it (the env pattern's
/// stand-in) made `*`.
fn policy(g: &Global, a: &DeployerPolicyArgs, env: Option<String>, wild: Option<&str>) -> anyhow::Result<String> {
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
    let vars = crate::policy::Vars::of(&loaded.spec, a.account.as_deref(), Some(&region));
    let account = a.account.clone().unwrap_or_else(|| ACCOUNT_PLACEHOLDER.into());
    let request = crate::deployer::Request {
        loaded: &loaded,
        scope: Scope::new(region, account.clone()),
        import: a.include.contains(&Extra::Import),
        verify: a.include.contains(&Extra::Verify),
        status: a.include.contains(&Extra::Status),
        boundary: operator.boundary(&vars),
    };
    let doc = crate::deployer::document(&request).map_err(|e| {
        BadInput::error(
            e,
            "names in the spec are literal: write them without `*` or `?` (`--env-pattern` widens the env)",
        )
    })?;
    let doc = match a.split {
        true => {
            let docs = crate::deployer::split(&doc, &Sizing::managed());
            if docs.len() > MANAGED_POLICIES_PER_ROLE {
                return Err(BadInput::error(
                    format!(
                        "the policy for `{}` needs {} managed policies, and AWS lets a role hold {MANAGED_POLICIES_PER_ROLE} by default",
                        a.spec.display(),
                        docs.len()
                    ),
                    "split the spec into smaller pipelines, each with its own role, or ask AWS to raise the role's quota and attach these by hand from `--split` of a smaller spec",
                ));
            }
            serde_json::Value::from(docs)
        }
        false => doc,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    if let Some(w) = wild {
        text = widen_cut_buckets(&loaded, w, text)?;
    }
    let text = text.replace("${account}", &account);
    Ok(match wild {
        Some(w) => text.replace(w, "*"),
        None => text,
    })
}

/// Each default bucket name cut to fit 63 characters (`names::default_bucket`)
/// made the wildcard every env of the pattern may give it.
///
/// Loaded with the stand-in `wild` as the pattern's `*`, a bucket's default
/// base is `F` + `wild`, `F` being what the pattern fixes (`<pipeline>-<key>-`
/// and the env up to its `*`, always ending in `-`). A short env keeps the
/// whole base: `F<rest>-<account>-<region>`. A long one is cut to its first
/// characters and a hash of the whole base: `<cut>-<hash>-<account>-<region>`.
/// When the cut keeps all of `F` (the cut with the stand-in, plus the `-`
/// before the hash, starts with `F`), every name an env of the pattern gives
/// starts with `F`, so `F*-<account>-<region>` holds them all; and it is the
/// very ARN the pattern gives an uncut name (`F` then the pattern's `*`), so it
/// matches no other deployment's or pipeline's bucket that the pattern itself
/// would not. When the cut drops part of `F`, the envs the pattern means and
/// others (`prod` for `pr-*`) share the cut and differ only in the hash, which
/// no ARN can spell: refused. A pattern with text after its `*` loses that
/// text to the cut the same way: refused.
fn widen_cut_buckets(loaded: &crate::load::Loaded, wild: &str, mut text: String) -> anyhow::Result<String> {
    let spec = &loaded.spec;
    for (key, bucket) in &spec.buckets {
        let base = format!("{}-{key}-{}", spec.pipeline, spec.env);
        let hash = &crate::names::sha256_hex(&base)[..8];
        let Some(at) = bucket.name.find(&format!("-{hash}-")) else { continue };
        let (cut, suffix) = (&bucket.name[..at], &bucket.name[at + 1 + hash.len()..]);
        let spelled = base.to_ascii_lowercase().replace('_', "-");
        let fixed = spelled.find(wild).map(|i| (&spelled[..i], &spelled[i + wild.len()..]));
        match fixed {
            Some((fixed, "")) if format!("{cut}-").starts_with(fixed) => {
                text = text.replace(&bucket.name, &format!("{fixed}*{suffix}"));
            }
            _ => {
                let fixed = fixed.map_or(spelled.as_str(), |(f, _)| f).replace(wild, "*");
                let mark = loaded.origins.get(&format!("buckets.{key}")).copied().unwrap_or_default();
                let message = format!(
                    "bucket `{key}`'s default name is cut to `{cut}-<hash>` to fit 63 characters for envs of \
                     this pattern, which drops part of `{fixed}`: no ARN tells the pattern's envs' buckets from \
                     other envs' (the hash is all that differs)"
                );
                let hint = format!(
                    "set `buckets.{key}.name` to a name with `${{env}}` (a name you set is never cut), shorten \
                     the pipeline or the key so the cut keeps `{fixed}`, or give one `--env` at a time"
                );
                let diagnostic = crate::diag::Diagnostic::new(mark, "env-pattern", message).hint(hint);
                let file = loaded.file.clone();
                return Err(crate::spec::SpecError::Invalid { file, diagnostics: vec![diagnostic] }.into());
            }
        }
    }
    Ok(text)
}

/// The env a pattern is loaded as: each `*` the stand-in `wild`, so the
/// names it makes pass the spec's rules. Each `*` must follow a `-`: a
/// pattern like `pr*` would match `prod` too.
fn env_of_pattern(pattern: &str, wild: &str) -> anyhow::Result<String> {
    let bad = |why: String| {
        BadInput::error(
            format!("`--env-pattern {pattern}` {why}"),
            "a pattern is an env name with `*` after a `-` for the rest, e.g. `pr-*`",
        )
    };
    let stars: Vec<usize> = pattern.match_indices('*').map(|(i, _)| i).collect();
    if stars.iter().any(|&i| !pattern[..i].ends_with('-')) {
        return Err(bad(
            "has a `*` not right after a `-`, so it would match envs it does not mean (`pr*` matches `prod`)".into(),
        ));
    }
    let env = pattern.replace('*', wild);
    crate::spec::rules::env_name(&env).map_err(|e| bad(format!("matches no env name: {}", e.replace(wild, "*"))))?;
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_env_pattern_pr_star_silently_matches_prod() {
        assert!(env_of_pattern("pr*", WILD[0]).is_err(), "`pr*` matches `prod`");
        assert!(env_of_pattern("*", WILD[0]).is_err());
        assert!(env_of_pattern("*-eu", WILD[0]).is_err());
        assert_eq!(env_of_pattern("pr-*", WILD[0]).unwrap(), "pr-wild0card");
        assert_eq!(env_of_pattern("team-a-*", WILD[1]).unwrap(), "team-a-wild1card");
    }
}
