//! Decoding the positioned YAML tree into the raw spec structs.
//!
//! Every problem is recorded as a [`Diagnostic`] and decoding carries on, so
//! one run reports every unknown key and wrong type in the file. A value that
//! failed to decode is `None` in the raw struct; later stages skip it.

use super::yaml::{Mark, Node, Value};
use crate::diag::{did_you_mean, Diagnostic};

#[derive(Default)]
pub struct Decoder {
    pub diags: Vec<Diagnostic>,
}

impl Decoder {
    pub fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn type_error(&mut self, node: &Node, expected: &str) {
        self.error(Diagnostic::new(node.mark, "type", format!("expected {expected}, found {}", node.kind())));
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub v: T,
    pub mark: Mark,
}

/// A YAML mapping with user-chosen keys, in file order.
pub type Entries<T> = Vec<(Sp<String>, T)>;

pub trait Decode: Sized {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self>;
}

impl<T: Decode> Decode for Sp<T> {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        T::decode(node, d).map(|v| Sp { v, mark: node.mark })
    }
}

impl Decode for String {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                d.type_error(node, "a string");
                None
            }
        }
    }
}

impl Decode for bool {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Scalar { text, quoted: false } if text == "true" || text == "false" => Some(text == "true"),
            _ => {
                d.type_error(node, "a boolean (true or false)");
                None
            }
        }
    }
}

macro_rules! decode_int {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
                if let Value::Scalar { text, quoted: false } = &node.value {
                    if let Ok(n) = text.replace('_', "").parse::<$t>() {
                        return Some(n);
                    }
                    if text.parse::<i128>().is_ok() {
                        d.error(Diagnostic::new(
                            node.mark,
                            "type",
                            format!("integer {text} is out of range"),
                        ));
                        return None;
                    }
                }
                d.type_error(node, "an integer");
                None
            }
        }
    )*};
}
decode_int!(i64, u32, u64);

impl Decode for f64 {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        if let Value::Scalar { text, quoted: false } = &node.value {
            if let Ok(n) = text.parse::<f64>() {
                return Some(n);
            }
        }
        d.type_error(node, "a number");
        None
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Seq(items) => Some(items.iter().filter_map(|i| T::decode(i, d)).collect()),
            _ => {
                d.type_error(node, "a list");
                None
            }
        }
    }
}

impl<T: Decode> Decode for Entries<T> {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => return Some(Vec::new()),
            _ => {
                d.type_error(node, "a mapping");
                return None;
            }
        };
        let mut out: Entries<T> = Vec::new();
        for (k, v) in entries {
            let Some(key) = Sp::<String>::decode(k, d) else {
                continue;
            };
            if let Some((first, _)) = out.iter().find(|(f, _)| f.v == key.v) {
                d.error(
                    Diagnostic::new(key.mark, "duplicate-key", format!("key `{}` is defined twice", key.v))
                        .hint(format!("the first definition is at line {}", first.mark.line)),
                );
                continue;
            }
            if let Some(value) = T::decode(v, d) {
                out.push((key, value));
            }
        }
        Some(out)
    }
}

/// Reads a mapping with a fixed set of keys. Each key asked for is
/// remembered, so `finish` can report the keys nobody asked for as unknown.
pub struct MapReader<'n, 'd> {
    pub mark: Mark,
    entries: &'n [(Node, Node)],
    d: &'d mut Decoder,
    known: Vec<&'static str>,
    what: String,
}

