//! A saved plan (`plan --out FILE`, then `apply FILE`): the plan that was
//! reviewed, with what it was made from, so the apply runs that plan or
//! nothing. Pure: the format, its digests and the comparisons; reading the
//! spec, AWS and the clock is the command's.
//!
//! What a saved plan holds, and what `apply FILE` checks against it:
//! - the spec file's bytes and each function's code zip, by digest;
//! - the variables' values, by one digest ([`vars_digest`]);
//! - the operator's policy file, by digest, when one is given;
//! - pipeline, env, region, account, pipectl's version, when it was made;
//! - for every resource the plan read, a digest of what was read
//!   (attributes, tags, ownership), and one per attribute ([`Seen`]), so
//!   the apply can name what moved;
//! - the plan itself (changes masked as the plan masks them).
//!
//! No value of a `sensitive()` field, secret or variable is written: only
//! digests, and the plan, which masks them.
//!
//! `checksum` covers the rest of the document, so an edited or damaged
//! file is refused before anything else. It is not a signature: anyone
//! can recompute it. What makes an edited plan harmless is that every
//! claim in it is checked again at apply time: the spec, the code and the
//! live state by their digests, and the changes by planning again and
//! comparing.

use super::state::Observed;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The first key of a saved plan: how `apply` tells one from a spec.
pub const MARKER: &str = "pipectl_plan";

/// Version of the saved-plan format (the value of [`MARKER`]).
pub const VERSION: &str = "1";

/// The largest saved plan read, in bytes.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// What was read of a resource that did not exist.
pub const ABSENT: &str = "absent";

/// The exit code of `apply FILE` when the saved plan no longer holds.
pub const EXIT_REFUSED: u8 = 3;

/// A saved plan. Field order is the file's: [`MARKER`] first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// The format's version.
    pub pipectl_plan: String,
    pub pipectl_version: String,
    /// When it was made, seconds since the epoch (and as RFC 3339, for people).
    pub made_at: u64,
    pub made_at_utc: String,
    pub pipeline: String,
    pub env: String,
    pub region: String,
    pub account: String,
    pub spec: Made,
    /// [`vars_digest`] of the variables' values.
    pub vars_sha256: String,
    /// The operator's policy file's digest; `None` without one.
    pub policy_sha256: Option<String>,
    /// `--target` as given to the plan.
    #[serde(default)]
    pub targets: Vec<String>,
    /// What was read of each resource, by address.
    pub observed: BTreeMap<String, Seen>,
    /// The plan, as `plan --json` prints it.
    pub plan: Value,
    /// SHA-256 of the rest of the document ([`Saved::digest`]).
    pub checksum: String,
}

/// The files a plan was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Made {
    /// The spec's path as given to `plan`.
    pub file: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Function key -> the digest of its code's zip (as Lambda's `CodeSha256`).
    #[serde(default)]
    pub code: BTreeMap<String, String>,
}

/// What was read of one resource: a digest of all of it, and one per
/// attribute (plus `(tags)`, `(marker)`, `(account)` for what ownership is
/// decided by). Digests only: nothing read is written as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    /// [`ABSENT`] when the resource did not exist.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// What a saved plan holds for a sensitive attribute, in place of a digest.
pub const HIDDEN: &str = "(sensitive)";

/// The pseudo-fields of [`Seen`] that are not attributes.
pub const TAGS: &str = "(tags)";
pub const MARKED: &str = "(marker)";
pub const ACCOUNT: &str = "(account)";

impl Seen {
    /// The digests of what a read returned; a `sensitive` attribute (the
    /// kind's `sensitive()`) only as [`HIDDEN`]: a digest of a short secret
    /// can be reversed by trying every value. Whether such a field moved
    /// shows in the plan made again at apply, which must equal the saved one.
    pub fn of(observed: Option<&Observed>, sensitive: &[&str]) -> Seen {
        let Some(o) = observed else { return Seen { sha256: ABSENT.into(), fields: BTreeMap::new() } };
        let mut fields: BTreeMap<String, String> = o
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), if sensitive.contains(&k.as_str()) { HIDDEN.into() } else { digest(v) }))
            .collect();
        if let Some(t) = &o.tags {
            fields.insert(TAGS.into(), digest(&serde_json::to_value(t).expect("tags serialize")));
        }
        if let Some(m) = &o.marker {
            fields.insert(MARKED.into(), digest(&serde_json::to_value(m).expect("marker serializes")));
        }
        if o.another_account {
            fields.insert(ACCOUNT.into(), "another".into());
        }
        let sha256 = digest(&serde_json::to_value(&fields).expect("digests serialize"));
        Seen { sha256, fields }
    }

    /// The fields whose digest differs between `self` (then) and `now`;
    /// empty when nothing moved.
    pub fn moved(&self, now: &Seen) -> Vec<String> {
        if self.sha256 == now.sha256 {
            return Vec::new();
        }
        let keys: std::collections::BTreeSet<&String> = self.fields.keys().chain(now.fields.keys()).collect();
        keys.into_iter().filter(|k| self.fields.get(*k) != now.fields.get(*k)).cloned().collect()
    }
}

