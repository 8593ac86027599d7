//! `pipectl env-name BRANCH`: the env name for a branch, so CI can run
//! `--env "$(pipectl env-name "$BRANCH")"`. A pure function, the same
//! everywhere, documented in docs/variables.md:
//!
//! 1. `refs/heads/` in front is dropped.
//! 2. A branch that is already a valid env name is that name.
//! 3. Otherwise: lower case; every character other than a letter or digit
//!    (`/`, `_`, `.`, spaces, non-ASCII) becomes `-`; runs of `-` become one;
//!    `-` at either end is dropped.
//! 4. Nothing left becomes `branch-<hash>`; the reserved `default` becomes
//!    `default-<hash>`.
//! 5. Longer than an env name may be (32): the first 23 characters, `-`,
//!    and 8 hex digits of the SHA-256 of the whole branch as given, so two
//!    long branches sharing a beginning get two envs.
//!
//! Every output passes `rules::env_name`, and it is its own env name.
//!
//! Given a spec, the names derived from the env (a Firehose's role holds
//! pipeline, key, env and region) must fit AWS's limits too: the longest
//! of these names, from 32 characters down, with which the spec validates.
//! `--max-length N` caps the length with or without a spec, so a job that
//! has no spec (a pull request's close) names the same env as the one that
//! applied.

use super::emitln;
use crate::cli::{EnvNameArgs, Global};
use crate::spec::rules;
use std::process::ExitCode;

/// The longest env name (`rules::env_name`), which keeps every name derived
/// from it within AWS's limits.
const MAX: usize = 32;
/// Hex digits of the branch's hash a shortened or replaced name carries.
const HASH: usize = 8;

pub fn run(g: &Global, a: &EnvNameArgs) -> anyhow::Result<ExitCode> {
    let max = a.max_length.map_or(MAX, usize::from);
    let env = match &a.spec {
        None if max == MAX => env_name(&a.branch),
        None => env_name_within(&a.branch, max),
        Some(spec) => fitting(g, &a.branch, spec, max)?,
    };
    if g.json {
        emitln!("{}", serde_json::json!({ "format_version": "1", "branch": a.branch, "env": env }));
    } else {
        emitln!("{env}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The longest env name for `branch` with which `spec` validates (every
/// name it derives within AWS's limits); the spec's errors at the shortest
/// when none does.
fn fitting(g: &Global, branch: &str, spec: &std::path::Path, longest: usize) -> anyhow::Result<String> {
    let mut opts = crate::deployment::options(g);
    let mut last = None;
    for max in (MIN..=longest).rev() {
        let env = env_name_within(branch, max);
        if last.as_ref() == Some(&env) {
            continue;
        }
        opts.env = Some(env.clone());
        match crate::load::load(spec, &opts) {
            Ok(_) => return Ok(env),
            Err(e) if max == MIN => return Err(e.into()),
            Err(_) => {}
        }
        last = Some(env);
    }
    unreachable!("the loop returns at its last length")
}

/// The shortest a shortened name is: a character, `-` and the hash.
const MIN: usize = HASH + 2;

/// The env name for `branch` (see the module's rules).
pub fn env_name(branch: &str) -> String {
    env_name_within(branch, MAX)
}

/// [`env_name`] at most `max` characters long (`MIN..=MAX`).
pub fn env_name_within(branch: &str, max: usize) -> String {
    let b = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    if rules::env_name(b).is_ok() && b.len() <= max {
        return b.to_string();
    }
    let mut out = String::with_capacity(b.len());
    for c in b.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    let hash = || crate::names::sha256_hex(branch)[..HASH].to_string();
    // What is left is a word and the hash, the word cut to fit `max`.
    let tagged = |word: &str| format!("{}-{}", &word[..word.len().min(max - HASH - 1)], hash());
    if out.is_empty() {
        return tagged("branch");
    }
    if out == rules::NO_ENV {
        return tagged(rules::NO_ENV);
    }
    if out.len() > max {
        out.truncate(max - HASH - 1);
        while out.ends_with('-') {
            out.pop();
        }
        out = format!("{out}-{}", hash());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn branches_become_env_names() {
        let cases = [
            ("feature/ABC_1", "feature-abc-1"),
            ("refs/heads/main", "main"),
            ("pr-42", "pr-42"),
            ("release/v1.2.3", "release-v1-2-3"),
            ("--Fix__the...Bug--", "fix-the-bug"),
            ("dependabot/npm_and_yarn/lodash-4.17.21", "dependabot-npm-and-yarn-"),
            ("héllo wörld", "h-llo-w-rld"),
        ];
        for (branch, env) in cases {
            let got = env_name(branch);
            assert!(got.starts_with(env), "{branch} -> {got}, expected {env}…");
            assert!(rules::env_name(&got).is_ok(), "{got}");
        }
        assert_eq!(env_name("feature/ABC_1"), "feature-abc-1");
    }

    #[test]
    fn long_branches_are_cut_with_a_hash_and_never_collide() {
        let a = env_name("feature/a-very-long-branch-name-about-the-first-thing");
        let b = env_name("feature/a-very-long-branch-name-about-the-other-thing");
        assert_ne!(a, b);
        assert_eq!(a.len(), MAX);
        assert!(a.starts_with("feature-a-very-long-bra-"), "{a}");
        assert_eq!(env_name("feature/a-very-long-branch-name-about-the-first-thing"), a, "deterministic");
    }

    #[test]
    fn never_empty_nor_reserved() {
        for branch in ["", "///", "日本語", "default", "DEFAULT", "refs/heads/default"] {
            let got = env_name(branch);
            assert!(rules::env_name(&got).is_ok(), "{branch:?} -> {got}");
        }
        assert_ne!(env_name("///"), env_name("..."), "the hash tells them apart");
        assert!(env_name("default").starts_with("default-"));
        for max in MIN..=MAX {
            for branch in ["", "///", "default"] {
                let got = env_name_within(branch, max);
                assert!(rules::env_name(&got).is_ok() && got.len() <= max, "{branch:?} within {max} -> {got}");
            }
        }
    }

    proptest! {
        #[test]
        fn every_output_is_a_valid_env_name_and_its_own(branch in ".{0,80}") {
            let env = env_name(&branch);
            prop_assert!(rules::env_name(&env).is_ok(), "{:?} -> {:?}", branch, env);
            prop_assert_eq!(env_name(&env), env);
        }

        #[test]
        fn shorter_limits_hold_too(branch in "[A-Za-z0-9/_.-]{0,70}", max in MIN..=MAX) {
            let env = env_name_within(&branch, max);
            prop_assert!(rules::env_name(&env).is_ok() && env.len() <= max, "{:?} -> {:?}", branch, env);
            prop_assert_eq!(env_name_within(&env, max), env);
        }

        #[test]
        fn branch_like_names_too(branch in "[A-Za-z0-9/_.-]{0,70}") {
            let env = env_name(&branch);
            prop_assert!(rules::env_name(&env).is_ok(), "{:?} -> {:?}", branch, env);
            prop_assert_eq!(env_name(&env), env.clone());
            if rules::env_name(&branch).is_ok() {
                prop_assert_eq!(env, branch);
            }
        }
    }
}
