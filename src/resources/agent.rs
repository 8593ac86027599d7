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
//!    propagates; then a wait for `running`; unless `wait_for: launched`,
//!    a wait for the host's service (Kinesis Agent or built-in producer)
//!    through Systems Manager Run Command (`host_check`): a failed start
//!    fails the create with the last lines of the service's log and of
//!    cloud-init's output.
//! 4. delete: TerminateInstances and a wait for `terminated`, so the
//!    security group and instance profile can go after it.
//!
//! Security group: in the subnet's VPC, no inbound rule unless `ssh:` asks
//! for port 22 from a range; egress open. Ingress and tags update in place;
//! the VPC replaces it. Delete retries DependencyViolation while a host
//! using it terminates.
//!
//! Instance profile: the agent role's name; holds that role.

use super::cfn::{self, Part};
use super::ec2::{ec2_tags, find_instance, instances, resolve_subnet, subnet_label, visible, TAG_ADDRESS, TAG_SUBNET};
use super::security_group::find_group;
use super::{to_attrs, Attrs, Base, Deleted, Observed, Progress, Resource, Tags};
use crate::aws::{wait_until, Aws, AwsError, Pace, Poll};
use crate::plan::{Address, Kind};
use crate::spec::{self, Ami};
use crate::{gone, send};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    HttpTokensState, IamInstanceProfileSpecification, InstanceMetadataOptionsRequest, InstanceStateName, InstanceType,
    ResourceType, TagSpecification,
};
use base64::Engine as _;
use serde::Serialize;
use std::time::Duration;

const TAG_AMI: &str = "pipectl:ami";
const TAG_USER_DATA: &str = "pipectl:user-data-sha256";
pub const AL2023_X86: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AL2023_ARM: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

/// The SSM parameter naming the latest Amazon Linux 2023 AMI for the
/// instance type's architecture (Graviton families have a `g`).
fn al2023_parameter(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or_default();
    if family.chars().skip(2).any(|c| c == 'g') {
        AL2023_ARM
    } else {
        AL2023_X86
    }
}

async fn ami_id(aws: &Aws, ami: &Ami, instance_type: &str) -> Result<String, AwsError> {
    match ami {
        Ami::Id(id) => Ok(id.clone()),
        Ami::Al2023 => {
            let param = al2023_parameter(instance_type);
            let out = send!("GetParameter", aws.ssm.get_parameter().name(param))?;
            Ok(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())
        }
    }
}

/// Everything an agent host needs, resolved from the spec.
/// The root volume of Amazon Linux 2023's AMI (gp3), which the host keeps.
const ROOT_VOLUME_GB: f64 = 8.0;

#[derive(Debug, Clone)]
pub struct HostSpec {
    pub agent: spec::Agent,
    pub user_data: String,
    pub profile: String,
    pub security_group: String,
}

pub struct Agent {
    pub base: Base,
    pub spec: Option<HostSpec>,
}

impl Agent {
    /// The host's tags: the deployment's, its address, and what it was
    /// launched from (AMI as written, subnet, user data digest).
    fn host_tags(&self, s: &HostSpec) -> Tags {
        let a = &s.agent;
        let mut tags = self.base.tags.clone();
        tags.insert(TAG_ADDRESS.into(), self.base.address.to_string());
        let ami = match &a.ami {
            Ami::Al2023 => "al2023".into(),
            Ami::Id(id) => id.clone(),
        };
        tags.insert(TAG_AMI.into(), ami);
        tags.insert(TAG_SUBNET.into(), subnet_label(&a.subnet));
        tags.insert(TAG_USER_DATA.into(), crate::names::sha256_hex(&s.user_data));
        tags
    }

    /// The EC2 id of the live resource, if there is one.
    async fn ec2_id(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        Ok(self.instance(aws).await?.and_then(|v| v.instance_id().map(str::to_string)))
    }
}

fn profile_not_ready(e: &AwsError) -> bool {
    e.code.as_deref() == Some("InvalidParameterValue")
        && (e.message.contains("Invalid IAM Instance Profile") || e.message.contains("has no associated IAM Roles"))
}

/// EC2 is eventually consistent: a group or subnet made moments ago may
/// be "not found" by RunInstances for a while.
fn inputs_not_visible(e: &AwsError) -> bool {
    e.is_not_found() || profile_not_ready(e)
}

