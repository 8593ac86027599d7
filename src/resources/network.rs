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

use super::cfn::{self, Part};
use super::ec2::TAG_ADDRESS;
use super::ec2::{filter, once, tag_spec};
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags, TAG_ENV, TAG_PIPELINE};
use crate::aws::{retry, wait_until, Aws, AwsError, Outcome, Poll};
use crate::spec;
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType, Vpc};
use serde::Serialize;
use std::net::Ipv4Addr;

mod parts;

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
    /// The network as CloudFormation resources, the same parts its create
    /// makes: zones in the order of `Fn::GetAZs` (sorted, like the create's).
    fn template_parts(&self, s: &spec::Network) -> Vec<Part> {
        use serde_json::json;
        let me = &self.base.address;
        let r = |suffix: &str| cfn::reference(me, suffix);
        let tags = |extra: &[(&str, &str)]| cfn::tags(&self.inner_tags(extra));
        let vpc = json!({
            "CidrBlock": s.cidr, "EnableDnsSupport": true, "EnableDnsHostnames": true,
            "Tags": tags(&[("pipectl:part", "vpc")]),
        });
        let mut parts = vec![Part::new("AWS::EC2::VPC", vpc)];
        let mut subnets: Vec<(&str, String)> = Vec::new();
        for k in 0..s.zones {
            for (tier, index) in [("public", k), ("private", 8 + k)] {
                let zone = (k + 1).to_string();
                let mut t = self.inner_tags(&[
                    ("pipectl:tier", tier),
                    ("pipectl:zone", &k.to_string()),
                    ("pipectl:part", "subnet"),
                ]);
                t.insert("Name".into(), format!("{}-{tier}-{zone}", self.base.name));
                let suffix = format!("{}Subnet{zone}", if tier == "public" { "Public" } else { "Private" });
                let props = json!({
                    "VpcId": r(""),
                    "CidrBlock": subnet_cidr(&s.cidr, index).unwrap_or_default(),
                    "AvailabilityZone": { "Fn::Select": [k, { "Fn::GetAZs": "" }] },
                    "MapPublicIpOnLaunch": tier == "public",
                    "Tags": cfn::tags(&t),
                });
                parts.push(Part::inner(&suffix, "AWS::EC2::Subnet", props));
                subnets.push((tier, suffix));
            }
        }
        parts.push(Part::inner(
            "Igw",
            "AWS::EC2::InternetGateway",
            json!({ "Tags": tags(&[("pipectl:part", "igw")]) }),
        ));
        let attach = json!({ "VpcId": r(""), "InternetGatewayId": r("Igw") });
        parts.push(Part::inner("IgwAttachment", "AWS::EC2::VPCGatewayAttachment", attach));
        if s.nat_gateway {
            let eip = json!({ "Domain": "vpc", "Tags": tags(&[("pipectl:part", "nat-eip")]) });
            parts.push(Part::inner("NatAddress", "AWS::EC2::EIP", eip).after(&["IgwAttachment"]));
            let nat = json!({
                "AllocationId": { "Fn::GetAtt": [cfn::id(me, "NatAddress"), "AllocationId"] },
                "SubnetId": r("PublicSubnet1"),
                "Tags": tags(&[("pipectl:part", "nat")]),
            });
            parts.push(Part::inner("Nat", "AWS::EC2::NatGateway", nat));
        }
        for (tier, title) in [("public", "Public"), ("private", "Private")] {
            let table = format!("{title}Routes");
            let props =
                json!({ "VpcId": r(""), "Tags": tags(&[("pipectl:tier", tier), ("pipectl:part", "route-table")]) });
            parts.push(Part::inner(&table, "AWS::EC2::RouteTable", props));
            let target = match tier {
                "public" => Some(("GatewayId", "Igw")),
                _ if s.nat_gateway => Some(("NatGatewayId", "Nat")),
                _ => None,
            };
            if let Some((key, target)) = target {
                let mut route = json!({ "RouteTableId": r(&table), "DestinationCidrBlock": "0.0.0.0/0" });
                route[key] = r(target);
                let part = Part::inner(format!("{title}DefaultRoute"), "AWS::EC2::Route", route).ready();
                parts.push(if tier == "public" { part.after(&["IgwAttachment"]) } else { part });
            }
            for (_, subnet) in subnets.iter().filter(|(t, _)| *t == tier) {
                let props = json!({ "SubnetId": r(subnet), "RouteTableId": r(&table) });
                parts.push(
                    Part::inner(format!("{subnet}Routes"), "AWS::EC2::SubnetRouteTableAssociation", props).ready(),
                );
            }
        }
        if s.nacl {
            let acl = json!({ "VpcId": r(""), "Tags": tags(&[("pipectl:part", "acl")]) });
            parts.push(Part::inner("Acl", "AWS::EC2::NetworkAcl", acl));
            for (suffix, egress) in [("AclIn", false), ("AclOut", true)] {
                let entry = json!({
                    "NetworkAclId": r("Acl"), "RuleNumber": 100, "Protocol": -1, "RuleAction": "allow",
                    "Egress": egress, "CidrBlock": "0.0.0.0/0",
                });
                parts.push(Part::inner(suffix, "AWS::EC2::NetworkAclEntry", entry).ready());
            }
            for (_, subnet) in &subnets {
                let props = json!({ "SubnetId": r(subnet), "NetworkAclId": r("Acl") });
                parts.push(Part::inner(format!("{subnet}Acl"), "AWS::EC2::SubnetNetworkAclAssociation", props).ready());
            }
        }
        parts
    }

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

    fn tag_filter(&self, part: &str) -> Vec<Filter> {
        let mut f = self.ours().to_vec();
        f.push(filter("tag:pipectl:part", &[part]));
        f
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
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        Ok(self.template_parts(s))
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        use crate::cost::Usage;
        match &self.spec {
            Some(s) if s.nat_gateway => vec![
                Usage::hourly("vpc.nat_gateway_hour", 1.0, "NAT gateway"),
                Usage::hourly("vpc.public_ipv4_hour", 1.0, "NAT gateway's public IPv4"),
                Usage::unpriced("data through the NAT gateway (per GB)"),
            ],
            _ => Vec::new(),
        }
    }
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
    fn container(&self) -> bool {
        true
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
        let visible = super::ec2::visible(&tags);
        let attrs = Attributes {
            cidr: vpc.cidr_block().unwrap_or_default().to_string(),
            zones,
            nacl: !acls.network_acls().is_empty(),
            nat_gateway: nat(has_nat),
            tags: visible,
        };
        Ok(Some(Observed::of(&attrs, Some(tags))))
    }

    /// Each part is found first (by its tags, its CIDR, or its attachment)
    /// and made only when missing, so a create run again after a lost
    /// answer or a crash picks up where the last one stopped. Creates EC2
    /// does not make idempotent are sent once (no SDK retry): the resume
    /// finds what a lost attempt made instead of making a second one; the
    /// others carry a client token.
    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let vpc_id = match self.vpc(aws).await? {
            Some(v) => v.vpc_id().unwrap_or_default().to_string(),
            None => {
                let req = aws
                    .ec2
                    .create_vpc()
                    .cidr_block(&s.cidr)
                    .tag_specifications(tag_spec(ResourceType::Vpc, &self.inner_tags(&[("pipectl:part", "vpc")])));
                let out = send!("CreateVpc", req.customize().config_override(once()))?;
                out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string()
            }
        };
        wait_until(&format!("VPC `{}`", self.base.name), self.timeout(), super::usual::VPC, || async {
            let out = send!("DescribeVpcs", aws.ec2.describe_vpcs().vpc_ids(&vpc_id));
            let state = match out {
                Ok(o) => o.vpcs().first().and_then(|v| v.state()).map(|s| s.as_str().to_string()).unwrap_or_default(),
                // Not visible yet right after its create.
                Err(e) if e.is_not_found() => "not visible yet".into(),
                Err(e) => return Err(e),
            };
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
                let id = self.ensure_subnet(aws, p, &vpc_id, &cidr, zone, tier, k).await?;
                list.push(id);
            }
        }
        let igw_id = self.ensure_internet_gateway(aws, &vpc_id).await?;
        let nat_id = if s.nat_gateway {
            p.say("NAT gateway (billed by the hour)");
            Some(self.ensure_nat_gateway(aws, p, &vpc_id, &public[0]).await?)
        } else {
            None
        };
        for (tier, subnets) in [("public", &public), ("private", &private)] {
            let rt_id = self.ensure_route_table(aws, &vpc_id, tier).await?;
            let route = aws.ec2.create_route().route_table_id(&rt_id).destination_cidr_block("0.0.0.0/0");
            let route = match (tier, &nat_id) {
                ("public", _) => Some(route.gateway_id(&igw_id)),
                (_, Some(nat)) => Some(route.nat_gateway_id(nat)),
                _ => None,
            };
            if let Some(route) = route {
                match send!("CreateRoute", route) {
                    Ok(_) => {}
                    Err(e) if e.code.as_deref() == Some("RouteAlreadyExists") => {}
                    Err(e) => return Err(e),
                }
            }
            let associated = self.associated_subnets(aws, &rt_id).await?;
            for sn in subnets.iter().filter(|sn| !associated.contains(sn)) {
                send!("AssociateRouteTable", aws.ec2.associate_route_table().route_table_id(&rt_id).subnet_id(sn))?;
            }
        }
        if s.nacl {
            self.ensure_network_acl(aws, &vpc_id).await?;
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
            // Its address and the internet gateway stay in use until the
            // NAT gateway is `deleted`, not just `deleting`.
            wait_until(
                &format!("NAT gateway {id} to be deleted"),
                self.timeout(),
                super::usual::NAT_GATEWAY,
                || async {
                    let out =
                        send!("DescribeNatGateways", aws.ec2.describe_nat_gateways().nat_gateway_ids(&id)).found()?;
                    let state = out
                        .and_then(|o| o.nat_gateways().first().and_then(|n| n.state()).map(|s| s.as_str().to_string()))
                        .unwrap_or_else(|| "deleted".into());
                    Ok(if state == "deleted" {
                        Poll::Ready
                    } else {
                        p.say(format!("waiting for the NAT gateway to be deleted ({state})"));
                        Poll::NotYet(state)
                    })
                },
            )
            .await?;
        }
        // Addresses of ours: the NAT gateway's, and any an interrupted
        // create allocated and never used.
        let eips =
            send!("DescribeAddresses", aws.ec2.describe_addresses().set_filters(Some(self.tag_filter("nat-eip"))))?;
        for a in eips.addresses() {
            if let Some(alloc) = a.allocation_id() {
                let alloc = alloc.to_string();
                retry(self.timeout(), address_in_use, || async {
                    gone!("ReleaseAddress", aws.ec2.release_address().allocation_id(&alloc))
                })
                .await?;
            }
        }
        let attached = send!(
            "DescribeInternetGateways",
            aws.ec2.describe_internet_gateways().filters(filter("attachment.vpc-id", &[&vpc_id]))
        )?;
        for g in attached.internet_gateways() {
            let id = g.internet_gateway_id().unwrap_or_default().to_string();
            retry(self.timeout(), super::ec2::in_use, || async {
                gone!(
                    "DetachInternetGateway",
                    aws.ec2.detach_internet_gateway().internet_gateway_id(&id).vpc_id(&vpc_id)
                )
            })
            .await
            .or_else(|e| if e.code.as_deref() == Some("Gateway.NotAttached") { Ok(()) } else { Err(e) })?;
            gone!("DeleteInternetGateway", aws.ec2.delete_internet_gateway().internet_gateway_id(&id))?;
        }
        // Gateways of ours an interrupted create made and never attached.
        let ours = send!(
            "DescribeInternetGateways",
            aws.ec2.describe_internet_gateways().set_filters(Some(self.tag_filter("igw")))
        )?;
        for g in ours.internet_gateways().iter().filter(|g| g.attachments().is_empty()) {
            let id = g.internet_gateway_id().unwrap_or_default();
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

/// An address still held by a NAT gateway on its way out.
fn address_in_use(e: &AwsError) -> bool {
    matches!(e.code.as_deref(), Some("InvalidIPAddress.InUse" | "AuthFailure"))
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
