//! A YAML document as a tree of nodes that keep their source position.
//!
//! serde_yaml drops positions once a value is deserialized and stops at the
//! first error, so the spec is read through yaml-rust2's event parser into
//! this tree instead. Every later error (unknown key, dangling reference, a
//! name breaking an AWS rule) can then point at the exact line and column.

mod cause;
pub mod core;
pub mod paths;

use crate::diag::Diagnostic;
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
    /// The key node and value of `key`, when this is a mapping holding it.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        let Value::Map(entries) = &self.value else { return None };
        entries.iter().find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key)).map(|(k, v)| (k, v))
    }

    /// What kind of YAML value this is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { text, quoted } => {
                if *quoted {
                    "a string"
                } else if core::int(text).is_some() {
                    "an integer"
                } else if core::float(text).is_some() {
                    "a number"
                } else if core::boolean(text).is_some() {
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

/// A YAML error with its position and the rule it broke (`syntax`, or one
/// of the limits below).
#[derive(Debug, Clone, Default)]
pub struct SyntaxError {
    pub mark: Mark,
    pub rule: &'static str,
    pub message: String,
    pub hint: &'static str,
    /// What to say under the caret.
    pub label: Option<&'static str>,
    /// A second place and what it says: where the parser gave up, when
    /// the error is shown at its cause, or where the collection it gave
    /// up in opened.
    pub related: Option<(Mark, &'static str)>,
}

impl SyntaxError {
    /// The error as a diagnostic about the file it was read from.
    pub fn diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::new(self.mark, self.rule, self.message.clone()).hint(self.hint);
        if let Some(label) = self.label {
            d = d.label(label);
        }
        if let Some((m, label)) = self.related {
            d = d.related(m, label);
        }
        d
    }
}

/// The largest spec read, in bytes: a pipeline of a thousand resources is
/// well under it; anything larger is refused before it is parsed.
pub const MAX_BYTES: usize = 1 << 20;
/// How deeply collections may nest.
pub const MAX_DEPTH: usize = 64;
/// How many aliases (`*name`) a document may use.
pub const MAX_ALIASES: usize = 1_000;
/// How many nodes anchors and aliases may copy in all: nine nested aliases
/// of ten ("billion laughs") would copy 10^9, and every anchored node is
/// copied once when it is read (sixty nested anchors over one large list
/// copy it sixty times), so both count.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Parses one YAML document. An empty document is `Null`. Documents over
/// [`MAX_BYTES`], nesting over [`MAX_DEPTH`] and alias expansion over
/// [`MAX_ALIASES`] / [`MAX_ALIAS_NODES`] (anchored nodes included) are errors, found before any of it
/// is built.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let text = crate::diag::sources::strip_bom(text);
    if text.len() > MAX_BYTES {
        return Err(SyntaxError {
            mark: Mark { line: 1, col: 1 },
            rule: "yaml-size",
            message: format!("the document is over {MAX_BYTES} bytes, the most a spec may be"),
            hint: "split the pipeline into several specs",
            ..Default::default()
        });
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Every document is read, so a second one is an error, not ignored.
    let loaded = parser.load(&mut builder, true);
    // A limit stops the build at once; it is the error to report.
    if let Some(err) = builder.error {
        return Err(err);
    }
    loaded.map_err(|e| {
        let gave_up = mark_of(*e.marker());
        if e.info().contains("recursion limit") {
            // The parser's own bound on nesting, below ours when brackets are closed.
            return SyntaxError { mark: gave_up, ..depth_error() };
        }
        match cause::find(text, gave_up, e.info()) {
            Some(c) => SyntaxError {
                mark: c.mark,
                rule: "syntax",
                message: format!("YAML syntax error: {}", c.message),
                hint: c.hint,
                label: Some(c.label),
                related: c
                    .related
                    .or_else(|| (c.mark.line != gave_up.line).then_some((gave_up, "the YAML parser gave up here"))),
            },
            None => SyntaxError {
                mark: gave_up,
                rule: "syntax",
                message: format!("YAML syntax error: {}", e.info()),
                hint: "check indentation and quoting around this place",
                label: None,
                related: None,
            },
        }
    })?;
    Ok(builder.root.unwrap_or(Node { mark: Mark { line: 1, col: 1 }, value: Value::Null }))
}

/// Collections nested deeper than [`MAX_DEPTH`].
fn depth_error() -> SyntaxError {
    SyntaxError {
        rule: "yaml-depth",
        message: format!("collections nest more than {MAX_DEPTH} deep here"),
        hint: "a spec needs a handful of levels; flatten this value",
        ..Default::default()
    }
}

/// How many nodes a tree holds.
fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
        _ => 0,
    }
}

