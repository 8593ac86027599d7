//! A YAML document as a tree of nodes that keep their source position.
//!
//! serde_yaml drops positions once a value is deserialized and stops at the
//! first error, so the spec is read through yaml-rust2's event parser into
//! this tree instead. Every later error (unknown key, dangling reference, a
//! name breaking an AWS rule) can then point at the exact line and column.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub use crate::diag::Mark;

fn mark_of(m: Marker) -> Mark {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Mark { line: m.line(), col: m.col() + 1 }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar and whether it was quoted (a quoted scalar is always a string).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub mark: Mark,
    pub value: Value,
}

impl Node {
    /// What kind of YAML value this is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { text, quoted } => {
                if *quoted {
                    "a string"
                } else if text.parse::<i64>().is_ok() {
                    "an integer"
                } else if text.parse::<f64>().is_ok() {
                    "a number"
                } else if matches!(text.as_str(), "true" | "false") {
                    "a boolean"
                } else {
                    "a string"
                }
            }
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub mark: Mark,
    pub message: String,
}

/// Parses one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e| SyntaxError { mark: mark_of(*e.marker()), message: e.info().to_string() })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node { mark: Mark { line: 1, col: 1 }, value: Value::Null }))
}

#[derive(Default)]
struct Builder {
    /// Open sequences and mappings, innermost last.
    stack: Vec<Node>,
    /// For each open mapping, a key waiting for its value.
    pending_keys: Vec<Option<Node>>,
    anchors: std::collections::HashMap<usize, Node>,
    /// Anchor ids of the open collections, parallel to `stack`.
    open_anchors: Vec<usize>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return;
        };
        match &mut parent.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => {
                let slot = self.pending_keys.last_mut().expect("a mapping has a key slot");
                match slot.take() {
                    None => *slot = Some(node),
                    Some(key) => entries.push((key, node)),
                }
            }
            _ => unreachable!("only collections are pushed on the stack"),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = mark_of(marker);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let is_null = !quoted && tag.is_none() && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if is_null { Value::Null } else { Value::Scalar { text, quoted } };
                self.push_value(Node { mark, value }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Node { mark, value: Value::Seq(Vec::new()) });
                self.open_anchors.push(anchor);
                self.pending_keys.push(None);
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Node { mark, value: Value::Map(Vec::new()) });
                self.open_anchors.push(anchor);
                self.pending_keys.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let mut node = self.stack.pop().expect("balanced events");
                // A block mapping's start event is marked after its first key;
                // the first key is where a person sees the mapping begin.
                if let Value::Map(entries) = &node.value {
                    if let Some((k, _)) = entries.first() {
                        if k.mark < node.mark {
                            node.mark = k.mark;
                        }
                    }
                }
                let anchor = self.open_anchors.pop().unwrap_or(0);
                self.pending_keys.pop();
                self.push_value(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.mark = mark;
                    self.push_value(node, 0);
                }
                None => {
                    self.error.get_or_insert(SyntaxError { mark, message: "alias to an unknown anchor".into() });
                }
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse("a: 1\nb:\n  c: \"x\"\n  d: [1, 2]\n").unwrap();
        let Value::Map(entries) = &doc.value else { panic!("not a map") };
        assert_eq!(entries[0].0.mark, Mark { line: 1, col: 1 });
        assert_eq!(entries[0].1.mark, Mark { line: 1, col: 4 });
        let Value::Map(inner) = &entries[1].1.value else { panic!("not a map") };
        assert_eq!(inner[0].0.mark, Mark { line: 3, col: 3 });
        assert_eq!(inner[0].1.value, Value::Scalar { text: "x".into(), quoted: true });
        assert_eq!(inner[1].1.mark, Mark { line: 4, col: 6 });
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().value, Value::Null);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.mark.line >= 1);
        assert!(!err.message.is_empty());
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let doc = parse("a: &x {k: 1}\nb: *x\n").unwrap();
        let Value::Map(entries) = &doc.value else { panic!("not a map") };
        assert_eq!(entries[1].1.kind(), "a mapping");
    }
}
