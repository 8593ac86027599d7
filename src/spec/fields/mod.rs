//! The one table of every field a spec may hold: its path, type, whether it
//! is required, its default, its rule, whether a change updates AWS in place
//! or replaces the resource, and a line saying what it does.
//!
//! The JSON Schema (`pipectl schema`, `schema.rs`) and the spec reference
//! (`docs/spec-reference.md`, `markdown.rs`) are generated from it. Tests
//! keep it true both ways: a spec holding every field of the table decodes
//! without an unknown key, and every key the decoder asks for is in the
//! table (`tests.rs`).
//!
//! A path names a field from the top of the spec: `streams.*.shards`,
//! where `*` is a key the spec chooses and `[]` an item of a list
//! (`agents.*.flows[].stream`).

#[cfg(test)]
mod defaults;
mod delivery;
mod functions;
mod hosts;
pub mod markdown;
mod monitoring;
pub mod schema;
mod storage;
#[cfg(test)]
mod tests;
mod top;

/// A field of the spec.
#[derive(Debug)]
pub struct Field {
    pub path: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub default: Default,
    pub update: Update,
    pub about: &'static str,
    /// A valid value, as YAML (a flow list or mapping for collections); ""
    /// for a mapping whose fields are rows of their own.
    pub example: &'static str,
}

