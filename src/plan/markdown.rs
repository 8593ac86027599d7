//! A plan as Markdown, for a pull-request comment (`plan --format
//! markdown`): a heading naming the deployment, the summary line, a table
//! of the changes with their symbols, each field change in a collapsed
//! `diff` block, the cost estimate and the policy's decisions. Pure; shows
//! only what the plan holds, where `sensitive()` fields are already masked.

use super::diff::{Action, Operation, Plan};
use serde_json::Value;
use std::fmt::Write as _;

/// The plan as Markdown.
pub fn render(plan: &Plan) -> String {
    let destroy = plan.operation == Operation::Destroy;
    let mut out = format!(
        "### pipectl {}: `{}` · env `{}` · {}\n\n",
        if destroy { "destroy plan" } else { "plan" },
        code(&plan.pipeline),
        code(&plan.env),
        plan.region
    );
    let summary = if destroy {
        format!(
            "{} to delete, {} already gone, {} left alone",
            plan.count(Action::Delete),
            plan.count(Action::NoOp),
            plan.count(Action::Conflict)
        )
    } else if plan.is_empty() && plan.count(Action::Conflict) == 0 {
        "No changes: AWS matches the spec".into()
    } else {
        plan.summary_line()
    };
    let _ = writeln!(out, "**{summary}.** Account `{}`.\n", code(&plan.account));
    let shown: Vec<_> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if !shown.is_empty() {
        out.push_str("| | Resource | Name | Action |\n|:-:|---|---|---|\n");
        for c in &shown {
            let mut action = c.action.verb().to_string();
            if !c.replace_reasons.is_empty() {
                let _ = write!(action, " ({} cannot change in place)", c.replace_reasons.join(", "));
            }
            if c.data_loss {
                action.push_str(if c.protected { ", **deletes protected data**" } else { ", deletes data" });
            }
            if let Some(n) = &c.note {
                let _ = write!(action, " ({n})");
            }
            let _ = writeln!(
                out,
                "| `{}` | `{}` | `{}` | {} |",
                c.symbol(),
                code(&c.address),
                code(&c.name),
                cell(&action)
            );
        }
        out.push('\n');
    }
    for c in plan.conflicts() {
        let why = c.conflict.as_deref().unwrap_or("not owned by this deployment");
        let _ = writeln!(out, "> **conflict** `{}`: {}\n", code(&c.address), one_line(why));
    }
    let detailed: Vec<_> = shown.iter().filter(|c| !c.changes.is_empty() || c.previous_name.is_some()).collect();
    if !detailed.is_empty() {
        let mut body = String::new();
        for c in &detailed {
            let _ = writeln!(body, "{} {}", c.symbol(), c.address);
            if let Some(prev) = &c.previous_name {
                let _ = writeln!(body, "-   name: {prev}\n+   name: {}", c.name);
            }
            for f in &c.changes {
                if !f.before.is_null() {
                    let _ = writeln!(body, "-   {}: {}", f.field, value(&f.before));
                }
                if !f.after.is_null() {
                    let _ = writeln!(body, "+   {}: {}", f.field, value(&f.after));
                }
            }
        }
        let fence = fence(&body);
        let _ = writeln!(
            out,
            "<details><summary>Field changes ({} resource{})</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n",
            detailed.len(),
            if detailed.len() == 1 { "" } else { "s" }
        );
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "> **warning:** {}\n", one_line(w));
    }
    for n in &plan.notes {
        let _ = writeln!(out, "> **note:** {}\n", one_line(n));
    }
    if let Some(cost) = &plan.cost {
        let _ = writeln!(
            out,
            "**Cost while deployed:** {}/h, ${:.2}/month ({} GB/day assumed into each stream and Firehose; \
             idle {}/h; prices of {}).\n",
            crate::cost::money(cost.hourly),
            cost.monthly,
            cost.assume_gb_per_day,
            crate::cost::money(cost.idle_hourly),
            cost.prices_version
        );
        if !cost.items.is_empty() {
            out.push_str("<details><summary>Cost by resource</summary>\n\n| Resource | What | Per hour | Per month |\n|---|---|--:|--:|\n");
            for i in &cost.items {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | ${:.2} |",
                    code(&i.address),
                    cell(&i.what),
                    crate::cost::money(i.hourly),
                    i.monthly
                );
            }
            for n in &cost.not_estimated {
                let _ = writeln!(out, "\nNot estimated: {}", one_line(n));
            }
            for n in &cost.notes {
                let _ = writeln!(out, "\nNote: {}", one_line(n));
            }
            out.push_str("\n</details>\n\n");
        }
    }
    if let Some(p) = plan.policy.as_ref().filter(|p| !p.decisions.is_empty() || p.file.is_some()) {
        use crate::policy::Verdict;
        let allowed = p.decisions.iter().filter(|d| d.verdict == Verdict::Allowed).count();
        let by = p.file.as_deref().map(|f| format!("Policy `{}`", code(f))).unwrap_or("No operator policy".into());
        let _ = writeln!(out, "**{by}:** {allowed} of {} decision(s) allowed.\n", p.decisions.len());
        if let Some(b) = &p.permissions_boundary {
            let _ = writeln!(out, "Every role pipectl creates has the permissions boundary `{}`.\n", code(b));
        }
        if !p.decisions.is_empty() {
            out.push_str("<details><summary>Policy decisions</summary>\n\n| Verdict | Kind | Subject | Value | Why | By |\n|---|---|---|---|---|---|\n");
            for d in &p.decisions {
                let _ = writeln!(
                    out,
                    "| {} | {} | `{}` | `{}` | {} | {} |",
                    d.verdict,
                    d.kind,
                    code(&d.subject),
                    code(&d.value),
                    cell(&d.reason),
                    cell(&d.by)
                );
            }
            out.push_str("\n</details>\n");
        }
    }
    out
}

