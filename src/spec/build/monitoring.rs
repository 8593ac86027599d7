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
