//! Lambda functions and their triggers.

use super::*;
use crate::names::{self};
use crate::spec::decode::Sp;
use crate::spec::interp::Ref;
use crate::spec::model::*;
use crate::spec::raw::*;
use crate::spec::rules;
use std::collections::{BTreeMap, BTreeSet};

impl Builder<'_> {
    pub(super) fn functions(&mut self, raw: &RawSpec) -> (BTreeMap<String, Function>, BTreeMap<String, BTreeSet<Ref>>) {
        let mut out = BTreeMap::new();
        let mut all_refs = BTreeMap::new();
        for (k, r) in &raw.functions {
            let path = format!("functions.{}", k.v);
            let name = self.name_of("functions", &k.v);
            let role = self.existing_role(r.role.as_ref(), &r.policy);
            if role.is_none() {
                self.generated_name(
                    "role",
                    names::function_role(&name, self.region.as_deref()),
                    k.mark,
                    path.clone(),
                    rules::role_name,
                );
            }
            self.generated_name(
                "log group",
                names::function_log_group(&name),
                k.mark,
                path.clone(),
                rules::log_group_name,
            );
            let runtime = match &r.runtime {
                Some(rt) => {
                    if let Some(f) = super::super::runtimes::check(&rt.v, &super::super::runtimes::today()) {
                        let d = Diagnostic::new(rt.mark, "runtime", f.message).label(f.label);
                        let d = d.at_path(&format!("{path}.runtime")).value(&rt.v).hint(f.hint);
                        self.diags.push(if f.error && !self.opts.removing { d } else { d.warning() });
                    }
                    rt.v.clone()
                }
                None => String::new(),
            };
            let code = match &r.code {
                Some(c) => {
                    let p = self.dir.join(&c.v);
                    if !p.exists() {
                        self.err(
                            c.mark,
                            "code-path",
                            format!("code path `{}` does not exist", c.v),
                            Some(format!("paths are relative to the spec's folder `{}`", self.dir.display())),
                        );
                    } else {
                        self.check_code(c, &p);
                    }
                    p
                }
                None => Default::default(),
            };
            let handler = r
                .handler
                .as_ref()
                .map(|h| {
                    if !h.v.contains('.') && !runtime.starts_with("java") && !runtime.starts_with("provided") {
                        self.bad(
                            h.mark,
                            "handler",
                            format!("handler `{}` must be `<file>.<function>`", h.v),
                            "for example `filter_to_firehose.handler`",
                        );
                    }
                    h.v.clone()
                })
                .unwrap_or_default();
            let memory_mb =
                self.range(&r.memory_mb, 128, 10240, 128, "memory_mb", Some("Lambda allows 128 to 10240 MB"));
            let timeout_seconds =
                self.range(&r.timeout_seconds, 1, 900, 3, "timeout_seconds", Some("Lambda allows 1 to 900 seconds"));
            let log_retention_days = self.log_retention(&r.log_retention_days);
            let reserved_concurrency = r.reserved_concurrency.as_ref().map(|c| {
                let hint = "0 stops every invocation; Lambda's default account limit is 1000";
                self.range(&Some(c.clone()), 0, 1000, 0, "reserved_concurrency", Some(hint))
            });
            let mut environment = BTreeMap::new();
            let mut refs = BTreeSet::new();
            for (ek, ev) in &r.environment {
                let valid_key = ek.v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && ek.v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid_key {
                    self.err(
                        ek.mark,
                        "environment",
                        format!(
                            "environment variable name `{}` must be letters, digits and `_`, starting with a letter",
                            ek.v
                        ),
                        None,
                    );
                }
                if rules::RESERVED_ENV.contains(&ek.v.as_str()) {
                    self.bad(
                        ek.mark,
                        "environment",
                        format!("`{}` is reserved by Lambda", ek.v),
                        "choose another name",
                    );
                }
                if let Some(i) = self.interp_env(ev) {
                    refs.extend(i.refs);
                    environment.insert(ek.v.clone(), EnvValue { text: i.text, secrets: i.secrets });
                }
            }
            // As Lambda measures it, the JSON of the variables; a secret counts
            // for nothing until it is read (`resources::function` measures again).
            let env_size =
                rules::lambda_environment_size(environment.iter().map(|(k, v)| (k.as_str(), v.text.as_str())));
            if env_size > rules::MAX_LAMBDA_ENVIRONMENT {
                self.err(
                    r.mark,
                    "environment",
                    format!(
                        "the environment of `{path}` is {env_size} bytes as Lambda measures it (its variables as one \
                         JSON object); Lambda allows {}",
                        rules::MAX_LAMBDA_ENVIRONMENT
                    ),
                    Some(
                        "Lambda counts `{\"NAME\":\"value\",...}` with JSON escaping; move large values to a file in \
                         the function's code, or read them at run time from SSM or S3"
                            .into(),
                    ),
                );
            }
            let mut writes = Vec::new();
            for w in &r.writes {
                let target = match w.v.split_once('.') {
                    Some(("firehoses", key)) => self
                        .reference(&Sp::new(key.to_string(), w.mark), "firehoses", "written firehose")
                        .map(WriteTarget::Firehose),
                    Some(("streams", key)) => self
                        .reference(&Sp::new(key.to_string(), w.mark), "streams", "written stream")
                        .map(WriteTarget::Stream),
                    _ => {
                        self.bad(
                            w.mark,
                            "writes",
                            format!("`{}` is not something a function can write to", w.v),
                            "write `firehoses.<key>` or `streams.<key>`",
                        );
                        None
                    }
                };
                if let Some(t) = target {
                    if writes.contains(&t) {
                        self.err(w.mark, "writes", format!("`{}` is listed twice", w.v), None);
                    } else {
                        writes.push(t);
                    }
                }
            }
            let trigger = r.trigger.as_ref().map(|t| self.trigger(t));
            if let Some(t) = &r.trigger {
                self.origins.insert(format!("triggers.{}", k.v), t.mark);
            }
            all_refs.insert(k.v.clone(), refs);
            out.insert(
                k.v.clone(),
                Function {
                    name,
                    role,
                    runtime,
                    code,
                    code_root: self.code_root.clone(),
                    handler,
                    memory_mb,
                    timeout_seconds,
                    environment,
                    writes,
                    trigger,
                    log_retention_days,
                    reserved_concurrency,
                    policy: self.statements(&r.policy, &path),
                },
            );
        }
        (out, all_refs)
    }

    /// A `role:` naming an existing role (name or ARN), checked; with it,
    /// `policy:` has no role of pipectl's to go in.
    pub(super) fn existing_role(&mut self, role: Option<&Sp<String>>, policy: &[RawStatement]) -> Option<String> {
        let role = role?;
        if let Err(m) = rules::existing_role(&role.v) {
            self.err(role.mark, "role", m, Some("give the role's name, or its ARN when it has a path".into()));
            return None;
        }
        if let Some(st) = policy.first() {
            self.err(
                st.mark,
                "role-policy",
                "`policy` adds statements to the role pipectl makes; with `role:` the role is yours",
                Some("add these permissions to your role, or drop `role:` to let pipectl make one".into()),
            );
        }
        Some(role.v.clone())
    }

    pub(super) fn trigger(&mut self, t: &RawTrigger) -> Trigger {
        let stream = t.stream.as_ref().and_then(|s| self.reference(s, "streams", "trigger stream")).unwrap_or_default();
        let (bisect, retries, age) = match &t.on_failure {
            Some(o) => (
                o.bisect.as_ref().is_some_and(|b| b.v),
                self.range(
                    &o.max_retries,
                    -1,
                    10_000,
                    -1,
                    "on_failure.max_retries",
                    Some("-1 retries until the record expires"),
                ),
                match &o.max_record_age_seconds {
                    Some(a) if a.v != -1 && !(60..=604_800).contains(&a.v) => {
                        self.err(
                            a.mark,
                            "range",
                            format!(
                                "`{}` must be -1 or between 60 and 604800, found {}",
                                a.named("on_failure.max_record_age_seconds"),
                                a.v
                            ),
                            None,
                        );
                        -1
                    }
                    Some(a) => a.v,
                    None => -1,
                },
            ),
            None => (false, -1, -1),
        };
        Trigger {
            stream,
            batch_size: self.range(
                &t.batch_size,
                1,
                10_000,
                100,
                "batch_size",
                Some("a Kinesis trigger reads 1 to 10000 records per batch"),
            ),
            batching_window_seconds: self.range(&t.batching_window_seconds, 0, 300, 0, "batching_window_seconds", None),
            starting_position: self.choice(
                &t.starting_position,
                &[("latest", StartingPosition::Latest), ("trim_horizon", StartingPosition::TrimHorizon)],
                StartingPosition::Latest,
                "starting position (latest | trim_horizon)",
            ),
            tumbling_window_seconds: t
                .tumbling_window_seconds
                .as_ref()
                .map(|_| self.range(&t.tumbling_window_seconds, 0, 900, 0, "tumbling_window_seconds", None)),
            parallelization_factor: self.range(&t.parallelization_factor, 1, 10, 1, "parallelization_factor", None),
            bisect_on_error: bisect,
            max_retries: retries,
            max_record_age_seconds: age,
            enabled: t.enabled.as_ref().is_none_or(|e| e.v),
        }
    }
}

