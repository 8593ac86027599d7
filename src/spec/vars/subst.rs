//! `${var.NAME}` through the YAML tree: a scalar that is only a variable
//! becomes the variable's typed value (a list a sequence); inside a longer
//! string it becomes text. What the spec escapes (`$${`) is left for
//! `interp.rs` to unescape. Everything a variable adds is bounded, like
//! anchors and aliases: a value used many times is a copy each time.

use super::super::yaml::{Mark, Node, Value, MAX_ALIAS_NODES, MAX_BYTES};
use super::{value, Decl, Resolved};
use crate::diag::{did_you_mean, Diagnostic};
use std::collections::BTreeMap;

struct Walk<'a> {
    decls: &'a BTreeMap<String, Decl>,
    resolved: &'a mut Resolved,
    diags: &'a mut Vec<Diagnostic>,
    nodes: usize,
    bytes: usize,
    over: bool,
}

pub(super) fn substitute(
    root: &mut Node,
    decls: &BTreeMap<String, Decl>,
    resolved: &mut Resolved,
    diags: &mut Vec<Diagnostic>,
) {
    let mut w = Walk { decls, resolved, diags, nodes: 0, bytes: 0, over: false };
    if let Value::Map(entries) = &mut root.value {
        for (k, v) in entries.iter_mut() {
            if matches!(&k.value, Value::Scalar { text, .. } if text == "vars") {
                continue;
            }
            w.node(v);
        }
    }
}

/// Each unescaped `${...}` of `text`: its byte range and its expression.
pub(super) fn expressions(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("${") {
        let start = at + found;
        if start > 0 && text.as_bytes()[start - 1] == b'$' {
            at = start + 2;
            continue;
        }
        let Some(len) = text[start + 2..].find('}') else { break };
        let end = start + 2 + len + 1;
        out.push((start, end, text[start + 2..end - 1].trim()));
        at = end;
    }
    out
}

impl Walk<'_> {
    fn node(&mut self, node: &mut Node) {
        if self.over {
            return;
        }
        match &mut node.value {
            Value::Seq(items) => items.iter_mut().for_each(|i| self.node(i)),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| self.node(v)),
            Value::Scalar { text, .. } if text.contains("${") => {
                let text = text.clone();
                self.scalar(node, &text);
            }
            _ => {}
        }
    }

    fn scalar(&mut self, node: &mut Node, text: &str) {
        let uses: Vec<(usize, usize, &str)> = expressions(text)
            .into_iter()
            .filter_map(|(s, e, x)| x.strip_prefix("var.").map(|n| (s, e, n.trim())))
            .collect();
        if uses.is_empty() {
            return;
        }
        let mut notes = Vec::new();
        let mut values = Vec::new();
        for (_, _, name) in &uses {
            let Some(var) = self.resolved.values.get(*name) else {
                self.unknown(node.mark, name);
                return;
            };
            notes.push(format!("from var.{name}, {}", var.source.describe(name)));
            values.push(var.value.clone());
        }
        let whole = uses.len() == 1 && uses[0].0 == 0 && uses[0].1 == text.len();
        if whole {
            self.count(value::size(&values[0]), value::text(&values[0]).map_or(0, |t| t.len()), node.mark);
            *node = value::node(&values[0], node.mark);
        } else {
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for ((start, end, name), v) in uses.iter().zip(&values) {
                let Some(t) = value::text(v) else {
                    let msg = format!("var.{name} is a list; a list fills a whole value, not part of a string");
                    let hint = format!("write `${{var.{name}}}` alone as the value");
                    self.diags.push(Diagnostic::new(node.mark, "type", msg).hint(hint));
                    return;
                };
                out.push_str(&text[at..*start]);
                out.push_str(&t);
                at = *end;
            }
            out.push_str(&text[at..]);
            self.count(0, out.len(), node.mark);
            if let Value::Scalar { text, .. } = &mut node.value {
                *text = out;
            }
        }
        notes.dedup();
        self.resolved.uses.insert(node.mark, notes.join("; "));
    }

    fn unknown(&mut self, mark: Mark, name: &str) {
        let hint = match did_you_mean(name, self.decls.keys().map(String::as_str)) {
            Some(m) => format!("did you mean `var.{m}`?"),
            None => format!("declare `{name}` under `vars:`"),
        };
        let msg = format!("`${{var.{name}}}` names a variable the spec does not declare");
        self.diags.push(Diagnostic::new(mark, "unknown-variable", msg).hint(hint));
    }

    /// Counts what a substitution adds; past the bounds, one error and the
    /// walk stops.
    fn count(&mut self, nodes: usize, bytes: usize, mark: Mark) {
        self.nodes += nodes;
        self.bytes += bytes;
        if !self.over && (self.nodes > MAX_ALIAS_NODES || self.bytes > MAX_BYTES) {
            self.over = true;
            let msg = format!(
                "variables expand to more than {MAX_ALIAS_NODES} nodes or {MAX_BYTES} bytes: refused, as a document that grows without bound"
            );
            self.diags.push(
                Diagnostic::new(mark, "var-expansion", msg).hint("use smaller values, or fewer uses of a large one"),
            );
        }
    }
}
