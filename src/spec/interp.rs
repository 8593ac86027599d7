//! `${...}` interpolation.
//!
//! Built in: `${pipeline}`, `${env}`, `${region}`, `${account}`,
//! `${var.NAME}` (from `--var NAME=VALUE`), and references to other
//! resources `${<section>.<key>.name}` / `${<section>.<key>.arn}`.
//! `$${` writes a literal `${`. In a function's environment only,
//! `${ssm:/path}` and `${secret:name}` (or `${secret:name#field}` for one
//! field of a JSON secret) name a value read from SSM Parameter Store or
//! Secrets Manager at plan and apply time; the spec keeps the reference. `${region}` and `${account}` stay as written
//! while they are unknown (offline commands); the commands that talk to AWS
//! know both.

use crate::diag::did_you_mean;
use std::collections::BTreeMap;

/// A reference from one resource to another, e.g. `firehoses.to-lake`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ref {
    pub section: String,
    pub key: String,
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.section, self.key)
    }
}

/// The names and ARNs of every resource, for `${section.key.name|arn}`.
/// An ARN is `None` where AWS assigns it at create time (EC2 hosts, VPCs).
pub type RefTable = BTreeMap<Ref, (String, Option<String>)>;

pub const SECTIONS: [&str; 10] = [
    "buckets",
    "streams",
    "databases",
    "tables",
    "firehoses",
    "functions",
    "agents",
    "networks",
    "dashboards",
    "alarms",
];

pub struct Context<'a> {
    pub pipeline: &'a str,
    pub env: &'a str,
    pub region: Option<&'a str>,
    pub account: Option<&'a str>,
    pub vars: &'a BTreeMap<String, String>,
    /// `None` where references are not allowed (names, tags).
    pub refs: Option<&'a RefTable>,
    /// Whether `${ssm:...}` and `${secret:...}` are allowed (a function's
    /// environment).
    pub secrets: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterpError {
    pub rule: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Interpolated {
    pub text: String,
    pub refs: Vec<Ref>,
    /// Secret references, each with the byte offset in `text` where its
    /// value goes once read.
    pub secrets: Vec<(usize, SecretRef)>,
}

/// A value kept outside the spec, read when AWS is reachable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretRef {
    /// An SSM parameter, decrypted when it is a SecureString.
    Ssm(String),
    /// A Secrets Manager secret (name or ARN), whole or one field of its
    /// JSON.
    Secret { id: String, field: Option<String> },
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Ssm(name) => write!(f, "${{ssm:{name}}}"),
            SecretRef::Secret { id, field: None } => write!(f, "${{secret:{id}}}"),
            SecretRef::Secret { id, field: Some(k) } => write!(f, "${{secret:{id}#{k}}}"),
        }
    }
}

pub fn interpolate(input: &str, ctx: &Context) -> Result<Interpolated, InterpError> {
    let mut out = Interpolated::default();
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest.as_bytes()[start - 1] == b'$' {
            out.text.push_str(&rest[..start - 1]);
            out.text.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(InterpError {
                rule: "interpolation",
                message: format!("`${{` without a closing `}}` in `{input}`"),
                hint: Some("write `$${` for a literal `${`".into()),
            });
        };
        let expr = after[..end].trim();
        resolve(expr, ctx, &mut out)?;
        rest = &after[end + 1..];
    }
    out.text.push_str(rest);
    Ok(out)
}