/// The one digest of the variables' effective values: the same values
/// give the same digest whatever their order.
pub fn vars_digest(vars: &BTreeMap<String, String>) -> String {
    digest(&serde_json::to_value(vars).expect("variables serialize"))
}

/// SHA-256 (hex) of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::names::sha256_hex(bytes)
}

/// SHA-256 (hex) of a JSON value in canonical form: keys sorted at every
/// level, so two readings of the same object (AWS may order a policy
/// document's keys either way) give the same digest.
pub fn digest(v: &Value) -> String {
    let mut text = String::new();
    canonical(v, &mut text);
    sha256_hex(text.as_bytes())
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Whether `text` is a saved plan: a JSON object whose first key is
/// [`MARKER`] (a spec may be JSON too; its first key is never that).
pub fn is_saved(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m.keys().next().is_some_and(|k| k == MARKER),
        _ => false,
    }
}

impl Saved {
    /// The checksum of everything but `checksum`.
    pub fn digest(&self) -> String {
        let mut v = serde_json::to_value(self).expect("a saved plan serializes");
        v.as_object_mut().expect("an object").remove("checksum");
        digest(&v)
    }

    /// Sets the checksum; the document as written.
    pub fn seal(mut self) -> Saved {
        self.checksum = self.digest();
        self
    }

    /// A saved plan from its text: the format checked, then the checksum.
    pub fn parse(text: &str) -> Result<Saved, Unreadable> {
        let v: Value = serde_json::from_str(text).map_err(|e| Unreadable::Damaged(e.to_string()))?;
        match v.get(MARKER) {
            Some(Value::String(s)) if s == VERSION => {}
            Some(other) => return Err(Unreadable::Version(other.to_string())),
            None => return Err(Unreadable::Damaged(format!("no `{MARKER}` key"))),
        }
        let saved: Saved = serde_json::from_value(v).map_err(|e| Unreadable::Damaged(e.to_string()))?;
        if saved.digest() != saved.checksum {
            return Err(Unreadable::Edited);
        }
        Ok(saved)
    }

    /// The saved plan's changes of one field of one resource, if it lists
    /// them: (before, after).
    pub fn field_change(&self, address: &str, field: &str) -> Option<(Value, Value)> {
        field_change(&self.plan, address, field)
    }
}

/// A field's (before, after) in a plan as JSON (`plan --json`).
pub fn field_change(plan: &Value, address: &str, field: &str) -> Option<(Value, Value)> {
    let changes = plan.get("changes")?.as_array()?;
    let change = changes.iter().find(|c| c.get("address").and_then(Value::as_str) == Some(address))?;
    let f =
        change.get("changes")?.as_array()?.iter().find(|f| f.get("field").and_then(Value::as_str) == Some(field))?;
    Some((f.get("before")?.clone(), f.get("after")?.clone()))
}

/// Why a file that says it is a saved plan cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Unreadable {
    /// Not JSON, or not the shape of a saved plan.
    #[error("it is not a saved plan pipectl can read: {0}")]
    Damaged(String),
    /// Another version of the format.
    #[error("it is a saved plan of format {0}; this pipectl reads format {VERSION}")]
    Version(String),
    /// The checksum does not match the content.
    #[error("it was edited or damaged since it was written (its checksum does not match its content)")]
    Edited,
}

/// The saved plan no longer holds: each thing that moved since it was
/// made, one a line. `apply FILE` exits [`EXIT_REFUSED`], having changed
/// nothing.
#[derive(Debug, thiserror::Error)]
#[error("refusing the saved plan `{file}`: {} since it was made; nothing was changed:{}", count(.moved.len()), lines(.moved))]
pub struct Refused {
    pub file: String,
    pub moved: Vec<String>,
}

impl Refused {
    /// What to do instead.
    pub const HINT: &'static str = "make a new plan from what is there now (`pipectl plan SPEC --out FILE`), \
                                    review it, and apply that; a saved plan runs only against what it was made from";
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 thing moved".into()
    } else {
        format!("{n} things moved")
    }
}

