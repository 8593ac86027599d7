//! The plan as a value: for every resource an action (`+ ~ -/+ -`), the
//! fields that change (before -> after) and why a replacement is needed.
//! Pure: built from desired and observed attributes, no AWS here.

use super::state::{Attrs, Observed};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// Version of the JSON plan document (`plan --json`).
pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create.
    Replace,
    Delete,
    /// A same-name resource pipectl does not own: never touched.
    Conflict,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Conflict => "!",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "unchanged",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Conflict => "conflict",
        }
    }

    pub fn mutates(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Replace | Action::Delete)
    }
}

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Apply,
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub address: String,
    pub name: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replace_reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// The physical name the resource had before, when the name changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_name: Option<String>,
    /// Why nothing is done (`already gone`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The delete (or the delete of a replace) deletes data the resource
    /// holds: a stream's records, a bucket's objects, a table.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub data_loss: bool,
    /// ... and the spec protects it: refused without `--allow-data-loss`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
}

impl Change {
    /// A change with nothing to say beyond its action.
    pub fn new(address: impl Into<String>, name: impl Into<String>, action: Action) -> Change {
        Change {
            address: address.into(),
            name: name.into(),
            action,
            changes: vec![],
            replace_reasons: vec![],
            conflict: None,
            previous_name: None,
            note: None,
            data_loss: false,
            protected: false,
        }
    }

    /// The colour of its symbol on a terminal.
    pub fn style(&self) -> anstyle::Style {
        use anstyle::AnsiColor::{Green, Magenta, Red, Yellow};
        let plain = anstyle::Style::new();
        match (self.action, self.data_loss) {
            (Action::Delete | Action::Replace, true) | (Action::Conflict, _) => plain.fg_color(Some(Red.into())).bold(),
            (Action::Create, _) => plain.fg_color(Some(Green.into())),
            (Action::Update, _) => plain.fg_color(Some(Yellow.into())),
            (Action::Replace, _) => plain.fg_color(Some(Magenta.into())),
            (Action::Delete, _) => plain.fg_color(Some(Red.into())),
            (Action::NoOp, _) => plain,
        }
    }

    /// The symbol of its action, `x` in place of `-` where data is lost.
    pub fn symbol(&self) -> &'static str {
        match (self.action, self.data_loss) {
            (Action::Delete, true) => "x",
            (Action::Replace, true) => "x/+",
            (a, _) => a.symbol(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: &'static str,
    pub operation: Operation,
    pub pipeline: String,
    pub env: String,
    pub region: String,
    pub account: String,
    /// In dependency order.
    pub changes: Vec<Change>,
    /// What the spec allowed that deserves a second look (a `policy:`
    /// statement that can escalate privileges).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the plan keeps as it is and why (a bucket keeping the default
    /// name an earlier pipectl gave it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the deployment costs while it exists, as the spec has it
    /// (apply plans; set by the command, not the planner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::Estimate>,
    /// Every decision of the operator's policy on the spec (apply plans;
    /// set by the command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyReport>,
}

/// The operator's policy in a plan: which file, and each decision.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// The policy file, `None` without one.
    pub file: Option<String>,
    /// The boundary every role pipectl creates carries, if the policy gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    pub decisions: Vec<crate::policy::Decision>,
}

impl PolicyReport {
    /// One line naming the policy and counting its decisions; with
    /// `verbose`, each decision.
    pub fn render(&self, verbose: bool) -> String {
        use crate::policy::Verdict;
        let allowed = self.decisions.iter().filter(|d| d.verdict == Verdict::Allowed).count();
        let mut out = match &self.file {
            Some(f) => format!("\nPolicy {f}: {allowed} of {} decision(s) allowed.\n", self.decisions.len()),
            // Without a policy what the spec names is the caller's: nothing to say.
            None if !verbose => return String::new(),
            None => format!("\nNo operator policy: {allowed} of {} decision(s) allowed.\n", self.decisions.len()),
        };
        if let Some(b) = &self.permissions_boundary {
            let _ = writeln!(out, "Every role pipectl creates has the permissions boundary {b}.");
        }
        if verbose {
            for d in &self.decisions {
                let _ = writeln!(
                    out,
                    "  {:?} {} `{}` ({}): {} [{}]",
                    d.verdict, d.kind, d.subject, d.value, d.reason, d.by
                );
            }
        }
        out
    }
}

/// What the plan shows, before and after, for a field whose values are
/// never shown.
pub const SENSITIVE: &str = "(sensitive)";

/// Hides the values of the `sensitive` fields among `changes`: only that
/// they change is known.
pub fn mask(changes: &mut [FieldChange], sensitive: &[&str]) {
    for c in changes.iter_mut().filter(|c| sensitive.contains(&c.field.as_str())) {
        c.before = Value::String(SENSITIVE.into());
        c.after = Value::String(SENSITIVE.into());
    }
}

/// The fields whose observed value differs from the desired one. A field
/// missing from `observed` counts as `null`.
pub fn diff(desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
    desired
        .iter()
        .filter_map(|(k, want)| {
            let have = observed.get(k).cloned().unwrap_or(Value::Null);
            (have != *want).then(|| FieldChange { field: k.clone(), before: have, after: want.clone() })
        })
        .collect()
}

/// The action for one resource.
/// - absent: create;
/// - present but not owned: conflict;
/// - present and owned: no-op, update, or replace when a changed field is
///   in `replace_on`.
pub fn decide(
    desired: &Attrs,
    observed: Option<&Observed>,
    owned: bool,
    replace_on: &[&str],
) -> (Action, Vec<FieldChange>, Vec<String>) {
    let Some(observed) = observed else {
        return (Action::Create, Vec::new(), Vec::new());
    };
    if !owned {
        return (Action::Conflict, Vec::new(), Vec::new());
    }
    let changes = diff(desired, &observed.attrs);
    if changes.is_empty() {
        return (Action::NoOp, changes, Vec::new());
    }
    let reasons: Vec<String> =
        changes.iter().filter(|c| replace_on.contains(&c.field.as_str())).map(|c| c.field.clone()).collect();
    let action = if reasons.is_empty() { Action::Update } else { Action::Replace };
    (action, changes, reasons)
}

impl Plan {
    /// Nothing to create, update, replace or delete.
    pub fn is_empty(&self) -> bool {
        !self.changes.iter().any(|c| c.action.mutates())
    }

