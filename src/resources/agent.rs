//! The agent host: an EC2 instance running the Amazon Kinesis Agent, with
//! its instance profile and security group.
//!
//! Agent contract:
//! 1. read: DescribeInstances by the tags `pipectl:pipeline`, `pipectl:env`
//!    and `pipectl:address`, not terminated; none = `None`.
//! 2. attributes: ami (as written: `al2023` or an id; `al2023` is resolved
//!    from the SSM public parameter when the host is created, so a new AMI
//!    release does not replace a running host), instance_type, subnet (as
//!    written), user_data_sha256, security_group, instance_profile, imdsv2,
//!    tags. In place: tags and imdsv2 (ModifyInstanceMetadataOptions).
//!    Everything else replaces the host: user data runs only at first boot.
//! 3. create: RunInstances with a ClientToken derived from pipeline, env,
//!    address, the configuration and the create attempt, so a retried call
//!    never starts a second host; retried while the new instance profile
//!    propagates; then a wait for `running`.
//! 4. delete: TerminateInstances and a wait for `terminated`, so the
//!    security group and instance profile can go after it.
//!
//! Security group: in the subnet's VPC, no inbound rule unless `ssh:` asks
//! for port 22 from a range; egress open. Ingress and tags update in place;
//! the VPC replaces it. Delete retries DependencyViolation while a host
//! using it terminates.
//!
//! Instance profile: the agent role's name; holds that role.

use super::{tag_delta, tags_attr, Attrs, Deleted, Meta, Observed, Progress, Resource, Tags, TAG_ENV, TAG_PIPELINE};
use crate::aws::{aws_err, retry, wait_until, Aws, AwsError, Poll};
use crate::plan::{Address, Kind};
use crate::spec::{self, Ami, InitialPosition, Spec, SubnetChoice, Tier};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, HttpTokensState, IamInstanceProfileSpecification, Instance, InstanceMetadataOptionsRequest,
    InstanceStateName, InstanceType, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const TAG_ADDRESS: &str = "pipectl:address";
const TAG_AMI: &str = "pipectl:ami";
const TAG_SUBNET: &str = "pipectl:subnet";
const TAG_USER_DATA: &str = "pipectl:user-data-sha256";
const USER_DATA_TEMPLATE: &str = include_str!("../../templates/agent/user-data.sh");
pub const AL2023_X86: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AL2023_ARM: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

/// The Kinesis Agent configuration for a host's flows, as JSON.
pub fn agent_json(agent: &spec::Agent, spec: &Spec, region: &str) -> Value {
    let flows: Vec<Value> = agent
        .flows
        .iter()
        .map(|f| {
            let stream = spec.streams.get(&f.stream).map_or(f.stream.as_str(), |s| s.name.as_str());
            let mut flow = json!({
                "filePattern": f.file_pattern,
                "kinesisStream": stream,
                "partitionKeyOption": f.partition_key,
                "initialPosition": match f.initial_position {
                    InitialPosition::StartOfFile => "START_OF_FILE",
                    InitialPosition::EndOfFile => "END_OF_FILE",
                },
            });
            if let Some(c) = &f.csv_to_json {
                flow["dataProcessingOptions"] = json!([{
                    "optionName": "CSVTOJSON",
                    "customFieldNames": c.fields,
                    "delimiter": c.delimiter,
                }]);
            }
            flow
        })
        .collect();
    json!({
        "cloudwatch.emitMetrics": true,
        "cloudwatch.endpoint": format!("monitoring.{region}.amazonaws.com"),
        "kinesis.endpoint": format!("kinesis.{region}.amazonaws.com"),
        "flows": flows,
    })
}

/// The host's user data: the template with the agent configuration in it.
pub fn user_data(agent: &spec::Agent, spec: &Spec, region: &str) -> String {
    let config = serde_json::to_string_pretty(&agent_json(agent, spec, region)).expect("JSON serializes");
    USER_DATA_TEMPLATE.replace("{{AGENT_JSON}}", &config)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
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

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.iter().map(|v| v.to_string()).collect())).build()
}

