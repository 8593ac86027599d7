//! `pipectl import --from-stream NAME`: a pipeline built by hand, read by
//! following the graph from its stream (the Firehoses reading it, their
//! buckets and Glue tables, the functions it triggers and the Firehoses'
//! transform functions, the roles they run as), written as a spec that
//! names every resource as it is, so that once adopted (`pipectl import
//! SPEC --yes`) it re-plans with no changes. What a spec cannot say is
//! listed in [`Found::notes`], never silently changed. A bucket is written
//! as it is (its encryption and public access block), hardening it left to
//! a change of its own. The spec is meant to be committed: no environment
//! value is written, only references (`environment.rs`).
//!
//! `discover.rs` reads ([`discover`]); `environment.rs` turns values into
//! references (pure); `write.rs` writes the YAML ([`Found::spec`], pure).

mod discover;
mod environment;
mod write;

pub use environment::EnvSource;

pub use discover::discover;

use std::collections::{BTreeMap, BTreeSet};

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub pipeline: String,
    pub stream: FoundStream,
    pub buckets: BTreeMap<String, FoundBucket>,
    /// Key -> (name, description).
    pub databases: BTreeMap<String, (String, Option<String>)>,
    pub tables: BTreeMap<String, FoundTable>,
    pub firehoses: BTreeMap<String, FoundFirehose>,
    pub functions: BTreeMap<String, FoundFunction>,
    /// Tags every resource found carries (the spec's `tags:`).
    pub tags: Tags,
    /// What the spec cannot say, or what the next apply will change.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundStream {
    pub key: String,
    pub name: String,
    /// `None`: on demand.
    pub shards: Option<i32>,
    pub retention_hours: i32,
    pub kms: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundBucket {
    pub name: String,
    /// As the spec says it: `aes256` or `none`.
    pub encryption: String,
    pub public_access_block: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundTable {
    pub name: String,
    pub database: String,
    pub bucket: String,
    pub prefix: String,
    pub format: String,
    pub columns: Vec<(String, String)>,
    pub partition_keys: Vec<(String, String)>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundFirehose {
    pub name: String,
    pub role: String,
    pub bucket: String,
    pub prefix: String,
    pub error_prefix: String,
    pub buffer_mb: i32,
    pub buffer_seconds: i32,
    pub compression: String,
    /// (format, table key, compression inside the files).
    pub convert: Option<(String, String, String)>,
    pub error_logging: bool,
    pub processor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundFunction {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    /// What the spec says for each variable: never its value.
    pub environment: BTreeMap<String, EnvSource>,
    pub role: String,
    /// Lambda's `CodeSha256` of the deployed zip.
    pub code_sha256: String,
    pub reserved_concurrency: Option<i32>,
    pub log_retention_days: Option<i32>,
    pub trigger: Option<FoundTrigger>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundTrigger {
    pub batch_size: i32,
    pub batching_window_seconds: i32,
    pub starting_position: String,
    pub tumbling_window_seconds: i32,
    pub parallelization_factor: i32,
    pub bisect: bool,
    pub max_retries: i32,
    pub max_record_age_seconds: i32,
    pub enabled: bool,
}

/// A spec key for a physical name: its letters, digits, `-` and `_`.
pub fn key_of(name: &str, taken: &BTreeSet<String>) -> String {
    let mut k: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    k = k.trim_matches(|c| c == '-' || c == '_').chars().take(56).collect();
    if k.is_empty() {
        k = "x".into();
    }
    let mut candidate = k.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{k}-{n}");
        n += 1;
    }
    candidate
}

/// A pipeline name for a stream's name: lower-case letters, digits and
/// inner hyphens, at most 40.
pub fn pipeline_of(stream: &str) -> String {
    let lower: String =
        stream.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let mut out = String::new();
    for c in lower.chars() {
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let out: String = out.chars().take(40).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "imported".into()
    } else {
        out
    }
}

/// Where a function's code goes, relative to the spec.
pub fn code_path(function: &str) -> String {
    format!("code/{function}.zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_pipeline_names_follow_the_rules() {
        let taken = BTreeSet::from(["a".to_string()]);
        assert_eq!(key_of("a", &taken), "a-2");
        assert_eq!(key_of("NYC Taxi/Trips", &BTreeSet::new()), "NYC-Taxi-Trips");
        assert_eq!(pipeline_of("NYCTaxi__Trips-"), "nyctaxi-trips");
        assert!(crate::spec::rules::pipeline_name(&pipeline_of("--X--")).is_ok());
    }
}
