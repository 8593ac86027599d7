//! The agent host's security group.
//!
//! Contract:
//! 1. read: by name in the subnet's VPC (or by pipectl's address tag when
//!    known only from the record); absent = `None`.
//! 2. attributes: ingress (none unless `ssh:` asks for port 22 from a
//!    range; egress open), tags. Both in place; the VPC replaces it.
//! 3. create: CreateSecurityGroup with its tags; an existing group of the
//!    same name in the VPC is read and adopted.
//! 4. delete: DeleteSecurityGroup, retrying DependencyViolation while a
//!    host using it terminates; not found means done.

use super::cfn::{self, Part};
use super::ec2::{ec2_tags, filter, resolve_subnet, subnet_label, visible, TAG_ADDRESS, TAG_SUBNET};
use super::{to_attrs, Base, Deleted, Meta, Observed, Progress, Resource, Tags};
use crate::aws::Outcome;
use crate::aws::{retry, Aws, AwsError};
use crate::plan::{Address, Attrs};
use crate::spec::{self, SubnetChoice};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, TagSpecification};
use serde::Serialize;

/// The id of the group `name` in `vpc`, if there is one.
pub async fn find_group(aws: &Aws, name: &str, vpc: &str) -> Result<Option<String>, AwsError> {
    let out = send!(
        "DescribeSecurityGroups",
        aws.ec2.describe_security_groups().filters(filter("group-name", &[name])).filters(filter("vpc-id", &[vpc]))
    )?;
    Ok(out.security_groups().first().and_then(|g| g.group_id()).map(str::to_string))
}

/// What the diff compares: `vpc_of` is the subnet choice that placed it.
#[derive(Serialize)]
struct Attributes {
    vpc_of: String,
    ingress: Vec<String>,
    tags: Tags,
}

/// The agent host's security group.
pub struct SecurityGroup {
    pub(super) base: Base,
    subnet: Option<SubnetChoice>,
    ssh: Option<String>,
}

/// The observed attribute holding the group's id (not in the spec).
const GROUP_ID: &str = "group_id";

const DESCRIPTION: &str = "pipectl agent host: no inbound unless the spec asks";
const SSH_DESCRIPTION: &str = "ssh, from the pipectl spec";

impl SecurityGroup {
    /// The group's tags: the deployment's, its address and where it goes.
    fn tags(&self) -> Tags {
        let mut tags = self.base.tags.clone();
        tags.insert(TAG_ADDRESS.into(), self.base.address.to_string());
        if let Some(choice) = &self.subnet {
            tags.insert(TAG_SUBNET.into(), subnet_label(choice));
        }
        tags
    }

    /// The EC2 id of the live resource, if there is one.
    async fn ec2_id(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        Ok(self.find(aws).await?.and_then(|v| v.group_id().map(str::to_string)))
    }
}

impl SecurityGroup {
    pub fn new(address: Address, name: String, agent: Option<&spec::Agent>, meta: &Meta) -> Self {
        SecurityGroup {
            base: Base::new(address, name, meta),
            subnet: agent.map(|a| a.subnet.clone()),
            ssh: agent.and_then(|a| a.ssh.as_ref().map(|s| s.cidr.clone())),
        }
    }

    fn ingress(&self) -> Vec<String> {
        self.ssh.iter().map(|c| format!("tcp/22 from {c}")).collect()
    }

    /// The group of this name in the VPC the spec places it in: the
    /// groups of the name (in any VPC) are listed while the subnet is
    /// resolved. Without a spec (from the record), the group of this name
    /// carrying this address's tag.
    async fn find(&self, aws: &Aws) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>, AwsError> {
        let req = aws.ec2.describe_security_groups().filters(filter("group-name", &[&self.base.name]));
        let Some(choice) = &self.subnet else {
            let req = req.filters(filter(&format!("tag:{TAG_ADDRESS}"), &[&self.base.address.to_string()]));
            return Ok(send!("DescribeSecurityGroups", req)?.security_groups().first().cloned());
        };
        let (placed, named) = tokio::try_join!(resolve_subnet(aws, choice, &self.base.meta), async {
            send!("DescribeSecurityGroups", req)
        })?;
        let Some((_, vpc)) = placed else { return Ok(None) };
        Ok(named.security_groups().iter().find(|g| g.vpc_id() == Some(vpc.as_str())).cloned())
    }