fn lines(moved: &[String]) -> String {
    moved.iter().map(|m| format!("\n  - {m}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observed(v: Value) -> Observed {
        Observed::with_attrs(serde_json::from_value(v).unwrap(), Some([("team".to_string(), "a".to_string())].into()))
    }

    fn sample() -> Saved {
        Saved {
            pipectl_plan: VERSION.into(),
            pipectl_version: "0.1.0".into(),
            made_at: 1_700_000_000,
            made_at_utc: "2023-11-14T22:13:20Z".into(),
            pipeline: "p".into(),
            env: "default".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            spec: Made { file: "spec.yaml".into(), sha256: sha256_hex(b"pipeline: p\n"), code: BTreeMap::new() },
            vars_sha256: vars_digest(&BTreeMap::new()),
            policy_sha256: None,
            targets: vec![],
            observed: [("stream.s".to_string(), Seen::of(Some(&observed(json!({"retention_hours": 24}))), &[]))].into(),
            plan: json!({"changes": [{"address": "stream.s", "action": "update",
                         "changes": [{"field": "shards", "before": 1, "after": 2}]}]}),
            checksum: String::new(),
        }
        .seal()
    }

    #[test]
    fn the_marker_is_the_first_key_and_a_saved_plan_reads_back() {
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        assert!(text.starts_with("{\n  \"pipectl_plan\": \"1\""), "{text}");
        assert!(is_saved(&text));
        assert_eq!(Saved::parse(&text).unwrap(), sample());
        assert!(!is_saved("{\"pipeline\": \"p\", \"pipectl_plan\": \"1\"}"), "a JSON spec is not a plan");
        assert!(!is_saved("pipeline: p\n") && !is_saved("{not json"));
    }

    #[test]
    fn an_edited_plan_is_refused_by_its_checksum() {
        let text = serde_json::to_string_pretty(&sample()).unwrap();
        let edited = text.replace("\"after\": 2", "\"after\": 3");
        assert_ne!(edited, text);
        assert_eq!(Saved::parse(&edited), Err(Unreadable::Edited));
        let older = text.replace("\"made_at\": 1700000000", "\"made_at\": 1800000000");
        assert_eq!(Saved::parse(&older), Err(Unreadable::Edited));
        let other = text.replace("\"pipectl_plan\": \"1\"", "\"pipectl_plan\": \"9\"");
        assert!(matches!(Saved::parse(&other), Err(Unreadable::Version(_))));
        let extra = text.replacen('{', "{\"pipectl_plan\": \"1\", \"x\": 1,", 1);
        assert!(matches!(Saved::parse(&extra), Err(Unreadable::Damaged(_))));
    }

    #[test]
    fn what_moved_is_named_by_field() {
        let then = Seen::of(Some(&observed(json!({"retention_hours": 24, "shards": 1}))), &[]);
        let same = Seen::of(Some(&observed(json!({"shards": 1, "retention_hours": 24}))), &[]);
        assert!(then.moved(&same).is_empty());
        let now = Seen::of(Some(&observed(json!({"retention_hours": 48, "shards": 1}))), &[]);
        assert_eq!(then.moved(&now), ["retention_hours"]);
        let mut retagged = observed(json!({"retention_hours": 24, "shards": 1}));
        retagged.tags = Some(Default::default());
        assert_eq!(then.moved(&Seen::of(Some(&retagged), &[])), [TAGS]);
        assert_eq!(Seen::of(None, &[]).sha256, ABSENT);
        assert!(!then.moved(&Seen::of(None, &[])).is_empty(), "gone is moved");
    }

    #[test]
    fn digests_ignore_key_order_and_never_hold_values() {
        assert_eq!(
            digest(&json!({"a": 1, "b": {"x": [1, 2], "y": null}})),
            digest(&json!({"b": {"y": null, "x": [1, 2]}, "a": 1}))
        );
        assert_ne!(digest(&json!([1, 2])), digest(&json!([2, 1])), "lists keep their order");
        let seen = Seen::of(Some(&observed(json!({"environment": {"TOKEN": "hunter2-secret"}}))), &[]);
        let text = serde_json::to_string(&seen).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("TOKEN"), "{text}");
        // A sensitive field: not even a digest, which a short secret's
        // would give away to anyone trying every value.
        let pin = |v: &str| observed(json!({"environment": {"PIN": v}, "memory": 128}));
        let hidden = Seen::of(Some(&pin("1234")), &["environment"]);
        assert_eq!(hidden.fields["environment"], HIDDEN);
        assert_eq!(hidden, Seen::of(Some(&pin("9876")), &["environment"]));
        assert!(!serde_json::to_string(&hidden).unwrap().contains(&digest(&json!({"PIN": "1234"}))));
        let vars = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(vars_digest(&vars(&[("a", "1"), ("b", "2")])), vars_digest(&vars(&[("b", "2"), ("a", "1")])));
        assert_ne!(vars_digest(&vars(&[("a", "1")])), vars_digest(&vars(&[("a", "2")])));
    }

    #[test]
    fn a_field_change_is_found_in_the_plan() {
        let s = sample();
        assert_eq!(s.field_change("stream.s", "shards"), Some((json!(1), json!(2))));
        assert_eq!(s.field_change("stream.s", "retention_hours"), None);
        assert_eq!(s.field_change("bucket.b", "shards"), None);
    }
}
