//! A function's environment in a spec meant to be committed: no value is
//! written. A value that is the name or ARN of a resource the spec names
//! (or the account, or the region) becomes the reference to it
//! (`${streams.clicks.arn}`); any other becomes an SSM parameter, to be
//! created with the value (`${ssm:/<pipeline>/<function key>/<VAR>}`); an
//! empty one stays empty (it hides nothing, and SSM holds no empty
//! value). Pure.

use std::collections::{BTreeMap, BTreeSet};

/// What the spec says for one variable.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvSource {
    /// The text of a reference: `${buckets.lake.name}`, `${account}`.
    Reference(String),
    /// The name of the SSM parameter to hold the value.
    Parameter(String),
    Empty,
}

impl EnvSource {
    /// As the spec writes it.
    pub fn text(&self) -> String {
        match self {
            EnvSource::Reference(r) => r.clone(),
            EnvSource::Parameter(name) => format!("${{ssm:{name}}}"),
            EnvSource::Empty => String::new(),
        }
    }
}

/// A resource the spec names, which a value may be the name or ARN of.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub section: &'static str,
    pub key: String,
    pub name: String,
    pub arn: String,
}

/// The SSM parameter that holds `var` of the function with key `function`.
pub fn parameter(pipeline: &str, function: &str, var: &str) -> String {
    format!("/{pipeline}/{function}/{var}")
}

/// The command that copies `var` of `function` (its name) into its
/// parameter, the value passing from Lambda to SSM without being shown.
pub fn put_parameter(function: &str, var: &str, parameter: &str) -> String {
    format!(
        "aws ssm put-parameter --type SecureString --name {parameter} --value \"$(aws lambda \
         get-function-configuration --function-name {function} --query Environment.Variables.{var} --output text)\""
    )
}

/// What each of `vars` (a function's live environment) becomes, and the
/// keys of what it refers to. `named` is searched in order; `builtins`
/// are exact values with their reference (`${account}`); `may_refer` says
/// whether the function may refer to a resource (not where that would
/// make a cycle).
pub fn sources(
    pipeline: &str,
    function: &str,
    vars: &BTreeMap<String, String>,
    named: &[Named],
    builtins: &[(String, &str)],
    may_refer: impl Fn(&Named) -> bool,
) -> (BTreeMap<String, EnvSource>, BTreeSet<String>) {
    let mut referred = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (var, value) in vars {
        let reference = named.iter().filter(|n| may_refer(n)).find_map(|n| {
            let attribute = if *value == n.name {
                "name"
            } else if *value == n.arn {
                "arn"
            } else {
                return None;
            };
            Some((n.key.clone(), format!("${{{}.{}.{attribute}}}", n.section, n.key)))
        });
        let builtin = builtins.iter().find(|(v, _)| v == value).map(|(_, r)| r.to_string());
        let source = match (value.is_empty(), reference, builtin) {
            (true, _, _) => EnvSource::Empty,
            (false, Some((key, text)), _) => {
                referred.insert(key);
                EnvSource::Reference(text)
            }
            (false, None, Some(text)) => EnvSource::Reference(text),
            (false, None, None) => EnvSource::Parameter(parameter(pipeline, function, var)),
        };
        out.insert(var.clone(), source);
    }
    (out, referred)
}

/// Whether `from` reaches `to` along `edges` (a key reaches itself).
pub fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(k) = todo.pop() {
        if k == to {
            return true;
        }
        if seen.insert(k.clone()) {
            todo.extend(edges.get(&k).into_iter().flatten().cloned());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(section: &'static str, key: &str, name: &str, arn: &str) -> Named {
        Named { section, key: key.into(), name: name.into(), arn: arn.into() }
    }

    #[test]
    fn no_value_is_kept_only_references_and_parameters() {
        let vars: BTreeMap<String, String> = [
            ("DB_PASSWORD", "hunter2"),
            ("LAKE", "click-lake"),
            ("SOURCE", "arn:aws:kinesis:us-east-1:123456789012:stream/Clicks"),
            ("ACCOUNT", "123456789012"),
            ("HOOK", "ingest"),
            ("EMPTY", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let all = [
            named("buckets", "lake", "click-lake", "arn:aws:s3:::click-lake"),
            named("streams", "Clicks", "Clicks", "arn:aws:kinesis:us-east-1:123456789012:stream/Clicks"),
            named("firehoses", "ingest", "ingest", "arn:aws:firehose:us-east-1:123456789012:deliverystream/ingest"),
        ];
        let builtins = [("123456789012".to_string(), "${account}")];
        let (env, referred) = sources("clicks", "consumer", &vars, &all, &builtins, |n| n.section != "firehoses");
        assert_eq!(env["DB_PASSWORD"], EnvSource::Parameter("/clicks/consumer/DB_PASSWORD".into()));
        assert_eq!(env["DB_PASSWORD"].text(), "${ssm:/clicks/consumer/DB_PASSWORD}");
        assert_eq!(env["LAKE"].text(), "${buckets.lake.name}");
        assert_eq!(env["SOURCE"].text(), "${streams.Clicks.arn}");
        assert_eq!(env["ACCOUNT"].text(), "${account}");
        assert_eq!(env["HOOK"], EnvSource::Parameter("/clicks/consumer/HOOK".into()), "a reference it may not make");
        assert_eq!(env["EMPTY"], EnvSource::Empty);
        assert_eq!(referred, BTreeSet::from(["lake".to_string(), "Clicks".to_string()]));
        assert!(env.values().all(|s| !s.text().contains("hunter2")));
    }

    #[test]
    fn reaching_follows_edges_and_a_key_reaches_itself() {
        let edges: BTreeMap<String, BTreeSet<String>> =
            [("hose".to_string(), BTreeSet::from(["transform".to_string()]))].into();
        assert!(reaches(&edges, "hose", "transform"));
        assert!(reaches(&edges, "transform", "transform"));
        assert!(!reaches(&edges, "transform", "hose"));
    }
}
