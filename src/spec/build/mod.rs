//! `RawSpec` -> `Spec`: defaults, interpolation, references and every rule
//! that can be checked without AWS. All problems are collected; the caller
//! gets the model only when there are none.

mod agent_data;
mod delivery;
mod functions;
mod hosts;
mod monitoring;
mod naming;
mod reach;
mod storage;

use super::decode::Sp;
use super::interp::{interpolate, Context, Interpolated, Ref, RefTable};
use super::model::*;
use super::raw::*;
use super::rules;
use super::yaml::Mark;
use crate::diag::{did_you_mean, Diagnostic};
use crate::names::Scope;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the command line adds to the spec.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub env: Option<String>,
    pub vars: BTreeMap<String, String>,
    pub region: Option<String>,
    pub account: Option<String>,
    /// `--code-root`: the project `code:` paths must stay inside.
    pub code_root: Option<std::path::PathBuf>,
    /// `--var-file`s, in the order given (read by `load`).
    pub var_files: Vec<std::path::PathBuf>,
    /// `PIPECTL_VAR_<NAME>` values, by NAME.
    pub env_vars: BTreeMap<String, String>,
    /// The physical names the deployment record lists, by address
    /// (`bucket.raw`): a bucket or dashboard an earlier pipectl named by
    /// its old default keeps that name (`docs/names.md`).
    pub recorded: BTreeMap<String, String>,
    /// The spec is read to take its deployment down (`destroy`, `plan
    /// --destroy`): what only stops a create or an update (a runtime
    /// Lambda does not have) is a warning.
    pub removing: bool,
}

/// Where each resource (`section.key`) and each generated name was written,
/// for errors found after validation.
pub type Origins = BTreeMap<String, Mark>;

pub struct Built {
    pub spec: Spec,
    pub origins: Origins,
    /// `${...}` references in function environments: function key -> targets.
    pub env_refs: BTreeMap<String, BTreeSet<Ref>>,
    /// What the spec reaches for beyond its own pipeline, for the
    /// operator's policy to decide on.
    pub reach: Vec<super::Reach>,
    /// The variables' values and where the spec uses them.
    pub vars: super::vars::Resolved,
    /// Addresses that keep the default name an earlier pipectl gave them
    /// (`bucket.raw` -> its name), as the deployment record lists it.
    pub kept: BTreeMap<String, String>,
}

pub fn build(raw: &RawSpec, opts: &Options, dir: &Path, diags: &mut Vec<Diagnostic>) -> Built {
    let mut b = Builder {
        opts,
        dir,
        code_root: crate::package::project_root(dir, opts.code_root.as_deref()),
        diags,
        pipeline: String::new(),
        env: opts.env.clone().unwrap_or_else(|| super::rules::NO_ENV.into()),
        region: None,
        refs: RefTable::new(),
        names: BTreeMap::new(),
        origins: Origins::new(),
        reach: Vec::new(),
        kept: BTreeMap::new(),
    };
    b.top(raw);
    b.all_names(raw);
    let spec = Spec {
        pipeline: b.pipeline.clone(),
        env: b.env.clone(),
        region: b.region.clone(),
        tags: b.tags(raw),
        buckets: b.buckets(raw),
        streams: b.streams(raw),
        databases: b.databases(raw),
        tables: b.tables(raw),
        firehoses: b.firehoses(raw),
        functions: BTreeMap::new(),
        agents: b.agents(raw),
        networks: b.networks(raw),
        dashboards: b.dashboards(raw),
        alarms: BTreeMap::new(),
        metric_filters: BTreeMap::new(),
        timeouts: b.timeouts(raw),
    };
    let mut spec = spec;
    let (functions, env_refs) = b.functions(raw);
    spec.functions = functions;
    spec.alarms = b.alarms(raw);
    spec.metric_filters = b.metric_filters(raw);
    b.cross_checks(raw, &spec);
    b.duplicate_names();
    b.reaches(raw, &spec);
    Built { spec, origins: b.origins, env_refs, reach: b.reach, vars: Default::default(), kept: b.kept }
}

/// Physical-name namespaces in which two resources must not share a name.
type Namespace = &'static str;