fn resolve(expr: &str, ctx: &Context, out: &mut Interpolated) -> Result<(), InterpError> {
    if let Some(secret) = secret_ref(expr)? {
        if !ctx.secrets {
            return Err(InterpError {
                rule: "secret-ref",
                message: format!("`${{{expr}}}` cannot be used here"),
                hint: Some("SSM and Secrets Manager references are allowed only in a function's `environment:`".into()),
            });
        }
        out.secrets.push((out.text.len(), secret));
        return Ok(());
    }
    match expr {
        "pipeline" => out.text.push_str(ctx.pipeline),
        "env" => out.text.push_str(ctx.env),
        "region" => out.text.push_str(ctx.region.unwrap_or("${region}")),
        "account" => out.text.push_str(ctx.account.unwrap_or("${account}")),
        _ => {
            if let Some(name) = expr.strip_prefix("var.") {
                let value = ctx.vars.get(name).ok_or_else(|| InterpError {
                    rule: "unknown-variable",
                    message: format!("variable `{name}` is not set"),
                    hint: Some(format!("pass `--var {name}=VALUE`")),
                })?;
                out.text.push_str(value);
                return Ok(());
            }
            let parts: Vec<&str> = expr.split('.').collect();
            if parts.len() == 3 && SECTIONS.contains(&parts[0]) {
                return resolve_ref(parts[0], parts[1], parts[2], ctx, out);
            }
            let builtins = ["pipeline", "env", "region", "account"];
            let hint = match did_you_mean(expr, builtins.iter().copied().chain(SECTIONS)) {
                Some(m) => format!("did you mean `{m}`?"),
                None => "known: ${pipeline}, ${env}, ${region}, ${account}, ${var.NAME}, \
                         ${<section>.<key>.name|arn}"
                    .to_string(),
            };
            return Err(InterpError {
                rule: "unknown-variable",
                message: format!("unknown variable `${{{expr}}}`"),
                hint: Some(hint),
            });
        }
    }
    Ok(())
}

/// `ssm:NAME`, `secret:ID` or `secret:ID#FIELD`; `None` for other
/// expressions.
fn secret_ref(expr: &str) -> Result<Option<SecretRef>, InterpError> {
    let bad = |message: String, hint: &str| InterpError { rule: "secret-ref", message, hint: Some(hint.into()) };
    if let Some(name) = expr.strip_prefix("ssm:") {
        let ok = !name.is_empty()
            && name.len() <= 2048
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
        if !ok {
            return Err(bad(
                format!("`{name}` is not an SSM parameter name"),
                "a name is 1 to 2048 letters, digits and `_.-/`, e.g. `${ssm:/team/db-password}`",
            ));
        }
        return Ok(Some(SecretRef::Ssm(name.to_string())));
    }
    if let Some(rest) = expr.strip_prefix("secret:") {
        let (id, field) = match rest.split_once('#') {
            Some((id, field)) => (id, Some(field)),
            None => (rest, None),
        };
        let ok = !id.is_empty()
            && id.len() <= 2048
            && id.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-:".contains(c));
        if !ok {
            return Err(bad(
                format!("`{id}` is not a Secrets Manager secret name or ARN"),
                "a name is letters, digits and `/_+=.@-`, e.g. `${secret:prod/db}` or `${secret:prod/db#password}`",
            ));
        }
        if field.is_some_and(str::is_empty) {
            return Err(bad(format!("`${{{expr}}}` names an empty field"), "write `${secret:NAME#FIELD}`"));
        }
        return Ok(Some(SecretRef::Secret { id: id.to_string(), field: field.map(str::to_string) }));
    }
    Ok(None)
}