    pub fn conflicts(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action == Action::Conflict)
    }

    /// The changes that delete data.
    pub fn data_losses(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.data_loss)
    }

    /// The changes that delete data of a protected resource: the plan may
    /// not run without `--allow-data-loss`.
    pub fn protected_losses(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.protected)
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    pub fn summary_line(&self) -> String {
        format!(
            "{} to create, {} to update, {} to replace, {} to delete, {} unchanged{}",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Replace),
            self.count(Action::Delete),
            self.count(Action::NoOp),
            match self.count(Action::Conflict) {
                0 => String::new(),
                n => format!(", {n} in conflict"),
            }
        )
    }

    /// The plan for people: one line per resource that changes, with its
    /// changed fields before -> after. A destroy plan lists every resource,
    /// with why it is not deleted where it is not.
    pub fn render(&self, verbose: bool) -> String {
        self.render_styled(verbose, false)
    }

    /// [`Plan::render`], its symbols coloured when `colour` (Terraform's
    /// colours: green create, yellow update, magenta replace, red delete,
    /// bold red where data is lost or a resource is in conflict).
    pub fn render_styled(&self, verbose: bool, colour: bool) -> String {
        let destroy = self.operation == Operation::Destroy;
        let mut out = format!(
            "{}pipeline `{}`, env `{}`, region {}, account {}\n\n",
            if destroy { "destroy: " } else { "" },
            self.pipeline,
            self.env,
            self.region,
            self.account
        );
        let width = self.changes.iter().map(|c| c.address.len()).max().unwrap_or(0);
        for c in &self.changes {
            if c.action == Action::NoOp && !verbose && !destroy {
                continue;
            }
            let note = c.note.as_ref().map(|n| format!("  ({n})")).unwrap_or_default();
            let symbol = crate::term::paint(colour, c.style(), &format!("{:>3}", c.symbol()));
            let _ = writeln!(out, "  {symbol} {:<width$}  {}{note}", c.address, c.name);
            if let Some(prev) = &c.previous_name {
                let _ = writeln!(out, "        name: {prev} -> {}", c.name);
            }
            for f in &c.changes {
                let _ = writeln!(out, "        {}: {}", f.field, describe_change(&f.before, &f.after));
            }
            if !c.replace_reasons.is_empty() {
                let _ = writeln!(out, "        (replace: {} cannot change in place)", c.replace_reasons.join(", "));
            }
            if let Some(why) = &c.conflict {
                let _ = writeln!(out, "        {}{why}", if destroy { "" } else { "conflict: " });
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning: {w}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nnote: {n}");
        }
        if let Some(p) = &self.policy {
            let _ = write!(out, "{}", p.render(verbose));
        }
        let losses = self.data_losses().count();
        if losses > 0 {
            let protected = self.protected_losses().count();
            let _ = writeln!(
                out,
                "\nx: {losses} resource{} holding data will be deleted{}.",
                if losses == 1 { "" } else { "s" },
                match protected {
                    0 => String::new(),
                    n => format!(", {n} of them protected"),
                }
            );
        }
        if destroy {
            let _ = writeln!(
                out,
                "\nDestroy: {} to delete, {} already gone, {} left alone.",
                self.count(Action::Delete),
                self.count(Action::NoOp),
                self.count(Action::Conflict)
            );
        } else if self.is_empty() && self.count(Action::Conflict) == 0 {
            out.push_str("No changes: AWS matches the spec.\n");
        } else {
            let _ = writeln!(out, "\nPlan: {}.", self.summary_line());
        }
        if let Some(cost) = &self.cost {
            out.push_str(&cost.render());
        }
        out
    }
}