impl Agent {
    /// The live host of this address, if any.
    async fn instance(&self, aws: &Aws) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
        find_instance(aws, &self.base.meta.owner(), &self.base.address).await
    }

    /// Unless `wait_for: launched`: waits until the host's service (the
    /// Kinesis Agent or the built-in producer) is active, asking the host
    /// through Systems Manager Run Command (`host_check`), its user data
    /// finished and its `data:` file written, and stays so; a failed start
    /// fails the create with the last lines of its logs.
    async fn started(&self, aws: &Aws, id: &str, p: &Progress) -> Result<(), AwsError> {
        let a = &self.spec.as_ref().expect("create needs a spec").agent;
        if !a.wait_for_running {
            return Ok(());
        }
        let service = a.service();
        let what = format!("`{service}` on host `{}` ({id})", self.base.name);
        let data = a.data.as_ref().map(|d| d.path.as_str());
        super::host_check::wait(aws, id, service, data, &what, self.timeout(), p).await
    }

    /// Waits for a launched host to be `running`; one that stops on the
    /// way fails the wait.
    async fn running(&self, aws: &Aws, id: &str, p: &Progress) -> Result<(), AwsError> {
        wait_until(&format!("host `{}` ({id})", self.base.name), self.timeout(), super::usual::INSTANCE, || async {
            let out = send!("DescribeInstances", aws.ec2.describe_instances().instance_ids(id));
            let state = match out {
                Ok(o) => o
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .next()
                    .and_then(|i| i.state())
                    .and_then(|s| s.name())
                    .cloned(),
                Err(e) if e.is_not_found() => return Ok(Poll::NotYet("not visible yet".into())),
                Err(e) => return Err(e),
            };
            Ok(match state {
                Some(InstanceStateName::Running) => Poll::Ready,
                Some(s @ (InstanceStateName::Terminated | InstanceStateName::ShuttingDown)) => {
                    Poll::Failed(format!("the host stopped while starting ({})", s.as_str()))
                }
                Some(s) => {
                    p.say(format!("waiting for running ({})", s.as_str()));
                    Poll::NotYet(s.as_str().to_string())
                }
                None => Poll::NotYet("not visible yet".into()),
            })
        })
        .await
    }
}

/// Says the hosts are shutting down: nothing they hold is used any more,
/// so their instance profile may be deleted while they stop (IAM does not
/// refuse it). The security group and the subnet wait for the hosts to be
/// gone, as EC2 refuses their deletes until then.
fn shutting_down(p: &Progress) {
    p.release_only(&[Kind::InstanceProfile]);
}

/// The observed attribute holding the live host's id (not in the spec).
const INSTANCE_ID: &str = "instance_id";

/// What the diff compares; `ami` and `subnet` as the spec wrote them.
#[derive(Serialize)]
struct Attributes {
    ami: String,
    instance_type: String,
    subnet: String,
    user_data_sha256: String,
    security_group: String,
    instance_profile: String,
    imdsv2: String,
    tags: Tags,
}

