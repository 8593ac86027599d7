//! The agent host's instance profile: the agent role's name, holding that
//! role.
//!
//! Contract:
//! 1. read: GetInstanceProfile; NoSuchEntity = `None`.
//! 2. attributes: role, tags; both in place.
//! 3. create: CreateInstanceProfile with its tags, then the role added.
//! 4. delete: roles removed, then DeleteInstanceProfile; not found (of the
//!    profile or a role) means done.

use super::{tags_attr, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::{aws_err, Aws, AwsError};
use crate::plan::{Address, Attrs};
use async_trait::async_trait;
use serde_json::json;
use std::time::Duration;

/// The agent host's instance profile, holding the agent role.
pub struct InstanceProfile {
    base: Base,
    role: Option<String>,
}

impl InstanceProfile {
    pub fn new(address: Address, name: String, role: Option<String>, meta: &Meta) -> Self {
        InstanceProfile { base: Base::new(address, name, meta, Duration::from_secs(300)), role }
    }
}

#[async_trait]
impl Resource for InstanceProfile {
    fn base(&self) -> &Base {
        &self.base
    }
    fn desired(&self) -> Option<Attrs> {
        Some(Attrs::from([("role".into(), json!(self.role.clone()?)), ("tags".into(), tags_attr(&self.base.tags))]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let p = match aws
            .iam
            .get_instance_profile()
            .instance_profile_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("GetInstanceProfile"))
        {
            Ok(o) => o.instance_profile().cloned(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(p) = p else { return Ok(None) };
        let tags: Tags = p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        let role = p.roles().first().map(|r| r.role_name().to_string()).unwrap_or_default();
        Ok(Some(Observed {
            attrs: Attrs::from([("role".into(), json!(role)), ("tags".into(), tags_attr(&tags))]),
            tags: Some(tags),
        }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let tags: Vec<aws_sdk_iam::types::Tag> = self
            .base
            .tags
            .iter()
            .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value"))
            .collect();
        match aws
            .iam
            .create_instance_profile()
            .instance_profile_name(&self.base.name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(aws_err("CreateInstanceProfile"))
        {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {}
            Err(e) => return Err(e),
        }
        self.update(aws, &Observed { attrs: Attrs::new(), tags: None }, &["role".into()], _p).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        if changed.iter().any(|c| c == "role") {
            let current = aws
                .iam
                .get_instance_profile()
                .instance_profile_name(&self.base.name)
                .send()
                .await
                .map_err(aws_err("GetInstanceProfile"))?;
            let want = self.role.clone().unwrap_or_default();
            for r in current.instance_profile().map(|p| p.roles()).unwrap_or_default() {
                if r.role_name() != want {
                    aws.iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(&self.base.name)
                        .role_name(r.role_name())
                        .send()
                        .await
                        .map_err(aws_err("RemoveRoleFromInstanceProfile"))?;
                }
            }
            if !current.instance_profile().map(|p| p.roles()).unwrap_or_default().iter().any(|r| r.role_name() == want)
            {
                aws.iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&self.base.name)
                    .role_name(&want)
                    .send()
                    .await
                    .map_err(aws_err("AddRoleToInstanceProfile"))?;
            }
        }
        Ok(())
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        let name = &self.base.name;
        if !set.is_empty() {
            let req = aws.iam.tag_instance_profile().instance_profile_name(name);
            req.set_tags(Some(super::role::iam_tags(set))).send().await.map_err(aws_err("TagInstanceProfile"))?;
        }
        if !remove.is_empty() {
            let req = aws.iam.untag_instance_profile().instance_profile_name(name);
            req.set_tag_keys(Some(remove.to_vec())).send().await.map_err(aws_err("UntagInstanceProfile"))?;
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let current = match aws
            .iam
            .get_instance_profile()
            .instance_profile_name(&self.base.name)
            .send()
            .await
            .map_err(aws_err("GetInstanceProfile"))
        {
            Ok(o) => o,
            Err(e) if e.is_not_found() => return Ok(Deleted::Gone),
            Err(e) => return Err(e),
        };
        for r in current.instance_profile().map(|p| p.roles()).unwrap_or_default() {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(&self.base.name)
                .role_name(r.role_name())
                .send()
                .await
                .map_err(aws_err("RemoveRoleFromInstanceProfile"))?;
        }
        super::gone_if_absent(
            aws.iam
                .delete_instance_profile()
                .instance_profile_name(&self.base.name)
                .send()
                .await
                .map_err(aws_err("DeleteInstanceProfile")),
        )
    }
}
