//! A VPC of the pipeline's own: public and private subnets across zones,
//! an internet gateway and route table for the public tier, a network ACL
//! when the spec asks, a NAT gateway only when the spec asks (it is billed
//! by the hour, and the plan says so).
//!
//! Contract:
//! 1. read: DescribeVpcs by the tags `pipectl:pipeline`, `pipectl:env` and
//!    `pipectl:address`; none = `None`. Everything inside is found the same way.
//! 2. attributes: cidr, zones, nacl and nat_gateway replace the network;
//!    tags update in place. Subnets are carved from the CIDR: 16 equal
//!    blocks, public zone k gets block k, private zone k block 8 + k.
//! 3. create: VPC (wait available), subnets tagged `pipectl:tier` and
//!    `pipectl:zone`, internet gateway, public route table with a default
//!    route to it, private route table (with a NAT route when asked), the
//!    network ACL when asked.
//! 4. delete, after every host in it: NAT gateway (and its address),
//!    internet gateway, subnets, route tables, network ACLs, the VPC;
//!    DependencyViolation (network interfaces of terminated hosts linger) is
//!    retried.

use super::ec2::TAG_ADDRESS;
use super::ec2::{filter, tag_spec};
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags, TAG_ENV, TAG_PIPELINE};
use crate::aws::{retry, wait_until, Aws, AwsError, Poll};
use crate::spec;
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, Filter, ResourceType, RuleAction, Vpc};
use serde::Serialize;
use std::net::Ipv4Addr;

/// What the diff compares; a NAT gateway says it is billed by the hour.
#[derive(Serialize)]
struct Attributes {
    cidr: String,
    zones: usize,
    nacl: bool,
    nat_gateway: &'static str,
    tags: Tags,
}

fn nat(on: bool) -> &'static str {
    if on {
        "yes (billed by the hour)"
    } else {
        "no"
    }
}

pub struct Network {
    pub base: Base,
    pub spec: Option<spec::Network>,
}

impl Network {
    /// The EC2 id of the live resource, if there is one.
    async fn ec2_id(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        Ok(self.vpc(aws).await?.and_then(|v| v.vpc_id().map(str::to_string)))
    }
}

/// The CIDR of subnet block `index` (of 16) of `cidr`.
pub fn subnet_cidr(cidr: &str, index: u32) -> Option<String> {
    let (addr, len) = cidr.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    let base = u32::from(addr.parse::<Ipv4Addr>().ok()?);
    let sub = len + 4;
    let size = 1u32 << (32 - sub);
    Some(format!("{}/{sub}", Ipv4Addr::from(base + index * size)))
}

impl Network {
    /// Tags of everything inside the network, with its role there.
    fn inner_tags(&self, extra: &[(&str, &str)]) -> Tags {
        let mut t = self.base.tags.clone();
        t.insert(TAG_ADDRESS.into(), self.base.address.to_string());
        for (k, v) in extra {
            t.insert((*k).into(), (*v).into());
        }
        t
    }

    fn ours(&self) -> [Filter; 3] {
        [
            filter(&format!("tag:{TAG_PIPELINE}"), &[&self.base.meta.pipeline]),
            filter(&format!("tag:{TAG_ENV}"), &[&self.base.meta.env]),
            filter(&format!("tag:{TAG_ADDRESS}"), &[&self.base.address.to_string()]),
        ]
    }

    async fn vpc(&self, aws: &Aws) -> Result<Option<Vpc>, AwsError> {
        let out = send!("DescribeVpcs", aws.ec2.describe_vpcs().set_filters(Some(self.ours().to_vec())))?;
        Ok(out.vpcs().first().cloned())
    }

    async fn nat_gateways(&self, aws: &Aws, vpc: &str) -> Result<Vec<aws_sdk_ec2::types::NatGateway>, AwsError> {
        let out = send!(
            "DescribeNatGateways",
            aws.ec2
                .describe_nat_gateways()
                .filter(filter("vpc-id", &[vpc]))
                .filter(filter("state", &["pending", "available"]))
        )?;
        Ok(out.nat_gateways().to_vec())
    }
}

