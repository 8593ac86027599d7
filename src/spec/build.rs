//! `RawSpec` -> `Spec`: defaults, interpolation, references and every rule
//! that can be checked without AWS. All problems are collected; the caller
//! gets the model only when there are none.

use super::decode::Sp;
use super::interp::{interpolate, Context, Interpolated, Ref, RefTable};
use super::model::*;
use super::raw::*;
use super::rules;
use super::yaml::Mark;
use crate::diag::{did_you_mean, Diagnostic};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the command line adds to the spec.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub env: Option<String>,
    pub vars: BTreeMap<String, String>,
    pub region: Option<String>,
    pub account: Option<String>,
}

/// Where each resource (`section.key`) and each generated name was written,
/// for errors found after validation.
pub type Origins = BTreeMap<String, Mark>;

pub struct Built {
    pub spec: Spec,
    pub origins: Origins,
    /// `${...}` references in function environments: function key -> targets.
    pub env_refs: BTreeMap<String, BTreeSet<Ref>>,
}

pub fn build(raw: &RawSpec, opts: &Options, dir: &Path, diags: &mut Vec<Diagnostic>) -> Built {
    let mut b = Builder {
        opts,
        dir,
        diags,
        pipeline: String::new(),
        env: opts.env.clone().unwrap_or_else(|| "default".into()),
        region: None,
        refs: RefTable::new(),
        names: BTreeMap::new(),
        origins: Origins::new(),
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
        timeouts: b.timeouts(raw),
    };
    let mut spec = spec;
    let (functions, env_refs) = b.functions(raw);
    spec.functions = functions;
    spec.alarms = b.alarms(raw);
    b.cross_checks(raw, &spec);
    b.duplicate_names();
    Built { spec, origins: b.origins, env_refs }
}

/// Physical-name namespaces in which two resources must not share a name.
type Namespace = &'static str;

struct Builder<'a> {
    opts: &'a Options,
    dir: &'a Path,
    diags: &'a mut Vec<Diagnostic>,
    pipeline: String,
    env: String,
    region: Option<String>,
    refs: RefTable,
    names: BTreeMap<Namespace, Vec<(String, Mark, String)>>,
    origins: Origins,
}

type S = Sp<String>;

