//! Saved plans, the command side: `plan --out FILE` writes one (mode
//! 0600), `apply FILE` runs it, or refuses naming everything that moved
//! since it was made (exit [`EXIT_REFUSED`]). The format and its
//! comparisons are `plan::saved`'s.
//!
//! `apply FILE`, in order:
//! 1. offline, before any AWS call: the file's checksum, pipectl's version,
//!    the plan's age (`--max-age`), the spec's and each function's code
//!    digests, the variables, the policy, pipeline and env;
//! 2. under the deployment's lock, as every apply: the account and region
//!    connected to, then a new reading of every resource compared with the
//!    saved digests, naming each resource and field that moved;
//! 3. the plan made from that reading must equal the saved one; it then
//!    runs through the same executor as any apply, without asking again.

use super::apply::carry_out;
use super::release;
use crate::cli::{ApplyArgs, Global, PlanArgs};
use crate::deployment::{self, Deployment, Locking, Reach};
use crate::load::Loaded;
use crate::plan::diff::describe_change;
use crate::plan::saved::{self, Made, Refused, Saved, Seen, Unreadable, EXIT_REFUSED};
use crate::plan::Plan;
use crate::BadInput;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The variables' effective values, as the spec is loaded with them: the
/// one place a saved plan takes them from.
fn vars(loaded: &Loaded) -> BTreeMap<String, String> {
    // Values, not where they were set: the same value from a var file or
    // `--var` makes the same plan.
    loaded.vars().iter().map(|(k, v)| (k.clone(), v.value.to_string())).collect()
}

/// At most `limit` bytes of a file, or `None` when it is larger.
fn read_bounded(path: &Path, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, limit as u64 + 1), &mut bytes)?;
    Ok((bytes.len() <= limit).then_some(bytes))
}

/// The digest of a file read whole, or why it cannot be.
fn file_digest(path: &Path, what: &str) -> anyhow::Result<String> {
    let unreadable = |e: String| BadInput::error(format!("{what} `{}` cannot be read: {e}", path.display()), "");
    match read_bounded(path, crate::spec::yaml::MAX_BYTES.max(saved::MAX_BYTES)) {
        Ok(Some(bytes)) => Ok(saved::sha256_hex(&bytes)),
        Ok(None) => Err(unreadable("it is too large".into())),
        Err(e) => Err(unreadable(e.to_string())),
    }
}

/// What a plan is made from: the spec's bytes and each function's code zip.
fn made(loaded: &Loaded, spec: &Path) -> anyhow::Result<Made> {
    let mut code = BTreeMap::new();
    for (key, f) in &loaded.spec.functions {
        let pkg = crate::package::build(&f.code, &f.code_root)
            .map_err(|e| BadInput::error(format!("functions.{key}: cannot zip `{}`: {e}", f.code.display()), ""))?;
        code.insert(key.clone(), pkg.sha256);
    }
    Ok(Made { file: spec.display().to_string(), sha256: file_digest(spec, "the spec")?, code })
}

/// The operator's policy file's digest, when one is given.
fn policy_digest(g: &Global) -> anyhow::Result<Option<String>> {
    g.policy.as_deref().map(|p| file_digest(p, "the policy")).transpose()
}

/// A plan as saved and compared: as `plan --json` prints it, without
/// cost and policy (their inputs are compared by digest), scrubbed.
fn plan_value(plan: &Plan) -> Value {
    let mut v = serde_json::to_value(plan).expect("a plan serializes");
    if let Some(m) = v.as_object_mut() {
        m.remove("cost");
        m.remove("policy");
    }
    crate::scrub::json(v)
}

