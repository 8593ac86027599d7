//! A kind's share of a CloudFormation template (`pipectl export
//! cloudformation`): the resources it would create, as CloudFormation
//! types and properties, with the same physical names and tags.
//!
//! A kind writes names and ARNs as literals, the way its create call has
//! them; the exporter turns those of what it depends on into `Ref` and
//! `Fn::GetAtt` and adds `DependsOn` only where no reference orders two
//! resources. Within one address (a network's VPC, subnets and routes) a
//! kind refers to its own parts with [`id`] and orders them with
//! [`Part::after`].

use super::Tags;
use crate::plan::Address;
use serde_json::{json, Value};

/// What every kind's export may need beyond its own input.
pub struct Context {
    /// Where function code too large to inline goes (`--code-bucket`).
    pub code_bucket: Option<String>,
}

/// A function's zip, uploaded to the code bucket by `export`.
#[derive(Debug, Clone)]
pub struct Asset {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// One CloudFormation resource.
#[derive(Debug, Clone)]
pub struct Part {
    /// Appended to the address's logical id; empty for its main resource.
    pub suffix: String,
    pub r#type: &'static str,
    pub properties: Value,
    /// Suffixes of parts of the same address that must exist first and
    /// that no reference orders.
    pub after: Vec<String>,
    /// `DeletionPolicy: Retain`: the spec keeps its data.
    pub retain: bool,
    /// Whether what depends on the address needs this part (a network's
    /// default routes): `DependsOn` names it when nothing refers to it.
    pub marks_ready: bool,
    pub asset: Option<Asset>,
}

impl Part {
    /// The address's main resource.
    pub fn new(r#type: &'static str, properties: Value) -> Part {
        Part {
            suffix: String::new(),
            r#type,
            properties,
            after: Vec::new(),
            retain: false,
            marks_ready: true,
            asset: None,
        }
    }

    /// Another resource of the same address.
    pub fn inner(suffix: impl Into<String>, r#type: &'static str, properties: Value) -> Part {
        Part { suffix: suffix.into(), marks_ready: false, ..Part::new(r#type, properties) }
    }

    pub fn after(mut self, suffixes: &[&str]) -> Part {
        self.after.extend(suffixes.iter().map(|s| s.to_string()));
        self
    }

    pub fn retain(mut self, retain: bool) -> Part {
        self.retain = retain;
        self
    }

    pub fn ready(mut self) -> Part {
        self.marks_ready = true;
        self
    }
}

/// The logical id of `address`'s part `suffix`: `FirehoseToLake`,
/// `NetworkLabPublicSubnet1`.
pub fn id(address: &Address, suffix: &str) -> String {
    let mut out = camel(address.kind.as_str());
    out.push_str(&camel(&address.key));
    out.push_str(suffix);
    out
}

fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `{"Ref": id}` of a part of `address`.
pub fn reference(address: &Address, suffix: &str) -> Value {
    json!({ "Ref": id(address, suffix) })
}

/// Tags as most CloudFormation types take them.
pub fn tags(t: &Tags) -> Value {
    Value::Array(t.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect())
}

/// The stack's account, as `Fn::Sub` text.
pub const ACCOUNT: &str = "${AWS::AccountId}";

/// The spec's own placeholders for what it is loaded without (`${account}`,
/// `${region}`), and the pseudo parameters they become in a template.
pub const PSEUDO: [(&str, &str); 2] = [("${account}", "${AWS::AccountId}"), ("${region}", "${AWS::Region}")];

/// `Fn::Sub` text: the spec's placeholders become pseudo parameters,
/// `${...}` that is not a placeholder of ours or of CloudFormation's is
/// escaped (`${!...}`), ARNs take the stack's partition, and each
/// `(placeholder, logical id)` becomes `${id}`.
pub fn sub_text(text: &str, refs: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (ours, theirs) in PSEUDO {
        text = text.replace(ours, theirs);
    }
    let mut escaped = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("${") {
        escaped.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("${AWS::") || refs.iter().any(|(p, _)| tail.starts_with(p.as_str())) {
            escaped.push_str("${");
        } else {
            escaped.push_str("${!");
        }
        rest = &tail[2..];
    }
    escaped.push_str(rest);
    let mut out = escaped.replace("arn:aws:", "arn:${AWS::Partition}:");
    for (placeholder, logical) in refs {
        out = out.replace(placeholder.as_str(), &format!("${{{logical}}}"));
    }
    out
}

/// Whether a literal needs `Fn::Sub`: it holds a placeholder or an ARN.
pub fn needs_sub(text: &str) -> bool {
    text.contains("${AWS::") || text.contains("arn:aws:") || PSEUDO.iter().any(|(ours, _)| text.contains(ours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Kind;

    #[test]
    fn logical_ids_are_alphanumeric_camel_case() {
        assert_eq!(id(&Address::new(Kind::Firehose, "to-lake"), ""), "FirehoseToLake");
        assert_eq!(id(&Address::new(Kind::GlueTable, "trips_2"), "X"), "GlueTableTrips2X");
    }

    #[test]
    fn sub_text_escapes_what_is_not_a_placeholder() {
        let refs = [("${agent.a.instance_id}".to_string(), "AgentA".to_string())];
        let t = sub_text("echo ${HOME} arn:aws:s3:::b-${account} ${region} ${agent.a.instance_id}", &refs);
        assert_eq!(t, "echo ${!HOME} arn:${AWS::Partition}:s3:::b-${AWS::AccountId} ${AWS::Region} ${AgentA}");
    }
}