impl<'n, 'd> MapReader<'n, 'd> {
    /// `what` names the place for messages, e.g. "firehoses.to-lake".
    /// A null value reads as an empty mapping (`kinesislab:` and `kinesislab: {}`
    /// mean the same).
    pub fn open(node: &'n Node, d: &'d mut Decoder, what: impl Into<String>) -> Option<Self> {
        let entries: &'n [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                d.type_error(node, "a mapping");
                return None;
            }
        };
        Some(MapReader { mark: node.mark, entries, d, known: Vec::new(), what: what.into() })
    }

    pub fn decoder(&mut self) -> &mut Decoder {
        self.d
    }

    fn find(&mut self, key: &'static str) -> Option<&'n (Node, Node)> {
        self.known.push(key);
        #[cfg(test)]
        asked::note(self.mark, key);
        self.entries.iter().find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == key))
    }

    /// The value at `key`; absent or null is `None` without an error.
    pub fn opt<T: Decode>(&mut self, key: &'static str) -> Option<T> {
        let (_, v) = self.find(key)?;
        if v.value == Value::Null {
            return None;
        }
        T::decode(v, self.d)
    }

    /// The node at `key`, for values decoded by hand.
    pub fn node(&mut self, key: &'static str) -> Option<&'n Node> {
        self.find(key).map(|(_, v)| v).filter(|v| v.value != Value::Null)
    }

    /// The node at `key` even when it is null (`key:` with no value).
    pub fn node_or_null(&mut self, key: &'static str) -> Option<&'n Node> {
        self.find(key).map(|(_, v)| v)
    }

    /// The value at `key`; absent is a `missing-field` error.
    pub fn req<T: Decode>(&mut self, key: &'static str) -> Option<T> {
        self.req_node(key, None)?;
        self.opt(key)
    }

    /// The node at `key`, for values decoded by hand; absent is a
    /// `missing-field` error, with `hint` or a generic one.
    pub fn req_node(&mut self, key: &'static str, hint: Option<&str>) -> Option<&'n Node> {
        let node = self.node(key);
        if node.is_none() {
            let what = self.what.clone();
            let hint = hint.map_or_else(|| format!("add `{key}: ...` to `{what}`"), str::to_string);
            let message = format!("missing required field `{key}` in `{what}`");
            self.d.error(Diagnostic::new(self.mark, "missing-field", message).hint(hint));
        }
        node
    }

    /// [`MapReader::opt`], an empty value when absent (lists, maps).
    pub fn opt_or_default<T: Decode + Default>(&mut self, key: &'static str) -> T {
        self.opt(key).unwrap_or_default()
    }

    /// [`MapReader::req`], an empty value when absent (after the error).
    pub fn req_or_default<T: Decode + Default>(&mut self, key: &'static str) -> T {
        self.req(key).unwrap_or_default()
    }

    /// Reports every key that was not asked for.
    pub fn finish(self) {
        let mut known: Vec<&str> = Vec::new();
        for k in &self.known {
            if !known.contains(k) {
                known.push(k);
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in self.entries {
            let Value::Scalar { text, .. } = &k.value else {
                self.d.type_error(k, "a string key");
                continue;
            };
            // The first of two was read: YAML readers differ on which wins,
            // so a second is an error, not a silent choice.
            if seen.contains(&text.as_str()) {
                let place = if self.what.is_empty() { "the top level".to_string() } else { format!("`{}`", self.what) };
                let diag = Diagnostic::new(k.mark, "duplicate-key", format!("`{text}` is given twice in {place}"));
                self.d.error(diag.hint("keep one: merge the two into the first"));
                continue;
            }
            seen.push(text);
            if known.contains(&text.as_str()) {
                continue;
            }
            let place = if self.what.is_empty() { "the top level".to_string() } else { format!("`{}`", self.what) };
            let mut diag = Diagnostic::new(k.mark, "unknown-key", format!("unknown key `{text}` in {place}"));
            diag = match did_you_mean(text, known.iter().copied()) {
                Some(m) => diag.hint(format!("did you mean `{m}`?")),
                None => diag.hint(format!("the keys allowed here are: {}", known.join(", "))),
            };
            self.d.error(diag);
        }
    }
}

/// The keys every [`MapReader`] asks for while a closure decodes, with the
/// mapping's position: how `spec::fields` proves its table holds every key
/// the decoder reads.
#[cfg(test)]
pub mod asked {
    use super::Mark;
    use std::cell::RefCell;

    thread_local! {
        static ASKED: RefCell<Option<Vec<(Mark, &'static str)>>> = const { RefCell::new(None) };
    }

    /// Runs `f`, returning what it returned and each (mapping, key) asked for.
    pub fn record<T>(f: impl FnOnce() -> T) -> (T, Vec<(Mark, &'static str)>) {
        ASKED.with(|a| *a.borrow_mut() = Some(Vec::new()));
        let out = f();
        let keys = ASKED.with(|a| a.borrow_mut().take()).unwrap_or_default();
        (out, keys)
    }

    pub(super) fn note(mark: Mark, key: &'static str) {
        ASKED.with(|a| {
            if let Some(keys) = a.borrow_mut().as_mut() {
                keys.push((mark, key));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    #[test]
    fn reports_unknown_keys_and_type_errors_together() {
        let doc = parse("size_mb: big\nintervl: 3\n").unwrap();
        let mut d = Decoder::default();
        let mut m = MapReader::open(&doc, &mut d, "buffer").unwrap();
        let size: Option<u32> = m.opt("size_mb");
        let interval: Option<u32> = m.opt("interval");
        m.finish();
        assert_eq!((size, interval), (None, None));
        let rules: Vec<_> = d.diags.iter().map(|x| (x.rule, x.mark.line, x.mark.col)).collect();
        assert_eq!(rules, vec![("type", 1, 10), ("unknown-key", 2, 1)]);
        assert_eq!(d.diags[1].hint.as_deref(), Some("did you mean `interval`?"));
    }

    #[test]
    fn duplicate_keys_in_entries_are_reported() {
        let doc = parse("a: x\nb: y\na: z\n").unwrap();
        let mut d = Decoder::default();
        let e: Entries<String> = Decode::decode(&doc, &mut d).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(d.diags[0].rule, "duplicate-key");
        assert_eq!(d.diags[0].mark.line, 3);
    }

    #[test]
    fn missing_required_field() {
        let doc = parse("other: 1\n").unwrap();
        let mut d = Decoder::default();
        let mut m = MapReader::open(&doc, &mut d, "streams.x").unwrap();
        let v: Option<String> = m.req("name");
        let _: Option<i64> = m.opt("other");
        m.finish();
        assert!(v.is_none());
        assert_eq!(d.diags.len(), 1);
        assert_eq!(d.diags[0].rule, "missing-field");
    }
}
