//! Typed variables: the spec's `vars:` section, each variable's value and
//! where it was set, and its substitution into the YAML tree before the tree
//! is decoded, so `${var.NAME}` works in any field and the field's own rules
//! (its type, its range) judge the value.
//!
//! A value comes from, lowest first: the declaration's `default:`, each
//! `--var-file` in the order given, `PIPECTL_VAR_<NAME>`, `--var NAME=VALUE`.
//! A spec without a `vars:` section keeps the old behaviour: `--var` values
//! are text for `${var.NAME}` inside strings (`interp.rs`), and var files
//! and `PIPECTL_VAR_` have nothing to set. Documented in `docs/variables.md`.

mod subst;
mod value;

use super::decode::{Decoder, MapReader};
use super::yaml::{self, Mark, Node, Value};
use crate::diag::{did_you_mean, Diagnostic};
use serde::Serialize;
use std::collections::BTreeMap;
pub use value::Type;

/// A var file as read: its path (for messages) and its text.
#[derive(Debug, Clone)]
pub struct VarFile {
    pub path: String,
    pub text: String,
}

/// Where a variable's value was set.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The declaration's `default:` in the spec.
    Default { line: usize, col: usize },
    /// A `--var-file`, at the value.
    File { path: String, line: usize, col: usize },
    /// `PIPECTL_VAR_<NAME>`.
    Env { name: String },
    /// `--var NAME=VALUE`.
    Flag,
}

impl Source {
    fn describe(&self, name: &str) -> String {
        match self {
            Source::Default { line, col } => format!("its default at line {line}:{col}"),
            Source::File { path, line, col } => format!("set in {path}:{line}:{col}"),
            Source::Env { name } => format!("set by {name}"),
            Source::Flag => format!("set by --var {name}"),
        }
    }
}

/// A variable's effective value, typed, and where it was set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Var {
    pub value: serde_json::Value,
    pub source: Source,
}

/// What the variables did to a spec: their values, and the places in the
/// spec that use them (for messages about those places).
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Whether the spec has a `vars:` section.
    pub declared: bool,
    pub values: BTreeMap<String, Var>,
    /// Each place a variable was substituted: what to say about it.
    pub uses: BTreeMap<Mark, String>,
}

impl Resolved {
    /// Adds to each diagnostic about a place a variable filled in which
    /// variable it was and where its value was set.
    pub fn annotate(&self, diags: &mut [Diagnostic]) {
        for d in diags.iter_mut().filter(|d| d.file.is_none()) {
            if let Some(note) = self.uses.get(&d.mark) {
                if !d.message.contains(note.as_str()) {
                    d.message = format!("{} ({note})", d.message);
                }
            }
        }
    }
}

/// A declared variable.
#[derive(Debug, Clone)]
struct Decl {
    mark: Mark,
    ty: Type,
    default: Option<(serde_json::Value, Mark)>,
    allowed: Vec<serde_json::Value>,
    min: Option<f64>,
    max: Option<f64>,
}

/// What sets variables besides the spec: `--var` (`flags`),
/// `PIPECTL_VAR_<NAME>` (`env`, keyed by NAME) and var files.
pub struct Inputs<'a> {
    pub flags: &'a BTreeMap<String, String>,
    pub env: &'a BTreeMap<String, String>,
    pub files: &'a [VarFile],
}

/// Reads the `vars:` section of `root`, settles each variable's value and
/// substitutes `${var.NAME}` through the rest of the tree. Every problem is
/// pushed to `diags` (a var file's with its file); the tree is substituted
/// only when there are none.
pub fn apply(root: &mut Node, inputs: &Inputs, diags: &mut Vec<Diagnostic>) -> Resolved {
    let section = match &root.value {
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| scalar(k) == Some("vars")).map(|(k, v)| (k.mark, v.clone()))
        }
        _ => None,
    };
    let Some((section_mark, section)) = section else {
        // No declarations: `--var` text as before, and nothing else sets a variable.
        for file in inputs.files {
            file_values(file, &BTreeMap::new(), diags);
        }
        let values =
            inputs.flags.iter().map(|(k, v)| (k.clone(), Var { value: v.clone().into(), source: Source::Flag }));
        return Resolved { declared: false, values: values.collect(), uses: BTreeMap::new() };
    };
    let mut d = Decoder::default();
    let decls = declarations(&section, &mut d);
    diags.append(&mut d.diags);
    let before = diags.len();
    let values = settle(&decls, section_mark, inputs, diags);
    let mut resolved = Resolved { declared: true, values, uses: BTreeMap::new() };
    if diags.len() == before {
        subst::substitute(root, &decls, &mut resolved, diags);
    }
    resolved
}

