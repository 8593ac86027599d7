//! A variable's type, and its values read from YAML or from text, and
//! written back into the tree.

use super::super::yaml::{self, Mark, Node, Value};
use serde_json::Value as J;

/// A declared type: a scalar, or a list of one scalar type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    String,
    Integer,
    Number,
    Bool,
    List(Box<Type>),
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Integer => f.write_str("integer"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
        }
    }
}

impl Type {
    pub fn parse(s: &str) -> Option<Type> {
        let scalar = |s: &str| match s.trim() {
            "string" => Some(Type::String),
            "integer" | "int" => Some(Type::Integer),
            "number" => Some(Type::Number),
            "bool" | "boolean" => Some(Type::Bool),
            _ => None,
        };
        match s.trim().strip_prefix("list(").and_then(|r| r.strip_suffix(')')) {
            Some(inner) => scalar(inner).map(|t| Type::List(Box::new(t))),
            None => scalar(s),
        }
    }

    /// The type of each item (a scalar type is its own).
    pub fn item(&self) -> &Type {
        match self {
            Type::List(t) => t,
            t => t,
        }
    }

    pub fn numeric(&self) -> bool {
        matches!(self.item(), Type::Integer | Type::Number)
    }

    fn expected(&self) -> &'static str {
        match self {
            Type::String => "a string",
            Type::Integer => "an integer",
            Type::Number => "a number",
            Type::Bool => "true or false",
            Type::List(_) => "a list",
        }
    }

    /// A value written in YAML (a default, a var file) for the variable at
    /// `path` (`vars.shards`: a secret-looking one's value is not quoted in
    /// the error). Quoted scalars are strings, as they are in the spec.
    pub fn from_node(&self, node: &Node, path: &str) -> Result<J, String> {
        let wrong = || Err(format!("expected {}, found {}", self.expected(), crate::spec::decode::found(path, node)));
        match (self, &node.value) {
            (Type::List(t), Value::Seq(items)) => {
                items.iter().map(|i| t.from_node(i, path)).collect::<Result<Vec<_>, _>>().map(J::Array)
            }
            (Type::List(_), _) => wrong(),
            (Type::String, Value::Scalar { text, .. }) => Ok(J::String(text.clone())),
            (_, Value::Scalar { text, quoted: false }) => self.from_text(text).or_else(|_| wrong()),
            _ => wrong(),
        }
    }

    /// A value given as text (`--var`, `PIPECTL_VAR_`): a string as it is,
    /// a list as YAML (`[a, b]`).
    pub fn from_text(&self, text: &str) -> Result<J, String> {
        let not = |what: &str| Err(format!("`{text}` is not {what}"));
        match self {
            Type::String => Ok(J::String(text.to_string())),
            // As the spec reads numbers (YAML 1.2): `1_0` is not ten, `inf` not a number.
            Type::Integer => match yaml::core::int(text.trim()).and_then(|n| i64::try_from(n).ok()) {
                Some(n) => Ok(J::from(n)),
                None => not("an integer"),
            },
            Type::Number => {
                let t = text.trim();
                if let Some(n) = yaml::core::int(t).and_then(|n| i64::try_from(n).ok()) {
                    return Ok(J::from(n));
                }
                match yaml::core::float(t).and_then(serde_json::Number::from_f64) {
                    Some(n) => Ok(J::Number(n)),
                    None => not("a finite number"),
                }
            }
            Type::Bool => match yaml::core::boolean(text.trim()) {
                Some(b) => Ok(J::Bool(b)),
                None => not("true or false"),
            },
            Type::List(_) => {
                let node = yaml::parse(text)
                    .map_err(|e| format!("`{text}` is not a YAML list like `[a, b]`: {}", e.message))?;
                match node.value {
                    Value::Null => Ok(J::Array(Vec::new())),
                    Value::Seq(_) => self.from_node(&node, ""),
                    _ => not("a YAML list like `[a, b]`"),
                }
            }
        }
    }
}

/// A value as it reads in a message.
pub fn show(v: &J) -> String {
    match v {
        J::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

/// The value as text inside a longer string; a list has none.
pub fn text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Refuses a string that could join the text around it into a `${...}`
/// (a reference, a secret) the spec does not write: a value is plain
/// text, never an expression.
pub fn plain(v: &J) -> Result<(), String> {
    let bad = |s: &str| s.contains("${") || s.ends_with('$');
    let strings: Vec<&str> = match v {
        J::String(s) => vec![s],
        J::Array(items) => items.iter().filter_map(J::as_str).collect(),
        _ => Vec::new(),
    };
    match strings.into_iter().find(|s| bad(s)) {
        Some(s) => Err(format!(
            "`{s}` holds `${{` or ends with `$`: a variable's value is plain text, never a reference or a secret"
        )),
        None => Ok(()),
    }
}

/// The value as a YAML node at `mark`: a string quoted (so it stays a
/// string), numbers and booleans plain (so a field reads them as such).
pub fn node(v: &J, mark: Mark) -> Node {
    let value = match v {
        J::String(s) => Value::Scalar { text: s.clone(), quoted: true },
        J::Array(items) => Value::Seq(items.iter().map(|i| node(i, mark)).collect()),
        J::Null => Value::Null,
        other => Value::Scalar { text: text(other).unwrap_or_default(), quoted: false },
    };
    Node { mark, value }
}

/// How many nodes [`node`] makes.
pub fn size(v: &J) -> usize {
    1 + v.as_array().map_or(0, Vec::len)
}