/// What a field holds.
#[derive(Debug)]
pub enum Ty {
    Str(Text),
    /// An integer within bounds (inclusive): every integer field has its
    /// real maximum, the decoder's type's when AWS sets none.
    Int {
        min: i64,
        max: u64,
    },
    /// An integer among these (AWS's list of allowed values).
    IntIn(&'static [i64]),
    Num,
    Bool,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// The key of a resource of another section (its path, e.g. `streams`).
    Ref(&'static str),
    /// A list; a list of mappings has its fields at `<path>[].<field>`.
    List(&'static Ty),
    /// A mapping with the fixed keys of the rows below it.
    Object,
    /// A mapping with fixed keys, or in its place a value of this type
    /// (`source: direct`, `subnet: default`).
    ObjectOr(&'static Ty),
    /// A mapping of keys the spec chooses to values of one type; mappings
    /// have their fields at `<path>.*.<field>`.
    Map {
        keys: Keys,
        value: &'static Ty,
    },
    /// Any YAML value (a variable's default).
    Any,
}

/// A string's rule: a pattern where it can be written exactly, lengths, and
/// the rule in words for the reference.
#[derive(Debug)]
pub struct Text {
    pub pattern: Option<&'static str>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub rule: &'static str,
}

/// Any string.
pub const TEXT: Ty = Ty::Str(Text { pattern: None, min: None, max: None, rule: "" });

/// The keys a mapping of chosen keys accepts.
#[derive(Debug)]
pub enum Keys {
    /// A resource key: letters, digits, `-` and `_`, starting with a letter
    /// or digit, at most 64 characters.
    Resource,
    Pattern(&'static str, &'static str),
    OneOf(&'static [&'static str]),
}

/// The pattern of a resource key (`rules::resource_key`).
pub const RESOURCE_KEY: &str = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";

/// A field's default.
#[derive(Debug)]
pub enum Default {
    /// No default: absent means absent (or the field is required).
    None,
    /// This value, as JSON.
    Value(&'static str),
    /// A default that depends on other fields, in words.
    Derived(&'static str),
}

/// What a change of the field does to a deployed resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// AWS is updated in place.
    InPlace,
    /// The resource is replaced: created anew, the old one deleted.
    Replace,
    /// Used when the resource is created; a later change is not compared
    /// with AWS and does not touch a resource already there.
    CreateOnly,
    /// pipectl's own behaviour (what it waits for, guards, keeps on
    /// destroy), not a setting of an AWS resource.
    Pipectl,
    /// Names another deployment: the resources of the old value are left
    /// as they are.
    Deployment,
    /// A mapping: its fields say.
    Fields,
    /// A variable's declaration: a change acts as the change of each
    /// field its value fills.
    Fills,
    /// Words for people: nothing changes.
    Nothing,
}

impl Update {
    pub fn words(self) -> &'static str {
        match self {
            Update::InPlace => "in place",
            Update::Replace => "replace",
            Update::CreateOnly => "at create only",
            Update::Pipectl => "pipectl only",
            Update::Deployment => "another deployment",
            Update::Fields => "",
            Update::Fills => "as the fields its value fills",
            Update::Nothing => "nothing",
        }
    }
}

/// The fields whose text is interpolated (`${pipeline}`, `${env}`,
/// `${region}`, `${account}`, `${var.NAME}`), and whether they also take
/// references to other resources (`${streams.k.arn}`). Every other string
/// is read as written: a `${...}` left in it (other than a declared
/// variable, filled before reading) is an error.
pub const INTERPOLATING: &[(&str, Interp)] = &[
    ("tags", Interp::Plain),
    ("buckets.*.name", Interp::Plain),
    ("streams.*.name", Interp::Plain),
    ("catalog.databases.*.name", Interp::Plain),
    ("catalog.databases.*.description", Interp::Plain),
    ("catalog.tables.*.name", Interp::Plain),
    ("catalog.tables.*.location.prefix", Interp::Plain),
    ("catalog.tables.*.description", Interp::Plain),
    ("firehoses.*.name", Interp::Plain),
    ("firehoses.*.destination.prefix", Interp::Plain),
    ("firehoses.*.destination.error_prefix", Interp::Plain),
    ("firehoses.*.policy[].resources", Interp::Refs),
    ("firehoses.*.policy[].not_resources", Interp::Refs),
    ("functions.*.name", Interp::Plain),
    ("functions.*.environment", Interp::Secrets),
    ("functions.*.policy[].resources", Interp::Refs),
    ("functions.*.policy[].not_resources", Interp::Refs),
    ("agents.*.name", Interp::Plain),
    ("agents.*.policy[].resources", Interp::Refs),
    ("agents.*.policy[].not_resources", Interp::Refs),
    ("networks.*.name", Interp::Plain),
    ("dashboards.*.name", Interp::Plain),
    ("alarms.*.name", Interp::Plain),
    ("metric_filters.*.name", Interp::Plain),
    ("metric_filters.*.pattern", Interp::Plain),
];

/// What a field's `${...}` may name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interp {
    /// `${pipeline}`, `${env}`, `${region}`, `${account}`, `${var.NAME}`.
    Plain,
    /// Those, and `${<section>.<key>.name|arn}`.
    Refs,
    /// Those, and `${ssm:...}`, `${secret:...}` (a function's environment).
    Secrets,
}

/// Whether the field at `path` interpolates, and what.
pub fn interpolation(path: &str) -> Option<Interp> {
    INTERPOLATING.iter().find(|(p, _)| *p == path).map(|(_, i)| *i)
}

/// The field a decoder path names (`functions.decode.handler` is
/// `functions.*.handler`, `agents.h.flows[0].stream` is
/// `agents.*.flows[].stream`); for a value inside a mapping or list of
/// plain values (`tags.team`), that mapping's or list's field.
pub fn at(path: &str) -> Option<&'static Field> {
    let mut table = String::new();
    let mut rest = path;
    loop {
        let (segment, after) = rest.split_once('.').unwrap_or((rest, ""));
        let (name, indexed) = match segment.split_once('[') {
            Some((n, _)) => (n, true),
            None => (segment, false),
        };
        let f = get(&if table.is_empty() { name.to_string() } else { format!("{table}.{name}") })?;
        match &f.ty {
            Ty::Map { value: Ty::Object, .. } => {
                let (_key, after) = after.split_once('.')?;
                table = format!("{}.*", f.path);
                rest = after;
            }
            Ty::List(Ty::Object) if indexed && !after.is_empty() => {
                table = format!("{}[]", f.path);
                rest = after;
            }
            Ty::Object | Ty::ObjectOr(_) if !after.is_empty() => {
                table = f.path.to_string();
                rest = after;
            }
            _ => return Some(f),
        }
    }
}

/// Every field, sections in the order of the reference.
pub fn all() -> Vec<&'static Field> {
    [
        top::FIELDS,
        storage::FIELDS,
        delivery::FIELDS,
        delivery::POLICY,
        functions::FIELDS,
        functions::POLICY,
        hosts::FIELDS,
        hosts::POLICY,
        hosts::NETWORKS,
        monitoring::FIELDS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The field at `path`.
/// The bounds of the integer field at a decoder's `path`
/// (`streams.clicks.shards`), if it is one with bounds.
pub fn int_range(path: &str) -> Option<(i128, i128)> {
    match at(path)?.ty {
        Ty::Int { min, max } => Some((min.into(), max.into())),
        _ => None,
    }
}

pub fn get(path: &str) -> Option<&'static Field> {
    all().into_iter().find(|f| f.path == path)
}

/// The fields directly inside the mapping at `parent` ("" for the top),
/// in table order.
pub fn children(parent: &str) -> Vec<&'static Field> {
    all().into_iter().filter(|f| parent_of(f.path) == Some(parent)).collect()
}

/// The path of the mapping a field sits in: `streams.*` for
/// `streams.*.mode`, `agents.*.flows[]` for `agents.*.flows[].stream`, ""
/// for a top-level field; `None` for a path that is not a field's.
pub fn parent_of(path: &str) -> Option<&str> {
    let (parent, name) = match path.rsplit_once('.') {
        Some((p, n)) => (p, n),
        None => ("", path),
    };
    let plain = !name.is_empty() && !name.contains(['*', '[', ']']);
    plain.then_some(parent)
}

/// The path of the values of a mapping or list field, where their own
/// fields hang: `streams.*`, `agents.*.flows[]`.
pub fn inner(f: &Field) -> Option<String> {
    match f.ty {
        Ty::Map { .. } => Some(format!("{}.*", f.path)),
        Ty::List(_) => Some(format!("{}[]", f.path)),
        _ => None,
    }
}

/// The top-level section a path belongs to (`catalog.databases` for a
/// database's fields), for the reference's headings.
pub fn section(path: &str) -> &str {
    let mut parts = path.splitn(3, '.');
    let first = parts.next().unwrap_or_default();
    if first == "catalog" {
        if let Some(second) = parts.next() {
            return &path[..first.len() + 1 + second.len()];
        }
    }
    first
}
