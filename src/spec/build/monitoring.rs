//! Dashboards, alarms and per-kind timeouts.

use super::*;
use crate::diag::did_you_mean;
use crate::spec::model::*;
use crate::spec::raw::*;
use std::collections::BTreeMap;

impl Builder<'_> {
    pub(super) fn dashboards(&mut self, raw: &RawSpec) -> BTreeMap<String, Dashboard> {
        raw.dashboards
            .iter()
            .map(|(k, _)| (k.v.clone(), Dashboard { name: self.name_of("dashboards", &k.v) }))
            .collect()
    }

    pub(super) fn metric_filters(&mut self, raw: &RawSpec) -> BTreeMap<String, MetricFilter> {
        let mut out = BTreeMap::new();
        for (k, r) in &raw.metric_filters {
            let function = r.function.as_ref().and_then(|f| self.reference(f, "functions", "metric filter function"));
            let pattern = r.pattern.as_ref().map(|p| {
                if p.v.chars().count() > 1024 || p.v.chars().any(char::is_control) {
                    self.bad(
                        p.mark,
                        "filter-pattern",
                        "a filter pattern is at most 1024 characters, without control characters",
                        "e.g. `\"ERROR\"` or `{ $.level = \"error\" }`",
                    );
                }
                self.text(p)
            });
            let Some(m) = &r.metric else { continue };
            let mut metric_text = |x: &Option<S>, what: &str, max: usize| -> String {
                let Some(x) = x else { return String::new() };
                let ok = (1..=max).contains(&x.v.chars().count())
                    && !x.v.contains(':')
                    && !x.v.chars().any(char::is_control);
                if !ok {
                    let hint = format!("1 to {max} characters, no `:`");
                    self.bad(x.mark, "metric-name", format!("`{}` is not a CloudWatch {what}", x.v), &hint);
                }
                x.v.clone()
            };
            let namespace = metric_text(&m.namespace, "namespace", 255);
            let metric = metric_text(&m.name, "metric name", 255);
            let value = match &m.value {
                Some(v) => {
                    let ok =
                        v.v.parse::<f64>().is_ok_and(f64::is_finite) || (v.v.starts_with("$.") && v.v.len() <= 100);
                    if !ok {
                        self.bad(
                            v.mark,
                            "metric-value",
                            format!("`{}` is not a metric value", v.v),
                            "a number, or `$.field` of JSON log lines",
                        );
                    }
                    v.v.clone()
                }
                None => "1".to_string(),
            };
            let (Some(function), Some(pattern)) = (function, pattern) else { continue };
            let name = self.name_of("metric_filters", &k.v);
            let default = m.default.as_ref().map(|d| d.v);
            out.insert(k.v.clone(), MetricFilter { name, function, pattern, namespace, metric, value, default });
        }
        out
    }

    pub(super) fn alarms(&mut self, raw: &RawSpec) -> BTreeMap<String, Alarm> {
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
                    let path = p.named("period_seconds");
                    let message = format!("`{path}` must be 10, 30, or a multiple of 60 seconds, found {}", p.v);
                    self.err(p.mark, "range", message, None);
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

    pub(super) fn timeouts(&mut self, raw: &RawSpec) -> BTreeMap<String, u32> {
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
}
