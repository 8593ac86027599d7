//! The agent host's instance profile: the agent role's name, holding that
//! role.
//!
//! Contract:
//! 1. read: GetInstanceProfile; NoSuchEntity = `None`.
//! 2. attributes: role, tags; both in place.
//! 3. create: CreateInstanceProfile with its tags, then the role added.
//! 4. delete: the spec's role removed, then DeleteInstanceProfile; if IAM
//!    says it still holds a role (or no role is known), the roles it holds
//!    are read and removed, then DeleteInstanceProfile again; not found (of
//!    the profile or a role) means done.

use super::cfn::{self, Part};
use super::{to_attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::plan::Attrs;
use crate::{gone, send};
use async_trait::async_trait;
use serde::Serialize;

/// What the diff compares.
#[derive(Serialize)]
struct Attributes {
    role: String,
    tags: Tags,
}

/// The agent host's instance profile, holding the agent role.
pub struct InstanceProfile {
    pub base: Base,
    pub role: Option<String>,
    /// Whether a delete already tried the quick way (see `delete`).
    quick_tried: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Resource for InstanceProfile {
    /// CloudFormation cannot tag an instance profile: the stack owns it.
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(role) = &self.role else { return Ok(Vec::new()) };
        let props = serde_json::json!({ "InstanceProfileName": self.base.name, "Roles": [role] });
        Ok(vec![Part::new("AWS::IAM::InstanceProfile", props)])
    }
    fn desired(&self) -> Option<Attrs> {
        Some(to_attrs(&Attributes { role: self.role.clone()?, tags: self.base.tags.clone() }))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let p = match send!("GetInstanceProfile", aws.iam.get_instance_profile().instance_profile_name(&self.base.name))
            .found()?
        {
            Some(o) => o.instance_profile().cloned(),
            None => return Ok(None),
        };
        let Some(p) = p else { return Ok(None) };
        let tags: Tags = p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        let role = p.roles().first().map(|r| r.role_name().to_string()).unwrap_or_default();
        Ok(Some(Observed::of(&Attributes { role, tags: tags.clone() }, Some(tags))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let tags: Vec<aws_sdk_iam::types::Tag> = self
            .base
            .tags
            .iter()
            .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value"))
            .collect();
        let req = aws.iam.create_instance_profile().instance_profile_name(&self.base.name).set_tags(Some(tags));
        if send!("CreateInstanceProfile", req).created()?.is_none() {
            super::adopt_earlier_attempt(self, aws).await?;
        }
        self.update(aws, &Observed::empty(), &["role".into()], p).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c == "role") {
            let Some(roles) = self.roles(aws).await? else {
                return Err(AwsError::fatal("update", format!("instance profile `{}` disappeared", self.base.name))
                    .mark_transient());
            };
            let want = self.role.clone().unwrap_or_default();
            self.remove_roles(aws, &roles, &want).await?;
            if !roles.contains(&want) {
                let req = aws.iam.add_role_to_instance_profile().instance_profile_name(&self.base.name);
                match send!("AddRoleToInstanceProfile", req.role_name(&want)) {
                    Ok(_) => crate::aws::settling::mark(format!("instance-profile/{}", self.base.name)),
                    // A profile holds one role: a retry after a lost answer
                    // hits that quota with our role already in.
                    Err(e)
                        if e.code.as_deref() == Some("LimitExceeded")
                            && self.roles(aws).await?.is_some_and(|r| r == [want.clone()]) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    async fn add_tags(&self, aws: &Aws, set: &Tags) -> Result<(), AwsError> {
        let name = &self.base.name;

        let req = aws.iam.tag_instance_profile().instance_profile_name(name);
        send!("TagInstanceProfile", req.set_tags(Some(super::role::iam_tags(set))))?;
        Ok(())
    }

    async fn remove_tags(&self, aws: &Aws, remove: &[String]) -> Result<(), AwsError> {
        let name = &self.base.name;

        let req = aws.iam.untag_instance_profile().instance_profile_name(name);
        gone!("UntagInstanceProfile", req.set_tag_keys(Some(remove.to_vec())))?;
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        // Once, the quick way: the role the spec puts in it out, then the
        // profile, without a read (two calls). Once the role is out it may
        // go: the profile's delete need not wait.
        let quick = self.role.as_ref().filter(|_| !self.quick_tried.swap(true, std::sync::atomic::Ordering::SeqCst));
        if let Some(role) = quick {
            let done = async {
                self.remove_roles(aws, std::slice::from_ref(role), "").await?;
                self.delete_emptied(aws, p).await
            };
            if let Ok(done) = done.await {
                return Ok(done);
            }
        }
        // Another role in it, none known, or an answer lost on the way:
        // read what it holds and go on from there. "Not found" may be a
        // profile not visible yet: delete it all the same, and while IAM
        // still sees a role in it, look again.
        retry(self.timeout(), super::role::still_attached, || async {
            let roles = self.roles(aws).await?.unwrap_or_default();
            self.remove_roles(aws, &roles, "").await?;
            self.delete_emptied(aws, p).await
        })
        .await
    }
}

impl InstanceProfile {
    pub fn new(base: Base, role: Option<String>) -> InstanceProfile {
        InstanceProfile { base, role, quick_tried: Default::default() }
    }

    /// With its roles out: lets them go, then deletes the profile.
    async fn delete_emptied(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        p.release();
        let req = aws.iam.delete_instance_profile().instance_profile_name(&self.base.name);
        super::gone_if_absent(gone!("DeleteInstanceProfile", req))
    }

    /// The roles the profile holds now; `None` when the profile is gone.
    async fn roles(&self, aws: &Aws) -> Result<Option<Vec<String>>, AwsError> {
        let out = send!("GetInstanceProfile", aws.iam.get_instance_profile().instance_profile_name(&self.base.name));
        let roles =
            |p: &aws_sdk_iam::types::InstanceProfile| p.roles().iter().map(|r| r.role_name().to_string()).collect();
        Ok(out.found()?.map(|o| o.instance_profile().map(roles).unwrap_or_default()))
    }

    /// Removes every role but `keep`; a role already gone is done.
    async fn remove_roles(&self, aws: &Aws, roles: &[String], keep: &str) -> Result<(), AwsError> {
        for r in roles.iter().filter(|r| *r != keep) {
            let req = aws.iam.remove_role_from_instance_profile().instance_profile_name(&self.base.name);
            gone!("RemoveRoleFromInstanceProfile", req.role_name(r))?;
        }
        Ok(())
    }
}