impl Builder<'_> {
    /// What to run when code lies outside the project: the `--code-root`
    /// holding both, said for how the project was decided.
    fn outside_hint(&self, e: &crate::package::CodeError, root: &std::path::Path) -> String {
        let crate::package::CodeError::Outside { target, .. } = e else { return String::new() };
        let cwd = std::env::current_dir().ok();
        let wider = crate::package::widened_root(root, std::path::Path::new(target), cwd.as_deref());
        let spec_dir = self.dir.canonicalize().unwrap_or_else(|_| self.dir.to_path_buf());
        let project = if self.opts.code_root.is_some() {
            format!("the project is `--code-root {}`", root.display())
        } else if spec_dir == root {
            format!("no git work tree holds the spec, so the project is its folder `{}`", root.display())
        } else {
            format!("the project is the git work tree `{}`", root.display())
        };
        match wider {
            Some(dir) => format!(
                "{project}: add `--code-root {dir}` to the command (the folder holding both the spec and its code), \
                 or move the code inside the project"
            ),
            None => format!("{project}: move the code inside it"),
        }
    }

    /// `code:` must stay inside the project, out of its hidden files and
    /// folders, and within Lambda's size limit (checked without reading the
    /// files).
    fn check_code(&mut self, c: &S, path: &std::path::Path) {
        let root = self.code_root.clone();
        // The path as the spec writes it names no hidden place, even one
        // it leaves again (`.git/../fn`); where the spec itself lives is
        // the project's choice, not the spec's.
        let text = std::path::Path::new(&c.v);
        // An absolute path is the spec's from the project down.
        let text = if text.is_absolute() { text.strip_prefix(&root).unwrap_or(std::path::Path::new("")) } else { text };
        let written = text.components().find(|x| {
            let name = x.as_os_str().as_encoded_bytes();
            name.first() == Some(&b'.') && name != b"." && name != b".."
        });
        if let Some(hidden) = written {
            let hidden = hidden.as_os_str().to_string_lossy();
            self.err(
                c.mark,
                "code-path",
                format!("code path `{}` names the hidden `{hidden}`: code is never taken from a hidden file or folder", c.v),
                Some("hidden files and folders of the project (`.git`, `.env`, `.aws`, ...) hold credentials, never code".into()),
            );
            return;
        }
        match crate::package::files(path, &root) {
            Ok(_) => {}
            Err(e @ crate::package::CodeError::Outside { .. }) => {
                let hint = self.outside_hint(&e, &root);
                self.err(c.mark, "code-path", format!("code path `{}`: {e}", c.v), Some(hint))
            }
            Err(e @ crate::package::CodeError::Hidden { .. }) => self.err(
                c.mark,
                "code-path",
                format!("code path `{}`: {e}", c.v),
                Some(
                    "hidden files and folders of the project (`.git`, `.env`, `.aws`, ...) hold credentials, never \
                     code: point `code:` at the function's own files, and no symlink in them at a hidden place"
                        .into(),
                ),
            ),
            Err(e @ crate::package::CodeError::TooLarge { .. }) => self.err(
                c.mark,
                "code-size",
                format!("code path `{}`: {e}", c.v),
                Some("leave build outputs and data out of the function's folder, or use a layer".into()),
            ),
            Err(e) => self.err(c.mark, "code-path", format!("code path `{}` cannot be read: {e}", c.v), None),
        }
    }

    /// `log_retention_days`: one of the periods CloudWatch Logs takes
    /// (14 when absent); another is an error naming the nearest.
    fn log_retention(&mut self, v: &Option<Sp<u32>>) -> u32 {
        let Some(s) = v else { return 14 };
        if rules::LOG_RETENTION_DAYS.contains(&i64::from(s.v)) {
            return s.v;
        }
        let nearest =
            rules::LOG_RETENTION_DAYS.iter().copied().min_by_key(|d| (d - i64::from(s.v)).abs()).unwrap_or(14);
        let list: Vec<String> = rules::LOG_RETENTION_DAYS.iter().map(i64::to_string).collect();
        let path = s.named("log_retention_days");
        let d = Diagnostic::new(
            s.mark,
            "range",
            format!("`{path}` must be a retention period CloudWatch Logs takes, found {}", s.v),
        )
        .label("not a period CloudWatch Logs takes")
        .value(&s.v.to_string())
        .at_path(path)
        .hint(format!("did you mean {nearest}? CloudWatch Logs takes only {} days", list.join(", ")));
        self.diags.push(d);
        14
    }
}
