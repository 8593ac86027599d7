//! IAM role with one inline policy, generated from the graph.
//!
//! Contract:
//! 1. read: GetRole (NoSuchEntity = `None`), ListRoleTags, GetRolePolicy
//!    `pipectl` (documents come URL-encoded from IAM and are decoded).
//! 2. attributes: trust (the assume-role policy), policy (the inline
//!    policy), permissions_boundary (the operator policy's, or none),
//!    tags; all in place (UpdateAssumeRolePolicy, PutRolePolicy,
//!    PutRolePermissionsBoundary / DeleteRolePermissionsBoundary,
//!    TagRole/UntagRole). Policies compare as JSON, not as text. The name
//!    forces a replacement.
//! 3. create: CreateRole with tags and the permissions boundary, so the
//!    role is never without it, then PutRolePolicy. A new role is not
//!    assumable by Firehose, Lambda or EC2 for a while: the resources that
//!    use it retry the propagation errors of AWS-NOTES.md.
//! 4. delete: the `pipectl` inline policy, then DeleteRole; if IAM says
//!    the role still holds something (DeleteConflict), every inline policy
//!    deleted, managed policy detached and instance profile left, then
//!    DeleteRole again; NoSuchEntity means done.
//!
//! Policies name exact actions on exact ARNs. The one `*` resource is
//! `cloudwatch:PutMetricData` for agent hosts, which has no resource-level
//! permissions; a condition limits it to the namespace the host's service
//! publishes in (`metrics::host`: the Kinesis Agent's or the producer's).

use super::cfn::{self, Part};
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde::Serialize;
use serde_json::Value;

pub const POLICY_NAME: &str = "pipectl";

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    /// The assume-role policy.
    pub trust: Value,
    /// The inline policy.
    pub policy: Value,
}

/// What the diff compares: policies as JSON documents, not text.
#[derive(Serialize)]
struct Attributes {
    trust: Value,
    policy: Value,
    /// The ARN of the managed policy capping what the role can do.
    permissions_boundary: Option<String>,
    tags: Tags,
}

pub struct Role {
    pub base: Base,
    pub spec: Option<RoleSpec>,
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
        // Bytes, not a string slice: `%` followed by a multi-byte character
        // must not split it.
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
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
    /// The operator's permissions boundary, for a role made from a spec.
    fn boundary(&self) -> Option<&str> {
        self.base.meta.permissions_boundary.as_deref()
    }

    async fn put_policy(&self, aws: &Aws) -> Result<(), AwsError> {
        let policy = &self.spec.as_ref().expect("needs a spec").policy;
        let req = aws.iam.put_role_policy().role_name(&self.base.name).policy_name(POLICY_NAME);
        send!("PutRolePolicy", req.policy_document(policy.to_string())).map(drop)
    }
}

fn settling_key(name: &str) -> String {
    format!("role/{name}")
}

/// How what assumes a role (by ARN or name) waits out its propagation:
/// paced from the role's creation, when this process made it.
pub fn propagation(role: &str) -> crate::aws::Pace {
    let name = role.rsplit('/').next().unwrap_or_default();
    crate::aws::Pace::since(&settling_key(name), super::usual::ROLE_PROPAGATION)
}

pub fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

