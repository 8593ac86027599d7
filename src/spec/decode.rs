//! Decoding the positioned YAML tree into the raw spec structs.
//!
//! Every problem is recorded as a [`Diagnostic`] and decoding carries on, so
//! one run reports every unknown key and wrong type in the file. A value that
//! failed to decode is `None` in the raw struct; later stages skip it.

use super::yaml::{core, Mark, Node, Value};
use crate::diag::{did_you_mean, value, Diagnostic};

#[derive(Default)]
pub struct Decoder {
    pub diags: Vec<Diagnostic>,
    /// The field path of the value being decoded (`streams.clicks.shards`),
    /// for messages; empty at the top level.
    path: String,
    /// Decoding a spec: a string field that does not interpolate (see
    /// `spec::fields::INTERPOLATING`) refuses a `${...}` left in it.
    pub spec: bool,
}

impl Decoder {
    /// A decoder for a spec (see `spec`).
    pub fn for_spec() -> Self {
        Decoder { spec: true, ..Decoder::default() }
    }

    pub fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The field path of the value being decoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sets the path of what is decoded next, returning the one to restore.
    fn enter(&mut self, path: String) -> String {
        std::mem::replace(&mut self.path, path)
    }

    /// A mapping's key, which must be a string; an error naming the
    /// mapping otherwise.
    pub fn key(&mut self, k: &Node) -> Option<Sp<String>> {
        if let Value::Scalar { text, .. } = &k.value {
            return Some(Sp { v: text.clone(), mark: k.mark, path: self.path.clone() });
        }
        let place = if self.path.is_empty() { "at the top level".to_string() } else { format!("in `{}`", self.path) };
        let message = format!("a key {place} must be a string, found {}", k.kind());
        self.error(Diagnostic::new(k.mark, "type", message).label("expected a string key"));
        None
    }

    /// "`path` must be EXPECTED, found the string \"x\"", with the path,
    /// the value (shortened, or withheld when it may be a secret) and a
    /// label under it.
    pub fn type_error(&mut self, node: &Node, expected: &str) {
        let path = self.path.clone();
        self.error(type_diagnostic(&path, node, expected));
    }
}

/// The type error for `node` at `path`, expected to be `expected`.
pub fn type_diagnostic(path: &str, node: &Node, expected: &str) -> Diagnostic {
    let found = found(path, node);
    let message = if path.is_empty() {
        format!("the top level of the spec must be {expected}, found {found}")
    } else {
        format!("`{path}` must be {expected}, found {found}")
    };
    let mut d = Diagnostic::new(node.mark, "type", message).label(format!("expected {expected}"));
    if !path.is_empty() {
        d = d.at_path(path);
    }
    if let Value::Scalar { text, .. } = &node.value {
        if !value::is_secret(path) {
            d = d.value(text);
        }
    }
    d
}

/// What a node is, with its value when it is a scalar that may be shown:
/// `the string "two"`, `the integer 5`, `a list`.
pub fn found(path: &str, node: &Node) -> String {
    let kind = node.kind();
    match &node.value {
        Value::Scalar { text, .. } if !value::is_secret(path) => {
            let noun = kind.trim_start_matches("an ").trim_start_matches("a ");
            match kind {
                "a string" => format!("the {noun} {}", value::quoted(text)),
                _ => format!("the {noun} {}", value::short(text)),
            }
        }
        Value::Scalar { .. } => format!("{kind} (its value is not shown: it may be a secret)"),
        _ => kind.to_string(),
    }
}

/// A value, where it was written, and the field path it was read at
/// (empty when not known). Two are equal when value and place are.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub v: T,
    pub mark: Mark,
    pub path: String,
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v && self.mark == other.mark
    }
}

impl<T> Sp<T> {
    /// A value with its place and no path.
    pub fn new(v: T, mark: Mark) -> Self {
        Sp { v, mark, path: String::new() }
    }

    /// The field path, or `fallback` when it is not known.
    pub fn named<'a>(&'a self, fallback: &'a str) -> &'a str {
        if self.path.is_empty() {
            fallback
        } else {
            &self.path
        }
    }
}

/// A YAML mapping with user-chosen keys, in file order.
pub type Entries<T> = Vec<(Sp<String>, T)>;

pub trait Decode: Sized {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self>;
}

impl<T: Decode> Decode for Sp<T> {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        T::decode(node, d).map(|v| Sp { v, mark: node.mark, path: d.path.clone() })
    }
}