/// The `PIPECTL_VAR_<NAME>` values among `vars` (the process
/// environment), by NAME; names or values that are not UTF-8 are skipped.
pub fn from_environment(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> BTreeMap<String, String> {
    let text = |(k, v): (std::ffi::OsString, std::ffi::OsString)| Some((k.into_string().ok()?, v.into_string().ok()?));
    let named = |(k, v): (String, String)| Some((k.strip_prefix("PIPECTL_VAR_")?.to_string(), v));
    vars.into_iter().filter_map(text).filter_map(named).filter(|(k, _)| valid_name(k)).collect()
}

fn scalar(n: &Node) -> Option<&str> {
    match &n.value {
        Value::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn declarations(section: &Node, d: &mut Decoder) -> BTreeMap<String, Decl> {
    let mut out = BTreeMap::new();
    let entries = match &section.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => {
            d.error(crate::spec::decode::type_diagnostic("vars", section, "a mapping of variables"));
            return out;
        }
    };
    for (k, v) in entries {
        let Some(name) = scalar(k).map(str::to_string) else {
            d.error(Diagnostic::new(k.mark, "type", "a variable's name is a string"));
            continue;
        };
        if !valid_name(&name) {
            let msg = format!("`{name}` is not a variable name (letters, digits, `_`, `-`)");
            d.error(Diagnostic::new(k.mark, "variable", msg));
            continue;
        }
        if out.contains_key(&name) {
            d.error(Diagnostic::new(k.mark, "duplicate-key", format!("variable `{name}` is declared twice")));
            continue;
        }
        if let Some(decl) = declaration(&name, v, d) {
            out.insert(name, decl);
        }
    }
    out
}

fn declaration(name: &str, node: &Node, d: &mut Decoder) -> Option<Decl> {
    let mut m = MapReader::open(node, d, format!("vars.{name}"))?;
    let mark = m.mark;
    let ty_text: Option<super::decode::Sp<String>> = m.req("type");
    let default = m.node("default");
    let _description: Option<String> = m.opt("description");
    let allowed = m.node("allowed");
    let min: Option<f64> = m.opt("min");
    let max: Option<f64> = m.opt("max");
    m.finish();
    let ty_text = ty_text?;
    let Some(ty) = Type::parse(&ty_text.v) else {
        let hint = "one of: string, integer, number, bool, list(string), list(integer), list(number), list(bool)";
        d.error(
            Diagnostic::new(ty_text.mark, "variable", format!("`{}` is not a variable type", ty_text.v)).hint(hint),
        );
        return None;
    };
    let mut bad = false;
    if (min.is_some() || max.is_some()) && !ty.numeric() {
        d.error(Diagnostic::new(mark, "variable", format!("`min`/`max` apply to numbers; `vars.{name}` is {ty}")));
        bad = true;
    }
    let mut allowed_values = Vec::new();
    if let Some(node) = allowed {
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    match ty.item().from_node(item, &format!("vars.{name}")) {
                        Ok(v) => allowed_values.push(v),
                        Err(e) => {
                            d.error(Diagnostic::new(item.mark, "type", format!("`vars.{name}.allowed`: {e}")));
                            bad = true;
                        }
                    }
                }
            }
            _ => {
                let path = format!("vars.{name}.allowed");
                d.error(crate::spec::decode::type_diagnostic(&path, node, "a list"));
                bad = true;
            }
        }
    }
    let mut decl = Decl { mark, ty, default: None, allowed: allowed_values, min, max };
    if let Some(node) = default {
        match decl.ty.from_node(node, &format!("vars.{name}")).and_then(|v| decl.check(v)) {
            Ok(v) => decl.default = Some((v, node.mark)),
            Err(e) => {
                let path = format!("vars.{name}.default");
                let diag = Diagnostic::new(node.mark, "type", format!("the default of `vars.{name}`: {e}"));
                d.error(diag.at_path(&path).label(format!("not a value of `{}`", decl.ty)));
                bad = true;
            }
        }
    }
    (!bad).then_some(decl)
}

impl Decl {
    /// The value if it is among the allowed ones and in range, each item of
    /// a list alike; else why not.
    fn check(&self, v: serde_json::Value) -> Result<serde_json::Value, String> {
        let items = match &v {
            serde_json::Value::Array(items) => items.clone(),
            one => vec![one.clone()],
        };
        for item in &items {
            if !self.allowed.is_empty() && !self.allowed.contains(item) {
                let list: Vec<String> = self.allowed.iter().map(value::show).collect();
                return Err(format!("{} is not one of the allowed values: {}", value::show(item), list.join(", ")));
            }
            if let Some(n) = item.as_f64() {
                if self.min.is_some_and(|lo| n < lo) {
                    return Err(format!("{} is under the minimum {}", value::show(item), self.min.unwrap_or_default()));
                }
                if self.max.is_some_and(|hi| n > hi) {
                    return Err(format!("{} is over the maximum {}", value::show(item), self.max.unwrap_or_default()));
                }
            }
        }
        value::plain(&v)?;
        Ok(v)
    }
}