    async fn set_ingress(&self, aws: &Aws, group: &aws_sdk_ec2::types::SecurityGroup) -> Result<(), AwsError> {
        let id = group.group_id().unwrap_or_default();
        if !group.ip_permissions().is_empty() {
            send!(
                "RevokeSecurityGroupIngress",
                aws.ec2
                    .revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            )?;
        }
        if let Some(cidr) = &self.ssh {
            send!(
                "AuthorizeSecurityGroupIngress",
                aws.ec2.authorize_security_group_ingress().group_id(id).ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(IpRange::builder().cidr_ip(cidr).description(SSH_DESCRIPTION).build())
                        .build(),
                )
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(subnet) = &self.subnet else { return Ok(Vec::new()) };
        let mut props = serde_json::json!({
            "GroupName": self.base.name,
            "GroupDescription": DESCRIPTION,
            "Tags": cfn::tags(&self.tags()),
        });
        match subnet {
            SubnetChoice::Default => {}
            SubnetChoice::Network { network, .. } => {
                props["VpcId"] = cfn::reference(&crate::plan::Address::new(crate::plan::Kind::Network, network), "");
            }
            SubnetChoice::Id(id) => {
                return Err(format!(
                    "the host's security group needs the VPC of subnet `{id}`, which a template cannot look up: \
                     give the agent a `networks:` subnet or the default one"
                ))
            }
        }
        if let Some(cidr) = &self.ssh {
            props["SecurityGroupIngress"] = serde_json::json!([{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": cidr, "Description": SSH_DESCRIPTION,
            }]);
        }
        Ok(vec![Part::new("AWS::EC2::SecurityGroup", props)])
    }
    fn desired(&self) -> Option<Attrs> {
        let vpc_of = subnet_label(self.subnet.as_ref()?);
        Some(to_attrs(&Attributes { vpc_of, ingress: self.ingress(), tags: self.base.tags.clone() }))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["vpc_of"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        Ok(self.find(aws).await?.map(|g| observed(&g)))
    }

    /// Whose the group is, without finding the subnet's VPC first: the
    /// groups with the name in any VPC, this deployment's first.
    async fn read_owner(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let req = aws.ec2.describe_security_groups().filters(filter("group-name", &[&self.base.name]));
        let found: Vec<Observed> =
            send!("DescribeSecurityGroups", req)?.security_groups().iter().map(observed).collect();
        let owner = self.base.meta.owner();
        let ours = found.iter().position(|o| o.tags.as_ref().is_some_and(|t| owner.owns_tags(t)));
        Ok(ours.or((!found.is_empty()).then_some(0)).map(|i| found[i].clone()))
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        super::ec2::write_tags(aws, self.ec2_id(aws).await?, set, remove).await
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let choice = self.subnet.as_ref().expect("create needs a spec");
        let (_, vpc) = resolve_subnet(aws, choice, &self.base.meta).await?.ok_or_else(|| {
            AwsError::fatal("CreateSecurityGroup", format!("no subnet found for `{}`", subnet_label(choice)))
        })?;
        let tags = self.tags();
        if send!(
            "CreateSecurityGroup",
            aws.ec2
                .create_security_group()
                .group_name(&self.base.name)
                .description(DESCRIPTION)
                .vpc_id(&vpc)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::SecurityGroup)
                        .set_tags(Some(ec2_tags(&tags)))
                        .build(),
                )
        )
        .created()?
        .is_none()
        {
            // An earlier attempt whose answer was lost, unless someone
            // else's group has the name.
            super::adopt_earlier_attempt(self, aws).await?;
        }
        // Not visible yet right after its create: the executor resumes.
        let g = self.find(aws).await?.ok_or_else(|| {
            AwsError::fatal("CreateSecurityGroup", "the new group is not visible yet").mark_transient()
        })?;
        self.set_ingress(aws, &g).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let g = self.find(aws).await?.ok_or_else(|| {
            AwsError::fatal("update", format!("security group `{}` disappeared", self.base.name)).mark_transient()
        })?;
        if changed.iter().any(|c| c == "ingress") {
            self.set_ingress(aws, &g).await?;
        }
        Ok(())
    }

    /// The group the plan read is deleted by its id, without a second look
    /// (an id is never reused: a group gone since answers not found).
    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let id = match p.observed_text(GROUP_ID) {
            Some(id) => id.to_string(),
            None => {
                let Some(g) = self.find(aws).await? else { return Ok(Deleted::Gone) };
                g.group_id().unwrap_or_default().to_string()
            }
        };
        let out = retry(self.timeout(), super::ec2::in_use, || async {
            let r = gone!("DeleteSecurityGroup", aws.ec2.delete_security_group().group_id(&id)).map(drop);
            if r.as_ref().is_err_and(super::ec2::in_use) {
                p.say("waiting for the host using it to terminate");
            }
            r
        })
        .await;
        match out {
            Ok(()) => Ok(Deleted::Gone),
            Err(e) if e.code.as_deref() == Some("InvalidGroup.NotFound") => Ok(Deleted::Gone),
            Err(e) => Err(e),
        }
    }
}

/// What a read found of a group: its settings, its tags, and its id (not
/// compared: what a delete deletes).
fn observed(g: &aws_sdk_ec2::types::SecurityGroup) -> Observed {
    let tags: Tags = g
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    let ingress: Vec<String> = g
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            let proto = p.ip_protocol().unwrap_or_default().to_string();
            let port = p.from_port().unwrap_or_default();
            p.ip_ranges().iter().map(move |r| format!("{proto}/{port} from {}", r.cidr_ip().unwrap_or_default()))
        })
        .collect();
    let vpc_of = tags.get(TAG_SUBNET).cloned().unwrap_or_default();
    let attrs = Attributes { vpc_of, ingress, tags: visible(&tags) };
    let mut observed = Observed::of(&attrs, Some(tags));
    // Not compared (the spec has no id): what a delete deletes.
    observed.attrs.insert(GROUP_ID.into(), g.group_id().unwrap_or_default().into());
    observed
}