#[derive(Default)]
struct Builder {
    /// Open sequences and mappings, innermost last.
    stack: Vec<Node>,
    /// For each open mapping, a key waiting for its value.
    pending_keys: Vec<Option<Node>>,
    /// Each anchored node with its size in nodes.
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    /// Aliases seen, and the nodes anchors and aliases copied.
    aliases: usize,
    alias_nodes: usize,
    /// Anchor ids of the open collections, parallel to `stack`.
    open_anchors: Vec<usize>,
    root: Option<Node>,
    error: Option<SyntaxError>,
    /// Documents begun.
    documents: usize,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            // Keeping the anchored node is a copy of it: it counts, before
            // it is made, as an alias's copy does.
            let n = size(&node);
            if !self.copy(n, node.mark) {
                return;
            }
            self.anchors.insert(anchor, (node.clone(), n));
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

impl Builder {
    /// Counts `n` nodes copied by an anchor or an alias at `mark`; false,
    /// with the error set, once the document copies more than the limits.
    fn copy(&mut self, n: usize, mark: Mark) -> bool {
        self.alias_nodes += n;
        if self.aliases <= MAX_ALIASES && self.alias_nodes <= MAX_ALIAS_NODES {
            return true;
        }
        self.error = Some(SyntaxError {
            mark,
            rule: "yaml-alias",
            message: format!(
                "anchors and aliases copy more than {MAX_ALIAS_NODES} nodes (or more than {MAX_ALIASES} aliases): \
                 refused, as a document that grows without bound"
            ),
            hint: "write the repeated values out, or use fewer, smaller anchors",
            ..Default::default()
        });
        false
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = mark_of(marker);
        if self.error.is_some() {
            return;
        }
        let tagged = match &ev {
            Event::Scalar(_, _, _, tag) | Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) => tag.is_some(),
            _ => false,
        };
        if tagged {
            self.error = Some(SyntaxError {
                mark,
                rule: "yaml-tag",
                message: "YAML tags (`!!str`, `!!binary`, `!custom`) are not read: the field's declared type decides"
                    .into(),
                hint: "remove the tag; quote a value to make it a string",
                ..Default::default()
            });
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.error = Some(SyntaxError {
                        mark,
                        rule: "yaml-documents",
                        message: "a second YAML document begins here: a spec or var file is one document".into(),
                        hint: "remove the `---` and what follows it, or put each part in a file of its own",
                        ..Default::default()
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let is_null = !quoted && tag.is_none() && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let value = if is_null { Value::Null } else { Value::Scalar { text, quoted } };
                self.push_value(Node { mark, value }, anchor);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.error = Some(SyntaxError { mark, ..depth_error() });
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
            Event::Alias(id) => {
                let Some(n) = self.anchors.get(&id).map(|(_, n)| *n) else {
                    self.error = Some(SyntaxError {
                        mark,
                        rule: "syntax",
                        message: "YAML syntax error: alias to an unknown anchor".into(),
                        hint: "define the anchor (`&name`) before using it (`*name`)",
                        ..Default::default()
                    });
                    return;
                };
                self.aliases += 1;
                if !self.copy(n, mark) {
                    return;
                }
                let mut node = self.anchors[&id].0.clone();
                node.mark = mark;
                self.push_value(node, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_yaml_document_was_used() {
        for text in ["a: 1\n---\nb: 2\n", "--- \n---\na: 1\n", "a: 1\n---\ngarbage: [\n"] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.rule, "yaml-documents", "{text:?}: {err:?}");
        }
        assert!(parse("---\na: 1\n").is_ok(), "one document with its marker");
        assert!(parse("a: 1\n...\n").is_ok(), "one document with its end marker");
    }

    #[test]
    fn tags_were_read_past_the_declared_type() {
        for text in ["a: !!str 3\n", "a: !!binary aGVsbG8=\n", "a: !custom x\n", "a: !!map {b: 1}\n", "a: !!seq [1]\n"]
        {
            let err = parse(text).unwrap_err();
            assert_eq!(err.rule, "yaml-tag", "{text:?}: {err:?}");
            assert_eq!(err.mark.line, 1);
        }
    }

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
    fn an_alias_bomb_is_refused_quickly() {
        // Nine levels of ten aliases each: 10^9 nodes if expanded.
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..=9 {
            let prev = format!("*a{}", i - 1);
            doc.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
        }
        // Time and memory: `scripts/hostile-bench.sh`.
        let err = parse(&doc).unwrap_err();
        assert_eq!(err.rule, "yaml-alias");
        assert!(err.mark.line >= 2, "{err:?}");
    }

    #[test]
    fn anchored_nodes_count_toward_the_expansion_limit() {
        // Sixty nested anchors over one list of 2,000: no alias at all, yet
        // reading it keeps sixty copies (120,000 nodes).
        let items = vec!["x"; 2_000].join(", ");
        let mut doc = String::from("a: ");
        for i in 0..60 {
            doc.push_str(&format!("&a{i} ["));
        }
        doc.push_str(&items);
        doc.push_str(&"]".repeat(60));
        let err = parse(&doc).unwrap_err();
        assert_eq!(err.rule, "yaml-alias", "{err:?}");
        assert!(err.message.contains("anchors and aliases"), "{}", err.message);
        // A wide set of anchors, each over a list of 2,000: 60 copies.
        let wide: String = (0..60).map(|i| format!("k{i}: &w{i} [{items}]\n")).collect();
        let err = parse(&wide).unwrap_err();
        assert_eq!(err.rule, "yaml-alias");
        assert!(err.mark.line > 1, "the anchor past the limit is named: {err:?}");
        // Anchors as specs use them (a few shared settings) stay fine.
        let usual = "base: &b { shards: 1, retention_hours: 24 }\nstreams:\n  a: *b\n  c: *b\n";
        assert!(parse(usual).is_ok());
    }

    #[test]
    fn deep_nesting_and_huge_documents_are_refused() {
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse(&deep).unwrap_err();
        assert_eq!((err.rule, err.mark.line), ("yaml-depth", 1));
        let big = format!("a: \"{}\"\n", "x".repeat(MAX_BYTES));
        assert_eq!(parse(&big).unwrap_err().rule, "yaml-size");
        assert!(parse(&format!("{}1{}", "[".repeat(10), "]".repeat(10))).is_ok());
    }

    #[test]
    fn three_hundred_closed_nested_brackets_are_the_depth_rule() {
        let deep = format!("a: {}{}\n", "[".repeat(300), "]".repeat(300));
        let err = parse(&deep).unwrap_err();
        assert_eq!(err.rule, "yaml-depth", "{err:?}");
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let doc = parse("a: &x {k: 1}\nb: *x\n").unwrap();
        let Value::Map(entries) = &doc.value else { panic!("not a map") };
        assert_eq!(entries[1].1.kind(), "a mapping");
    }
}