/// The live host of an agent address, if any (not terminated).
pub async fn find_instance(aws: &Aws, pipeline: &str, env: &str, address: &str) -> Result<Option<Instance>, AwsError> {
    let out = aws
        .ec2
        .describe_instances()
        .filters(filter(&format!("tag:{TAG_PIPELINE}"), &[pipeline]))
        .filters(filter(&format!("tag:{TAG_ENV}"), &[env]))
        .filters(filter(&format!("tag:{TAG_ADDRESS}"), &[address]))
        .filters(filter("instance-state-name", &["pending", "running", "stopping", "stopped"]))
        .send()
        .await
        .map_err(aws_err("DescribeInstances"))?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).next().cloned())
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
    let out = match req.send().await.map_err(aws_err("DescribeSubnets")) {
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

async fn ami_id(aws: &Aws, ami: &Ami, instance_type: &str) -> Result<String, AwsError> {
    match ami {
        Ami::Id(id) => Ok(id.clone()),
        Ami::Al2023 => {
            let family = instance_type.split('.').next().unwrap_or_default();
            let arm = family.len() > 2 && family[2..].contains('g');
            let param = if arm { AL2023_ARM } else { AL2023_X86 };
            let out = aws.ssm.get_parameter().name(param).send().await.map_err(aws_err("GetParameter"))?;
            Ok(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())
        }
    }
}

/// Everything an agent host needs, resolved from the spec.
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub agent: spec::Agent,
    pub user_data: String,
    pub profile: String,
    pub security_group: String,
}

pub struct Agent {
    address: Address,
    name: String,
    spec: Option<HostSpec>,
    meta: Meta,
    timeout: Duration,
}

fn profile_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValue")
        && (e.message.contains("Invalid IAM Instance Profile") || e.message.contains("has no associated IAM Roles"))
}

impl Agent {
    pub fn new(address: Address, name: String, spec: Option<HostSpec>, meta: &Meta) -> Self {
        Agent { address, name, spec, meta: meta.clone(), timeout: meta.timeout(Kind::Agent, Duration::from_secs(600)) }
    }

    fn tags(&self) -> Tags {
        let mut t = self.meta.tags();
        t.insert("Name".into(), self.name.clone());
        t
    }

    async fn wait_for(&self, aws: &Aws, id: &str, want: InstanceStateName, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("host `{}` ({id})", self.name), self.timeout(), || async {
            let out = aws.ec2.describe_instances().instance_ids(id).send().await.map_err(aws_err("DescribeInstances"));
            let state = match out {
                Ok(o) => o
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .next()
                    .and_then(|i| i.state())
                    .and_then(|s| s.name())
                    .cloned(),
                Err(e)
                    if e.code.as_deref() == Some("InvalidInstanceID.NotFound")
                        && want == InstanceStateName::Terminated =>
                {
                    return Ok(Poll::Ready)
                }
                Err(e) if e.code.as_deref() == Some("InvalidInstanceID.NotFound") => {
                    return Ok(Poll::NotYet("not visible yet".into()))
                }
                Err(e) => return Err(e),
            };
            Ok(match state {
                Some(s) if s == want => Poll::Ready,
                Some(InstanceStateName::Terminated) | Some(InstanceStateName::ShuttingDown)
                    if want == InstanceStateName::Running =>
                {
                    Poll::Failed(format!(
                        "the host stopped while starting ({})",
                        state.map(|s| s.as_str().to_string()).unwrap_or_default()
                    ))
                }
                Some(s) => {
                    p.say(format!("waiting for {} ({})", want.as_str(), s.as_str()));
                    Poll::NotYet(s.as_str().to_string())
                }
                None if want == InstanceStateName::Terminated => Poll::Ready,
                None => Poll::NotYet("not visible yet".into()),
            })
        })
        .await
    }
}

fn host_attrs(ami: &str, itype: &str, subnet: &str, ud: &str, sg: &str, profile: &str, imds: &str) -> Attrs {
    Attrs::from([
        ("ami".into(), json!(ami)),
        ("instance_type".into(), json!(itype)),
        ("subnet".into(), json!(subnet)),
        ("user_data_sha256".into(), json!(ud)),
        ("security_group".into(), json!(sg)),
        ("instance_profile".into(), json!(profile)),
        ("imdsv2".into(), json!(imds)),
    ])
}

