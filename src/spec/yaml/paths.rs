//! The field path of each place in a document, so that every diagnostic
//! about a key or a value carries it (`path`, and `value` where there is
//! one) whichever part of the reader found the problem: an unknown key, a
//! duplicate, a reference to something not defined.

use super::{Mark, Node, Value};
use crate::diag::Diagnostic;
use std::collections::BTreeMap;

/// What is written at a place: its field path and, for a scalar or a key,
/// its text.
struct Place {
    path: String,
    text: Option<String>,
    /// A key or a scalar, not a collection beginning at the same place (a
    /// block mapping begins at its first key).
    exact: bool,
}

/// Gives each diagnostic about the document (not another file) that has
/// no path the path of what is written at its place, and its text as the
/// value when it has none (withheld where it may be a secret).
pub fn fill(root: &Node, diags: &mut [Diagnostic]) {
    // A missing field and a cycle are placed at what holds them, not at a field.
    let pending = |d: &Diagnostic| {
        d.path.is_none() && d.file.is_none() && d.mark.line > 0 && !matches!(d.rule, "missing-field" | "cycle")
    };
    if !diags.iter().any(pending) {
        return;
    }
    let mut places = BTreeMap::new();
    walk(root, String::new(), &mut places);
    for d in diags.iter_mut().filter(|d| pending(d)) {
        let Some(p) = places.get(&d.mark) else { continue };
        if p.path.is_empty() {
            continue;
        }
        *d = std::mem::replace(d, Diagnostic::new(Mark::default(), "", "")).at_path(&p.path);
        if let (None, Some(text)) = (&d.value, &p.text) {
            *d = std::mem::replace(d, Diagnostic::new(Mark::default(), "", "")).value(text);
        }
    }
}

fn walk(node: &Node, path: String, places: &mut BTreeMap<Mark, Place>) {
    let text = match &node.value {
        Value::Scalar { text, .. } => Some(text.clone()),
        _ => None,
    };
    let exact = !matches!(node.value, Value::Seq(_) | Value::Map(_));
    put(places, node.mark, Place { path: path.clone(), text, exact });
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), places);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let Value::Scalar { text, .. } = &k.value else { continue };
                let child = if path.is_empty() { text.clone() } else { format!("{path}.{text}") };
                put(places, k.mark, Place { path: child.clone(), text: Some(text.clone()), exact: true });
                walk(v, child, places);
            }
        }
        _ => {}
    }
}

/// Keeps the first exact place at `mark` over a collection's.
fn put(places: &mut BTreeMap<Mark, Place>, mark: Mark, place: Place) {
    match places.get(&mark) {
        Some(old) if old.exact || !place.exact => {}
        _ => {
            places.insert(mark, place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_diagnostics_incomplete() {
        let root =
            super::super::parse("firehoses:\n  f:\n    destination:\n      bufer: 5\n    source: clikcs\n").unwrap();
        let mut diags = vec![
            Diagnostic::new(Mark { line: 4, col: 7 }, "unknown-key", "unknown key `bufer`"),
            Diagnostic::new(Mark { line: 5, col: 13 }, "undefined-reference", "`clikcs` is not defined"),
            Diagnostic::new(Mark { line: 5, col: 13 }, "x", "m").in_file("vars.yaml"),
        ];
        fill(&root, &mut diags);
        assert_eq!(diags[0].path.as_deref(), Some("firehoses.f.destination.bufer"));
        assert_eq!(diags[0].value.as_deref(), Some("bufer"));
        assert_eq!(diags[1].path.as_deref(), Some("firehoses.f.source"));
        assert_eq!(diags[1].value.as_deref(), Some("clikcs"));
        assert_eq!(diags[2].path, None, "another file's place is not this document's");
    }

    #[test]
    fn a_secret_value_gets_its_path_not_its_value() {
        let root = super::super::parse("functions:\n  f:\n    environment:\n      A: hunter2\n").unwrap();
        let mut diags = vec![Diagnostic::new(Mark { line: 4, col: 10 }, "x", "m")];
        fill(&root, &mut diags);
        assert_eq!((diags[0].path.as_deref(), diags[0].value.as_deref()), (Some("functions.f.environment.A"), None));
    }
}
