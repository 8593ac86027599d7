//! Physical names: defaults, rules, uniqueness, and the reference table.

use super::*;
use crate::diag::did_you_mean;
use crate::names::{self};
use crate::spec::interp::Ref;
use crate::spec::raw::*;
use crate::spec::rules;
use crate::spec::yaml::Mark;

impl Builder<'_> {
    /// Physical names of every resource, and the reference table.
    pub(super) fn all_names(&mut self, raw: &RawSpec) {
        for (k, r) in &raw.buckets {
            let default = self.default_bucket(&k.v);
            let n = self.physical_name("buckets", k, &r.name, default, rules::bucket_name, "bucket", true);
            let arn = self.scope().bucket(&n).to_string();
            self.add_ref("buckets", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.streams {
            let n =
                self.physical_name("streams", k, &r.name, self.default_name(&k.v), rules::stream_name, "stream", true);
            let arn = self.scope().stream(&n).to_string();
            self.add_ref("streams", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.databases {
            let default = self.default_name(&k.v).replace('-', "_").to_ascii_lowercase();
            let n = self.physical_name("databases", k, &r.name, default, rules::glue_name, "glue database", true);
            let arn = self.scope().glue_database(&n).to_string();
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
            let arn = self.scope().firehose(&n).to_string();
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
            let arn = self.scope().function(&n).to_string();
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
            let default = self.default_dashboard(&k.v);
            let n = self.physical_name("dashboards", k, &r.name, default, rules::dashboard_name, "dashboard", true);
            let arn = self.scope().dashboard(&n).to_string();
            self.add_ref("dashboards", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.alarms {
            let n = self.physical_name("alarms", k, &r.name, self.default_name(&k.v), rules::alarm_name, "alarm", true);
            let arn = self.scope().alarm(&n).to_string();
            self.add_ref("alarms", &k.v, n, Some(arn));
        }
        for (k, r) in &raw.metric_filters {
            let n = self.physical_name(
                "metric_filters",
                k,
                &r.name,
                self.default_name(&k.v),
                rules::metric_filter_name,
                "metric filter",
                true,
            );
            self.add_ref("metric_filters", &k.v, n, None);
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
            let arn = self.scope().glue_table(&names::TableId { database: db, table: n.clone() }).to_string();
            self.add_ref("tables", &k.v, n, Some(arn));
        }
    }

    pub(super) fn add_ref(&mut self, section: &str, key: &str, name: String, arn: Option<String>) {
        self.refs.insert(Ref { section: section.into(), key: key.into() }, (name, arn));
    }

    /// The key of a referenced resource, if it is defined in `section`.
    pub(super) fn reference(&mut self, s: &S, section: &str, what: &str) -> Option<String> {
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

    pub(super) fn generated_name(
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

    /// The physical name of `section.key`: the interpolated `name:` or
    /// `<pipeline>-<key>[-<env>]`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn physical_name(
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
                    self.bad(
                        n.mark,
                        "env-name",
                        format!("`{path}` has a fixed name `{}` without `${{env}}`, but `--env` is given", n.v),
                        "two environments would collide: add `${env}` to the name, or drop `name:` to use the default",
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

    pub(super) fn default_name(&self, key: &str) -> String {
        match &self.opts.env {
            Some(env) => format!("{}-{key}-{env}", self.pipeline),
            None => format!("{}-{key}", self.pipeline),
        }
    }

    /// A bucket's default name: with the account and region, as S3 names
    /// are global ([`names::default_bucket`]), unless the record lists the
    /// bucket under the default an earlier pipectl gave it.
    fn default_bucket(&mut self, key: &str) -> String {
        let scope = self.scope();
        let new = names::default_bucket(&self.default_name(key), &scope.account, &scope.region);
        self.earlier_default("bucket", key, new)
    }

    /// A dashboard's default name: with the region, as dashboards are
    /// global to the account ([`names::default_dashboard`]), unless the
    /// record lists it under the default an earlier pipectl gave it.
    fn default_dashboard(&mut self, key: &str) -> String {
        let new = names::default_dashboard(&self.default_name(key), &self.scope().region);
        self.earlier_default("dashboard", key, new)
    }

    /// `new`, or the earlier default `<pipeline>-<key>[-<env>]` when the
    /// deployment record lists `kind.key` under it: an existing deployment's
    /// bucket keeps its name and data (`docs/names.md`).
    fn earlier_default(&mut self, kind: &str, key: &str, new: String) -> String {
        let address = format!("{kind}.{key}");
        let earlier = self.default_name(key);
        if self.opts.recorded.get(&address) != Some(&earlier) || earlier == new {
            return new;
        }
        self.kept.insert(address, earlier.clone());
        earlier
    }

    pub(super) fn register(&mut self, ns: Namespace, name: &str, mark: Mark, path: String) {
        self.names.entry(ns).or_default().push((name.to_string(), mark, path));
    }

    pub(super) fn check_name(&mut self, name: &str, mark: Mark, check: fn(&str) -> Result<(), String>, hint: &str) {
        if let Err(msg) = check(&rules::with_sample_placeholders(name)) {
            self.err(mark, "name", msg, Some(hint.to_string()));
        }
    }
}