/// `plan --out FILE`: the plan and what it was made from, written whole
/// (a temporary file renamed) and readable by its owner only.
pub fn write(
    g: &Global,
    a: &PlanArgs,
    d: &Deployment,
    plan: &Plan,
    read: BTreeMap<String, Seen>,
    out: &Path,
) -> anyhow::Result<()> {
    let loaded = d.loaded.as_ref().expect("a plan has a spec");
    let now = crate::lock::now_secs();
    let doc = Saved {
        pipectl_plan: saved::VERSION.into(),
        pipectl_version: env!("CARGO_PKG_VERSION").into(),
        made_at: now,
        made_at_utc: crate::lock::rfc3339(now),
        pipeline: plan.pipeline.clone(),
        env: plan.env.clone(),
        region: plan.region.clone(),
        account: plan.account.clone(),
        spec: made(loaded, &a.spec)?,
        vars_sha256: saved::vars_digest(&vars(loaded)),
        policy_sha256: policy_digest(g)?,
        targets: a.targets.targets.clone(),
        observed: read,
        plan: plan_value(plan),
        checksum: String::new(),
    }
    .seal();
    let text = serde_json::to_string_pretty(&doc).expect("a saved plan serializes") + "\n";
    write_private(out, text.as_bytes()).map_err(|e| anyhow::anyhow!("writing the plan to `{}`: {e}", out.display()))?;
    eprintln!("Saved the plan to {}: `pipectl apply {}` runs it, or nothing.", out.display(), out.display());
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file of mode 0600 beside
/// it, renamed over it: a reader sees the old file or the new one, whole.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The saved plan in `path`, if it is one (told by its first key, not its
/// name); `None` for anything else, a spec as much as a missing file.
pub fn sniff(path: &Path) -> anyhow::Result<Option<Saved>> {
    let Ok(Some(bytes)) = read_bounded(path, saved::MAX_BYTES) else { return Ok(None) };
    let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(None) };
    if !saved::is_saved(text) {
        return Ok(None);
    }
    let file = path.display();
    match Saved::parse(text) {
        Ok(s) => Ok(Some(s)),
        Err(Unreadable::Edited) => {
            Err(Refused { file: file.to_string(), moved: vec![Unreadable::Edited.to_string()] }.into())
        }
        Err(e) => Err(BadInput::error(
            format!("`{file}` {e}"),
            "make the plan again with this pipectl (`pipectl plan SPEC --out FILE`)",
        )),
    }
}

/// `apply FILE`: the saved plan, or nothing.
pub async fn apply(g: &Global, a: &ApplyArgs, saved: Saved) -> anyhow::Result<ExitCode> {
    let file = a.spec.display().to_string();
    if !a.targets.targets.is_empty() {
        return Err(BadInput::error(
            "--target cannot narrow a saved plan: it runs with the targets it was made with",
            "leave `--target` out, or make a new plan with the targets you want",
        ));
    }
    let spec = PathBuf::from(&saved.spec.file);
    if !spec.is_file() {
        return Err(BadInput::error(
            format!("the spec the plan `{file}` was made from, `{}`, is not there", spec.display()),
            "run `apply` from the folder `plan` ran in (the spec's path is kept as it was given)",
        ));
    }
    let loaded = crate::load::load(&spec, &deployment::options(g))?;
    let refuse = |moved: Vec<String>| -> anyhow::Result<ExitCode> { Err(Refused { file: file.clone(), moved }.into()) };
    let moved = offline(g, a, &saved, &loaded, &spec)?;
    if !moved.is_empty() {
        return refuse(moved);
    }
    let locking = Locking { command: "apply", wait: a.lock.lock_timeout };
    let (d, lock) = Deployment::open_locked(g, &spec, &saved.targets, Reach::Upstream, locking).await?;
    crate::cancel::install();
    let run = async {
        let mut moved = Vec::new();
        for (what, then, now) in [("region", &saved.region, &d.aws.region), ("account", &saved.account, &d.aws.account)]
        {
            if then != now {
                moved.push(format!("the plan was made for {what} {then}; this run is connected to {now}"));
            }
        }
        if !moved.is_empty() {
            return refuse(moved);
        }
        let (planned, work, read) = d.plan_reading().await?;
        let now = plan_value(&planned.plan);
        let moved = live(&saved, &read, &now);
        if !moved.is_empty() {
            return refuse(moved);
        }
        let moved = differences(&saved.plan, &now);
        if !moved.is_empty() {
            return refuse(moved);
        }
        eprintln!("The saved plan `{file}` (made {}) holds: nothing moved since it was made.", saved.made_at_utc);
        carry_out(g, a, &d, planned, &work, false).await
    };
    release(lock, run.await).await
}