/// A change of one field for one line: lists and maps show what was added
/// and removed, other values `before -> after`.
pub fn describe_change(before: &Value, after: &Value) -> String {
    match (before, after) {
        (Value::String(b), Value::String(a)) if b == SENSITIVE && a == SENSITIVE => format!("{SENSITIVE} changed"),
        (Value::Array(b), Value::Array(a)) if !b.is_empty() => {
            let added: Vec<String> = a.iter().filter(|x| !b.contains(x)).map(short).collect();
            let removed: Vec<String> = b.iter().filter(|x| !a.contains(x)).map(short).collect();
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("+ {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("- {}", removed.join(", ")));
            }
            if parts.is_empty() {
                parts.push("reordered".into());
            }
            parts.join("; ")
        }
        (Value::Object(b), Value::Object(a)) if !b.is_empty() => {
            let mut parts = Vec::new();
            for (k, v) in a {
                match b.get(k) {
                    None => parts.push(format!("+ {k}={}", short(v))),
                    Some(old) if old != v => parts.push(format!("{k}: {} -> {}", short(old), short(v))),
                    _ => {}
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                parts.push(format!("- {k}"));
            }
            parts.join("; ")
        }
        _ => format!("{} -> {}", short(before), short(after)),
    }
}

/// A value for one line: JSON, shortened when long.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Attrs {
        serde_json::from_value(v).unwrap()
    }

    fn observed(v: Value) -> Observed {
        Observed::with_attrs(attrs(v), None)
    }

    #[test]
    fn absent_is_create_and_equal_is_noop() {
        let want = attrs(json!({"shards": 1, "tags": {"a": "b"}}));
        assert_eq!(decide(&want, None, true, &[]).0, Action::Create);
        let have = observed(json!({"shards": 1, "tags": {"a": "b"}}));
        assert_eq!(decide(&want, Some(&have), true, &[]).0, Action::NoOp);
    }

    #[test]
    fn changed_fields_update_or_replace() {
        let want = attrs(json!({"shards": 2, "format": "parquet"}));
        let have = observed(json!({"shards": 1, "format": "parquet"}));
        let (a, changes, reasons) = decide(&want, Some(&have), true, &["format"]);
        assert_eq!(a, Action::Update);
        assert_eq!(changes, vec![FieldChange { field: "shards".into(), before: json!(1), after: json!(2) }]);
        assert!(reasons.is_empty());
        let have = observed(json!({"shards": 2, "format": "orc"}));
        let (a, _, reasons) = decide(&want, Some(&have), true, &["format"]);
        assert_eq!((a, reasons), (Action::Replace, vec!["format".to_string()]));
    }

    #[test]
    fn json_values_compare_semantically() {
        let want = attrs(json!({"policy": {"Version": "2012-10-17", "Statement": []}}));
        let have = observed(json!({"policy": {"Statement": [], "Version": "2012-10-17"}}));
        assert_eq!(decide(&want, Some(&have), true, &[]).0, Action::NoOp);
    }

    #[test]
    fn unowned_is_a_conflict_whatever_differs() {
        let want = attrs(json!({"shards": 1}));
        let have = observed(json!({"shards": 1}));
        assert_eq!(decide(&want, Some(&have), false, &[]).0, Action::Conflict);
    }

    #[test]
    fn data_loss_has_its_own_symbol_and_a_summary_line() {
        let change = |address: &str, action, data_loss, protected| Change {
            data_loss,
            protected,
            ..Change::new(address, address, action)
        };
        let plan = Plan {
            format_version: FORMAT_VERSION,
            operation: Operation::Apply,
            pipeline: "p".into(),
            env: "e".into(),
            region: "r".into(),
            account: "a".into(),
            warnings: vec!["functions.f.policy[0] can escalate privileges".into()],
            notes: Vec::new(),
            cost: None,
            policy: None,
            changes: vec![
                change("stream.s", Action::Replace, true, true),
                change("table.t", Action::Delete, true, false),
                change("role.r", Action::Delete, false, false),
            ],
        };
        let text = plan.render(false);
        assert!(text.contains("  x/+ stream.s"), "{text}");
        assert!(text.contains("    x table.t"), "{text}");
        assert!(text.contains("    - role.r"), "{text}");
        assert!(text.contains("x: 2 resources holding data will be deleted, 1 of them protected."), "{text}");
        assert!(text.contains("warning: functions.f.policy[0] can escalate privileges"), "{text}");
        assert_eq!(plan.protected_losses().count(), 1);
    }

    #[test]
    fn sensitive_fields_show_only_that_they_change() {
        let want = attrs(json!({"environment": {"TOKEN": "new"}, "memory": 256}));
        let have = observed(json!({"environment": {"TOKEN": "old"}, "memory": 128}));
        let (_, mut changes, _) = decide(&want, Some(&have), true, &[]);
        mask(&mut changes, &["environment"]);
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("new") && !text.contains("old"), "{text}");
        assert_eq!(describe_change(&changes[0].before, &changes[0].after), "(sensitive) changed");
        assert_eq!(changes[1].after, json!(256), "other fields are shown");
    }

    #[test]
    fn lists_and_maps_show_what_was_added_and_removed() {
        assert_eq!(
            describe_change(&json!([["a", "int"], ["b", "int"]]), &json!([["a", "int"], ["c", "string"]])),
            "+ [\"c\",\"string\"]; - [\"b\",\"int\"]"
        );
        assert_eq!(
            describe_change(&json!({"team": "a", "x": "1"}), &json!({"team": "b", "y": "2"})),
            "team: \"a\" -> \"b\"; + y=\"2\"; - x"
        );
        assert_eq!(describe_change(&json!(1), &json!(2)), "1 -> 2");
    }

    #[test]
    fn rendering_shows_symbols_fields_and_summary() {
        let plan = Plan {
            format_version: FORMAT_VERSION,
            operation: Operation::Apply,
            pipeline: "p".into(),
            env: "default".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            warnings: vec![],
            notes: Vec::new(),
            cost: None,
            policy: None,
            changes: vec![
                Change {
                    changes: vec![FieldChange { field: "shards".into(), before: json!(1), after: json!(2) }],
                    ..Change::new("stream.s", "p-s", Action::Update)
                },
                Change::new("bucket.b", "p-b", Action::Create),
                Change::new("role.x", "x", Action::NoOp),
            ],
        };
        let text = plan.render(false);
        let coloured = plan.render_styled(false, true);
        assert!(coloured.contains("\u{1b}[33m  ~\u{1b}[0m stream.s  p-s\n"), "{coloured}");
        assert!(coloured.contains("\u{1b}[32m  +\u{1b}[0m bucket.b"), "{coloured}");
        assert!(!text.contains('\u{1b}'), "plain unless asked");
        assert!(text.contains("    ~ stream.s  p-s\n        shards: 1 -> 2\n"), "{text}");
        assert!(!text.contains("warning") && !text.contains("holding data"), "{text}");
        assert!(text.contains("    + bucket.b  p-b\n"), "{text}");
        assert!(!text.contains("role.x"));
        assert!(text.contains("Plan: 1 to create, 1 to update, 0 to replace, 0 to delete, 1 unchanged."));
        assert!(!plan.is_empty());
    }
}
