//! `--split`: a policy as managed policies within AWS's limits, measured
//! as AWS measures them once the account is filled in.

use serde_json::{json, Value};

/// The largest managed policy AWS accepts, in characters without
/// whitespace.
pub const MANAGED_POLICY_LIMIT: usize = 6144;

/// The managed policies AWS lets one role hold by default.
pub const MANAGED_POLICIES_PER_ROLE: usize = 10;

/// How a document is measured: the placeholders it still holds, each with
/// the length it will have once filled in.
pub struct Sizing {
    pub limit: usize,
    /// (placeholder, length of what replaces it).
    pub fills: Vec<(String, usize)>,
}

impl Sizing {
    /// AWS's limit, with the account placeholders counted as 12 digits.
    pub fn managed() -> Sizing {
        Sizing { limit: MANAGED_POLICY_LIMIT, fills: vec![("${account}".into(), 12), ("${AWS::AccountId}".into(), 12)] }
    }

    /// Characters without whitespace, placeholders at their filled length.
    pub fn size(&self, v: &Value) -> usize {
        let text = v.to_string();
        let mut n = text.chars().filter(|c| !c.is_whitespace()).count();
        for (placeholder, len) in &self.fills {
            let count = text.matches(placeholder.as_str()).count();
            n = n + count * len - count * placeholder.chars().filter(|c| !c.is_whitespace()).count();
        }
        n
    }
}

fn wrap(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The longest list a statement can be cut along: its resources, or a
/// condition's values. A JSON pointer to it.
fn longest_list(s: &Value) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let mut consider = |pointer: String, v: &Value| {
        if let Some(a) = v.as_array() {
            if a.len() > 1 && best.as_ref().is_none_or(|(n, _)| a.len() > *n) {
                best = Some((a.len(), pointer));
            }
        }
    };
    consider("/Resource".into(), &s["Resource"]);
    for (op, keys) in s["Condition"].as_object().into_iter().flatten() {
        for (key, v) in keys.as_object().into_iter().flatten() {
            let esc = |k: &str| k.replace('~', "~0").replace('/', "~1");
            consider(format!("/Condition/{}/{}", esc(op), esc(key)), v);
        }
    }
    best.map(|(_, p)| p)
}

/// A statement too large alone cut into parts along its longest list,
/// each part measured with its final Sid (`<Sid>PartN`).
fn cut(s: &Value, sizing: &Sizing) -> Vec<Value> {
    let empty = sizing.size(&wrap(vec![]));
    let Some(pointer) = longest_list(s).filter(|_| empty + sizing.size(s) > sizing.limit) else {
        return vec![s.clone()];
    };
    let sid = s["Sid"].as_str().unwrap_or_default().to_string();
    let items = s.pointer(&pointer).and_then(Value::as_array).cloned().unwrap_or_default();
    let with = |n: usize, list: &[Value]| {
        let mut part = s.clone();
        part["Sid"] = json!(format!("{sid}Part{n}"));
        *part.pointer_mut(&pointer).expect("the list") = json!(list);
        part
    };
    let mut parts = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    for item in items {
        let mut grown = current.clone();
        grown.push(item.clone());
        let n = parts.len() + 1;
        if !current.is_empty() && empty + sizing.size(&with(n, &grown)) > sizing.limit {
            parts.push(with(n, &current));
            current = vec![item];
        } else {
            current = grown;
        }
    }
    parts.push(with(parts.len() + 1, &current));
    parts
}

/// `doc` as policy documents each within the limit (as `sizing` measures),
/// for a role holding several managed policies: statements packed in
/// order, one too large alone cut into parts along its longest list of
/// resources or condition values.
pub fn split(doc: &Value, sizing: &Sizing) -> Vec<Value> {
    let pieces = doc["Statement"].as_array().into_iter().flatten().flat_map(|s| cut(s, sizing));
    let mut docs: Vec<Vec<Value>> = vec![vec![]];
    for piece in pieces {
        let current = docs.last_mut().expect("one at least");
        let mut grown = current.clone();
        grown.push(piece.clone());
        if !current.is_empty() && sizing.size(&wrap(grown)) > sizing.limit {
            docs.push(vec![piece]);
        } else {
            current.push(piece);
        }
    }
    docs.into_iter().map(wrap).collect()
}