#[async_trait]
impl Resource for Agent {
    fn cloudformation(&self, _cx: &cfn::Context) -> Result<Vec<Part>, String> {
        let Some(s) = &self.spec else { return Ok(Vec::new()) };
        let a = &s.agent;
        let image = match &a.ami {
            Ami::Al2023 => format!("{{{{resolve:ssm:{}}}}}", al2023_parameter(&a.instance_type)),
            Ami::Id(id) => id.clone(),
        };
        let same_key = |kind| cfn::reference(&Address::new(kind, &self.base.address.key), "");
        let mut props = serde_json::json!({
            "ImageId": image,
            "InstanceType": a.instance_type,
            "SecurityGroupIds": [same_key(Kind::SecurityGroup)],
            "IamInstanceProfile": same_key(Kind::InstanceProfile),
            "UserData": { "Fn::Base64": s.user_data },
            "MetadataOptions": { "HttpTokens": "required" },
            "Tags": cfn::tags(&self.host_tags(s)),
        });
        if let Some(subnet) = super::ec2::subnet_reference(&a.subnet) {
            props["SubnetId"] = subnet;
        }
        if let Some(k) = a.ssh.as_ref().and_then(|s| s.key_name.as_ref()) {
            props["KeyName"] = k.clone().into();
        }
        Ok(vec![Part::new("AWS::EC2::Instance", props)])
    }
    fn usage(&self) -> Vec<crate::cost::Usage> {
        use crate::cost::Usage;
        let Some(s) = &self.spec else { return Vec::new() };
        let t = &s.agent.instance_type;
        let mut u = vec![
            Usage::hourly(format!("ec2.{t}"), 1.0, format!("{t} instance")),
            Usage::monthly("ebs.gp3_gb_month", ROOT_VOLUME_GB, format!("{ROOT_VOLUME_GB} GB root volume")),
        ];
        let public = match &s.agent.subnet {
            spec::SubnetChoice::Default => true,
            spec::SubnetChoice::Network { tier, .. } => *tier == spec::Tier::Public,
            spec::SubnetChoice::Id(_) => false,
        };
        if public {
            u.push(Usage::hourly("vpc.public_ipv4_hour", 1.0, "public IPv4"));
        }
        u
    }
    fn desired(&self) -> Option<Attrs> {
        let s = self.spec.as_ref()?;
        let ami = match &s.agent.ami {
            Ami::Al2023 => "al2023".to_string(),
            Ami::Id(id) => id.clone(),
        };
        Some(to_attrs(&Attributes {
            ami,
            instance_type: s.agent.instance_type.clone(),
            subnet: subnet_label(&s.agent.subnet),
            user_data_sha256: crate::names::sha256_hex(&s.user_data),
            security_group: s.security_group.clone(),
            instance_profile: s.profile.clone(),
            imdsv2: "required".into(),
            tags: self.base.tags.clone(),
        }))
    }
    fn replace_on(&self) -> &'static [&'static str] {
        &["ami", "instance_type", "subnet", "user_data_sha256", "security_group", "instance_profile"]
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Observed>, AwsError> {
        let Some(i) = self.instance(aws).await? else {
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
        let attrs = Attributes {
            ami: get(TAG_AMI),
            instance_type: i.instance_type().map(|t| t.as_str()).unwrap_or_default().to_string(),
            subnet: get(TAG_SUBNET),
            user_data_sha256: get(TAG_USER_DATA),
            security_group: sg.to_string(),
            instance_profile: profile.to_string(),
            imdsv2: imds.to_string(),
            tags: visible(&tags),
        };
        let mut observed = Observed::of(&attrs, Some(tags));
        // Not compared (the spec has no id): what a delete terminates first.
        observed.attrs.insert(INSTANCE_ID.into(), i.instance_id().unwrap_or_default().into());
        Ok(Some(observed))
    }

    async fn create(&self, aws: &Aws, p: &Progress) -> Result<(), AwsError> {
        let s = self.spec.as_ref().expect("create needs a spec");
        let a = &s.agent;
        // A host an earlier attempt launched (its answer lost, or the run
        // killed while it started) carries this address's tags: wait for it
        // instead of launching a second.
        if let Some(i) = self.instance(aws).await? {
            let id = i.instance_id().unwrap_or_default().to_string();
            p.say(format!("found {id}, launched by an earlier attempt"));
            self.running(aws, &id, p).await?;
            return self.started(aws, &id, p).await;
        }
        let (subnet, vpc) = resolve_subnet(aws, &a.subnet, &self.base.meta).await?.ok_or_else(|| {
            AwsError::fatal("RunInstances", format!("no subnet found for `{}`", subnet_label(&a.subnet)))
        })?;
        let sg = find_group(aws, &s.security_group, &vpc).await?.ok_or_else(|| {
            AwsError::fatal("RunInstances", format!("security group `{}` not found in {vpc}", s.security_group))
        })?;
        let image = ami_id(aws, &a.ami, &a.instance_type).await?;
        p.say(format!("launching {} from {image} in {subnet}", a.instance_type));
        let tags = self.host_tags(s);
        let ud_hash = crate::names::sha256_hex(&s.user_data);
        // One token per run and host: every attempt of this run (the SDK's
        // retries, the executor's resume) is one idempotent request; the
        // next run (after a replace) gets a new one.
        let token = super::ec2::client_token(&self.base.address, &format!("instance|{ud_hash}|{image}"));
        let encoded = base64::engine::general_purpose::STANDARD.encode(&s.user_data);
        let id = crate::aws::retry_paced(
            Duration::from_secs(180),
            Pace::since(&format!("instance-profile/{}", s.profile), super::usual::ROLE_PROPAGATION),
            inputs_not_visible,
            || async {
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
                // A host an earlier attempt launched (its answer lost) is found
                // by its tags before another is asked for.
                if let Some(i) = self.instance(aws).await? {
                    return Ok(i.instance_id().unwrap_or_default().to_string());
                }
                // Sent once, not retried by the SDK: the token makes AWS
                // idempotent, and the look above covers an endpoint that is not.
                let req = req.customize().config_override(super::ec2::once());
                match send!("RunInstances", req) {
                    Ok(o) => Ok(o.instances().first().and_then(|i| i.instance_id()).unwrap_or_default().to_string()),
                    Err(e) if profile_not_ready(&e) => {
                        p.say("waiting for the instance profile to propagate");
                        Err(e)
                    }
                    Err(e) if e.is_not_found() => {
                        p.say(format!("waiting for the new subnet and group to be visible ({})", e.message));
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        self.running(aws, &id, p).await?;
        self.started(aws, &id, p).await
    }

    async fn update(&self, aws: &Aws, _before: &Observed, changed: &[String], _p: &Progress) -> Result<(), AwsError> {
        let Some(i) = self.instance(aws).await? else {
            return Err(AwsError::fatal("update", format!("host `{}` disappeared", self.base.name)).mark_transient());
        };
        let id = i.instance_id().unwrap_or_default();
        if changed.iter().any(|c| c == "imdsv2") {
            send!(
                "ModifyInstanceMetadataOptions",
                aws.ec2.modify_instance_metadata_options().instance_id(id).http_tokens(HttpTokensState::Required)
            )?;
        }
        Ok(())
    }

    async fn write_tags(&self, aws: &Aws, set: &Tags, remove: &[String]) -> Result<(), AwsError> {
        super::ec2::write_tags(aws, self.ec2_id(aws).await?, set, remove).await
    }

    async fn outputs(&self, aws: &Aws) -> Result<Vec<(&'static str, String)>, AwsError> {
        let Some(i) = find_instance(aws, &self.base.meta.owner(), &self.base.address).await? else {
            return Ok(Vec::new());
        };
        let id = i.instance_id().unwrap_or_default();
        Ok(vec![
            ("instance", id.to_string()),
            ("session", format!("aws ssm start-session --target {id} --region {}", aws.region)),
        ])
    }

    /// Every host of this address is terminated (a lost launch answer may
    /// have made a second), and the wait looks for them all by their tags:
    /// a host that shows up late is terminated too, and the last look that
    /// finds them all terminated ends the delete. Once every host is
    /// shutting down, its instance profile (and so its role) may go.
    async fn delete(&self, aws: &Aws, p: &Progress) -> Result<Deleted, AwsError> {
        let owner = self.base.meta.owner();
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::<String>::new());
        // The host the plan read is ended at once, without reading again.
        if let Some(id) = p.observed_text(INSTANCE_ID) {
            p.say(format!("terminating {id}"));
            gone!("TerminateInstances", aws.ec2.terminate_instances().instance_ids(id))?;
            asked.lock().expect("asked lock").insert(id.to_string());
            shutting_down(p);
        }
        wait_until(
            &format!("host `{}` terminated", self.base.name),
            self.timeout(),
            super::usual::INSTANCE_STOP,
            || async {
                let hosts = instances(aws, &owner, &self.base.address, None).await?;
                let state = |i: &aws_sdk_ec2::types::Instance| i.state().and_then(|s| s.name()).cloned();
                let fresh: Vec<String> = {
                    let asked = asked.lock().expect("asked lock");
                    hosts
                        .iter()
                        .filter(|i| {
                            !matches!(state(i), Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown))
                        })
                        .filter_map(|i| i.instance_id().map(str::to_string))
                        .filter(|id| !asked.contains(id))
                        .collect()
                };
                if !fresh.is_empty() {
                    p.say(format!("terminating {}", fresh.join(", ")));
                    gone!("TerminateInstances", aws.ec2.terminate_instances().set_instance_ids(Some(fresh.clone())))?;
                    asked.lock().expect("asked lock").extend(fresh);
                    return Ok(Poll::NotYet("terminating".into()));
                }
                shutting_down(p);
                match hosts.iter().filter_map(state).find(|s| *s != InstanceStateName::Terminated) {
                    None => Ok(Poll::Ready),
                    Some(s) => {
                        p.say(format!("waiting for terminated ({})", s.as_str()));
                        Ok(Poll::NotYet(s.as_str().to_string()))
                    }
                }
            },
        )
        .await?;
        Ok(Deleted::Gone)
    }
}