impl Builder<'_> {
    fn err(&mut self, mark: Mark, rule: &'static str, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(mark, rule, message);
        d.hint = hint;
        self.diags.push(d);
    }

    fn ctx<'c>(&'c self, refs: Option<&'c RefTable>) -> Context<'c> {
        Context {
            pipeline: &self.pipeline,
            env: &self.env,
            region: self.region.as_deref(),
            account: self.opts.account.as_deref(),
            vars: &self.opts.vars,
            refs,
        }
    }

    fn interp(&mut self, s: &S, with_refs: bool) -> Option<Interpolated> {
        let refs = std::mem::take(&mut self.refs);
        let result = interpolate(&s.v, &self.ctx(with_refs.then_some(&refs)));
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
        self.err(s.mark, "enum", format!("`{}` is not a valid {what}", s.v), Some(hint));
        default
    }

    fn range<T>(&mut self, v: &Option<Sp<T>>, lo: T, hi: T, default: T, what: &str, hint: Option<&str>) -> T
    where
        T: Copy + PartialOrd + std::fmt::Display,
    {
        let Some(s) = v else { return default };
        if s.v < lo || s.v > hi {
            self.err(
                s.mark,
                "range",
                format!("{what} must be between {lo} and {hi}; it is {}", s.v),
                hint.map(str::to_string),
            );
            return default;
        }
        s.v
    }

    fn check_name(&mut self, name: &str, mark: Mark, check: fn(&str) -> Result<(), String>, hint: &str) {
        if let Err(msg) = check(&rules::with_sample_placeholders(name)) {
            self.err(mark, "name", msg, Some(hint.to_string()));
        }
    }

    fn register(&mut self, ns: Namespace, name: &str, mark: Mark, path: String) {
        self.names.entry(ns).or_default().push((name.to_string(), mark, path));
    }

    /// The physical name of `section.key`: the interpolated `name:` or
    /// `<pipeline>-<key>[-<env>]`.
    #[allow(clippy::too_many_arguments)]
    fn physical_name(
        &mut self,
        section: &str,
        key: &S,
        raw: &Option<S>,
        default: String,
        check: fn(&str) -> Result<(), String>,
        ns: Namespace,
        env_scoped: bool,
    ) -> String {
        let path = format!("{section}.{}", key.v);
        self.origins.insert(path.clone(), key.mark);
        let (name, mark) = match raw {
            Some(n) => {
                let glue = ns == "glue database" || section == "tables";
                if env_scoped && self.opts.env.is_some() && !n.v.contains("${env}") {
                    self.err(
                        n.mark,
                        "env-name",
                        format!("`{path}` has a fixed name `{}` without `${{env}}`, but `--env` is given", n.v),
                        Some("two environments would collide: add `${env}` to the name, or drop `name:` to use the default".into()),
                    );
                }
                let text = if glue { self.glue_text(n) } else { self.text(n) };
                (text, n.mark)
            }
            None => (default, key.mark),
        };
        self.check_name(&name, mark, check, &format!("set `{path}.name`, or shorten the pipeline or key"));
        if !ns.is_empty() {
            self.register(ns, &name, mark, path);
        }
        name
    }

    fn default_name(&self, key: &str) -> String {
        match &self.opts.env {
            Some(env) => format!("{}-{key}-{env}", self.pipeline),
            None => format!("{}-{key}", self.pipeline),
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        let region = self.region.as_deref().unwrap_or("${region}");
        let account = self.opts.account.as_deref().unwrap_or("${account}");
        format!("arn:aws:{service}:{region}:{account}:{resource}")
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
            if !is_region(&r.v) {
                self.err(
                    r.mark,
                    "region",
                    format!("`{}` is not an AWS region name", r.v),
                    Some("for example `us-west-2`".into()),
                );
            }
            r.v.clone()
        });
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
            self.err(
                raw.mark,
                "empty",
                "the spec defines no bucket, stream, firehose or function",
                Some("add at least one resource section, e.g. `streams: { events: {} }`".into()),
            );
        }
    }

    /// Physical names of every resource, and the reference table.
    fn all_names(&mut self, raw: &RawSpec) {
        for (k, r) in &raw.buckets {
            let n =
                self.physical_name("buckets", k, &r.name, self.default_name(&k.v), rules::bucket_name, "bucket", true);
            let arn = format!("arn:aws:s3:::{n}");
            self.add_ref("buckets", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.streams {
            let n =
                self.physical_name("streams", k, &r.name, self.default_name(&k.v), rules::stream_name, "stream", true);
            let arn = self.arn("kinesis", &format!("stream/{n}"));
            self.add_ref("streams", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.databases {
            let default = self.default_name(&k.v).replace('-', "_").to_ascii_lowercase();
            let n = self.physical_name("databases", k, &r.name, default, rules::glue_name, "glue database", true);
            let arn = self.arn("glue", &format!("database/{n}"));
            self.add_ref("databases", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.firehoses {
            let n = self.physical_name(
                "firehoses",
                k,
                &r.name,
                self.default_name(&k.v),
                rules::firehose_name,
                "firehose",
                true,
            );
            let arn = self.arn("firehose", &format!("deliverystream/{n}"));
            self.add_ref("firehoses", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.functions {
            let n = self.physical_name(
                "functions",
                k,
                &r.name,
                self.default_name(&k.v),
                rules::function_name,
                "function",
                true,
            );
            let arn = self.arn("lambda", &format!("function:{n}"));
            self.add_ref("functions", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.agents {
            let n = self.physical_name("agents", k, &r.name, self.default_name(&k.v), rules::name_tag, "agent", true);
            self.add_ref("agents", &k.v, n, None);
        }
        for (k, r) in &raw.networks {
            let n =
                self.physical_name("networks", k, &r.name, self.default_name(&k.v), rules::name_tag, "network", true);
            self.add_ref("networks", &k.v, n, None);
        }
        for (k, r) in &raw.dashboards {
            let n = self.physical_name(
                "dashboards",
                k,
                &r.name,
                self.default_name(&k.v),
                rules::dashboard_name,
                "dashboard",
                true,
            );
            let arn =
                format!("arn:aws:cloudwatch::{}:dashboard/{n}", self.opts.account.as_deref().unwrap_or("${account}"));
            self.add_ref("dashboards", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.alarms {
            let n = self.physical_name("alarms", k, &r.name, self.default_name(&k.v), rules::alarm_name, "alarm", true);
            let arn = self.arn("cloudwatch", &format!("alarm:{n}"));
            self.add_ref("alarms", &k.v, n, Some(arn));
        }
        // Tables live inside their database: their names need no env.
        for (k, r) in &raw.tables {
            let default = k.v.replace('-', "_").to_ascii_lowercase();
            let n = self.physical_name("tables", k, &r.name, default, rules::glue_name, "", false);
            let db = r
                .database
                .as_ref()
                .and_then(|d| self.refs.get(&Ref { section: "databases".into(), key: d.v.clone() }))
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            self.register(
                "glue table",
                &format!("{db}.{n}"),
                r.name.as_ref().map_or(k.mark, |n| n.mark),
                format!("tables.{}", k.v),
            );
            let arn = self.arn("glue", &format!("table/{db}/{n}"));
            self.add_ref("tables", &k.v, n, Some(arn));
        }
    }

    fn add_ref(&mut self, section: &str, key: &str, name: String, arn: Option<String>) {
        self.refs.insert(Ref { section: section.into(), key: key.into() }, (name, arn));
    }

    /// The key of a referenced resource, if it is defined in `section`.
    fn reference(&mut self, s: &S, section: &str, what: &str) -> Option<String> {
        let r = Ref { section: section.into(), key: s.v.clone() };
        if self.refs.contains_key(&r) {
            return Some(s.v.clone());
        }
        let keys: Vec<String> = self.refs.keys().filter(|k| k.section == section).map(|k| k.key.clone()).collect();
        let hint = match did_you_mean(&s.v, keys.iter().map(String::as_str)) {
            Some(m) => format!("did you mean `{m}`?"),
            None if keys.is_empty() => format!("the spec defines no {section}"),
            None => format!("defined {section}: {}", keys.join(", ")),
        };
        self.err(
            s.mark,
            "undefined-reference",
            format!("{what} `{}` is not defined under `{section}`", s.v),
            Some(hint),
        );
        None
    }

    fn generated_name(
        &mut self,
        ns: Namespace,
        name: String,
        mark: Mark,
        path: String,
        check: fn(&str) -> Result<(), String>,
    ) -> String {
        self.check_name(&name, mark, check, &format!("this name is generated for `{path}`: shorten its name"));
        self.register(ns, &name, mark, path);
        name
    }

    fn tags(&mut self, raw: &RawSpec) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &raw.tags {
            let lower = k.v.to_ascii_lowercase();
            if lower.starts_with("aws:") || lower.starts_with("pipectl:") {
                self.err(
                    k.mark,
                    "tag",
                    format!("tag key `{}` uses a reserved prefix", k.v),
                    Some("`aws:` and `pipectl:` tags are set by AWS and pipectl".into()),
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
            self.err(
                raw.mark,
                "tag",
                format!("{} tags are too many: AWS allows 50 per resource and pipectl adds its own", out.len()),
                Some("keep at most 40".into()),
            );
        }
        out
    }

    fn name_of(&self, section: &str, key: &str) -> String {
        self.refs.get(&Ref { section: section.into(), key: key.into() }).map(|(n, _)| n.clone()).unwrap_or_default()
    }

    fn buckets(&mut self, raw: &RawSpec) -> BTreeMap<String, Bucket> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.buckets {
            let on_destroy = self.choice(
                &r.on_destroy,
                &[("retain", OnDestroy::Retain), ("delete", OnDestroy::Delete)],
                OnDestroy::Retain,
                "on_destroy (retain | delete)",
            );
            out.insert(k.v.clone(), Bucket { name: self.name_of("buckets", &k.v), on_destroy });
        }
        out
    }

    fn streams(&mut self, raw: &RawSpec) -> BTreeMap<String, Stream> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.streams {
            let on_demand = self.choice(
                &r.mode,
                &[("provisioned", false), ("on_demand", true)],
                false,
                "stream mode (provisioned | on_demand)",
            );
            let mode = if on_demand {
                if let Some(s) = &r.shards {
                    self.err(
                        s.mark,
                        "shards-on-demand",
                        "`shards` applies only to provisioned streams",
                        Some("remove `shards`, or set `mode: provisioned`".into()),
                    );
                }
                StreamMode::OnDemand
            } else {
                StreamMode::Provisioned {
                    shards: self.range(
                        &r.shards,
                        1,
                        10_000,
                        1,
                        "shards",
                        Some("a provisioned stream needs at least one shard"),
                    ),
                }
            };
            let retention_hours = self.range(
                &r.retention_hours,
                24,
                8760,
                24,
                "retention_hours",
                Some("Kinesis keeps records 24 hours to 365 days"),
            );
            let encryption = self.choice(
                &r.encryption,
                &[("kms", StreamEncryption::Kms), ("none", StreamEncryption::None)],
                StreamEncryption::Kms,
                "stream encryption (kms | none)",
            );
            out.insert(k.v.clone(), Stream { name: self.name_of("streams", &k.v), mode, retention_hours, encryption });
        }
        out
    }

    fn databases(&mut self, raw: &RawSpec) -> BTreeMap<String, Database> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.databases {
            let description = r.description.as_ref().map(|d| self.text(d));
            out.insert(k.v.clone(), Database { name: self.name_of("databases", &k.v), description });
        }
        out
    }

    fn tables(&mut self, raw: &RawSpec) -> BTreeMap<String, Table> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.tables {
            let database =
                r.database.as_ref().and_then(|d| self.reference(d, "databases", "database")).unwrap_or_default();
            let (bucket, prefix) = match &r.location {
                Some(l) => {
                    let bucket =
                        l.bucket.as_ref().and_then(|b| self.reference(b, "buckets", "bucket")).unwrap_or_default();
                    let prefix = l.prefix.as_ref().map(|p| self.text(p)).unwrap_or_default();
                    if prefix.starts_with('/') {
                        let mark = l.prefix.as_ref().map_or(l.mark, |p| p.mark);
                        self.err(
                            mark,
                            "prefix",
                            "a table location prefix must not start with `/`",
                            Some("write `nyctaxitrips/`, not `/nyctaxitrips/`".into()),
                        );
                    }
                    (bucket, prefix)
                }
                None => Default::default(),
            };
            let format = self.choice(
                &r.format,
                &[("parquet", TableFormat::Parquet), ("orc", TableFormat::Orc), ("json", TableFormat::Json)],
                TableFormat::Parquet,
                "table format (parquet | orc | json)",
            );
            let columns = self.columns(&r.columns, "column");
            if r.columns.is_empty() {
                self.err(
                    r.mark,
                    "columns",
                    format!("`tables.{}` has no columns", k.v),
                    Some("add `columns: { name: type, ... }`".into()),
                );
            }
            let partition_keys = self.columns(&r.partition_keys, "partition key");
            for (pk, _) in &r.partition_keys {
                if r.columns.iter().any(|(c, _)| c.v.eq_ignore_ascii_case(&pk.v)) {
                    self.err(
                        pk.mark,
                        "partition-key-column",
                        format!("`{}` is both a column and a partition key", pk.v),
                        Some("a partition key is a virtual column: remove it from `columns`".into()),
                    );
                }
            }
            let description = r.description.as_ref().map(|d| self.text(d));
            out.insert(
                k.v.clone(),
                Table {
                    name: self.name_of("tables", &k.v),
                    database,
                    bucket,
                    prefix,
                    format,
                    columns,
                    partition_keys,
                    description,
                },
            );
        }
        out
    }

    fn columns(&mut self, raw: &[(S, S)], what: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, ty) in raw {
            if rules::glue_name(&name.v).is_err() {
                self.err(
                    name.mark,
                    "column-name",
                    format!("{what} name `{}` must be lower-case letters, digits and `_`", name.v),
                    Some("Glue stores column names in lower case; Athena needs `[a-z0-9_]`".into()),
                );
            }
            if let Err(msg) = rules::hive_type(&ty.v) {
                let prims = [
                    "boolean",
                    "tinyint",
                    "smallint",
                    "int",
                    "bigint",
                    "float",
                    "double",
                    "decimal",
                    "string",
                    "varchar",
                    "char",
                    "date",
                    "timestamp",
                    "binary",
                    "array",
                    "map",
                    "struct",
                ];
                let hint = match did_you_mean(&ty.v, prims) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => {
                        "use a Hive type: string, int, bigint, double, timestamp, decimal(p,s), array<T>, ...".into()
                    }
                };
                self.err(ty.mark, "column-type", msg, Some(hint));
            }
            out.push((name.v.clone(), ty.v.trim().to_ascii_lowercase()));
        }
        out
    }

    fn firehoses(&mut self, raw: &RawSpec) -> BTreeMap<String, Firehose> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.firehoses {
            let path = format!("firehoses.{}", k.v);
            let source = match &r.source {
                Some(Sp { v: RawSource::Stream(s), .. }) => {
                    FirehoseSource::Stream(self.reference(s, "streams", "source stream").unwrap_or_default())
                }
                _ => FirehoseSource::Direct,
            };
            let processor = r.processor.as_ref().and_then(|p| self.reference(p, "functions", "processor function"));
            let Some(d) = &r.destination else { continue };
            let destination = self.destination(d, &path, &source);
            let name = self.name_of("firehoses", &k.v);
            if destination.error_logging {
                self.generated_name(
                    "log group",
                    format!("/aws/kinesisfirehose/{name}"),
                    k.mark,
                    path.clone(),
                    rules::log_group_name,
                );
            }
            self.generated_name("role", format!("{name}-firehose"), k.mark, path, rules::role_name);
            let policy = self.statements(&r.policy);
            out.insert(k.v.clone(), Firehose { name, source, destination, processor, policy });
        }
        out
    }

    fn destination(&mut self, d: &RawDestination, path: &str, source: &FirehoseSource) -> Destination {
        let bucket =
            d.bucket.as_ref().and_then(|b| self.reference(b, "buckets", "destination bucket")).unwrap_or_default();
        let convert = d.convert.as_ref().map(|c| {
            let format = self.choice(
                &c.format,
                &[("parquet", ConvertFormat::Parquet), ("orc", ConvertFormat::Orc)],
                ConvertFormat::Parquet,
                "conversion format (parquet | orc)",
            );
            let table =
                c.table.as_ref().and_then(|t| self.reference(t, "tables", "conversion table")).unwrap_or_default();
            let allowed: &[(&str, ColumnarCompression)] = match format {
                ConvertFormat::Parquet => &[
                    ("snappy", ColumnarCompression::Snappy),
                    ("gzip", ColumnarCompression::Gzip),
                    ("uncompressed", ColumnarCompression::Uncompressed),
                ],
                ConvertFormat::Orc => &[
                    ("snappy", ColumnarCompression::Snappy),
                    ("zlib", ColumnarCompression::Zlib),
                    ("none", ColumnarCompression::Uncompressed),
                ],
            };
            let compression =
                self.choice(&c.compression, allowed, ColumnarCompression::Snappy, "Parquet/ORC compression");
            Convert { format, table, compression }
        });
        let default_size = if convert.is_some() { 128 } else { 5 };
        let (size, interval) = match &d.buffer {
            Some(b) => (
                self.range(&b.size_mb, 1, 128, default_size, "buffer.size_mb", Some("Firehose buffers 1 to 128 MiB")),
                self.range(
                    &b.interval_seconds,
                    0,
                    900,
                    300,
                    "buffer.interval_seconds",
                    Some("Firehose buffers 0 to 900 seconds"),
                ),
            ),
            None => (default_size, 300),
        };
        let compression = self.choice(
            &d.compression,
            &Compression::ALL,
            Compression::Uncompressed,
            "compression (uncompressed | gzip | snappy | zip | hadoop_snappy)",
        );
        if let (Some(c), Some(rc)) = (&convert, &d.convert) {
            if size < 64 {
                let mark = d.buffer.as_ref().and_then(|b| b.size_mb.as_ref()).map_or(rc.mark, |s| s.mark);
                self.err(
                    mark,
                    "convert-buffer",
                    format!(
                        "`{path}` converts to {} but buffers {size} MiB; conversion needs at least 64 MiB",
                        fmt_convert(c.format)
                    ),
                    Some("set `buffer: { size_mb: 64 }` or more (AWS rejects less at create time)".into()),
                );
            }
            if compression != Compression::Uncompressed {
                let mark = d.compression.as_ref().map_or(rc.mark, |s| s.mark);
                self.err(mark, "convert-compression", format!("`{path}` converts to {} with S3 compression `{}`; conversion needs `uncompressed`", fmt_convert(c.format), d.compression.as_ref().map_or("", |s| s.v.as_str())), Some("remove `compression`; set `convert.compression` to compress inside the files (Parquet defaults to snappy)".into()));
            }
        }
        let prefix = d.prefix.as_ref().map(|p| self.text(p));
        let error_prefix = d.error_prefix.as_ref().map(|p| self.text(p));
        if let (Some(p), Some(raw)) = (&prefix, &d.prefix) {
            self.check_prefix(p, raw.mark, false);
            let has_ts = rules::prefix_expressions(p).unwrap_or_default().iter().any(|(ns, _)| ns == "timestamp");
            if has_ts && error_prefix.is_none() {
                self.err(
                    raw.mark,
                    "error-prefix-required",
                    format!("`{path}.prefix` uses `!{{timestamp:...}}`, which needs an `error_prefix`"),
                    Some("add `error_prefix: \"errors/!{firehose:error-output-type}/\"`".into()),
                );
            }
        }
        if let (Some(p), Some(raw)) = (&error_prefix, &d.error_prefix) {
            self.check_prefix(p, raw.mark, true);
        }
        let encryption = d.encryption.as_ref().map(|e| {
            let on = self.choice(
                &Some(e.clone()),
                &[("aws_owned", true), ("none", false)],
                false,
                "firehose encryption (aws_owned | none)",
            );
            if on && matches!(source, FirehoseSource::Stream(_)) {
                self.err(
                    e.mark,
                    "encryption-source",
                    "server-side encryption of the delivery stream applies only to `source: direct`",
                    Some("a stream-sourced delivery stream is protected by the stream's own encryption".into()),
                );
            }
            on
        });
        Destination {
            bucket,
            prefix,
            error_prefix,
            buffer_size_mb: size,
            buffer_interval_seconds: interval,
            compression,
            convert,
            error_logging: d.error_logging.as_ref().is_none_or(|e| e.v),
            encryption: encryption.unwrap_or(false),
        }
    }

    fn check_prefix(&mut self, prefix: &str, mark: Mark, is_error_prefix: bool) {
        if prefix.len() > 1024 {
            self.err(mark, "prefix", "a Firehose prefix must be at most 1024 bytes", None);
        }
        let exprs = match rules::prefix_expressions(prefix) {
            Ok(e) => e,
            Err(msg) => {
                self.err(mark, "prefix", msg, None);
                return;
            }
        };
        for (ns, value) in exprs {
            match (ns.as_str(), value.as_str()) {
                ("timestamp", v) if !v.is_empty() => {}
                ("firehose", "random-string") => {}
                ("firehose", "error-output-type") if is_error_prefix => {}
                ("firehose", "error-output-type") => self.err(mark, "error-output-type", "`!{firehose:error-output-type}` may be used only in `error_prefix`", Some("move it to `error_prefix`".into())),
                ("partitionKeyFromQuery" | "partitionKeyFromLambda", _) => self.err(mark, "prefix", format!("`!{{{ns}:...}}` needs dynamic partitioning, which pipectl does not support yet"), Some("use `!{timestamp:...}` expressions".into())),
                _ => self.err(mark, "prefix", format!("`!{{{ns}:{value}}}` is not a Firehose prefix expression"), Some("use `!{timestamp:<format>}`, `!{firehose:random-string}`, or `!{firehose:error-output-type}` in error_prefix".into())),
            }
        }
    }

    fn functions(&mut self, raw: &RawSpec) -> (BTreeMap<String, Function>, BTreeMap<String, BTreeSet<Ref>>) {
        let mut out = BTreeMap::new();
        let mut all_refs = BTreeMap::new();
        for (k, r) in &raw.functions {
            let path = format!("functions.{}", k.v);
            let name = self.name_of("functions", &k.v);
            self.generated_name("role", format!("{name}-lambda"), k.mark, path.clone(), rules::role_name);
            self.generated_name(
                "log group",
                format!("/aws/lambda/{name}"),
                k.mark,
                path.clone(),
                rules::log_group_name,
            );
            let runtime = match &r.runtime {
                Some(rt) if rules::RUNTIMES.contains(&rt.v.as_str()) => rt.v.clone(),
                Some(rt) => {
                    let hint = match did_you_mean(&rt.v, rules::RUNTIMES) {
                        Some(m) => format!("did you mean `{m}`?"),
                        None => format!("supported: {}", rules::RUNTIMES.join(", ")),
                    };
                    self.err(
                        rt.mark,
                        "runtime",
                        format!("runtime `{}` is not supported by Lambda for new functions", rt.v),
                        Some(hint),
                    );
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
                        self.err(
                            h.mark,
                            "handler",
                            format!("handler `{}` must be `<file>.<function>`", h.v),
                            Some("for example `filter_to_firehose.handler`".into()),
                        );
                    }
                    h.v.clone()
                })
                .unwrap_or_default();
            let memory_mb =
                self.range(&r.memory_mb, 128, 10240, 128, "memory_mb", Some("Lambda allows 128 to 10240 MB"));
            let timeout_seconds =
                self.range(&r.timeout_seconds, 1, 900, 3, "timeout_seconds", Some("Lambda allows 1 to 900 seconds"));
            let log_retention_days = self.range(&r.log_retention_days, 1, 3653, 14, "log_retention_days", None);
            let mut environment = BTreeMap::new();
            let mut refs = BTreeSet::new();
            let mut env_size = 0;
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
                if RESERVED_ENV.contains(&ek.v.as_str()) {
                    self.err(
                        ek.mark,
                        "environment",
                        format!("`{}` is reserved by Lambda", ek.v),
                        Some("choose another name".into()),
                    );
                }
                if let Some(i) = self.interp(ev, true) {
                    env_size += ek.v.len() + i.text.len();
                    refs.extend(i.refs);
                    environment.insert(ek.v.clone(), i.text);
                }
            }
            if env_size > 4096 {
                self.err(
                    r.mark,
                    "environment",
                    format!("the environment of `{path}` is {env_size} bytes; Lambda allows 4 KB"),
                    None,
                );
            }
            let mut writes = Vec::new();
            for w in &r.writes {
                let target = match w.v.split_once('.') {
                    Some(("firehoses", key)) => self
                        .reference(&Sp { v: key.to_string(), mark: w.mark }, "firehoses", "written firehose")
                        .map(WriteTarget::Firehose),
                    Some(("streams", key)) => self
                        .reference(&Sp { v: key.to_string(), mark: w.mark }, "streams", "written stream")
                        .map(WriteTarget::Stream),
                    _ => {
                        self.err(
                            w.mark,
                            "writes",
                            format!("`{}` is not something a function can write to", w.v),
                            Some("write `firehoses.<key>` or `streams.<key>`".into()),
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
                    runtime,
                    code,
                    handler,
                    memory_mb,
                    timeout_seconds,
                    environment,
                    writes,
                    trigger,
                    log_retention_days,
                    policy: self.statements(&r.policy),
                },
            );
        }
        (out, all_refs)
    }

    /// `policy:` statements: actions `service:Action` (wildcards allowed in
    /// the action part), resources ARNs (with `${...}` references) or `*`.
    fn statements(&mut self, raw: &[RawStatement]) -> Vec<Statement> {
        let mut out = Vec::new();
        for st in raw {
            if st.actions.is_empty() || st.resources.is_empty() {
                self.err(st.mark, "policy", "a statement needs at least one action and one resource", None);
                continue;
            }
            for a in &st.actions {
                let ok = a.v.split_once(':').is_some_and(|(svc, act)| {
                    !svc.is_empty()
                        && svc.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !act.is_empty()
                        && act.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
                });
                if !ok {
                    self.err(
                        a.mark,
                        "policy",
                        format!("`{}` is not an IAM action", a.v),
                        Some("write `service:Action`, e.g. `s3:GetObject`".into()),
                    );
                }
            }
            let mut resources = Vec::new();
            for r in &st.resources {
                let text = self.interp(r, true).map(|i| i.text).unwrap_or_else(|| r.v.clone());
                if text != "*" && !text.starts_with("arn:") {
                    self.err(
                        r.mark,
                        "policy",
                        format!("`{text}` is neither an ARN nor `*`"),
                        Some("e.g. `arn:aws:s3:::bucket/*` or `${buckets.lake.arn}`".into()),
                    );
                }
                resources.push(text);
            }
            out.push(Statement { actions: st.actions.iter().map(|a| a.v.clone()).collect(), resources });
        }
        out
    }

    fn trigger(&mut self, t: &RawTrigger) -> Trigger {
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
                                "on_failure.max_record_age_seconds must be -1 or between 60 and 604800; it is {}",
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

    fn agents(&mut self, raw: &RawSpec) -> BTreeMap<String, Agent> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.agents {
            let path = format!("agents.{}", k.v);
            let name = self.name_of("agents", &k.v);
            self.generated_name("role", format!("{name}-agent"), k.mark, path.clone(), rules::role_name);
            let instance_type = match &r.instance_type {
                Some(t) => {
                    let ok = t.v.split_once('.').is_some_and(|(f, s)| {
                        !f.is_empty()
                            && !s.is_empty()
                            && t.v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                    });
                    if !ok {
                        self.err(
                            t.mark,
                            "instance-type",
                            format!("`{}` is not an EC2 instance type", t.v),
                            Some("for example `t3.small`".into()),
                        );
                    }
                    t.v.clone()
                }
                None => "t3.small".into(),
            };
            let ami = match &r.ami {
                None => Ami::Al2023,
                Some(a) if a.v == "al2023" => Ami::Al2023,
                Some(a) => {
                    let id_ok =
                        a.v.strip_prefix("ami-")
                            .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()));
                    if !id_ok {
                        self.err(
                            a.mark,
                            "ami",
                            format!("`{}` is neither `al2023` nor an AMI id", a.v),
                            Some("write `al2023` for the latest Amazon Linux 2023, or `ami-0123456789abcdef0`".into()),
                        );
                    }
                    Ami::Id(a.v.clone())
                }
            };
            let subnet = match &r.subnet {
                None => SubnetChoice::Default,
                Some(Sp { v: RawSubnet::Named(s), .. }) if s.v == "default" => SubnetChoice::Default,
                Some(Sp { v: RawSubnet::Named(s), .. }) => {
                    let id_ok =
                        s.v.strip_prefix("subnet-")
                            .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()));
                    if !id_ok {
                        self.err(
                            s.mark,
                            "subnet",
                            format!("`{}` is not `default`, a subnet id, or `{{ network, tier }}`", s.v),
                            Some("for example `subnet: { network: lab, tier: public }`".into()),
                        );
                    }
                    SubnetChoice::Id(s.v.clone())
                }
                Some(Sp { v: RawSubnet::Network { network, tier }, .. }) => {
                    let network =
                        network.as_ref().and_then(|n| self.reference(n, "networks", "network")).unwrap_or_default();
                    let tier_v = self.choice(
                        tier,
                        &[("public", Tier::Public), ("private", Tier::Private)],
                        Tier::Public,
                        "subnet tier (public | private)",
                    );
                    if tier_v == Tier::Private {
                        let nat = raw
                            .networks
                            .iter()
                            .find(|(nk, _)| nk.v == network)
                            .and_then(|(_, n)| n.nat_gateway.as_ref())
                            .is_some_and(|n| n.v);
                        if !nat {
                            let mark = tier.as_ref().map_or(k.mark, |t| t.mark);
                            self.err(mark, "private-subnet", format!("`{path}` is in a private subnet of `networks.{network}`, which has no NAT gateway: the agent could not reach Kinesis"), Some("use `tier: public`, or set `nat_gateway: true` on the network (billed by the hour)".into()));
                        }
                    }
                    SubnetChoice::Network { network, tier: tier_v }
                }
            };
            if r.flows.is_empty() && raw.agents.iter().any(|(a, _)| a.v == k.v) {
                // Missing `flows` was reported while decoding; an empty list here.
                if !self.diags.iter().any(|d| d.mark == r.mark && d.rule == "missing-field") {
                    self.err(
                        r.mark,
                        "flows",
                        format!("`{path}` has no flows"),
                        Some("add `flows: [{ file_pattern: \"/tmp/*.csv*\", stream: <key> }]`".into()),
                    );
                }
            }
            let mut flows = Vec::new();
            for f in &r.flows {
                let stream =
                    f.stream.as_ref().and_then(|s| self.reference(s, "streams", "flow stream")).unwrap_or_default();
                let partition_key = self.choice(
                    &f.partition_key,
                    &[("random", "RANDOM"), ("deterministic", "DETERMINISTIC")],
                    "RANDOM",
                    "partition key (random | deterministic)",
                );
                let initial_position = self.choice(
                    &f.initial_position,
                    &[("start_of_file", InitialPosition::StartOfFile), ("end_of_file", InitialPosition::EndOfFile)],
                    InitialPosition::StartOfFile,
                    "initial position (start_of_file | end_of_file)",
                );
                let csv_to_json = f.csv_to_json.as_ref().map(|c| {
                    if c.fields.is_empty() {
                        self.err(
                            c.mark,
                            "csv-fields",
                            "`csv_to_json` needs the field names",
                            Some("`csv_to_json: { fields: [a, b, c] }`".into()),
                        );
                    }
                    let delimiter = c.delimiter.as_ref().map_or(",".to_string(), |d| d.v.clone());
                    CsvToJson { fields: c.fields.iter().map(|f| f.v.clone()).collect(), delimiter }
                });
                let file_pattern = f
                    .file_pattern
                    .as_ref()
                    .map(|p| {
                        if !p.v.starts_with('/') {
                            self.err(
                                p.mark,
                                "file-pattern",
                                format!("file pattern `{}` must be an absolute path", p.v),
                                Some("for example `/tmp/*.csv*`".into()),
                            );
                        }
                        p.v.clone()
                    })
                    .unwrap_or_default();
                flows.push(Flow {
                    file_pattern,
                    stream,
                    partition_key: partition_key.to_string(),
                    initial_position,
                    csv_to_json,
                });
            }
            let ssh = r.ssh.as_ref().map(|s| {
                let cidr = s.cidr.as_ref().map(|c| c.v.clone()).unwrap_or_default();
                if let Some(c) = &s.cidr {
                    match rules::ipv4_cidr(&c.v) {
                        Err(msg) => self.err(c.mark, "cidr", msg, None),
                        Ok(0) if !s.allow_world.as_ref().is_some_and(|a| a.v) => self.err(
                            c.mark,
                            "ssh-world",
                            "SSH from 0.0.0.0/0 opens the host to the whole internet",
                            Some("narrow the range, or set `allow_world: true` if you mean it".into()),
                        ),
                        Ok(_) => {}
                    }
                }
                Ssh { cidr, key_name: s.key_name.as_ref().map(|k| k.v.clone()) }
            });
            let policy = self.statements(&r.policy);
            out.insert(k.v.clone(), Agent { name, instance_type, ami, subnet, flows, ssh, policy });
        }
        out
    }

    fn networks(&mut self, raw: &RawSpec) -> BTreeMap<String, Network> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.networks {
            let zones = self.range(&r.zones, 1, 6, 2, "zones", None);
            let cidr = r
                .cidr
                .as_ref()
                .map(|c| {
                    match rules::ipv4_cidr(&c.v) {
                        Ok(len) if !(16..=24).contains(&len) => self.err(
                            c.mark,
                            "cidr",
                            format!("a network CIDR must be /16 to /24; `{}` is /{len}", c.v),
                            Some("subnets are carved out of it, one public and one private per zone".into()),
                        ),
                        Ok(_) => {}
                        Err(msg) => self.err(c.mark, "cidr", msg, Some("for example `10.20.0.0/16`".into())),
                    }
                    c.v.clone()
                })
                .unwrap_or_default();
            out.insert(
                k.v.clone(),
                Network {
                    name: self.name_of("networks", &k.v),
                    cidr,
                    zones,
                    nacl: r.nacl.as_ref().is_some_and(|n| n.v),
                    nat_gateway: r.nat_gateway.as_ref().is_some_and(|n| n.v),
                },
            );
        }
        out
    }

    fn dashboards(&mut self, raw: &RawSpec) -> BTreeMap<String, Dashboard> {
        raw.dashboards
            .iter()
            .map(|(k, _)| (k.v.clone(), Dashboard { name: self.name_of("dashboards", &k.v) }))
            .collect()
    }

    fn alarms(&mut self, raw: &RawSpec) -> BTreeMap<String, Alarm> {
        let kinds = ["iterator_age", "delivery_freshness", "function_errors"];
        let mut out = BTreeMap::new();
        for (k, r) in &raw.alarms {
            let kind_name = match &r.kind {
                Some(kind) => {
                    if !kinds.contains(&kind.v.as_str()) {
                        let hint = did_you_mean(&kind.v, kinds).map_or_else(
                            || format!("use one of: {}", kinds.join(", ")),
                            |m| format!("did you mean `{m}`?"),
                        );
                        self.err(kind.mark, "enum", format!("`{}` is not an alarm kind", kind.v), Some(hint));
                        continue;
                    }
                    kind.v.clone()
                }
                None if kinds.contains(&k.v.as_str()) => k.v.clone(),
                None => {
                    self.err(
                        k.mark,
                        "alarm-kind",
                        format!("alarm `{}` needs a `kind`", k.v),
                        Some(format!("set `kind:` to one of {}, or name the alarm after its kind", kinds.join(", "))),
                    );
                    continue;
                }
            };
            let target = |b: &mut Self, field: &Option<S>, section: &str, what: &str| -> Option<String> {
                match field {
                    Some(s) => b.reference(s, section, what),
                    None => None,
                }
            };
            let kind = match kind_name.as_str() {
                "iterator_age" => {
                    let max_ms = r.max_ms.as_ref().map_or(60_000, |m| m.v);
                    match (&r.stream, &r.function) {
                        (Some(_), None) => target(self, &r.stream, "streams", "alarm stream")
                            .map(|stream| AlarmKind::StreamIteratorAge { stream, max_ms }),
                        (None, Some(_)) => target(self, &r.function, "functions", "alarm function")
                            .map(|function| AlarmKind::FunctionIteratorAge { function, max_ms }),
                        _ => {
                            self.err(
                                r.mark,
                                "alarm-target",
                                format!(
                                    "`alarms.{}` watches iterator age: give exactly one of `stream` or `function`",
                                    k.v
                                ),
                                None,
                            );
                            None
                        }
                    }
                }
                "delivery_freshness" => match &r.firehose {
                    Some(_) => target(self, &r.firehose, "firehoses", "alarm firehose").map(|firehose| {
                        AlarmKind::DeliveryFreshness {
                            firehose,
                            max_seconds: r.max_seconds.as_ref().map_or(900, |m| m.v),
                        }
                    }),
                    None => {
                        self.err(r.mark, "alarm-target", format!("`alarms.{}` needs `firehose`", k.v), None);
                        None
                    }
                },
                _ => match &r.function {
                    Some(_) => target(self, &r.function, "functions", "alarm function").map(|function| {
                        AlarmKind::FunctionErrors { function, max_errors: r.max_errors.as_ref().map_or(0, |m| m.v) }
                    }),
                    None => {
                        self.err(r.mark, "alarm-target", format!("`alarms.{}` needs `function`", k.v), None);
                        None
                    }
                },
            };
            let period_seconds = self.range(&r.period_seconds, 10, 86_400, 60, "period_seconds", None);
            if let Some(p) = &r.period_seconds {
                if p.v > 60 && p.v % 60 != 0 || p.v < 60 && ![10, 30].contains(&p.v) {
                    self.err(p.mark, "range", "an alarm period must be 10, 30, or a multiple of 60 seconds", None);
                }
            }
            let evaluation_periods = self.range(&r.evaluation_periods, 1, 100, 1, "evaluation_periods", None);
            if let Some(kind) = kind {
                out.insert(
                    k.v.clone(),
                    Alarm { name: self.name_of("alarms", &k.v), kind, period_seconds, evaluation_periods },
                );
            }
        }
        out
    }

    fn timeouts(&mut self, raw: &RawSpec) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for (k, v) in &raw.timeouts {
            if !TIMED_KINDS.contains(&k.v.as_str()) {
                let hint = match did_you_mean(&k.v, TIMED_KINDS) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("kinds with a wait: {}", TIMED_KINDS.join(", ")),
                };
                self.err(k.mark, "timeouts", format!("`{}` is not a kind with a wait", k.v), Some(hint));
                continue;
            }
            let secs = self.range(&Some(v.clone()), 30, 7200, 300, "a timeout in seconds", None);
            out.insert(k.v.clone(), secs);
        }
        out
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
                    self.err(
                        entry.1,
                        "duplicate-name",
                        format!("{ns} name `{}` of `{}` is already used by `{}`", entry.0, entry.2, first.2),
                        Some("give one of them another `name:`".into()),
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

const RESERVED_ENV: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn fmt_convert(f: ConvertFormat) -> &'static str {
    match f {
        ConvertFormat::Parquet => "parquet",
        ConvertFormat::Orc => "orc",
    }
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}