/// The tags people see: everything but pipectl's own bookkeeping tags.
fn visible(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !k.starts_with("pipectl:") || *k == TAG_PIPELINE || *k == TAG_ENV)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[async_trait]
impl Resource for Agent {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let ami = match &s.agent.ami {
            Ami::Al2023 => "al2023".to_string(),
            Ami::Id(id) => id.clone(),
        };
        let mut a = host_attrs(
            &ami,
            &s.agent.instance_type,
            &subnet_label(&s.agent.subnet),
            &sha256_hex(&s.user_data),
            &s.security_group,
            &s.profile,
            "required",
        );
        a.insert("tags".into(), tags_attr(&self.tags()));
        Some(a)
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["ami", "instance_type", "subnet", "user_data_sha256", "security_group", "instance_profile"]
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let Some(i) = find_instance(aws, &self.meta.pipeline, &self.meta.env, &self.address.to_string()).await? else {
            return Ok(None);
        };
        let tags: Tags = i
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        let sg = i.security_groups().first().and_then(|g| g.group_name()).unwrap_or_default();
        let profile =
            i.iam_instance_profile().and_then(|p| p.arn()).and_then(|a| a.rsplit('/').next()).unwrap_or_default();
        let imds = i.metadata_options().and_then(|m| m.http_tokens()).map_or("optional", |t| t.as_str());
        let get = |k: &str| tags.get(k).cloned().unwrap_or_default();
        let mut attrs = host_attrs(
            &get(TAG_AMI),
            i.instance_type().map(|t| t.as_str()).unwrap_or_default(),
            &get(TAG_SUBNET),
            &get(TAG_USER_DATA),
            sg,
            profile,
            imds,
        );
        attrs.insert("tags".into(), tags_attr(&visible(&tags)));
        Ok(Some(Observed { attrs, tags: Some(tags) }))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let a = &s.agent;
        let (subnet, vpc) = resolve_subnet(aws, &a.subnet, &self.meta).await?.ok_or_else(|| {
            AwsError::fatal("RunInstances", format!("no subnet found for `{}`", subnet_label(&a.subnet)))
        })?;
        let sg = find_group(aws, &s.security_group, &vpc).await?.ok_or_else(|| {
            AwsError::fatal("RunInstances", format!("security group `{}` not found in {vpc}", s.security_group))
        })?;
        let image = ami_id(aws, &a.ami, &a.instance_type).await?;
        p.say(format!("launching {} from {image} in {subnet}", a.instance_type));
        let ud_hash = sha256_hex(&s.user_data);
        let mut tags = self.tags();
        tags.insert(TAG_ADDRESS.into(), self.address.to_string());
        tags.insert(
            TAG_AMI.into(),
            match &a.ami {
                Ami::Al2023 => "al2023".into(),
                Ami::Id(id) => id.clone(),
            },
        );
        tags.insert(TAG_SUBNET.into(), subnet_label(&a.subnet));
        tags.insert(TAG_USER_DATA.into(), ud_hash.clone());
        // One token per create attempt: retries of this call can never start
        // a second host; a later create (after a replace) gets a new one.
        let attempt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let token = sha256_hex(&format!(
            "{}|{}|{}|{ud_hash}|{image}|{attempt}",
            self.meta.pipeline, self.meta.env, self.address
        ))[..64]
            .to_string();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&s.user_data);
        let id = retry(Duration::from_secs(180), profile_not_ready, || async {
            let mut req = aws
                .ec2
                .run_instances()
                .image_id(&image)
                .instance_type(InstanceType::from(a.instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .security_group_ids(&sg)
                .iam_instance_profile(IamInstanceProfileSpecification::builder().name(&s.profile).build())
                .user_data(&encoded)
                .metadata_options(
                    InstanceMetadataOptionsRequest::builder().http_tokens(HttpTokensState::Required).build(),
                )
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Instance)
                        .set_tags(Some(ec2_tags(&tags)))
                        .build(),
                )
                .client_token(&token);
            if let Some(k) = a.ssh.as_ref().and_then(|s| s.key_name.as_ref()) {
                req = req.key_name(k);
            }
            match req.send().await.map_err(aws_err("RunInstances")) {
                Ok(o) => Ok(o.instances().first().and_then(|i| i.instance_id()).unwrap_or_default().to_string()),
                Err(e) if profile_not_ready(&e) => {
                    p.say("waiting for the instance profile to propagate");
                    Err(e)
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        self.wait_for(aws, &id, InstanceStateName::Running, p).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let Some(i) = find_instance(aws, &self.meta.pipeline, &self.meta.env, &self.address.to_string()).await? else {
            return Err(AwsError::fatal("update", format!("host `{}` disappeared", self.name)));
        };
        let id = i.instance_id().unwrap_or_default();
        if changed.iter().any(|c| c == "imdsv2") {
            aws.ec2
                .modify_instance_metadata_options()
                .instance_id(id)
                .http_tokens(HttpTokensState::Required)
                .send()
                .await
                .map_err(aws_err("ModifyInstanceMetadataOptions"))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let old = visible(before.tags.as_ref().unwrap_or(&Tags::new()));
            let (set, remove) = tag_delta(&old, &self.tags());
            if !set.is_empty() {
                aws.ec2
                    .create_tags()
                    .resources(id)
                    .set_tags(Some(ec2_tags(&set)))
                    .send()
                    .await
                    .map_err(aws_err("CreateTags"))?;
            }
            if !remove.is_empty() {
                let keys: Vec<Tag> = remove.iter().map(|k| Tag::builder().key(k).build()).collect();
                aws.ec2.delete_tags().resources(id).set_tags(Some(keys)).send().await.map_err(aws_err("DeleteTags"))?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        while let Some(i) = find_instance(aws, &self.meta.pipeline, &self.meta.env, &self.address.to_string()).await? {
            let id = i.instance_id().unwrap_or_default().to_string();
            p.say(format!("terminating {id}"));
            aws.ec2.terminate_instances().instance_ids(&id).send().await.map_err(aws_err("TerminateInstances"))?;
            self.wait_for(aws, &id, InstanceStateName::Terminated, p).await?;
        }
        Ok(Deleted::Gone)
    }
}

async fn find_group(aws: &Aws, name: &str, vpc: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(filter("group-name", &[name]))
        .filters(filter("vpc-id", &[vpc]))
        .send()
        .await
        .map_err(aws_err("DescribeSecurityGroups"))?;
    Ok(out.security_groups().first().and_then(|g| g.group_id()).map(str::to_string))
}

/// The agent host's security group.
pub struct SecurityGroup {
    address: Address,
    name: String,
    subnet: Option<SubnetChoice>,
    ssh: Option<String>,
    meta: Meta,
}

impl SecurityGroup {
    pub fn new(address: Address, name: String, agent: Option<&spec::Agent>, meta: &Meta) -> Self {
        SecurityGroup {
            address,
            name,
            subnet: agent.map(|a| a.subnet.clone()),
            ssh: agent.and_then(|a| a.ssh.as_ref().map(|s| s.cidr.clone())),
            meta: meta.clone(),
        }
    }

    fn tags(&self) -> Tags {
        let mut t = self.meta.tags();
        t.insert("Name".into(), self.name.clone());
        t
    }

    fn ingress(&self) -> Vec<String> {
        self.ssh.iter().map(|c| format!("tcp/22 from {c}")).collect()
    }

    /// The group, found by our address tag (or by name in the VPC when the
    /// spec says where it goes).
    async fn find(&self, aws: &Aws) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>, AwsError> {
        let mut req = aws.ec2.describe_security_groups().filters(filter("group-name", &[&self.name]));
        match &self.subnet {
            Some(choice) => match resolve_subnet(aws, choice, &self.meta).await? {
                Some((_, vpc)) => req = req.filters(filter("vpc-id", &[&vpc])),
                None => return Ok(None),
            },
            None => req = req.filters(filter(&format!("tag:{TAG_ADDRESS}"), &[&self.address.to_string()])),
        }
        let out = req.send().await.map_err(aws_err("DescribeSecurityGroups"))?;
        Ok(out.security_groups().first().cloned())
    }

    async fn set_ingress(&self, aws: &Aws, group: &aws_sdk_ec2::types::SecurityGroup) -> Result<(), AwsError> {
        let id = group.group_id().unwrap_or_default();
        if !group.ip_permissions().is_empty() {
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(group.ip_permissions().to_vec()))
                .send()
                .await
                .map_err(aws_err("RevokeSecurityGroupIngress"))?;
        }
        if let Some(cidr) = &self.ssh {
            aws.ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .ip_permissions(
                    IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(IpRange::builder().cidr_ip(cidr).description("ssh, from the pipectl spec").build())
                        .build(),
                )
                .send()
                .await
                .map_err(aws_err("AuthorizeSecurityGroupIngress"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for SecurityGroup {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        let subnet = self.subnet.as_ref()?;
        Some(Attrs::from([
            ("vpc_of".into(), json!(subnet_label(subnet))),
            ("ingress".into(), json!(self.ingress())),
            ("tags".into(), tags_attr(&self.tags())),
        ]))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["vpc_of"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let Some(g) = self.find(aws).await? else { return Ok(None) };
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
        Ok(Some(Observed {
            attrs: Attrs::from([
                ("vpc_of".into(), json!(tags.get(TAG_SUBNET).cloned().unwrap_or_default())),
                ("ingress".into(), json!(ingress)),
                ("tags".into(), tags_attr(&visible(&tags))),
            ]),
            tags: Some(tags),
        }))
    }

    async fn create(&self, aws: &Aws, _p: &Progress) -> Result<(), AwsError> {
        let choice = self.subnet.as_ref().expect("create needs a spec");
        let (_, vpc) = resolve_subnet(aws, choice, &self.meta).await?.ok_or_else(|| {
            AwsError::fatal("CreateSecurityGroup", format!("no subnet found for `{}`", subnet_label(choice)))
        })?;
        let mut tags = self.tags();
        tags.insert(TAG_ADDRESS.into(), self.address.to_string());
        tags.insert(TAG_SUBNET.into(), subnet_label(choice));
        match aws
            .ec2
            .create_security_group()
            .group_name(&self.name)
            .description("pipectl agent host: no inbound unless the spec asks")
            .vpc_id(&vpc)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(ec2_tags(&tags)))
                    .build(),
            )
            .send()
            .await
            .map_err(aws_err("CreateSecurityGroup"))
        {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("InvalidGroup.Duplicate") => {}
            Err(e) => return Err(e),
        }
        let g = self
            .find(aws)
            .await?
            .ok_or_else(|| AwsError::fatal("CreateSecurityGroup", "the new group is not visible"))?;
        self.set_ingress(aws, &g).await
    }

    async fn update(&self, aws: &Aws, before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let g = self
            .find(aws)
            .await?
            .ok_or_else(|| AwsError::fatal("update", format!("security group `{}` disappeared", self.name)))?;
        if changed.iter().any(|c| c == "ingress") {
            self.set_ingress(aws, &g).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let (set, _) = tag_delta(&visible(before.tags.as_ref().unwrap_or(&Tags::new())), &self.tags());
            if !set.is_empty() {
                aws.ec2
                    .create_tags()
                    .resources(g.group_id().unwrap_or_default())
                    .set_tags(Some(ec2_tags(&set)))
                    .send()
                    .await
                    .map_err(aws_err("CreateTags"))?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let Some(g) = self.find(aws).await? else { return Ok(Deleted::Gone) };
        let id = g.group_id().unwrap_or_default().to_string();
        let busy = |e: &AwsError| e.code.as_deref() == Some("DependencyViolation");
        let out = retry(self.meta.timeout(Kind::SecurityGroup, Duration::from_secs(300)), busy, || async {
            let r = aws
                .ec2
                .delete_security_group()
                .group_id(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_err("DeleteSecurityGroup"));
            if r.as_ref().is_err_and(busy) {
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

/// The agent host's instance profile, holding the agent role.
pub struct InstanceProfile {
    address: Address,
    name: String,
    role: Option<String>,
    tags: Tags,
}

impl InstanceProfile {
    pub fn new(address: Address, name: String, role: Option<String>, meta: &Meta) -> Self {
        InstanceProfile { address, name, role, tags: meta.tags() }
    }
}

#[async_trait]
impl Resource for InstanceProfile {
    fn address(&self) -> &Address {
        &self.address
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn desired(&self) -> Option<Attrs> {
        Some(Attrs::from([("role".into(), json!(self.role.clone()?)), ("tags".into(), tags_attr(&self.tags))]))
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let p = match aws
            .iam
            .get_instance_profile()
            .instance_profile_name(&self.name)
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
            .tags
            .iter()
            .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value"))
            .collect();
        match aws
            .iam
            .create_instance_profile()
            .instance_profile_name(&self.name)
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
                .instance_profile_name(&self.name)
                .send()
                .await
                .map_err(aws_err("GetInstanceProfile"))?;
            let want = self.role.clone().unwrap_or_default();
            for r in current.instance_profile().map(|p| p.roles()).unwrap_or_default() {
                if r.role_name() != want {
                    aws.iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(&self.name)
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
                    .instance_profile_name(&self.name)
                    .role_name(&want)
                    .send()
                    .await
                    .map_err(aws_err("AddRoleToInstanceProfile"))?;
            }
        }
        Ok(())
    }

    async fn delete(&self, aws: &Aws, _p: &Progress) -> Result<Deleted, AwsError> {
        let current = match aws
            .iam
            .get_instance_profile()
            .instance_profile_name(&self.name)
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
                .instance_profile_name(&self.name)
                .role_name(r.role_name())
                .send()
                .await
                .map_err(aws_err("RemoveRoleFromInstanceProfile"))?;
        }
        super::gone_if_absent(
            aws.iam
                .delete_instance_profile()
                .instance_profile_name(&self.name)
                .send()
                .await
                .map_err(aws_err("DeleteInstanceProfile")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_json_holds_every_flow_and_parses_inside_the_user_data() {
        let l = crate::spec::load_pipeline("kinesis-agent-lambda-s3");
        let agent = &l.spec.agents["producer"];
        let cfg = agent_json(agent, &l.spec, "us-west-2");
        assert_eq!(cfg["kinesis.endpoint"], "kinesis.us-west-2.amazonaws.com");
        assert_eq!(cfg["cloudwatch.emitMetrics"], true);
        let flow = &cfg["flows"][0];
        assert_eq!(flow["filePattern"], "/tmp/*.csv*");
        assert_eq!(flow["kinesisStream"], "agent-lab-stream");
        assert_eq!(flow["partitionKeyOption"], "RANDOM");
        assert_eq!(flow["initialPosition"], "START_OF_FILE");
        let opt = &flow["dataProcessingOptions"][0];
        assert_eq!(opt["optionName"], "CSVTOJSON");
        assert_eq!(opt["delimiter"], ",");
        assert_eq!(opt["customFieldNames"].as_array().unwrap().len(), 17);
        let ud = user_data(agent, &l.spec, "us-west-2");
        let inner = ud.split("<<'PIPECTL_AGENT_JSON'\n").nth(1).unwrap().split("\nPIPECTL_AGENT_JSON").next().unwrap();
        let parsed: Value = serde_json::from_str(inner).unwrap();
        assert_eq!(parsed, cfg);
        assert!(ud.contains("systemctl enable aws-kinesis-agent"));
    }

    #[test]
    fn a_field_name_with_quotes_stays_valid_json() {
        let mut l = crate::spec::load_pipeline("kinesis-agent-lambda-s3");
        let agent = l.spec.agents.get_mut("producer").unwrap();
        agent.flows[0].csv_to_json.as_mut().unwrap().fields[0] = "say \"hi\"\\".into();
        let agent = l.spec.agents["producer"].clone();
        let cfg = agent_json(&agent, &l.spec, "us-east-1");
        let back: Value = serde_json::from_str(&cfg.to_string()).unwrap();
        assert_eq!(back["flows"][0]["dataProcessingOptions"][0]["customFieldNames"][0], "say \"hi\"\\");
    }

    #[test]
    fn subnet_labels() {
        assert_eq!(subnet_label(&SubnetChoice::Default), "default");
        assert_eq!(
            subnet_label(&SubnetChoice::Network { network: "lab".into(), tier: Tier::Public }),
            "network.lab/public"
        );
    }
}
