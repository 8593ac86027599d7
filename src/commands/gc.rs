//! `pipectl gc --older-than 24h --env-pattern 'pr-*'`: destroys the
//! deployments of the envs the patterns match that have not been applied
//! for that long (branch copies CI forgot). Liveness is the record's
//! `applied` stamp, refreshed by every successful apply, a no-op one
//! included; a record written before pipectl marked applies is judged by
//! when it was last written, and gc says so. The deployment without an env
//! is never a candidate, and without a pattern gc refuses. A dry run unless
//! `--yes`; each deployment is judged again under its lock, then destroyed
//! from its record the way `destroy --pipeline P --env E` would.

use super::{destroy, release};
use crate::cli::{GcArgs, Global};
use crate::cost::{money, HOURS_PER_MONTH};
use crate::deployment::{Deployment, Locking};
use crate::lock::{is_date, rfc3339_f64};
use crate::resources::record::{self, Basis, Content};
use std::process::ExitCode;

use crate::spec::rules::NO_ENV;

pub async fn run(g: &Global, a: &GcArgs) -> anyhow::Result<ExitCode> {
    check_patterns(&a.env_pattern)?;
    // Judged against when gc started: what is applied after is spared.
    let started = record::now();
    let rule = Rule { patterns: &a.env_pattern, started, older_than: a.older_than.as_secs_f64() };
    let aws = crate::deployment::connect(g, None).await?;
    let listing = record::list(&aws, a.pipeline.as_deref()).await?;
    for d in listing.damaged.iter().filter(|d| rule.matching(&d.env).is_some()) {
        eprintln!("{}", crate::scrub::text(&format!("skipping {}/{}: {}", d.pipeline, d.env, d.why)));
    }
    for d in listing.found.iter().filter(|d| rule.matching(&d.env).is_some()) {
        if let Some((at, _)) = record::last_applied(&d.content).filter(|(at, _)| !is_date(*at)) {
            let (p, e) = (&d.pipeline, &d.env);
            eprintln!("skipping {p}/{e}: its record's last apply {} is not a date", rfc3339_f64(at));
        }
    }
    let stale: Vec<(record::Listed, String)> = listing
        .found
        .into_iter()
        .filter_map(|d| {
            let why = rule.stale(&d.env, &d.content)?;
            Some((d, why))
        })
        .collect();
    if stale.is_empty() {
        eprintln!(
            "no deployment in {} of an env matching {} unapplied for {}",
            aws.region,
            a.env_pattern.join(", "),
            age(a.older_than.as_secs())
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (d, why) in &stale {
        let verb = if a.yes { "destroying" } else { "would destroy" };
        let cost = d.content.cost_per_hour.map(|h| format!(", {}/mo idle", money(h * HOURS_PER_MONTH)));
        let (p, e, n) = (&d.pipeline, &d.env, d.content.resources.len());
        eprintln!("{verb} {p}/{e} ({n} resources{}): {why}", cost.unwrap_or_default());
    }
    let saved: f64 = stale.iter().filter_map(|(d, _)| d.content.cost_per_hour).sum::<f64>() * HOURS_PER_MONTH;
    let unknown = stale.iter().filter(|(d, _)| d.content.cost_per_hour.is_none()).count();
    let unknown = match unknown {
        0 => String::new(),
        n => format!(" (and what {n} deployment(s) applied before cost estimates cost)"),
    };
    if !a.yes {
        eprintln!(
            "\ndry run: pass `--yes` to destroy these {} deployment(s), saving {}/mo{unknown}",
            stale.len(),
            money(saved)
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("saving {}/mo{unknown}", money(saved));
    crate::cancel::install();
    let mut failed = Vec::new();
    for (s, _) in &stale {
        if crate::cancel::requested() {
            break;
        }
        eprintln!("\n== {}/{}", s.pipeline, s.env);
        let locking = Locking { command: "gc", wait: a.lock.lock_timeout };
        let result = match Deployment::from_record(g, &s.pipeline, &s.env, locking).await {
            Ok((mut d, lock)) => {
                d.meta.delete_data = a.delete_data;
                let outcome = match d.record.as_ref().map(|c| (c, rule.stale(&s.env, c))) {
                    None => {
                        eprintln!("{}/{}: gone already", s.pipeline, s.env);
                        Ok(ExitCode::SUCCESS)
                    }
                    // Applied between the listing and the lock: spared.
                    Some((c, None)) => {
                        eprintln!("sparing {}/{}: {}", s.pipeline, s.env, rule.fresh(c));
                        Ok(ExitCode::SUCCESS)
                    }
                    Some((_, Some(_))) => {
                        let (force, wait) = (a.guard.allow_data_loss, crate::engine::Wait::Accepted);
                        destroy::destroy(g, &d, true, force, 10, wait).await
                    }
                };
                release(lock, outcome).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            eprintln!("{}", crate::scrub::text(&format!("{}/{}: {e:#}", s.pipeline, s.env)));
            failed.push(format!("{}/{}", s.pipeline, s.env));
        }
    }
    if crate::cancel::requested() {
        anyhow::bail!("gc was interrupted");
    }
    if !failed.is_empty() {
        return Err(crate::Hinted {
            message: format!(
                "{} of {} deployments were not destroyed: {}",
                failed.len(),
                stale.len(),
                failed.join(", ")
            ),
            hint: "see the errors above; run `pipectl gc` again once fixed".into(),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Without a pattern gc would consider every env, production's included:
/// refused before any AWS call.
fn check_patterns(patterns: &[String]) -> anyhow::Result<()> {
    if patterns.is_empty() {
        return Err(crate::BadInput::error(
            "gc needs `--env-pattern`: the envs it may destroy",
            "for example `pipectl gc --older-than 24h --env-pattern 'pr-*'` (repeatable); \
             the deployment without an env is never destroyed by gc",
        ));
    }
    if let Some(p) = patterns.iter().find(|p| p.trim().is_empty() || p.contains('/')) {
        return Err(crate::BadInput::error(
            format!("--env-pattern `{p}` cannot match an env"),
            "give a glob over env names, for example `pr-*`",
        ));
    }
    Ok(())
}

/// What makes a deployment stale.
struct Rule<'a> {
    patterns: &'a [String],
    /// When gc started (seconds since the epoch).
    started: f64,
    /// Seconds without an apply.
    older_than: f64,
}

impl Rule<'_> {
    /// The first pattern `env` matches; never for the deployment without an env.
    fn matching(&self, env: &str) -> Option<&str> {
        if env == NO_ENV {
            return None;
        }
        self.patterns.iter().find(|p| crate::spec::guard::glob_exact(p, env)).map(String::as_str)
    }

    /// Why the deployment of `env` recorded as `c` is stale, if it is.
    fn stale(&self, env: &str, c: &Content) -> Option<String> {
        let pattern = self.matching(env)?;
        // A time that is no date says nothing of when: never destroyed on it.
        let (at, basis) = record::last_applied(c).filter(|(at, _)| is_date(*at))?;
        if self.started - at < self.older_than {
            return None;
        }
        let ago = age((self.started - at).max(0.0) as u64);
        let when = match basis {
            Basis::Applied => format!("last applied {}", rfc3339_f64(at)),
            Basis::Written => format!(
                "last written {} (no apply recorded: a record written before pipectl marked applies)",
                rfc3339_f64(at)
            ),
        };
        Some(format!("{when}, {ago} ago, older than {}; env {env} matches {pattern}", age(self.older_than as u64)))
    }

    /// Why a deployment found stale is spared once its lock is held.
    fn fresh(&self, c: &Content) -> String {
        match record::last_applied(c) {
            Some((at, _)) => format!("applied at {}, after gc started: in use", rfc3339_f64(at)),
            None => "its record says nothing of when it was applied".into(),
        }
    }
}

/// A span of seconds in its two largest units: `3d 4h`, `5m 2s`, `12s`.
fn age(secs: u64) -> String {
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let Some(first) = units.iter().position(|(_, n)| secs >= *n) else { return "0s".into() };
    let mut rest = secs;
    let mut out = Vec::new();
    for (name, n) in &units[first..(first + 2).min(units.len())] {
        let count = rest / n;
        rest %= n;
        if count > 0 {
            out.push(format!("{count}{name}"));
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(applied: Option<f64>, written: Option<f64>) -> Content {
        let mut c = Content::of("us-east-1", []);
        c.stamps.applied = applied;
        c.written = written;
        c
    }

    const DAY: f64 = 86_400.0;

    #[test]
    fn ages_read_in_their_two_largest_units() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(12), "12s");
        assert_eq!(age(3 * 86_400 + 4 * 3_600 + 59), "3d 4h");
        assert_eq!(age(86_400), "1d");
        assert_eq!(age(3_600 + 5), "1h");
        assert_eq!(age(302), "5m 2s");
    }

    #[test]
    fn gc_destroys_a_live_deployment() {
        // Written long ago, applied (no change) an hour ago: live.
        let patterns = ["pr-*".to_string()];
        let rule = Rule { patterns: &patterns, started: 100.0 * DAY, older_than: DAY };
        let live = content(Some(100.0 * DAY - 3_600.0), Some(10.0 * DAY));
        assert_eq!(rule.stale("pr-1", &live), None);
        let stale = content(Some(97.0 * DAY - 4.0 * 3_600.0), Some(10.0 * DAY));
        let why = rule.stale("pr-7", &stale).unwrap();
        assert!(why.starts_with("last applied ") && why.contains(", 3d 4h ago, older than 1d"), "{why}");
        assert!(why.ends_with("env pr-7 matches pr-*"), "{why}");
        // A record from before applies were marked: by its last write, said.
        let old = rule.stale("pr-2", &content(None, Some(10.0 * DAY))).unwrap();
        assert!(old.contains("last written") && old.contains("no apply recorded"), "{old}");
    }

    #[test]
    fn only_envs_a_pattern_matches_and_never_the_one_without_env() {
        let patterns = ["pr-*".to_string(), "feature-?".to_string()];
        let rule = Rule { patterns: &patterns, started: 100.0 * DAY, older_than: 0.0 };
        let old = content(Some(0.0), None);
        assert!(rule.stale("pr-1", &old).is_some());
        assert!(rule.stale("feature-a", &old).is_some());
        assert!(rule.stale("feature-ab", &old).is_none());
        assert!(rule.stale("prod", &old).is_none());
        let all = ["*".to_string()];
        let rule = Rule { patterns: &all, ..rule };
        assert!(rule.stale("default", &old).is_none(), "the deployment without an env");
        assert!(check_patterns(&[]).is_err() && check_patterns(&[" ".into()]).is_err());
        assert!(check_patterns(&["pr-*".into()]).is_ok());
    }

    #[test]
    fn odd_time_fields_no_more_gc_never_destroys_on_a_time_that_is_no_date() {
        let patterns = ["pr-*".to_string()];
        let rule = Rule { patterns: &patterns, started: 100.0 * DAY, older_than: DAY };
        for odd in [-1.0, -1e300, 1_796_631_000_000.0, f64::INFINITY, f64::NAN] {
            assert_eq!(rule.stale("pr-1", &content(Some(odd), Some(10.0 * DAY))), None, "{odd}");
            assert_eq!(rule.stale("pr-1", &content(None, Some(odd))), None, "{odd}");
        }
        let spared = rule.fresh(&content(Some(1_796_631_000_000.0), None));
        assert!(spared.contains("(invalid time 1796631000000)"), "{spared}");
    }
}
