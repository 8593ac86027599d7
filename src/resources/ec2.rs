//! What the EC2 kinds (agent host, security group, network) share: filters,
//! tags in EC2's shape, and finding a host or a subnet by pipectl's tags.

use super::{Meta, Owner, Tags, TAG_ENV, TAG_PIPELINE};
use crate::aws::{Aws, AwsError};
use crate::plan::Address;
use crate::spec::{SubnetChoice, Tier};
use crate::{gone, send};
use aws_sdk_ec2::types::{Filter, Instance, ResourceType, Tag, TagSpecification};

/// The address of the graph node an EC2 resource belongs to.
pub const TAG_ADDRESS: &str = "pipectl:address";
/// The subnet a host or group was placed by, as the spec wrote it.
pub const TAG_SUBNET: &str = "pipectl:subnet";

/// The tags people see: everything but pipectl's own bookkeeping tags.
pub fn visible(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !k.starts_with("pipectl:") || Owner::TAGS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// How the spec names a subnet, for the tag and the diff.
pub fn subnet_label(choice: &SubnetChoice) -> String {
    match choice {
        SubnetChoice::Default => "default".into(),
        SubnetChoice::Id(id) => id.clone(),
        SubnetChoice::Network { network, tier } => {
            format!("network.{network}/{}", if *tier == Tier::Public { "public" } else { "private" })
        }
    }
}

pub fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.iter().map(|v| v.to_string()).collect())).build()
}

/// The live host of an agent address, if any (not terminated).
/// From the plan's listing of the deployment's hosts when it has one for
/// the address; else its own call.
pub async fn find_instance(aws: &Aws, owner: &Owner, address: &Address) -> Result<Option<Instance>, AwsError> {
    aws.known.hosts.settled().await;
    if let Some(host) = aws.known.hosts.get(&address.to_string()) {
        return Ok(Some(host));
    }
    Ok(instances(aws, owner, address, Some(&LIVE)).await?.into_iter().next())
}

/// The states of a host that is there (not terminated, nor on its way).
pub const LIVE: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// Every host carrying an agent address's tags, in `states` (all states
/// when `None`: terminated hosts stay listed for about an hour).
pub async fn instances(
    aws: &Aws,
    owner: &Owner,
    address: &Address,
    states: Option<&[&str]>,
) -> Result<Vec<Instance>, AwsError> {
    let (pipeline, env, address) = (owner.pipeline.as_str(), owner.env.as_str(), address.to_string());
    let req = aws
        .ec2
        .describe_instances()
        .filters(filter(&format!("tag:{TAG_PIPELINE}"), &[pipeline]))
        .filters(filter(&format!("tag:{TAG_ENV}"), &[env]))
        .filters(filter(&format!("tag:{TAG_ADDRESS}"), &[&address]));
    let req = match states {
        Some(states) => req.filters(filter("instance-state-name", states)),
        None => req,
    };
    let out = send!("DescribeInstances", req)?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).cloned().collect())
}

/// The subnet (and its VPC) a host goes into.
pub async fn resolve_subnet(
    aws: &Aws,
    choice: &SubnetChoice,
    meta: &Meta,
) -> Result<Option<(String, String)>, AwsError> {
    let req = aws.ec2.describe_subnets();
    let req = match choice {
        SubnetChoice::Default => req.filters(filter("default-for-az", &["true"])),
        SubnetChoice::Id(id) => req.subnet_ids(id),
        SubnetChoice::Network { network, tier } => req
            .filters(filter(&format!("tag:{TAG_PIPELINE}"), &[&meta.pipeline]))
            .filters(filter(&format!("tag:{TAG_ENV}"), &[&meta.env]))
            .filters(filter(&format!("tag:{TAG_ADDRESS}"), &[&format!("network.{network}")]))
            .filters(filter("tag:pipectl:tier", &[if *tier == Tier::Public { "public" } else { "private" }])),
    };
    let out = match send!("DescribeSubnets", req) {
        Ok(o) => o,
        Err(e) if e.code.as_deref() == Some("InvalidSubnetID.NotFound") => {
            return Err(AwsError::fatal(
                "DescribeSubnets",
                format!("subnet `{}` does not exist in {}", subnet_label(choice), aws.region),
            ))
        }
        Err(e) => return Err(e),
    };
    let mut subnets: Vec<_> = out.subnets().to_vec();
    subnets.sort_by(|a, b| a.availability_zone().cmp(&b.availability_zone()));
    Ok(subnets
        .first()
        .map(|s| (s.subnet_id().unwrap_or_default().to_string(), s.vpc_id().unwrap_or_default().to_string())))
}

/// An EC2 request configuration without the SDK's retries, for creates EC2
/// does not make idempotent: a retry after a lost answer would make a
/// second one. Their failures go back to the executor, which resumes by
/// finding what exists.
pub fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// A client token for an idempotent EC2 create of `part` of `address`:
/// the same for every attempt of this run, so a retried call returns the
/// first one's result; the next run's differ (64 characters at most).
pub fn client_token(address: &Address, part: &str) -> String {
    crate::names::sha256_hex(format!("{}|{address}|{part}", crate::lock::run_id()))[..48].to_string()
}

/// EC2 refuses to delete something still in use (a group by a host, a
/// VPC by its subnets) with DependencyViolation: worth waiting out.
pub fn in_use(e: &AwsError) -> bool {
    e.code.as_deref() == Some("DependencyViolation")
}

/// Tags for a create call (`TagSpecifications`), so nothing is ever
/// created untagged.
/// The subnet a host goes in, in a template: a network's first subnet of
/// the tier, an id as given; `None` for the default subnet (what EC2
/// picks when none is named).
pub fn subnet_reference(choice: &SubnetChoice) -> Option<serde_json::Value> {
    match choice {
        SubnetChoice::Default => None,
        SubnetChoice::Id(id) => Some(id.clone().into()),
        SubnetChoice::Network { network, tier } => {
            let suffix = if *tier == Tier::Public { "PublicSubnet1" } else { "PrivateSubnet1" };
            Some(super::cfn::reference(&crate::plan::Address::new(crate::plan::Kind::Network, network), suffix))
        }
    }
}

pub fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).set_tags(Some(ec2_tags(tags))).build()
}

/// Sets and removes tags on one EC2 resource (none: it is gone, nothing
/// to do).
pub async fn write_tags(aws: &Aws, id: Option<String>, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
    let Some(id) = id else { return Ok(()) };
    if !set.is_empty() {
        send!("CreateTags", aws.ec2.create_tags().resources(&id).set_tags(Some(ec2_tags(set))))?;
    }
    if !remove.is_empty() {
        let keys: Vec<Tag> = remove.iter().map(|k| Tag::builder().key(k).build()).collect();
        gone!("DeleteTags", aws.ec2.delete_tags().resources(&id).set_tags(Some(keys)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_labels() {
        assert_eq!(subnet_label(&SubnetChoice::Default), "default");
        assert_eq!(
            subnet_label(&SubnetChoice::Network { network: "lab".into(), tier: Tier::Public }),
            "network.lab/public"
        );
    }
}