/// What moved that is known without AWS.
fn offline(g: &Global, a: &ApplyArgs, saved: &Saved, loaded: &Loaded, spec: &Path) -> anyhow::Result<Vec<String>> {
    let mut moved = Vec::new();
    let version = env!("CARGO_PKG_VERSION");
    if saved.pipectl_version != version {
        moved.push(format!("pipectl {} made the plan; this is pipectl {version}", saved.pipectl_version));
    }
    let now = crate::lock::now_secs();
    let age = now.saturating_sub(saved.made_at);
    if age > a.max_age.as_secs() {
        let (age, max) =
            (humantime::format_duration(std::time::Duration::from_secs(age)), humantime::format_duration(a.max_age));
        moved.push(format!("the plan was made {age} ago ({}), more than --max-age {max}", saved.made_at_utc));
    } else if saved.made_at > now + 300 {
        moved.push(format!("the plan says it was made at {}, later than now", saved.made_at_utc));
    }
    let made = made(loaded, spec)?;
    if made.sha256 != saved.spec.sha256 {
        moved.push(format!("the spec `{}` changed since the plan was made", made.file));
    }
    let functions: BTreeSet<&String> = made.code.keys().chain(saved.spec.code.keys()).collect();
    for f in functions {
        match (saved.spec.code.get(f), made.code.get(f)) {
            (Some(then), Some(now)) if then != now => {
                moved.push(format!("the code of functions.{f} changed since the plan was made"))
            }
            (Some(_), None) => moved.push(format!("functions.{f} is no longer in the spec")),
            (None, Some(_)) => moved.push(format!("functions.{f} was not in the spec the plan was made from")),
            _ => {}
        }
    }
    if saved::vars_digest(&vars(loaded)) != saved.vars_sha256 {
        moved.push("the variables (`--var`, `--var-file`, `PIPECTL_VAR_*`, defaults) differ from the plan's: give the same values".into());
    }
    match (&saved.policy_sha256, policy_digest(g)?) {
        (Some(then), Some(now)) if *then != now => {
            moved.push("the operator's policy changed since the plan was made".into())
        }
        (Some(_), None) => {
            moved.push("the plan was made under an operator policy; this run has none (`--policy`)".into())
        }
        (None, Some(_)) => moved.push("the plan was made without an operator policy; this run has one".into()),
        _ => {}
    }
    let spec = &loaded.spec;
    if spec.pipeline != saved.pipeline {
        moved.push(format!("the plan is for pipeline `{}`; the spec is now `{}`", saved.pipeline, spec.pipeline));
    }
    if spec.env != saved.env {
        moved.push(format!("the plan was made for env `{}`; this run is for env `{}` (`--env`)", saved.env, spec.env));
    }
    Ok(moved)
}

/// Each resource whose reading moved since the plan, and how.
fn live(saved: &Saved, read: &BTreeMap<String, Seen>, now: &Value) -> Vec<String> {
    let keys: BTreeSet<&String> = saved.observed.keys().chain(read.keys()).collect();
    let mut moved = Vec::new();
    for key in keys {
        let (then, current) = match (saved.observed.get(key), read.get(key)) {
            (Some(t), Some(n)) => (t, n),
            (Some(_), None) => {
                moved.push(format!("{key}: no longer read for this plan (the deployment record changed)"));
                continue;
            }
            (None, _) => {
                moved.push(format!(
                    "{key}: read for this plan now, not when it was made (the deployment record changed)"
                ));
                continue;
            }
        };
        match (then.sha256 == saved::ABSENT, current.sha256 == saved::ABSENT) {
            (true, false) => moved.push(format!("{key}: exists now; it did not when the plan was made")),
            (false, true) => moved.push(format!("{key}: is gone; it existed when the plan was made")),
            _ => {
                let fields = then.moved(current);
                for f in &fields {
                    if f == saved::TAGS && fields.iter().any(|x| x == "tags") {
                        continue;
                    }
                    moved.push(describe(saved, now, key, f));
                }
            }
        }
    }
    moved
}

/// One field of one resource that moved: before -> after where the plans
/// show them (a field the plan did not change read as the spec wants it).
fn describe(saved: &Saved, now: &Value, key: &str, field: &str) -> String {
    let what = match field {
        saved::TAGS => "its tags".to_string(),
        saved::MARKED => "its ownership marker".to_string(),
        saved::ACCOUNT => "the account owning it".to_string(),
        f => f.to_string(),
    };
    let (was, is) = (saved.field_change(key, field), saved::field_change(now, key, field));
    let before = was.as_ref().map(|c| c.0.clone()).or_else(|| is.as_ref().map(|c| c.1.clone()));
    let after = is.as_ref().map(|c| c.0.clone()).or_else(|| was.as_ref().map(|c| c.1.clone()));
    match (before, after) {
        (Some(b), Some(a)) if b != a => {
            format!("{key}: {what} {} changed since the plan was made", describe_change(&b, &a))
        }
        _ => format!("{key}: {what} changed since the plan was made"),
    }
}