impl Decode for String {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Scalar { text, .. } if d.spec && text.contains("${") && !interpolates(&d.path) => {
                let path = d.path.clone();
                let mut diag = Diagnostic::new(
                    node.mark,
                    "interpolation",
                    format!("`{path}` does not interpolate `${{...}}`, found {}", found(&path, node)),
                )
                .label("not interpolated in this field")
                .at_path(&path)
                .hint(
                    "only names, tag values, descriptions, prefixes, metric filter patterns, a function's \
                     environment and policy resources interpolate (docs/spec-reference.md); write the value out, \
                     or declare a variable under `vars:` and use `${var.NAME}`, filled before the spec is read",
                );
                if !value::is_secret(&path) {
                    diag = diag.value(text);
                }
                d.error(diag);
                None
            }
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
            Value::Scalar { text, quoted: false } if core::boolean(text).is_some() => core::boolean(text),
            _ => {
                d.type_error(node, "true or false");
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
                    // YAML 1.2 core integers only: `1_000` and `_5` are strings.
                    let read = core::int(text);
                    if let Some(n) = read.and_then(|n| <$t>::try_from(n).ok()) {
                        return Some(n);
                    }
                    if read.is_some() {
                        // The field's own range when it has one, else the type's.
                        let (lo, hi) = crate::spec::fields::int_range(&d.path).unwrap_or((<$t>::MIN as i128, <$t>::MAX as i128));
                        let what = if d.path.is_empty() { "the value".to_string() } else { format!("`{}`", d.path) };
                        let mut diag = Diagnostic::new(
                            node.mark,
                            "range",
                            format!("{what} must be an integer from {lo} to {hi}, found {}", value::short(text)),
                        )
                        .label("out of range")
                        .value(text);
                        if !d.path.is_empty() {
                            diag = diag.at_path(&d.path);
                        }
                        d.error(diag);
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
            // A YAML 1.2 float or integer; `nan`, `inf` and `infinity` are
            // strings there, and `.inf`/`.nan` are not numbers AWS takes.
            match core::float(text) {
                Some(n) if n.is_finite() => return Some(n),
                Some(_) => {
                    d.type_error(node, "a finite number");
                    return None;
                }
                None => {}
            }
        }
        d.type_error(node, "a number");
        None
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &Node, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let old = d.enter(format!("{}[{i}]", d.path));
                    out.extend(T::decode(item, d));
                    d.enter(old);
                }
                Some(out)
            }
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
            if is_merge_key(k) {
                let place = if d.path.is_empty() { "the top level".to_string() } else { format!("`{}`", d.path) };
                d.error(merge_key_diagnostic(k.mark, &place));
                continue;
            }
            let Some(key) = d.key(k) else {
                continue;
            };
            if let Some((first, _)) = out.iter().find(|(f, _)| f.v == key.v) {
                d.error(
                    Diagnostic::new(
                        key.mark,
                        "duplicate-key",
                        format!("key `{}` is defined twice", value::escape(&key.v)),
                    )
                    .label("defined again here")
                    .related(first.mark, "first defined here")
                    .hint(format!("the first definition is at line {}", first.mark.line)),
                );
                continue;
            }
            let old = d.enter(join(&d.path, &key.v));
            let value = T::decode(v, d);
            d.enter(old);
            if let Some(value) = value {
                out.push((key, value));
            }
        }
        Some(out)
    }
}

/// Whether the string at decoder path `path` is interpolated; a path the
/// table does not know (a variable's declaration) is left alone.
fn interpolates(path: &str) -> bool {
    match super::fields::at(path) {
        Some(f) => super::fields::interpolation(f.path).is_some(),
        None => true,
    }
}

/// A plain `<<` key: a YAML 1.1 merge key, which pipectl does not expand
/// (YAML 1.2 has none; readers differ on what it means).
fn is_merge_key(k: &Node) -> bool {
    matches!(&k.value, Value::Scalar { text, quoted: false } if text == "<<")
}

fn merge_key_diagnostic(mark: Mark, place: &str) -> Diagnostic {
    Diagnostic::new(mark, "merge-key", format!("YAML merge keys (`<<:`) are not supported, found one in {place}"))
        .label("a merge key")
        .hint("write the keys out in this mapping; a value used in many places can be a declared variable (`vars:`) filled with `${var.NAME}`")
}

/// `path.key`, or `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
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
                let what = what.into();
                d.error(type_diagnostic(&what, node, "a mapping"));
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
        let old = self.d.enter(join(&self.what, key));
        let value = T::decode(v, self.d);
        self.d.enter(old);
        value
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
            let (place, to) = if self.what.is_empty() {
                ("at the top level of the spec".to_string(), "the top level of the spec".to_string())
            } else {
                (format!("in `{}`", self.what), format!("`{}`", self.what))
            };
            let hint = hint.map_or_else(|| format!("add `{key}: ...` to {to}"), str::to_string);
            let message = format!("missing required field `{key}` {place}");
            let label = if self.what.is_empty() {
                format!("the spec begins here, without `{key}`")
            } else {
                format!("`{}` begins here, without `{key}`", self.what)
            };
            self.d.error(Diagnostic::new(self.mark, "missing-field", message).label(label).hint(hint));
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
        let mut seen: Vec<(&str, Mark)> = Vec::new();
        for (k, _) in self.entries {
            let Value::Scalar { text, .. } = &k.value else {
                let old = self.d.enter(self.what.clone());
                self.d.key(k);
                self.d.enter(old);
                continue;
            };
            // The first of two was read: YAML readers differ on which wins,
            // so a second is an error, not a silent choice.
            if let Some((_, first)) = seen.iter().find(|(s, _)| *s == text.as_str()) {
                let place = if self.what.is_empty() { "the top level".to_string() } else { format!("`{}`", self.what) };
                let shown = value::escape(text);
                let diag = Diagnostic::new(k.mark, "duplicate-key", format!("`{shown}` is given twice in {place}"))
                    .label("given again here")
                    .related(*first, "first given here");
                self.d.error(diag.hint("keep one: merge the two into the first"));
                continue;
            }
            seen.push((text, k.mark));
            if known.contains(&text.as_str()) {
                continue;
            }
            let place = if self.what.is_empty() { "the top level".to_string() } else { format!("`{}`", self.what) };
            if is_merge_key(k) {
                self.d.error(merge_key_diagnostic(k.mark, &place));
                continue;
            }
            let shown = value::escape(text);
            let mut diag = Diagnostic::new(k.mark, "unknown-key", format!("unknown key `{shown}` in {place}"))
                .label("not a key here");
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
mod tests;