#[async_trait]
impl Resource for Role {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let mut props = serde_json::json!({
            "RoleName": self.base.name,
            "AssumeRolePolicyDocument": s.trust,
            "Policies": [{ "PolicyName": POLICY_NAME, "PolicyDocument": s.policy }],
            "Tags": cfn::tags(&self.base.tags),
        });
        if let Some(b) = self.boundary() {
            props["PermissionsBoundary"] = b.into();
        }
        Ok(vec![Part::new("AWS::IAM::Role", props)])
    }
    fn desired(&self) -> Option<Attrs> {
        let RoleSpec { trust, policy } = self.spec.clone()?;
        let permissions_boundary = self.boundary().map(str::to_string);
        Some(to_attrs(&Attributes { trust, policy, permissions_boundary, tags: self.base.tags.clone() }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        // Listed with the account's roles: trust, policy and tags at hand.
        if let Some(d) = aws.known.roles.get(&self.base.name) {
            let trust = d.assume_role_policy_document().map(decode_document).unwrap_or(Value::Null);
            let policy = d
                .role_policy_list()
                .iter()
                .find(|p| p.policy_name() == Some(POLICY_NAME))
                .and_then(|p| p.policy_document())
                .map_or(Value::Null, decode_document);
            let tags: Tags = d.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let permissions_boundary =
                d.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string);
            let attrs = Attributes { trust, policy, permissions_boundary, tags: tags.clone() };
            return Ok(Some(Observed::of(&attrs, Some(tags))));
        }
        let role = match send!("GetRole", aws.iam.get_role().role_name(&self.base.name)).found()? {
            Some(o) => o.role().cloned(),
            None => return Ok(None),
        };
        let Some(role) = role else { return Ok(None) };
        let trust = role.assume_role_policy_document().map(decode_document).unwrap_or(Value::Null);
        let permissions_boundary =
            role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_string);
        let tags: Tags = send!("ListRoleTags", aws.iam.list_role_tags().role_name(&self.base.name))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let policy =
            match send!("GetRolePolicy", aws.iam.get_role_policy().role_name(&self.base.name).policy_name(POLICY_NAME))
                .found()?
            {
                Some(o) => decode_document(o.policy_document()),
                None => Value::Null,
            };
        let attrs = Attributes { trust, policy, permissions_boundary, tags: tags.clone() };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        match send!(
            "CreateRole",
            aws.iam
                .create_role()
                .role_name(&self.base.name)
                .assume_role_policy_document(s.trust.clone().to_string())
                .description("created by pipectl")
                .set_permissions_boundary(self.boundary().map(str::to_string))
                .set_tags(Some(iam_tags(&self.base.tags)))
        ) {
            Ok(_) => {}
            // An earlier attempt whose answer was lost made it: carry on.
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                super::adopt_earlier_attempt(self, aws).await?
            }
            Err(e) => return Err(e),
        }
        self.put_policy(aws).await?;
        // From here the role propagates: what assumes it paces from now.
        crate::aws::settling::mark(settling_key(&self.base.name));
        Ok(())
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("needs a spec");
        for c in changed {
            match c.as_str() {
                "trust" => {
                    send!(
                        "UpdateAssumeRolePolicy",
                        aws.iam
                            .update_assume_role_policy()
                            .role_name(&self.base.name)
                            .policy_document(s.trust.clone().to_string())
                    )?;
                }
                "policy" => self.put_policy(aws).await?,
                "permissions_boundary" => match self.boundary() {
                    Some(arn) => {
                        let req = aws.iam.put_role_permissions_boundary().role_name(&self.base.name);
                        send!("PutRolePermissionsBoundary", req.permissions_boundary(arn))?;
                    }
                    None => {
                        let req = aws.iam.delete_role_permissions_boundary().role_name(&self.base.name);
                        gone!("DeleteRolePermissionsBoundary", req)?;
                    }
                },
                _ => {}
            }
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        send!("TagRole", aws.iam.tag_role().role_name(&self.base.name).set_tags(Some(iam_tags(set))))?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        gone!("UntagRole", aws.iam.untag_role().role_name(&self.base.name).set_tag_keys(Some(remove.to_vec())))?;
        Ok(())
    }

    /// First what pipectl put in the role, its one inline policy, then the
    /// role: two calls. Anything else it holds (a policy attached by hand, a
    /// profile not emptied yet) makes DeleteRole a conflict, and then all
    /// it holds is listed and removed. Each step takes "already gone" as
    /// done: a lost answer's retry finds the policy deleted or the role out
    /// of its profile. A role that reads as not found (perhaps not visible
    /// yet) is deleted all the same.
    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        match self.delete_known(aws).await {
            Err(e) if still_attached(&e) => retry(self.base.timeout, still_attached, || self.delete_once(aws)).await,
            other => other,
        }
    }
}

/// IAM refuses to delete a role or profile that still holds a policy or a
/// role (one that a read missed, not yet visible): worth looking again.
pub fn still_attached(e: &AwsError) -> bool {
    e.code.as_deref() == Some("DeleteConflict")
}

impl Role {
    /// Deletes the inline policy pipectl writes, then the role.
    async fn delete_known(&self, aws: &Aws) -> Result<Deleted, AwsError> {
        let name = &self.base.name;
        gone!("DeleteRolePolicy", aws.iam.delete_role_policy().role_name(name).policy_name(POLICY_NAME))?;
        super::gone_if_absent(gone!("DeleteRole", aws.iam.delete_role().role_name(name)))
    }

    /// Detaches everything the role holds, then deletes it: the three
    /// listings side by side, then every detach side by side.
    async fn delete_once(&self, aws: &Aws) -> Result<Deleted, AwsError> {
        let name = &self.base.name;
        let (inline, attached, profiles) = tokio::try_join!(
            async { send!("ListRolePolicies", aws.iam.list_role_policies().role_name(name)).found() },
            async { send!("ListAttachedRolePolicies", aws.iam.list_attached_role_policies().role_name(name)).found() },
            async {
                send!("ListInstanceProfilesForRole", aws.iam.list_instance_profiles_for_role().role_name(name)).found()
            },
        )?;
        let inline = inline.iter().flat_map(|o| o.policy_names()).map(|p| async move {
            gone!("DeleteRolePolicy", aws.iam.delete_role_policy().role_name(name).policy_name(p))
        });
        let attached =
            attached.iter().flat_map(|o| o.attached_policies()).filter_map(|p| p.policy_arn()).map(|arn| async move {
                gone!("DetachRolePolicy", aws.iam.detach_role_policy().role_name(name).policy_arn(arn))
            });
        let profiles = profiles.iter().flat_map(|o| o.instance_profiles()).map(|ip| async move {
            let req = aws.iam.remove_role_from_instance_profile().instance_profile_name(ip.instance_profile_name());
            gone!("RemoveRoleFromInstanceProfile", req.role_name(name))
        });
        let (a, b, c) = tokio::join!(
            futures_util::future::join_all(inline),
            futures_util::future::join_all(attached),
            futures_util::future::join_all(profiles)
        );
        for r in a.into_iter().chain(b).chain(c) {
            r?;
        }
        super::gone_if_absent(gone!("DeleteRole", aws.iam.delete_role().role_name(name)))
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
        // `%` before a multi-byte character is kept as it is, not a panic.
        assert_eq!(percent_decode("%é1%4"), "%é1%4");
        assert_eq!(percent_decode("%41%"), "A%");
    }
}