/// Where the plan made now differs from the saved one, by resource.
fn differences(saved: &Value, now: &Value) -> Vec<String> {
    let by_address = |plan: &Value| -> BTreeMap<String, Value> {
        let changes = plan.get("changes").and_then(Value::as_array).cloned().unwrap_or_default();
        changes.into_iter().filter_map(|c| Some((c.get("address")?.as_str()?.to_string(), c))).collect()
    };
    let (then, current) = (by_address(saved), by_address(now));
    let action = |c: Option<&Value>| {
        c.and_then(|c| c.get("action")).and_then(Value::as_str).unwrap_or("not in the plan").replace('_', "-")
    };
    let mut moved = Vec::new();
    let keys: BTreeSet<&String> = then.keys().chain(current.keys()).collect();
    for k in keys {
        let (t, n) = (then.get(k), current.get(k));
        if t != n {
            let (t, n) = (action(t), action(n));
            moved.push(match t == n {
                true => format!("{k}: its changes ({n}) differ from the saved plan's"),
                false => format!("{k}: planned now as {n}, saved as {t}"),
            });
        }
    }
    let order = |plan: &Value| -> Vec<Value> {
        plan.get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("address").cloned())
            .collect()
    };
    if moved.is_empty() && order(saved) != order(now) {
        moved.push("the order of the changes differs from the saved plan's".into());
    }
    for key in ["warnings", "notes", "pipeline", "env", "region", "account", "operation", "format_version"] {
        if saved.get(key) != now.get(key) {
            moved.push(format!("the plan's `{key}` differs from the saved plan's"));
        }
    }
    moved
}

/// The exit code of a refused saved plan.
pub fn exit_code(err: &anyhow::Error) -> Option<u8> {
    err.downcast_ref::<Refused>().map(|_| EXIT_REFUSED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plan_that_differs_names_each_resource() {
        let saved = json!({"pipeline": "p", "changes": [
            {"address": "stream.s", "action": "update", "changes": [{"field": "shards", "before": 1, "after": 2}]},
            {"address": "bucket.b", "action": "create"}]});
        assert!(differences(&saved, &saved).is_empty());
        let now = json!({"pipeline": "p", "changes": [
            {"address": "stream.s", "action": "update", "changes": [{"field": "shards", "before": 3, "after": 2}]},
            {"address": "bucket.b", "action": "no_op"}]});
        assert_eq!(
            differences(&saved, &now),
            [
                "bucket.b: planned now as no-op, saved as create",
                "stream.s: its changes (update) differ from the saved plan's"
            ]
        );
    }

    #[test]
    fn a_moved_field_shows_before_and_after_where_the_plans_have_them() {
        let observed = |hours: u32| {
            let attrs = [("retention_hours".to_string(), json!(hours)), ("shards".to_string(), json!(1))].into();
            Seen::of(Some(&crate::plan::Observed::with_attrs(attrs, None)), &[])
        };
        let saved = Saved {
            pipectl_plan: saved::VERSION.into(),
            pipectl_version: "x".into(),
            made_at: 0,
            made_at_utc: String::new(),
            pipeline: "p".into(),
            env: "e".into(),
            region: "r".into(),
            account: "a".into(),
            spec: Made { file: "s".into(), sha256: String::new(), code: BTreeMap::new() },
            vars_sha256: String::new(),
            policy_sha256: None,
            targets: vec![],
            observed: [("stream.s".to_string(), observed(24))].into(),
            plan: json!({"changes": [{"address": "stream.s", "action": "no_op"}]}),
            checksum: String::new(),
        };
        // Read as the spec wants it then; 48 hours now, and the plan made now changes it back.
        let now = json!({"changes": [{"address": "stream.s", "action": "update",
                         "changes": [{"field": "retention_hours", "before": 48, "after": 24}]}]});
        let read = [("stream.s".to_string(), observed(48))].into();
        assert_eq!(live(&saved, &read, &now), ["stream.s: retention_hours 24 -> 48 changed since the plan was made"]);
        let gone = [("stream.s".to_string(), Seen::of(None, &[]))].into();
        assert_eq!(live(&saved, &gone, &now), ["stream.s: is gone; it existed when the plan was made"]);
        assert!(live(&saved, &BTreeMap::new(), &now)[0].contains("no longer read"));
    }
}