fn resolve_ref(section: &str, key: &str, attr: &str, ctx: &Context, out: &mut Interpolated) -> Result<(), InterpError> {
    let Some(table) = ctx.refs else {
        return Err(InterpError {
            rule: "interpolation",
            message: format!("`${{{section}.{key}.{attr}}}` cannot be used here"),
            hint: Some("names and tags may use ${pipeline}, ${env}, ${region}, ${account} and ${var.NAME}, not other resources".into()),
        });
    };
    let r = Ref { section: section.to_string(), key: key.to_string() };
    let Some((name, arn)) = table.get(&r) else {
        let keys = table.keys().filter(|k| k.section == section).map(|k| k.key.as_str());
        let hint = match did_you_mean(key, keys) {
            Some(m) => format!("did you mean `{section}.{m}`?"),
            None => format!("define `{key}` under `{section}:`"),
        };
        return Err(InterpError {
            rule: "undefined-reference",
            message: format!("`${{{section}.{key}.{attr}}}` refers to `{section}.{key}`, which is not defined"),
            hint: Some(hint),
        });
    };
    match attr {
        "name" => out.text.push_str(name),
        "arn" => match arn {
            Some(arn) => out.text.push_str(arn),
            None => {
                return Err(InterpError {
                    rule: "interpolation",
                    message: format!("`{section}` have no ARN known before they are created"),
                    hint: Some(format!("use `${{{section}.{key}.name}}`")),
                })
            }
        },
        _ => {
            return Err(InterpError {
                rule: "unknown-variable",
                message: format!("unknown attribute `{attr}` in `${{{section}.{key}.{attr}}}`"),
                hint: Some("a resource has `.name` and `.arn`".into()),
            })
        }
    }
    out.refs.push(r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(vars: &'a BTreeMap<String, String>, refs: Option<&'a RefTable>) -> Context<'a> {
        Context { pipeline: "taxi", env: "pr-1", region: Some("us-west-2"), account: None, vars, refs, secrets: false }
    }

    #[test]
    fn builtins_and_vars() {
        let vars = BTreeMap::from([("team".to_string(), "data".to_string())]);
        let got = interpolate("${pipeline}-${env}-${var.team}-${region}-${account}", &ctx(&vars, None)).unwrap();
        assert_eq!(got.text, "taxi-pr-1-data-us-west-2-${account}");
        assert!(got.refs.is_empty());
    }

    #[test]
    fn escaped_dollar_is_literal() {
        let vars = BTreeMap::new();
        assert_eq!(interpolate("a$${b}c", &ctx(&vars, None)).unwrap().text, "a${b}c");
    }

    #[test]
    fn references_resolve_and_are_recorded() {
        let vars = BTreeMap::new();
        let mut refs = RefTable::new();
        let r = Ref { section: "firehoses".into(), key: "to-lake".into() };
        refs.insert(r.clone(), ("taxi-to-lake".into(), Some("arn:x".into())));
        let got = interpolate("${firehoses.to-lake.name}|${firehoses.to-lake.arn}", &ctx(&vars, Some(&refs))).unwrap();
        assert_eq!(got.text, "taxi-to-lake|arn:x");
        assert_eq!(got.refs, vec![r.clone(), r]);
    }

    #[test]
    fn errors_name_the_rule() {
        let vars = BTreeMap::new();
        let refs = RefTable::new();
        let c = ctx(&vars, Some(&refs));
        assert_eq!(interpolate("${var.x}", &c).unwrap_err().rule, "unknown-variable");
        assert_eq!(interpolate("${pipelin}", &c).unwrap_err().hint.unwrap(), "did you mean `pipeline`?");
        assert_eq!(interpolate("${streams.x.name}", &c).unwrap_err().rule, "undefined-reference");
        assert_eq!(interpolate("${env", &c).unwrap_err().rule, "interpolation");
        let no_refs = ctx(&vars, None);
        assert_eq!(interpolate("${streams.x.name}", &no_refs).unwrap_err().rule, "interpolation");
    }

    #[test]
    fn secret_references_keep_their_place_and_only_in_environments() {
        let vars = BTreeMap::new();
        let c = Context { secrets: true, ..ctx(&vars, None) };
        let got = interpolate("postgres://app:${ssm:/db/pw}@${secret:prod/db#host}:5432", &c).unwrap();
        assert_eq!(got.text, "postgres://app:@:5432");
        assert_eq!(
            got.secrets,
            vec![
                (15, SecretRef::Ssm("/db/pw".into())),
                (16, SecretRef::Secret { id: "prod/db".into(), field: Some("host".into()) })
            ]
        );
        assert_eq!(got.secrets[1].1.to_string(), "${secret:prod/db#host}");
        assert_eq!(interpolate("${ssm:/x}", &ctx(&vars, None)).unwrap_err().rule, "secret-ref");
        assert_eq!(interpolate("${ssm:a b}", &c).unwrap_err().rule, "secret-ref");
        assert_eq!(interpolate("${secret:}", &c).unwrap_err().rule, "secret-ref");
        assert_eq!(interpolate("${secret:x#}", &c).unwrap_err().rule, "secret-ref");
        assert_eq!(interpolate("$${ssm:/x}", &c).unwrap().text, "${ssm:/x}", "an escaped reference is text");
    }
}