/// A value in a diff line: strings as they are, the rest as JSON.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => one_line(s),
        other => other.to_string(),
    }
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Text for inside a table cell: one line, `|` escaped.
pub(crate) fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// Text for inside `` `...` `` in a table: no backticks, no `|`.
pub(crate) fn code(s: &str) -> String {
    cell(s).replace('`', "'")
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff::{Change, FieldChange, PolicyReport, FORMAT_VERSION, SENSITIVE};
    use serde_json::json;

    fn plan() -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            operation: Operation::Apply,
            pipeline: "taxi-lab".into(),
            env: "pr-42".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            warnings: vec!["functions.f.policy[0] grants iam:PassRole on *".into()],
            notes: Vec::new(),
            cost: None,
            policy: None,
            changes: vec![
                Change {
                    changes: vec![FieldChange { field: "retention_hours".into(), before: json!(24), after: json!(48) }],
                    ..Change::new("stream.trips", "taxi-lab-trips", Action::Update)
                },
                Change {
                    changes: vec![
                        FieldChange { field: "environment".into(), before: json!(SENSITIVE), after: json!(SENSITIVE) },
                        FieldChange { field: "memory_mb".into(), before: json!(128), after: json!(256) },
                    ],
                    ..Change::new("function.filter", "taxi-lab-filter", Action::Update)
                },
                Change::new("bucket.lake", "taxi-lab-lake|x", Action::Create),
                Change {
                    replace_reasons: vec!["shards".into()],
                    data_loss: true,
                    protected: true,
                    ..Change::new("stream.raw", "taxi-lab-raw", Action::Replace)
                },
                Change::new("role.r", "r", Action::NoOp),
            ],
        }
    }

    #[test]
    fn a_plan_renders_as_a_pull_request_comment() {
        let md = render(&plan());
        assert!(md.starts_with("### pipectl plan: `taxi-lab` · env `pr-42` · us-east-1\n\n"), "{md}");
        assert!(md.contains("**1 to create, 2 to update, 1 to replace, 0 to delete, 1 unchanged.**"), "{md}");
        assert!(md.contains("| `~` | `stream.trips` | `taxi-lab-trips` | update |\n"), "{md}");
        assert!(md.contains("| `+` | `bucket.lake` | `taxi-lab-lake\\|x` | create |\n"), "{md}");
        assert!(
            md.contains("| `x/+` | `stream.raw` | `taxi-lab-raw` | replace (shards cannot change in place), **deletes protected data** |"),
            "{md}"
        );
        assert!(!md.contains("role.r"), "unchanged resources are left out: {md}");
        assert!(md.contains("<details><summary>Field changes (2 resources)</summary>\n\n```diff\n~ stream.trips\n-   retention_hours: 24\n+   retention_hours: 48\n"), "{md}");
        assert!(md.contains("-   environment: (sensitive)\n+   environment: (sensitive)\n"), "{md}");
        assert!(md.contains("```\n\n</details>"), "{md}");
        assert!(md.contains("> **warning:** functions.f.policy[0] grants iam:PassRole on *"), "{md}");
    }

    #[test]
    fn cost_and_policy_decisions_are_shown() {
        let mut p = plan();
        p.cost = Some(crate::cost::Estimate {
            region: "us-east-1".into(),
            currency: "USD".into(),
            prices_version: "2025-01".into(),
            assume_gb_per_day: 1.0,
            items: vec![crate::cost::Item {
                address: "stream.trips".into(),
                what: "1 shard".into(),
                basis: "hour",
                price: "kinesis.shard_hour".into(),
                quantity: 1.0,
                unit: "hour",
                unit_price: 0.015,
                hourly: 0.015,
                monthly: 10.95,
            }],
            hourly: 0.015,
            monthly: 10.95,
            idle_hourly: 0.015,
            not_estimated: vec!["function.filter: invocations".into()],
            missing_prices: vec![],
            notes: vec![],
        });
        p.policy =
            Some(PolicyReport { file: Some("policies/pr.yaml".into()), permissions_boundary: None, decisions: vec![] });
        let md = render(&p);
        assert!(md.contains("**Cost while deployed:** $0.0150/h, $10.95/month"), "{md}");
        assert!(md.contains("| `stream.trips` | 1 shard | $0.0150 | $10.95 |"), "{md}");
        assert!(md.contains("Not estimated: function.filter: invocations"), "{md}");
        assert!(md.contains("**Policy `policies/pr.yaml`:** 0 of 0 decision(s) allowed."), "{md}");
    }

    #[test]
    fn backticks_in_values_cannot_close_the_fence() {
        let mut p = plan();
        p.changes[0].changes[0].after = json!("a ```\nb");
        let md = render(&p);
        assert!(md.contains("````diff\n"), "{md}");
        assert!(md.contains("+   retention_hours: a ``` b\n"), "{md}");
    }

    #[test]
    fn an_empty_plan_says_so() {
        let mut p = plan();
        p.changes.retain(|c| c.action == Action::NoOp);
        p.warnings.clear();
        let md = render(&p);
        assert!(md.contains("**No changes: AWS matches the spec.**"), "{md}");
        assert!(!md.contains("| Resource |") && !md.contains("<details>"), "{md}");
    }
}
