//! The parts a network's create makes inside its VPC: subnets, the
//! internet gateway, the NAT gateway and its address, route tables and the
//! network ACL. Each is found first (by its tags, its CIDR, or its
//! attachment) and made only when missing.

use super::Network;
use crate::aws::{wait_until, Aws, AwsError, Poll};
use crate::resources::ec2::{client_token, filter, once, tag_spec};
use crate::resources::{usual, Progress, Resource};
use crate::send;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType, RuleAction};

impl Network {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn ensure_subnet(
        &self,
        aws: &Aws,
        p: &Progress,
        vpc_id: &str,
        cidr: &str,
        zone: &str,
        tier: &str,
        k: usize,
    ) -> Result<String, AwsError> {
        // A subnet's CIDR is unique in its VPC: it finds an earlier attempt's.
        let find = || async {
            let req =
                aws.ec2.describe_subnets().filters(filter("vpc-id", &[vpc_id])).filters(filter("cidr-block", &[cidr]));
            let out = send!("DescribeSubnets", req)?;
            Ok::<_, AwsError>(out.subnets().first().and_then(|s| s.subnet_id()).map(str::to_string))
        };
        let id = match find().await? {
            Some(id) => id,
            None => {
                let name = format!("{}-{tier}-{}", self.base.name, k + 1);
                let k_text = k.to_string();
                let mut tags =
                    self.inner_tags(&[("pipectl:tier", tier), ("pipectl:zone", &k_text), ("pipectl:part", "subnet")]);
                tags.insert("Name".into(), name);
                p.say(format!("subnet {cidr} ({tier}, {zone})"));
                let req = aws
                    .ec2
                    .create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(cidr)
                    .availability_zone(zone)
                    .tag_specifications(tag_spec(ResourceType::Subnet, &tags));
                match send!("CreateSubnet", req.customize().config_override(once())) {
                    Ok(out) => out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string(),
                    Err(e) if e.code.as_deref() == Some("InvalidSubnet.Conflict") => {
                        find().await?.ok_or_else(|| e.mark_transient())?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if tier == "public" {
            send!(
                "ModifySubnetAttribute",
                aws.ec2
                    .modify_subnet_attribute()
                    .subnet_id(&id)
                    .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
            )?;
        }
        Ok(id)
    }

    /// The internet gateway attached to the VPC; one of ours left unattached
    /// by an earlier attempt is attached rather than a second one made.
    pub(super) async fn ensure_internet_gateway(&self, aws: &Aws, vpc_id: &str) -> Result<String, AwsError> {
        let attached = send!(
            "DescribeInternetGateways",
            aws.ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", &[vpc_id]))
        )?;
        if let Some(id) = attached.internet_gateways().first().and_then(|g| g.internet_gateway_id()) {
            return Ok(id.to_string());
        }
        let ours = send!(
            "DescribeInternetGateways",
            aws.ec2.describe_internet_gateways().set_filters(Some(self.tag_filter("igw")))
        )?;
        let id = match ours
            .internet_gateways()
            .iter()
            .find(|g| g.attachments().is_empty())
            .and_then(|g| g.internet_gateway_id())
        {
            Some(id) => id.to_string(),
            None => {
                let req = aws.ec2.create_internet_gateway().tag_specifications(tag_spec(
                    ResourceType::InternetGateway,
                    &self.inner_tags(&[("pipectl:part", "igw")]),
                ));
                let out = send!("CreateInternetGateway", req.customize().config_override(once()))?;
                out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string()
            }
        };
        match send!("AttachInternetGateway", aws.ec2.attach_internet_gateway().vpc_id(vpc_id).internet_gateway_id(&id))
        {
            Ok(_) => Ok(id),
            Err(e) if e.code.as_deref() == Some("Resource.AlreadyAssociated") => Ok(id),
            Err(e) => Err(e),
        }
    }

    /// The NAT gateway in the first public subnet, with its address: each
    /// found by its tags before it is made; the gateway carries a client
    /// token. Waits until it is available.
    pub(super) async fn ensure_nat_gateway(
        &self,
        aws: &Aws,
        p: &Progress,
        vpc_id: &str,
        subnet: &str,
    ) -> Result<String, AwsError> {
        let id = match self.nat_gateways(aws, vpc_id).await?.first().and_then(|n| n.nat_gateway_id()) {
            Some(id) => id.to_string(),
            None => {
                let eips = send!(
                    "DescribeAddresses",
                    aws.ec2.describe_addresses().set_filters(Some(self.tag_filter("nat-eip")))
                )?;
                let free =
                    eips.addresses().iter().find(|a| a.association_id().is_none()).and_then(|a| a.allocation_id());
                let allocation = match free {
                    Some(a) => a.to_string(),
                    None => {
                        let req = aws.ec2.allocate_address().domain(DomainType::Vpc).tag_specifications(tag_spec(
                            ResourceType::ElasticIp,
                            &self.inner_tags(&[("pipectl:part", "nat-eip")]),
                        ));
                        let out = send!("AllocateAddress", req.customize().config_override(once()))?;
                        out.allocation_id().unwrap_or_default().to_string()
                    }
                };
                let nat = send!(
                    "CreateNatGateway",
                    aws.ec2
                        .create_nat_gateway()
                        .subnet_id(subnet)
                        .allocation_id(&allocation)
                        .client_token(client_token(&self.base.address, "nat"))
                        .tag_specifications(tag_spec(
                            ResourceType::Natgateway,
                            &self.inner_tags(&[("pipectl:part", "nat")])
                        ))
                        .customize()
                        .config_override(once())
                )?;
                nat.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_string()
            }
        };
        wait_until(&format!("NAT gateway {id}"), self.timeout(), usual::NAT_GATEWAY, || async {
            let out = send!("DescribeNatGateways", aws.ec2.describe_nat_gateways().nat_gateway_ids(&id));
            let state = match out {
                Ok(o) => {
                    o.nat_gateways().first().and_then(|n| n.state()).map(|s| s.as_str().to_string()).unwrap_or_default()
                }
                Err(e) if e.is_not_found() => "not visible yet".into(),
                Err(e) => return Err(e),
            };
            Ok(match state.as_str() {
                "available" => Poll::Ready,
                "failed" | "deleting" | "deleted" => Poll::Failed(format!("NAT gateway {id} is {state}")),
                _ => {
                    p.say(format!("waiting for the NAT gateway ({state})"));
                    Poll::NotYet(state)
                }
            })
        })
        .await?;
        Ok(id)
    }

    pub(super) async fn ensure_route_table(&self, aws: &Aws, vpc_id: &str, tier: &str) -> Result<String, AwsError> {
        let mut f = self.tag_filter("route-table");
        f.push(filter("tag:pipectl:tier", &[tier]));
        f.push(filter("vpc-id", &[vpc_id]));
        let found = send!("DescribeRouteTables", aws.ec2.describe_route_tables().set_filters(Some(f)))?;
        if let Some(id) = found.route_tables().first().and_then(|r| r.route_table_id()) {
            return Ok(id.to_string());
        }
        let out = send!(
            "CreateRouteTable",
            aws.ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .client_token(client_token(&self.base.address, &format!("route-table-{tier}")))
                .tag_specifications(tag_spec(
                    ResourceType::RouteTable,
                    &self.inner_tags(&[("pipectl:tier", tier), ("pipectl:part", "route-table")])
                ))
                .customize()
                .config_override(once())
        )?;
        Ok(out.route_table().and_then(|r| r.route_table_id()).unwrap_or_default().to_string())
    }

    pub(super) async fn associated_subnets(&self, aws: &Aws, rt_id: &str) -> Result<Vec<String>, AwsError> {
        let out = send!("DescribeRouteTables", aws.ec2.describe_route_tables().route_table_ids(rt_id))?;
        Ok(out
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .filter_map(|a| a.subnet_id().map(str::to_string))
            .collect())
    }

    pub(super) async fn ensure_network_acl(&self, aws: &Aws, vpc_id: &str) -> Result<(), AwsError> {
        let mut f = self.tag_filter("acl");
        f.push(filter("vpc-id", &[vpc_id]));
        let found = send!("DescribeNetworkAcls", aws.ec2.describe_network_acls().set_filters(Some(f)))?;
        let acl_id = match found.network_acls().first().and_then(|a| a.network_acl_id()) {
            Some(id) => id.to_string(),
            None => {
                let acl = send!(
                    "CreateNetworkAcl",
                    aws.ec2
                        .create_network_acl()
                        .vpc_id(vpc_id)
                        .client_token(client_token(&self.base.address, "acl"))
                        .tag_specifications(tag_spec(
                            ResourceType::NetworkAcl,
                            &self.inner_tags(&[("pipectl:part", "acl")])
                        ))
                        .customize()
                        .config_override(once())
                )?;
                acl.network_acl().and_then(|a| a.network_acl_id()).unwrap_or_default().to_string()
            }
        };
        for egress in [false, true] {
            let entry = send!(
                "CreateNetworkAclEntry",
                aws.ec2
                    .create_network_acl_entry()
                    .network_acl_id(&acl_id)
                    .rule_number(100)
                    .protocol("-1")
                    .rule_action(RuleAction::Allow)
                    .egress(egress)
                    .cidr_block("0.0.0.0/0")
            );
            match entry {
                Ok(_) => {}
                Err(e) if e.code.as_deref() == Some("NetworkAclEntryAlreadyExists") => {}
                Err(e) => return Err(e),
            }
        }
        let assocs = send!(
            "DescribeNetworkAcls",
            aws.ec2.describe_network_acls().filters(filter("vpc-id", &[vpc_id])).filters(filter("default", &["true"]))
        )?;
        for a in assocs.network_acls().iter().flat_map(|a| a.associations()) {
            if let Some(id) = a.network_acl_association_id() {
                send!(
                    "ReplaceNetworkAclAssociation",
                    aws.ec2.replace_network_acl_association().association_id(id).network_acl_id(&acl_id)
                )?;
            }
        }
        Ok(())
    }
}