struct Builder<'a> {
    opts: &'a Options,
    dir: &'a Path,
    /// The project `code:` paths must stay inside.
    code_root: std::path::PathBuf,
    diags: &'a mut Vec<Diagnostic>,
    pipeline: String,
    env: String,
    region: Option<String>,
    refs: RefTable,
    names: BTreeMap<Namespace, Vec<(String, Mark, String)>>,
    origins: Origins,
    reach: Vec<super::Reach>,
    kept: BTreeMap<String, String>,
}

type S = Sp<String>;

impl Builder<'_> {
    fn err(&mut self, mark: Mark, rule: &'static str, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(mark, rule, message);
        d.hint = hint;
        self.diags.push(d);
    }

    /// An error with a fixed hint.
    fn bad(&mut self, mark: Mark, rule: &'static str, message: impl Into<String>, hint: &str) {
        self.err(mark, rule, message, Some(hint.to_string()));
    }

    fn ctx<'c>(&'c self, refs: Option<&'c RefTable>) -> Context<'c> {
        Context {
            pipeline: &self.pipeline,
            env: &self.env,
            region: self.region.as_deref(),
            account: self.opts.account.as_deref(),
            vars: &self.opts.vars,
            refs,
            secrets: false,
        }
    }

    fn interp(&mut self, s: &S, with_refs: bool) -> Option<Interpolated> {
        self.interp_with(s, with_refs, false)
    }

    /// Interpolates a function's environment value: references and secrets.
    fn interp_env(&mut self, s: &S) -> Option<Interpolated> {
        self.interp_with(s, true, true)
    }

    fn interp_with(&mut self, s: &S, with_refs: bool, secrets: bool) -> Option<Interpolated> {
        let refs = std::mem::take(&mut self.refs);
        let result = interpolate(&s.v, &Context { secrets, ..self.ctx(with_refs.then_some(&refs)) });
        self.refs = refs;
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(s.mark, e.rule, e.message, e.hint);
                None
            }
        }
    }

    /// Interpolates a string without references; on error the raw text.
    fn text(&mut self, s: &S) -> String {
        self.interp(s, false).map(|i| i.text).unwrap_or_else(|| s.v.clone())
    }

    /// Like `text`, for Glue names: `-` in `${pipeline}` and `${env}` becomes
    /// `_`, since Glue and Athena names cannot hold `-`.
    fn glue_text(&mut self, s: &S) -> String {
        let pipeline = self.pipeline.replace('-', "_");
        let env = self.env.replace('-', "_");
        let ctx = Context { pipeline: &pipeline, env: &env, ..self.ctx(None) };
        match interpolate(&s.v, &ctx) {
            Ok(i) => i.text,
            Err(e) => {
                self.err(s.mark, e.rule, e.message, e.hint);
                s.v.clone()
            }
        }
    }

    fn choice<T: Copy>(&mut self, v: &Option<S>, allowed: &[(&str, T)], default: T, what: &str) -> T {
        let Some(s) = v else { return default };
        if let Some((_, t)) = allowed.iter().find(|(k, _)| *k == s.v) {
            return *t;
        }
        let names: Vec<&str> = allowed.iter().map(|(k, _)| *k).collect();
        let hint = match did_you_mean(&s.v, names.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("use one of: {}", names.join(", ")),
        };
        let shown = crate::diag::value::quoted(&s.v);
        let message = match s.path.as_str() {
            "" => format!("{shown} is not a valid {what}"),
            path => format!("`{path}` must be one of {}, found {shown}", names.join(", ")),
        };
        let mut d = Diagnostic::new(s.mark, "enum", message).label(format!("not a valid {what}")).value(&s.v);
        if !s.path.is_empty() {
            d = d.at_path(&s.path);
        }
        self.diags.push(d.hint(hint));
        default
    }

    fn range<T>(&mut self, v: &Option<Sp<T>>, lo: T, hi: T, default: T, what: &str, hint: Option<&str>) -> T
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        let Some(s) = v else { return default };
        if s.v < lo || s.v > hi {
            let path = s.named(what);
            let mut d =
                Diagnostic::new(s.mark, "range", format!("`{path}` must be between {lo} and {hi}, found {}", s.v))
                    .label(format!("not between {lo} and {hi}"))
                    .value(&s.v.to_string());
            if !s.path.is_empty() {
                d = d.at_path(&s.path);
            }
            d.hint = hint.map(str::to_string);
            self.diags.push(d);
            return default;
        }
        s.v
    }

    /// ARNs as far as they are known offline (`${region}`, `${account}`
    /// stay symbolic until AWS is asked).
    /// A region checked against the partitions the SDK knows
    /// (`regions`): a name no partition has is an error, one named as a
    /// partition's are but not listed (opened since) a warning.
    fn region_check(&mut self, mark: Mark, what: &str, name: &str) {
        use super::regions::{check, Region, SDK_SOURCE};
        if name.contains("${") {
            // A template's symbolic region (`export`), not a name.
            return;
        }
        let shown = crate::diag::value::quoted(name);
        match check(name) {
            Region::Known => {}
            Region::Unlisted { partition } => self.diags.push(
                Diagnostic::new(mark, "region", format!("{what} {shown} is not a region the AWS SDK knows yet"))
                    .label(format!("not listed in the `{partition}` partition"))
                    .hint(format!(
                        "named as `{partition}` regions are, so it may have opened after {SDK_SOURCE}; check the name"
                    ))
                    .warning(),
            ),
            Region::Unknown { suggestion } => {
                let hint = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "for example `us-west-2`; `aws ec2 describe-regions` lists them".to_string(),
                };
                let d = Diagnostic::new(mark, "region", format!("{what} {shown} is not an AWS region"))
                    .label("no AWS partition has this region")
                    .value(name);
                self.diags.push(d.hint(hint));
            }
        }
    }

    fn scope(&self) -> Scope {
        Scope::new(self.region.as_deref().unwrap_or("${region}"), self.opts.account.as_deref().unwrap_or("${account}"))
    }

    fn top(&mut self, raw: &RawSpec) {
        match &raw.pipeline {
            Some(p) => {
                if let Err(msg) = rules::pipeline_name(&p.v) {
                    self.err(p.mark, "name", msg, Some("for example `pipeline: taxi-lab`".into()));
                }
                self.pipeline = p.v.clone();
            }
            None => self.pipeline = "pipeline".into(),
        }
        if let Some(env) = &self.opts.env {
            if let Err(msg) = rules::env_name(env) {
                self.err(raw.mark, "name", format!("--env: {msg}"), None);
            }
        }
        let spec_region = raw.region.as_ref().map(|r| {
            self.region_check(r.mark, "`region`", &r.v);
            r.v.clone()
        });
        if let Some(region) = &self.opts.region {
            self.region_check(Mark::default(), "--region", region);
        }
        self.region = self.opts.region.clone().or(spec_region);
        let keys = [
            &raw.buckets.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            &raw.streams.iter().map(|(k, _)| k).collect(),
            &raw.databases.iter().map(|(k, _)| k).collect(),
            &raw.tables.iter().map(|(k, _)| k).collect(),
            &raw.firehoses.iter().map(|(k, _)| k).collect(),
            &raw.functions.iter().map(|(k, _)| k).collect(),
            &raw.agents.iter().map(|(k, _)| k).collect(),
            &raw.networks.iter().map(|(k, _)| k).collect(),
            &raw.dashboards.iter().map(|(k, _)| k).collect(),
            &raw.alarms.iter().map(|(k, _)| k).collect(),
            &raw.metric_filters.iter().map(|(k, _)| k).collect(),
        ];
        for list in keys {
            for k in list.iter() {
                if let Err(msg) = rules::resource_key(&k.v) {
                    self.err(k.mark, "key", msg, None);
                }
            }
        }
        if raw.buckets.is_empty()
            && raw.streams.is_empty()
            && raw.firehoses.is_empty()
            && raw.functions.is_empty()
            && raw.pipeline.is_some()
        {
            self.bad(
                raw.mark,
                "empty",
                "the spec defines no bucket, stream, firehose or function",
                "add at least one resource section, e.g. `streams: { events: {} }`",
            );
        }
    }

    fn tags(&mut self, raw: &RawSpec) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &raw.tags {
            let lower = k.v.to_ascii_lowercase();
            if lower.starts_with("aws:") || lower.starts_with("pipectl:") {
                self.bad(
                    k.mark,
                    "tag",
                    format!("tag key `{}` uses a reserved prefix", k.v),
                    "`aws:` and `pipectl:` tags are set by AWS and pipectl",
                );
            } else if k.v.is_empty() || k.v.chars().count() > 128 {
                self.err(k.mark, "tag", format!("tag key `{}` must be 1 to 128 characters", k.v), None);
            }
            let value = self.text(v);
            if value.chars().count() > 256 {
                self.err(v.mark, "tag", "a tag value must be at most 256 characters", None);
            }
            out.insert(k.v.clone(), value);
        }
        if out.len() > 40 {
            self.bad(
                raw.mark,
                "tag",
                format!("{} tags are too many: AWS allows 50 per resource and pipectl adds its own", out.len()),
                "keep at most 40",
            );
        }
        out
    }

    fn name_of(&self, section: &str, key: &str) -> String {
        self.refs.get(&Ref { section: section.into(), key: key.into() }).map(|(n, _)| n.clone()).unwrap_or_default()
    }

    /// Rules that span resources.
    fn cross_checks(&mut self, raw: &RawSpec, spec: &Spec) {
        for (k, r) in &raw.firehoses {
            let Some(f) = spec.firehoses.get(&k.v) else {
                continue;
            };
            let Some(c) = &f.destination.convert else {
                continue;
            };
            let Some(t) = spec.tables.get(&c.table) else {
                continue;
            };
            let want = match c.format {
                ConvertFormat::Parquet => TableFormat::Parquet,
                ConvertFormat::Orc => TableFormat::Orc,
            };
            if t.format != want {
                let mark = r
                    .destination
                    .as_ref()
                    .and_then(|d| d.convert.as_ref())
                    .and_then(|c| c.table.as_ref())
                    .map_or(k.mark, |t| t.mark);
                self.err(
                    mark,
                    "convert-table-format",
                    format!(
                        "`firehoses.{}` converts to {} but table `{}` is stored as {}",
                        k.v,
                        fmt_convert(c.format),
                        c.table,
                        t.format.as_str()
                    ),
                    Some(format!(
                        "set `format: {}` on `tables.{}`, or convert to {}",
                        fmt_convert(c.format),
                        c.table,
                        t.format.as_str()
                    )),
                );
            }
        }
        for (k, r) in &raw.functions {
            let Some(f) = spec.functions.get(&k.v) else {
                continue;
            };
            if let Some(t) = &f.trigger {
                if f.writes.contains(&WriteTarget::Stream(t.stream.clone())) {
                    let mark = r.trigger.as_ref().map_or(k.mark, |t| t.mark);
                    self.err(mark, "trigger-loop", format!("`functions.{}` is triggered by stream `{}` and writes to it: every record would trigger another", k.v, t.stream), Some("write to a different stream or firehose".into()));
                }
            }
        }
    }

    fn duplicate_names(&mut self) {
        let names = std::mem::take(&mut self.names);
        for (ns, list) in names {
            let mut seen: BTreeMap<&str, &(String, Mark, String)> = BTreeMap::new();
            for entry in &list {
                if entry.0.is_empty() {
                    continue;
                }
                if let Some(first) = seen.get(entry.0.as_str()) {
                    self.bad(
                        entry.1,
                        "duplicate-name",
                        format!("{ns} name `{}` of `{}` is already used by `{}`", entry.0, entry.2, first.2),
                        "give one of them another `name:`",
                    );
                } else {
                    seen.insert(&entry.0, entry);
                }
            }
        }
    }
}

/// Kinds whose create, update or delete waits on AWS, and so can be given
/// a `timeouts:` entry.
pub const TIMED_KINDS: [&str; 7] = ["stream", "firehose", "function", "trigger", "agent", "network", "security_group"];

fn fmt_convert(f: ConvertFormat) -> &'static str {
    match f {
        ConvertFormat::Parquet => "parquet",
        ConvertFormat::Orc => "orc",
    }
}