#[async_trait]
impl Resource for Network {
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let tags = self.base.tags.clone();
        Some(to_attrs(&Attributes {
            cidr: s.cidr.clone(),
            zones: s.zones as usize,
            nacl: s.nacl,
            nat_gateway: nat(s.nat_gateway),
            tags,
        }))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["cidr", "zones", "nacl", "nat_gateway"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let Some(vpc) = self.vpc(aws).await? else { return Ok(None) };
        let vpc_id = vpc.vpc_id().unwrap_or_default();
        let tags: Tags = vpc
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        let subnets = send!("DescribeSubnets", aws.ec2.describe_subnets().filters(filter("vpc-id", &[vpc_id])))?;
        let zones = subnets
            .subnets()
            .iter()
            .filter(|s| s.tags().iter().any(|t| t.key() == Some("pipectl:tier") && t.value() == Some("public")))
            .count();
        let acls = send!(
            "DescribeNetworkAcls",
            aws.ec2.describe_network_acls().filters(filter("vpc-id", &[vpc_id])).filters(filter("default", &["false"]))
        )?;
        let has_nat = !self.nat_gateways(aws, vpc_id).await?.is_empty();
        let visible: Tags =
            tags.iter().filter(|(k, _)| k.as_str() != TAG_ADDRESS).map(|(k, v)| (k.clone(), v.clone())).collect();
        let attrs = Attributes {
            cidr: vpc.cidr_block().unwrap_or_default().to_string(),
            zones,
            nacl: !acls.network_acls().is_empty(),
            nat_gateway: nat(has_nat),
            tags: visible,
        };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let vpc_id = match self.vpc(aws).await? {
            Some(v) => v.vpc_id().unwrap_or_default().to_string(),
            None => {
                let out = send!(
                    "CreateVpc",
                    aws.ec2
                        .create_vpc()
                        .cidr_block(&s.cidr)
                        .tag_specifications(tag_spec(ResourceType::Vpc, &self.inner_tags(&[])))
                )?;
                out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string()
            }
        };
        wait_until(&format!("VPC `{}`", self.base.name), self.timeout(), || async {
            let out = send!("DescribeVpcs", aws.ec2.describe_vpcs().vpc_ids(&vpc_id))?;
            let state = out.vpcs().first().and_then(|v| v.state()).map(|s| s.as_str().to_string()).unwrap_or_default();
            Ok(if state == "available" { Poll::Ready } else { Poll::NotYet(state) })
        })
        .await?;
        send!(
            "ModifyVpcAttribute",
            aws.ec2
                .modify_vpc_attribute()
                .vpc_id(&vpc_id)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        )?;
        let azs = send!(
            "DescribeAvailabilityZones",
            aws.ec2.describe_availability_zones().filters(filter("state", &["available"]))
        )?;
        let mut zones: Vec<String> =
            azs.availability_zones().iter().filter_map(|z| z.zone_name().map(str::to_string)).collect();
        zones.sort();
        if zones.len() < s.zones as usize {
            return Err(AwsError::fatal(
                "CreateSubnet",
                format!("{} has {} availability zones; the network asks for {}", aws.region, zones.len(), s.zones),
            ));
        }
        let mut public = Vec::new();
        let mut private = Vec::new();
        for (k, zone) in zones.iter().take(s.zones as usize).enumerate() {
            for (tier, index, list) in [("public", k as u32, &mut public), ("private", 8 + k as u32, &mut private)] {
                let cidr = subnet_cidr(&s.cidr, index).expect("a validated CIDR");
                let name = format!("{}-{tier}-{}", self.base.name, k + 1);
                let k_text = k.to_string();
                let mut tags = self.inner_tags(&[("pipectl:tier", tier), ("pipectl:zone", &k_text)]);
                tags.insert("Name".into(), name);
                p.say(format!("subnet {cidr} ({tier}, {zone})"));
                let out = send!(
                    "CreateSubnet",
                    aws.ec2
                        .create_subnet()
                        .vpc_id(&vpc_id)
                        .cidr_block(&cidr)
                        .availability_zone(zone)
                        .tag_specifications(tag_spec(ResourceType::Subnet, &tags))
                )?;
                let id = out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string();
                if tier == "public" {
                    send!(
                        "ModifySubnetAttribute",
                        aws.ec2
                            .modify_subnet_attribute()
                            .subnet_id(&id)
                            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                    )?;
                }
                list.push(id);
            }
        }
        let igw = send!(
            "CreateInternetGateway",
            aws.ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, &self.inner_tags(&[])))
        )?;
        let igw_id = igw.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string();
        send!("AttachInternetGateway", aws.ec2.attach_internet_gateway().vpc_id(&vpc_id).internet_gateway_id(&igw_id))?;
        let nat_id = if s.nat_gateway {
            p.say("NAT gateway (billed by the hour)");
            let eip = send!(
                "AllocateAddress",
                aws.ec2
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(tag_spec(ResourceType::ElasticIp, &self.inner_tags(&[])))
            )?;
            let nat = send!(
                "CreateNatGateway",
                aws.ec2
                    .create_nat_gateway()
                    .subnet_id(&public[0])
                    .allocation_id(eip.allocation_id().unwrap_or_default())
                    .tag_specifications(tag_spec(ResourceType::Natgateway, &self.inner_tags(&[])))
            )?;
            Some(nat.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_string())
        } else {
            None
        };
        for (tier, subnets) in [("public", &public), ("private", &private)] {
            let rt = send!(
                "CreateRouteTable",
                aws.ec2.create_route_table().vpc_id(&vpc_id).tag_specifications(tag_spec(
                    ResourceType::RouteTable,
                    &self.inner_tags(&[("pipectl:tier", tier)])
                ))
            )?;
            let rt_id = rt.route_table().and_then(|r| r.route_table_id()).unwrap_or_default().to_string();
            let route = aws.ec2.create_route().route_table_id(&rt_id).destination_cidr_block("0.0.0.0/0");
            match (tier, &nat_id) {
                ("public", _) => {
                    send!("CreateRoute", route.gateway_id(&igw_id))?;
                }
                (_, Some(nat)) => {
                    send!("CreateRoute", route.nat_gateway_id(nat))?;
                }
                _ => {}
            }
            for sn in subnets {
                send!("AssociateRouteTable", aws.ec2.associate_route_table().route_table_id(&rt_id).subnet_id(sn))?;
            }
        }
        if s.nacl {
            let acl = send!(
                "CreateNetworkAcl",
                aws.ec2
                    .create_network_acl()
                    .vpc_id(&vpc_id)
                    .tag_specifications(tag_spec(ResourceType::NetworkAcl, &self.inner_tags(&[])))
            )?;
            let acl_id = acl.network_acl().and_then(|a| a.network_acl_id()).unwrap_or_default().to_string();
            for egress in [false, true] {
                send!(
                    "CreateNetworkAclEntry",
                    aws.ec2
                        .create_network_acl_entry()
                        .network_acl_id(&acl_id)
                        .rule_number(100)
                        .protocol("-1")
                        .rule_action(RuleAction::Allow)
                        .egress(egress)
                        .cidr_block("0.0.0.0/0")
                )?;
            }
            let assocs = send!(
                "DescribeNetworkAcls",
                aws.ec2
                    .describe_network_acls()
                    .filters(filter("vpc-id", &[&vpc_id]))
                    .filters(filter("default", &["true"]))
            )?;
            for a in assocs.network_acls().iter().flat_map(|a| a.associations()) {
                if let Some(id) = a.network_acl_association_id() {
                    send!(
                        "ReplaceNetworkAclAssociation",
                        aws.ec2.replace_network_acl_association().association_id(id).network_acl_id(&acl_id)
                    )?;
                }
            }
        }
        Ok(())
    }

    async fn update(&self, _aws: &Aws, _before: &Observed, _changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        Ok(())
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        super::ec2::write_tags(aws, self.ec2_id(aws).await?, set, remove).await
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let Some(vpc) = self.vpc(aws).await? else { return Ok(Deleted::Gone) };
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
        for nat in self.nat_gateways(aws, &vpc_id).await? {
            let id = nat.nat_gateway_id().unwrap_or_default().to_string();
            p.say(format!("deleting NAT gateway {id}"));
            gone!("DeleteNatGateway", aws.ec2.delete_nat_gateway().nat_gateway_id(&id))?;
            wait_until("NAT gateway deletion", self.timeout(), || async {
                let left = self.nat_gateways(aws, &vpc_id).await?;
                Ok(if left.iter().any(|n| n.nat_gateway_id() == Some(id.as_str())) {
                    Poll::NotYet("deleting".into())
                } else {
                    Poll::Ready
                })
            })
            .await?;
            for a in nat.nat_gateway_addresses() {
                if let Some(alloc) = a.allocation_id() {
                    let _ = aws.ec2.release_address().allocation_id(alloc).send().await;
                }
            }
        }
        let igws = send!(
            "DescribeInternetGateways",
            aws.ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", &[&vpc_id]))
        )?;
        for g in igws.internet_gateways() {
            let id = g.internet_gateway_id().unwrap_or_default();
            gone!("DetachInternetGateway", aws.ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(&vpc_id))?;
            gone!("DeleteInternetGateway", aws.ec2.delete_internet_gateway().internet_gateway_id(id))?;
        }
        // Network ACLs before the subnets: their subnets go back to the default ACL.
        let all_acls =
            send!("DescribeNetworkAcls", aws.ec2.describe_network_acls().filters(filter("vpc-id", &[&vpc_id])))?;
        let default_acl = all_acls
            .network_acls()
            .iter()
            .find(|a| a.is_default() == Some(true))
            .and_then(|a| a.network_acl_id())
            .map(str::to_string);
        for a in all_acls.network_acls().iter().filter(|a| a.is_default() != Some(true)) {
            if let Some(default_acl) = &default_acl {
                for assoc in a.associations() {
                    if let Some(id) = assoc.network_acl_association_id() {
                        send!(
                            "ReplaceNetworkAclAssociation",
                            aws.ec2.replace_network_acl_association().association_id(id).network_acl_id(default_acl)
                        )?;
                    }
                }
            }
            gone!(
                "DeleteNetworkAcl",
                aws.ec2.delete_network_acl().network_acl_id(a.network_acl_id().unwrap_or_default())
            )?;
        }
        let subnets = send!("DescribeSubnets", aws.ec2.describe_subnets().filters(filter("vpc-id", &[&vpc_id])))?;
        for s in subnets.subnets() {
            let id = s.subnet_id().unwrap_or_default().to_string();
            retry(self.timeout(), super::ec2::in_use, || async {
                gone!("DeleteSubnet", aws.ec2.delete_subnet().subnet_id(&id)).map(drop)
            })
            .await?;
        }
        let tables =
            send!("DescribeRouteTables", aws.ec2.describe_route_tables().filters(filter("vpc-id", &[&vpc_id])))?;
        for t in tables.route_tables() {
            if t.associations().iter().any(|a| a.main() == Some(true)) {
                continue;
            }
            for a in t.associations() {
                if let Some(id) = a.route_table_association_id() {
                    match gone!("DisassociateRouteTable", aws.ec2.disassociate_route_table().association_id(id)) {
                        Ok(_) => {}
                        Err(e) if e.code.as_deref() == Some("InvalidAssociationID.NotFound") => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            gone!(
                "DeleteRouteTable",
                aws.ec2.delete_route_table().route_table_id(t.route_table_id().unwrap_or_default())
            )?;
        }
        retry(self.timeout(), super::ec2::in_use, || async {
            gone!("DeleteVpc", aws.ec2.delete_vpc().vpc_id(&vpc_id)).map(drop)
        })
        .await?;
        Ok(Deleted::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_carved_in_sixteen_blocks() {
        assert_eq!(subnet_cidr("10.20.0.0/16", 0).unwrap(), "10.20.0.0/20");
        assert_eq!(subnet_cidr("10.20.0.0/16", 1).unwrap(), "10.20.16.0/20");
        assert_eq!(subnet_cidr("10.20.0.0/16", 8).unwrap(), "10.20.128.0/20");
        assert_eq!(subnet_cidr("192.168.4.0/24", 15).unwrap(), "192.168.4.240/28");
    }
}
