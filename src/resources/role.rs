//! IAM role with one inline policy, generated from the graph.
//!
//! Contract:
//! 1. read: GetRole (NoSuchEntity = `None`), ListRoleTags, GetRolePolicy
//!    `pipectl` (documents come URL-encoded from IAM and are decoded).
//! 2. attributes: trust (the assume-role policy), policy (the inline
//!    policy), tags; all in place (UpdateAssumeRolePolicy, PutRolePolicy,
//!    TagRole/UntagRole). Policies compare as JSON, not as text. The name
//!    forces a replacement.
//! 3. create: CreateRole with tags, PutRolePolicy. A new role is not
//!    assumable by Firehose, Lambda or EC2 for a while: the resources that
//!    use it retry the propagation errors of AWS-NOTES.md.
//! 4. delete: inline policies deleted, managed policies detached, the role
//!    removed from its instance profiles, then DeleteRole; NoSuchEntity
//!    means done.
//!
//! Policies name exact actions on exact ARNs. The one `*` resource is
//! `cloudwatch:PutMetricData` for agent hosts, which has no resource-level
//! permissions; a condition limits it to the agent's metric namespace.

use super::{tags_attr, Attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, Aws, AwsError};
use crate::plan::Address;
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::Value;
use std::time::Duration;

pub const POLICY_NAME: &str = "pipectl";
pub const AGENT_METRIC_NAMESPACE: &str = "AWSKinesisAgent";

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    /// The assume-role policy.
    pub trust: Value,
    /// The inline policy.
    pub policy: Value,
}

pub struct Role {
    base: Base,
    spec: Option<RoleSpec>,
}

/// IAM returns policy documents URL-encoded (RFC 3986).
pub fn decode_document(doc: &str) -> Value {
    let decoded = percent_decode(doc);
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Role {
    pub fn new(address: Address, name: String, spec: Option<RoleSpec>, meta: &Meta) -> Self {
        Role { base: Base::new(address, name, meta, Duration::from_secs(300)), spec }
    }

    async fn put_policy(&self, aws: &Aws) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        aws.iam
            .put_role_policy()
            .role_name(&self.base.name)
            .policy_name(POLICY_NAME)
            .policy_document(s.policy.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("PutRolePolicy"))
    }
}

pub fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

#[async_trait]
impl Resource for Role {
    fn base(&self) -> &Base {
        &self.base
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        Some(Attrs::from([
            ("trust".into(), s.trust.clone()),
            ("policy".into(), s.policy.clone()),
            ("tags".into(), tags_attr(&self.base.tags)),
        ]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let role = match aws.iam.get_role().role_name(&self.base.name).send().await.map_err(aws_err("GetRole")) {
            Ok(o) => o.role().cloned(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(role) = role else { return Ok(None) };
        let trust = role.assume_role_policy_document().map(decode_document).unwrap_or(Value::Null);
        let tags: Tags = aws
            .iam
            .list_role_tags()
            .role_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("ListRoleTags"))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let policy = match aws
            .iam
            .get_role_policy()
            .role_name(&self.base.name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(aws_err("GetRolePolicy"))
        {
            Ok(o) => decode_document(o.policy_document()),
            Err(e) if e.is_not_found() => Value::Null,
            Err(e) => return Err(e),
        };
        Ok(Some(Observed {
            attrs: Attrs::from([("trust".into(), trust), ("policy".into(), policy), ("tags".into(), tags_attr(&tags))]),
            tags: Some(tags),
        }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        match aws
            .iam
            .create_role()
            .role_name(&self.base.name)
            .assume_role_policy_document(s.trust.clone().to_string())
            .description("created by pipectl")
            .set_tags(Some(iam_tags(&self.base.tags)))
            .send()
            .await
            .map_err(aws_err("CreateRole"))
        {
            Ok(_) => {}
            // A retried create whose first response was lost: ours if tagged so.
            Err(e)
                if e.code.as_deref() == Some("EntityAlreadyExists")
                    && self.read(aws).await?.is_some_and(|o| o.tags.as_ref() == Some(&self.base.tags)) => {}
            Err(e) => return Err(e),
        }
        self.put_policy(aws).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        for c in changed {
            match c.as_str() {
                "trust" => {
                    aws.iam
                        .update_assume_role_policy()
                        .role_name(&self.base.name)
                        .policy_document(s.trust.clone().to_string())
                        .send()
                        .await
                        .map_err(aws_err("UpdateAssumeRolePolicy"))?;
                }
                "policy" => self.put_policy(aws).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        if !set.is_empty() {
            aws.iam
                .tag_role()
                .role_name(&self.base.name)
                .set_tags(Some(iam_tags(set)))
                .send()
                .await
                .map_err(aws_err("TagRole"))?;
        }
        if !remove.is_empty() {
            aws.iam
                .untag_role()
                .role_name(&self.base.name)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .map_err(aws_err("UntagRole"))?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let gone = |e: AwsError| {
            if e.is_not_found() {
                Ok(Deleted::Gone)
            } else {
                Err(e)
            }
        };
        let inline = match aws
            .iam
            .list_role_policies()
            .role_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("ListRolePolicies"))
        {
            Ok(o) => o.policy_names().to_vec(),
            Err(e) => return gone(e),
        };
        for p in inline {
            aws.iam
                .delete_role_policy()
                .role_name(&self.base.name)
                .policy_name(p)
                .send()
                .await
                .map_err(aws_err("DeleteRolePolicy"))?;
        }
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("ListAttachedRolePolicies"))?;
        for p in attached.attached_policies() {
            if let Some(arn) = p.policy_arn() {
                aws.iam
                    .detach_role_policy()
                    .role_name(&self.base.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(aws_err("DetachRolePolicy"))?;
            }
        }
        let profiles = aws
            .iam
            .list_instance_profiles_for_role()
            .role_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("ListInstanceProfilesForRole"))?;
        for ip in profiles.instance_profiles() {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(ip.instance_profile_name())
                .role_name(&self.base.name)
                .send()
                .await
                .map_err(aws_err("RemoveRoleFromInstanceProfile"))?;
        }
        match aws.iam.delete_role().role_name(&self.base.name).send().await.map_err(aws_err("DeleteRole")) {
            Ok(_) => Ok(Deleted::Gone),
            Err(e) => gone(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_are_url_decoded() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(decode_document(doc), json!({"Version": "2012-10-17"}));
        assert_eq!(decode_document("{\"a\":1}"), json!({"a": 1}));
    }
}