/// Each declared variable's value by precedence, or an error saying what
/// is missing or wrong and where.
fn settle(
    decls: &BTreeMap<String, Decl>,
    section: Mark,
    inputs: &Inputs,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Var> {
    let mut set: BTreeMap<String, Var> = BTreeMap::new();
    for (name, decl) in decls {
        if let Some((v, mark)) = &decl.default {
            set.insert(
                name.clone(),
                Var { value: v.clone(), source: Source::Default { line: mark.line, col: mark.col } },
            );
        }
    }
    for file in inputs.files {
        for (name, (node, mark)) in file_values(file, decls, diags) {
            let decl = &decls[&name];
            match decl.ty.from_node(&node, &format!("vars.{name}")).and_then(|v| decl.check(v)) {
                Ok(value) => {
                    let source = Source::File { path: file.path.clone(), line: mark.line, col: mark.col };
                    set.insert(name, Var { value, source });
                }
                Err(e) => diags.push(
                    Diagnostic::new(mark, "type", format!("var.{name}: {e}"))
                        .at_path(&format!("vars.{name}"))
                        .label(format!("not a value of `{}`", decl.ty))
                        .hint(format!("`{name}` is declared `{}` in the spec", decl.ty))
                        .in_file(&file.path),
                ),
            }
        }
    }
    let texts = inputs.env.iter().map(|(k, v)| (k, v, Source::Env { name: format!("PIPECTL_VAR_{k}") }));
    let texts = texts.chain(inputs.flags.iter().map(|(k, v)| (k, v, Source::Flag)));
    for (name, text, source) in texts {
        let Some(decl) = decls.get(name) else {
            // A stray environment variable may be meant for another spec;
            // a flag is a mistake.
            if source == Source::Flag {
                let hint = match did_you_mean(name, decls.keys().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("declare it under `vars:` (declared: {})", names(decls)),
                };
                let msg = format!("`--var {name}=...` sets a variable the spec does not declare");
                diags.push(Diagnostic::new(section, "unknown-variable", msg).hint(hint));
            }
            continue;
        };
        match decl.ty.from_text(text).and_then(|v| decl.check(v)) {
            Ok(value) => {
                set.insert(name.clone(), Var { value, source });
            }
            Err(e) => {
                let from = source.describe(name);
                let msg = format!("var.{name} ({from}): {e}");
                diags.push(
                    Diagnostic::new(decl.mark, "type", msg).hint(format!("`{name}` is declared `{}` here", decl.ty)),
                );
            }
        }
    }
    for (name, decl) in decls {
        if !set.contains_key(name) {
            let msg = format!("variable `{name}` is required and not set");
            let hint = format!(
                "set it with `--var {name}=VALUE`, `PIPECTL_VAR_{name}=VALUE` or `{name}: VALUE` in a `--var-file`, or give it a `default:`"
            );
            diags.push(Diagnostic::new(decl.mark, "missing-variable", msg).hint(hint));
        }
    }
    set
}

fn names(decls: &BTreeMap<String, Decl>) -> String {
    if decls.is_empty() {
        return "none".into();
    }
    decls.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// A var file's entries naming declared variables, each with its value
/// node and where it is; what else it holds is an error in the file.
fn file_values(
    file: &VarFile,
    decls: &BTreeMap<String, Decl>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, (Node, Mark))> {
    let root = match yaml::parse(&file.text) {
        Ok(root) => root,
        Err(e) => {
            diags.push(e.diagnostic().in_file(&file.path));
            return Vec::new();
        }
    };
    let entries = match root.value {
        Value::Map(entries) => entries,
        Value::Null => return Vec::new(),
        _ => {
            let msg = format!("a var file is a mapping of variable names to values; this is {}", root.kind());
            diags.push(Diagnostic::new(root.mark, "type", msg).hint("write `NAME: VALUE` lines").in_file(&file.path));
            return Vec::new();
        }
    };
    let mut out: Vec<(String, (Node, Mark))> = Vec::new();
    for (k, v) in entries {
        let Some(name) = scalar(&k).map(str::to_string) else {
            diags.push(Diagnostic::new(k.mark, "type", "a variable's name is a string").in_file(&file.path));
            continue;
        };
        if out.iter().any(|(n, _)| *n == name) {
            let msg = format!("`{name}` is given twice in this file");
            diags.push(Diagnostic::new(k.mark, "duplicate-key", msg).hint("keep one").in_file(&file.path));
            continue;
        }
        if !decls.contains_key(&name) {
            let hint = match did_you_mean(&name, decls.keys().map(String::as_str)) {
                Some(m) => format!("did you mean `{m}`?"),
                None if decls.is_empty() => "the spec has no `vars:` section; declare the variable there".into(),
                None => format!("the spec declares: {}", names(decls)),
            };
            let msg = format!("`{name}` is not a variable the spec declares");
            diags.push(Diagnostic::new(k.mark, "unknown-variable", msg).hint(hint).in_file(&file.path));
            continue;
        }
        let mark = v.mark;
        out.push((name, (v, mark)));
    }
    out
}

#[cfg(test)]
mod tests;
