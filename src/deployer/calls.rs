//! Every AWS operation `plan`, `apply`, `destroy`, `gc` (and `import`,
//! `verify`)
//! send, by the file that sends it, with the IAM actions it needs and what
//! it acts on. A test reads the sources and checks that this table and the
//! `send!`/`gone!`/`aws_err` calls name the same operations, file by file:
//! a new call without its row here fails the build's tests.

use crate::plan::Kind;

/// One operation, sent from `file` (below `src/`), needing `actions` on `on`.
pub struct Call {
    pub file: &'static str,
    pub op: &'static str,
    pub actions: &'static [&'static str],
    pub on: On,
}

/// When a statement that cannot name resources is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    /// Every run: the record, the lock, the account.
    Always,
    /// The spec has resources of this kind.
    Kind(Kind),
    /// An agent host waits for its service (`wait_for_running`, the default).
    HostCheck,
    /// A host's `ami: al2023`.
    AmiAlias,
    /// A host's `ami:` or `subnet:` is one not made by the spec (checked
    /// against the operator's policy before any change).
    HostPlacement,
    /// `--include import`.
    Import,
}

/// What an operation acts on: the resources (and conditions) of its
/// statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum On {
    Streams,
    Firehoses,
    Functions,
    /// Event source mappings of the deployment's functions (condition on
    /// `lambda:FunctionArn`).
    MappingsOfFunctions,
    /// Any event source mapping of the account and region: reads by UUID,
    /// which carry no function to condition on.
    Mappings,
    Roles,
    InstanceProfiles,
    /// `iam:PassRole` on the roles a kind runs as, to its service only.
    PassRoles(Kind),
    Buckets,
    /// Object deletes: only buckets with `on_destroy: delete`.
    Objects,
    LogGroups,
    /// Every log group of the account and region: DescribeLogGroups lists
    /// by prefix, and AWS checks it against `log-group:*`.
    LogGroupsInAccount,
    GlueDatabases,
    GlueTables,
    Dashboards,
    Alarms,
    /// DescribeAlarms (by names): checked against the account's alarms.
    AlarmsInAccount,
    /// The record, its parts and the lock parameter.
    Record,
    /// `gc`: the record path of this pipeline, listed by path.
    RecordPath,
    /// `verify`: the objects of every bucket, read back.
    ObjectReads,
    /// `verify --clean`: objects under the static part of each Firehose's
    /// prefix, written back or deleted.
    HopObjects,
    /// A resource an EC2 create makes: `<type>/*` with the ownership tags
    /// required in the request.
    Ec2New(&'static str),
    /// What an EC2 create uses without owning it (an AMI, the default
    /// VPC's subnet).
    Ec2Uses,
    /// EC2 resources carrying the ownership tags.
    Ec2Owned,
    /// `ec2:CreateTags` only as part of the creates that tag.
    Ec2TagOnCreate,
    /// The public SSM parameters naming Amazon Linux AMIs.
    AmiParameters,
    /// SendCommand: the AWS-RunShellScript document...
    HostDocument,
    /// ...on the hosts carrying the ownership tags.
    HostInstances,
    /// `${ssm:...}` and `${secret:...}` the spec reads.
    SpecParameters,
    SpecSecrets,
    /// No resource-level permission exists: `Resource: "*"`, with a Sid
    /// saying so.
    Any(&'static str, When),
    /// Sent, but deliberately not granted: the call is optional (a listing
    /// that only saves calls) and the grant would reveal too much.
    NotGranted(&'static str),
}

const fn c(file: &'static str, op: &'static str, actions: &'static [&'static str], on: On) -> Call {
    Call { file, op, actions, on }
}

const EC2_DESCRIBE: &str = "Ec2DescribeHasNoResourceLevelPermissions";
/// What finds a network's parts.
const NETWORK_DESCRIBE: On = On::Any(EC2_DESCRIBE, When::Kind(Kind::Network));

pub const CALLS: &[Call] = &[
    // The account, the record, the lock, gc.
    c(
        "aws/mod.rs",
        "GetCallerIdentity",
        &["sts:GetCallerIdentity"],
        On::Any("StsCallerIdentityTakesNoResource", When::Always),
    ),
    c("aws/mod.rs", "GetParametersByPath", &["ssm:GetParametersByPath"], On::RecordPath),
    c(
        "aws/s3.rs",
        "ListBuckets",
        &["s3:ListAllMyBuckets"],
        On::Any("S3ListAllMyBucketsTakesNoResource", When::Kind(Kind::Bucket)),
    ),
    c("aws/secrets.rs", "GetParameter", &["ssm:GetParameter"], On::SpecParameters),
    c("aws/secrets.rs", "GetSecretValue", &["secretsmanager:GetSecretValue"], On::SpecSecrets),
    c("lock/mod.rs", "GetParameter", &["ssm:GetParameter"], On::Record),
    c("lock/mod.rs", "PutParameter", &["ssm:PutParameter", "ssm:AddTagsToResource"], On::Record),
    c("lock/mod.rs", "DeleteParameter", &["ssm:DeleteParameter"], On::Record),
    c("lock/mod.rs", "DeleteParameters", &["ssm:DeleteParameters"], On::Record),
    c("lock/renew.rs", "GetParameter", &["ssm:GetParameter"], On::Record),
    c("lock/renew.rs", "PutParameter", &["ssm:PutParameter"], On::Record),
    c("lock/takeover.rs", "GetParameter", &["ssm:GetParameter"], On::Record),
    c("lock/takeover.rs", "PutParameter", &["ssm:PutParameter", "ssm:AddTagsToResource"], On::Record),
    c("lock/takeover.rs", "DeleteParameters", &["ssm:DeleteParameters"], On::Record),
    c("resources/record/mod.rs", "GetParameter", &["ssm:GetParameter"], On::Record),
    c("resources/record/stored.rs", "GetParameters", &["ssm:GetParameters"], On::Record),
    c("resources/record/mod.rs", "PutParameter", &["ssm:PutParameter", "ssm:AddTagsToResource"], On::Record),
    c("resources/record/mod.rs", "DeleteParameter", &["ssm:DeleteParameter"], On::Record),
    c("resources/record/mod.rs", "DeleteParameters", &["ssm:DeleteParameters"], On::Record),
    c("resources/record/mod.rs", "ListTagsForResource", &["ssm:ListTagsForResource"], On::Record),
    c("resources/record/mod.rs", "AddTagsToResource", &["ssm:AddTagsToResource"], On::Record),
    c("resources/record/mod.rs", "RemoveTagsFromResource", &["ssm:RemoveTagsFromResource"], On::Record),
    // Listings before a plan's reads.
    c(
        "resources/prefetch.rs",
        "GetResources",
        &["tag:GetResources"],
        On::Any("TaggingGetResourcesTakesNoResource", When::Always),
    ),
    c("resources/prefetch.rs", "DescribeLogGroups", &["logs:DescribeLogGroups"], On::LogGroupsInAccount),
    c(
        "resources/prefetch.rs",
        "ListEventSourceMappings",
        &["lambda:ListEventSourceMappings"],
        On::Any("LambdaListEventSourceMappingsTakesNoResource", When::Kind(Kind::Trigger)),
    ),
    c("resources/prefetch.rs", "DescribeAlarms", &["cloudwatch:DescribeAlarms"], On::AlarmsInAccount),
    c("resources/prefetch.rs", "GetTables", &["glue:GetTables"], On::GlueDatabases),
    c(
        "resources/prefetch.rs",
        "DescribeInstances",
        &["ec2:DescribeInstances"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Agent)),
    ),
    c(
        "resources/prefetch.rs",
        "ListFunctions",
        &["lambda:ListFunctions"],
        On::Any("LambdaListingsTakeNoResource", When::Kind(Kind::Function)),
    ),
    c(
        "resources/prefetch.rs",
        "GetAccountSettings",
        &["lambda:GetAccountSettings"],
        On::Any("LambdaListingsTakeNoResource", When::Kind(Kind::Function)),
    ),
    c(
        "resources/prefetch.rs",
        "GetAccountAuthorizationDetails",
        &["iam:GetAccountAuthorizationDetails"],
        On::NotGranted("it reads every policy of the account; the roles are read one by one without it"),
    ),
    // The operator's policy, checked with AWS before any change.
    c("deployment/police.rs", "DescribeImages", &["ec2:DescribeImages"], On::Any(EC2_DESCRIBE, When::HostPlacement)),
    c("deployment/police.rs", "DescribeSubnets", &["ec2:DescribeSubnets"], On::Any(EC2_DESCRIBE, When::HostPlacement)),
    // Streams.
    c("resources/stream.rs", "DescribeStreamSummary", &["kinesis:DescribeStreamSummary"], On::Streams),
    c("resources/stream.rs", "ListTagsForStream", &["kinesis:ListTagsForStream"], On::Streams),
    c("resources/stream.rs", "CreateStream", &["kinesis:CreateStream", "kinesis:AddTagsToStream"], On::Streams),
    c("resources/stream.rs", "IncreaseStreamRetentionPeriod", &["kinesis:IncreaseStreamRetentionPeriod"], On::Streams),
    c("resources/stream.rs", "DecreaseStreamRetentionPeriod", &["kinesis:DecreaseStreamRetentionPeriod"], On::Streams),
    c("resources/stream.rs", "StartStreamEncryption", &["kinesis:StartStreamEncryption"], On::Streams),
    c("resources/stream.rs", "StopStreamEncryption", &["kinesis:StopStreamEncryption"], On::Streams),
    c("resources/stream.rs", "UpdateStreamMode", &["kinesis:UpdateStreamMode"], On::Streams),
    c("resources/stream.rs", "UpdateShardCount", &["kinesis:UpdateShardCount"], On::Streams),
    c("resources/stream.rs", "AddTagsToStream", &["kinesis:AddTagsToStream"], On::Streams),
    c("resources/stream.rs", "RemoveTagsFromStream", &["kinesis:RemoveTagsFromStream"], On::Streams),
    c("resources/stream.rs", "DeleteStream", &["kinesis:DeleteStream"], On::Streams),
    // Firehoses.
    c("resources/firehose/mod.rs", "DescribeDeliveryStream", &["firehose:DescribeDeliveryStream"], On::Firehoses),
    c("resources/firehose/mod.rs", "DescribeStreamSummary", &["kinesis:DescribeStreamSummary"], On::Streams),
    c("resources/firehose/mod.rs", "ListTagsForDeliveryStream", &["firehose:ListTagsForDeliveryStream"], On::Firehoses),
    c(
        "resources/firehose/mod.rs",
        "CreateDeliveryStream",
        &["firehose:CreateDeliveryStream", "firehose:TagDeliveryStream"],
        On::Firehoses,
    ),
    c("resources/firehose/mod.rs", "CreateDeliveryStream", &["iam:PassRole"], On::PassRoles(Kind::Firehose)),
    c("resources/firehose/mod.rs", "UpdateDestination", &["firehose:UpdateDestination"], On::Firehoses),
    c("resources/firehose/mod.rs", "UpdateDestination", &["iam:PassRole"], On::PassRoles(Kind::Firehose)),
    c(
        "resources/firehose/mod.rs",
        "StartDeliveryStreamEncryption",
        &["firehose:StartDeliveryStreamEncryption"],
        On::Firehoses,
    ),
    c(
        "resources/firehose/mod.rs",
        "StopDeliveryStreamEncryption",
        &["firehose:StopDeliveryStreamEncryption"],
        On::Firehoses,
    ),
    c("resources/firehose/mod.rs", "TagDeliveryStream", &["firehose:TagDeliveryStream"], On::Firehoses),
    c("resources/firehose/mod.rs", "UntagDeliveryStream", &["firehose:UntagDeliveryStream"], On::Firehoses),
    c("resources/firehose/mod.rs", "DeleteDeliveryStream", &["firehose:DeleteDeliveryStream"], On::Firehoses),
    // Functions and their triggers.
    c("resources/function.rs", "GetFunction", &["lambda:GetFunction"], On::Functions),
    c("resources/function.rs", "GetFunctionConfiguration", &["lambda:GetFunctionConfiguration"], On::Functions),
    c("resources/function.rs", "CreateFunction", &["lambda:CreateFunction", "lambda:TagResource"], On::Functions),
    c("resources/function.rs", "CreateFunction", &["iam:PassRole"], On::PassRoles(Kind::Function)),
    c("resources/function.rs", "UpdateFunctionCode", &["lambda:UpdateFunctionCode"], On::Functions),
    c("resources/function.rs", "UpdateFunctionConfiguration", &["lambda:UpdateFunctionConfiguration"], On::Functions),
    c("resources/function.rs", "UpdateFunctionConfiguration", &["iam:PassRole"], On::PassRoles(Kind::Function)),
    c("resources/function.rs", "PutFunctionConcurrency", &["lambda:PutFunctionConcurrency"], On::Functions),
    c("resources/function.rs", "DeleteFunctionConcurrency", &["lambda:DeleteFunctionConcurrency"], On::Functions),
    c("resources/function.rs", "TagResource", &["lambda:TagResource"], On::Functions),
    c("resources/function.rs", "UntagResource", &["lambda:UntagResource"], On::Functions),
    c("resources/function.rs", "DeleteFunction", &["lambda:DeleteFunction"], On::Functions),
    c(
        "resources/trigger.rs",
        "ListEventSourceMappings",
        &["lambda:ListEventSourceMappings"],
        On::Any("LambdaListEventSourceMappingsTakesNoResource", When::Kind(Kind::Trigger)),
    ),
    c("resources/trigger.rs", "GetFunction", &["lambda:GetFunction"], On::Functions),
    c("resources/trigger.rs", "GetEventSourceMapping", &["lambda:GetEventSourceMapping"], On::Mappings),
    c(
        "resources/trigger.rs",
        "CreateEventSourceMapping",
        &["lambda:CreateEventSourceMapping"],
        On::MappingsOfFunctions,
    ),
    c(
        "resources/trigger.rs",
        "UpdateEventSourceMapping",
        &["lambda:UpdateEventSourceMapping"],
        On::MappingsOfFunctions,
    ),
    c(
        "resources/trigger.rs",
        "DeleteEventSourceMapping",
        &["lambda:DeleteEventSourceMapping"],
        On::MappingsOfFunctions,
    ),
    // Roles and instance profiles.
    c("resources/role.rs", "GetRole", &["iam:GetRole"], On::Roles),
    c("resources/role.rs", "ListRoleTags", &["iam:ListRoleTags"], On::Roles),
    c("resources/role.rs", "GetRolePolicy", &["iam:GetRolePolicy"], On::Roles),
    c("resources/role.rs", "ListRolePolicies", &["iam:ListRolePolicies"], On::Roles),
    c("resources/role.rs", "ListAttachedRolePolicies", &["iam:ListAttachedRolePolicies"], On::Roles),
    c("resources/role.rs", "ListInstanceProfilesForRole", &["iam:ListInstanceProfilesForRole"], On::Roles),
    c("resources/role.rs", "CreateRole", &["iam:CreateRole", "iam:TagRole"], On::Roles),
    c("resources/role.rs", "PutRolePolicy", &["iam:PutRolePolicy"], On::Roles),
    c("resources/role.rs", "UpdateAssumeRolePolicy", &["iam:UpdateAssumeRolePolicy"], On::Roles),
    c("resources/role.rs", "PutRolePermissionsBoundary", &["iam:PutRolePermissionsBoundary"], On::Roles),
    c("resources/role.rs", "DeleteRolePermissionsBoundary", &["iam:DeleteRolePermissionsBoundary"], On::Roles),
    c("resources/role.rs", "TagRole", &["iam:TagRole"], On::Roles),
    c("resources/role.rs", "UntagRole", &["iam:UntagRole"], On::Roles),
    c("resources/role.rs", "DeleteRolePolicy", &["iam:DeleteRolePolicy"], On::Roles),
    c("resources/role.rs", "DetachRolePolicy", &["iam:DetachRolePolicy"], On::Roles),
    c("resources/role.rs", "DeleteRole", &["iam:DeleteRole"], On::Roles),
    c(
        "resources/role.rs",
        "RemoveRoleFromInstanceProfile",
        &["iam:RemoveRoleFromInstanceProfile"],
        On::InstanceProfiles,
    ),
    c("resources/instance_profile.rs", "GetInstanceProfile", &["iam:GetInstanceProfile"], On::InstanceProfiles),
    c(
        "resources/instance_profile.rs",
        "CreateInstanceProfile",
        &["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
        On::InstanceProfiles,
    ),
    c(
        "resources/instance_profile.rs",
        "AddRoleToInstanceProfile",
        &["iam:AddRoleToInstanceProfile"],
        On::InstanceProfiles,
    ),
    c("resources/instance_profile.rs", "AddRoleToInstanceProfile", &["iam:PassRole"], On::PassRoles(Kind::Agent)),
    c("resources/instance_profile.rs", "TagInstanceProfile", &["iam:TagInstanceProfile"], On::InstanceProfiles),
    c("resources/instance_profile.rs", "UntagInstanceProfile", &["iam:UntagInstanceProfile"], On::InstanceProfiles),
    c(
        "resources/instance_profile.rs",
        "RemoveRoleFromInstanceProfile",
        &["iam:RemoveRoleFromInstanceProfile"],
        On::InstanceProfiles,
    ),
    c("resources/instance_profile.rs", "DeleteInstanceProfile", &["iam:DeleteInstanceProfile"], On::InstanceProfiles),
    // Buckets.
    c("resources/bucket.rs", "HeadBucket", &["s3:ListBucket"], On::Buckets),
    c(
        "resources/bucket.rs",
        "ListBuckets",
        &["s3:ListAllMyBuckets"],
        On::Any("S3ListAllMyBucketsTakesNoResource", When::Kind(Kind::Bucket)),
    ),
    c("resources/bucket.rs", "CreateBucket", &["s3:CreateBucket"], On::Buckets),
    c("resources/bucket.rs", "GetBucketTagging", &["s3:GetBucketTagging"], On::Buckets),
    c("resources/bucket.rs", "PutBucketTagging", &["s3:PutBucketTagging"], On::Buckets),
    c("resources/bucket.rs", "GetBucketEncryption", &["s3:GetEncryptionConfiguration"], On::Buckets),
    c("resources/bucket.rs", "PutBucketEncryption", &["s3:PutEncryptionConfiguration"], On::Buckets),
    c("resources/bucket.rs", "DeleteBucketEncryption", &["s3:PutEncryptionConfiguration"], On::Buckets),
    c("resources/bucket.rs", "GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"], On::Buckets),
    c("resources/bucket.rs", "PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"], On::Buckets),
    c("resources/bucket.rs", "DeletePublicAccessBlock", &["s3:PutBucketPublicAccessBlock"], On::Buckets),
    c("resources/bucket.rs", "ListObjectVersions", &["s3:ListBucketVersions"], On::Buckets),
    c("resources/bucket.rs", "DeleteObjects", &["s3:DeleteObject", "s3:DeleteObjectVersion"], On::Objects),
    c("resources/bucket.rs", "DeleteBucket", &["s3:DeleteBucket"], On::Buckets),
    // Glue.
    c("resources/glue.rs", "GetDatabase", &["glue:GetDatabase"], On::GlueDatabases),
    c("resources/glue.rs", "GetTags", &["glue:GetTags"], On::GlueDatabases),
    c("resources/glue.rs", "CreateDatabase", &["glue:CreateDatabase", "glue:TagResource"], On::GlueDatabases),
    c("resources/glue.rs", "UpdateDatabase", &["glue:UpdateDatabase"], On::GlueDatabases),
    c("resources/glue.rs", "TagResource", &["glue:TagResource"], On::GlueDatabases),
    c("resources/glue.rs", "UntagResource", &["glue:UntagResource"], On::GlueDatabases),
    c("resources/glue.rs", "GetTables", &["glue:GetTables"], On::GlueDatabases),
    c("resources/glue.rs", "DeleteDatabase", &["glue:DeleteDatabase"], On::GlueDatabases),
    c("resources/glue.rs", "GetTable", &["glue:GetTable"], On::GlueTables),
    c("resources/glue.rs", "CreateTable", &["glue:CreateTable"], On::GlueTables),
    c("resources/glue.rs", "UpdateTable", &["glue:UpdateTable"], On::GlueTables),
    c("resources/glue.rs", "DeleteTable", &["glue:DeleteTable"], On::GlueTables),
    // Log groups and metric filters.
    c("resources/log_group.rs", "DescribeLogGroups", &["logs:DescribeLogGroups"], On::LogGroupsInAccount),
    c("resources/log_group.rs", "ListTagsLogGroup", &["logs:ListTagsLogGroup"], On::LogGroups),
    c("resources/log_group.rs", "DescribeLogStreams", &["logs:DescribeLogStreams"], On::LogGroups),
    c(
        "resources/log_group.rs",
        "CreateLogGroup",
        &["logs:CreateLogGroup", "logs:TagResource", "logs:TagLogGroup"],
        On::LogGroups,
    ),
    c("resources/log_group.rs", "CreateLogStream", &["logs:CreateLogStream"], On::LogGroups),
    c("resources/log_group.rs", "PutRetentionPolicy", &["logs:PutRetentionPolicy"], On::LogGroups),
    c("resources/log_group.rs", "TagLogGroup", &["logs:TagLogGroup"], On::LogGroups),
    c("resources/log_group.rs", "UntagLogGroup", &["logs:UntagLogGroup"], On::LogGroups),
    c("resources/log_group.rs", "DeleteLogGroup", &["logs:DeleteLogGroup"], On::LogGroups),
    c("resources/metric_filter.rs", "PutMetricFilter", &["logs:PutMetricFilter"], On::LogGroups),
    c("resources/metric_filter.rs", "DescribeMetricFilters", &["logs:DescribeMetricFilters"], On::LogGroups),
    c("resources/metric_filter.rs", "ListTagsLogGroup", &["logs:ListTagsLogGroup"], On::LogGroups),
    c("resources/metric_filter.rs", "DeleteMetricFilter", &["logs:DeleteMetricFilter"], On::LogGroups),
    // Dashboards and alarms.
    c("resources/cloudwatch.rs", "GetDashboard", &["cloudwatch:GetDashboard"], On::Dashboards),
    c("resources/cloudwatch.rs", "PutDashboard", &["cloudwatch:PutDashboard"], On::Dashboards),
    c("resources/cloudwatch.rs", "DeleteDashboards", &["cloudwatch:DeleteDashboards"], On::Dashboards),
    c("resources/cloudwatch.rs", "DescribeAlarms", &["cloudwatch:DescribeAlarms"], On::AlarmsInAccount),
    c(
        "resources/cloudwatch.rs",
        "PutMetricAlarm",
        &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
        On::Alarms,
    ),
    c("resources/cloudwatch.rs", "ListTagsForResource", &["cloudwatch:ListTagsForResource"], On::Alarms),
    c("resources/cloudwatch.rs", "TagResource", &["cloudwatch:TagResource"], On::Alarms),
    c("resources/cloudwatch.rs", "UntagResource", &["cloudwatch:UntagResource"], On::Alarms),
    c("resources/cloudwatch.rs", "DeleteAlarms", &["cloudwatch:DeleteAlarms"], On::Alarms),
    // Agent hosts.
    c("resources/agent.rs", "GetParameter", &["ssm:GetParameter"], On::AmiParameters),
    c(
        "resources/agent.rs",
        "DescribeInstances",
        &["ec2:DescribeInstances"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Agent)),
    ),
    c("resources/agent.rs", "RunInstances", &["ec2:RunInstances"], On::Ec2New("instance")),
    c("resources/agent.rs", "RunInstances", &["ec2:RunInstances"], On::Ec2Uses),
    c("resources/agent.rs", "RunInstances", &["ec2:RunInstances"], On::Ec2Owned),
    c("resources/agent.rs", "RunInstances", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/agent.rs", "RunInstances", &["iam:PassRole"], On::PassRoles(Kind::Agent)),
    c("resources/agent.rs", "ModifyInstanceMetadataOptions", &["ec2:ModifyInstanceMetadataOptions"], On::Ec2Owned),
    c("resources/host_check.rs", "SendCommand", &["ssm:SendCommand"], On::HostDocument),
    c("resources/host_check.rs", "SendCommand", &["ssm:SendCommand"], On::HostInstances),
    c(
        "resources/host_check.rs",
        "GetCommandInvocation",
        &["ssm:GetCommandInvocation"],
        On::Any("SsmGetCommandInvocationTakesNoResource", When::HostCheck),
    ),
    c("resources/agent.rs", "TerminateInstances", &["ec2:TerminateInstances"], On::Ec2Owned),
    c(
        "resources/ec2.rs",
        "DescribeInstances",
        &["ec2:DescribeInstances"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Agent)),
    ),
    c("resources/ec2.rs", "DescribeSubnets", &["ec2:DescribeSubnets"], On::Any(EC2_DESCRIBE, When::Kind(Kind::Agent))),
    c("resources/ec2.rs", "CreateTags", &["ec2:CreateTags"], On::Ec2Owned),
    c("resources/ec2.rs", "DeleteTags", &["ec2:DeleteTags"], On::Ec2Owned),
    c(
        "resources/security_group.rs",
        "DescribeSecurityGroups",
        &["ec2:DescribeSecurityGroups"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::SecurityGroup)),
    ),
    c("resources/security_group.rs", "CreateSecurityGroup", &["ec2:CreateSecurityGroup"], On::Ec2New("security-group")),
    c("resources/security_group.rs", "CreateSecurityGroup", &["ec2:CreateSecurityGroup"], On::Ec2Uses),
    c("resources/security_group.rs", "CreateSecurityGroup", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c(
        "resources/security_group.rs",
        "AuthorizeSecurityGroupIngress",
        &["ec2:AuthorizeSecurityGroupIngress"],
        On::Ec2Owned,
    ),
    c("resources/security_group.rs", "RevokeSecurityGroupIngress", &["ec2:RevokeSecurityGroupIngress"], On::Ec2Owned),
    c("resources/security_group.rs", "DeleteSecurityGroup", &["ec2:DeleteSecurityGroup"], On::Ec2Owned),
    // A network of the pipeline's own.
    c("resources/network.rs", "DescribeVpcs", &["ec2:DescribeVpcs"], On::Any(EC2_DESCRIBE, When::Kind(Kind::Network))),
    c(
        "resources/network.rs",
        "DescribeNatGateways",
        &["ec2:DescribeNatGateways"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeSubnets",
        &["ec2:DescribeSubnets"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeNetworkAcls",
        &["ec2:DescribeNetworkAcls"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeAvailabilityZones",
        &["ec2:DescribeAvailabilityZones"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeAddresses",
        &["ec2:DescribeAddresses"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeInternetGateways",
        &["ec2:DescribeInternetGateways"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c(
        "resources/network.rs",
        "DescribeRouteTables",
        &["ec2:DescribeRouteTables"],
        On::Any(EC2_DESCRIBE, When::Kind(Kind::Network)),
    ),
    c("resources/network/parts.rs", "DescribeSubnets", &["ec2:DescribeSubnets"], NETWORK_DESCRIBE),
    c("resources/network/parts.rs", "DescribeNetworkAcls", &["ec2:DescribeNetworkAcls"], NETWORK_DESCRIBE),
    c("resources/network/parts.rs", "DescribeAddresses", &["ec2:DescribeAddresses"], NETWORK_DESCRIBE),
    c("resources/network/parts.rs", "DescribeInternetGateways", &["ec2:DescribeInternetGateways"], NETWORK_DESCRIBE),
    c("resources/network/parts.rs", "DescribeRouteTables", &["ec2:DescribeRouteTables"], NETWORK_DESCRIBE),
    c("resources/network/parts.rs", "DescribeNatGateways", &["ec2:DescribeNatGateways"], NETWORK_DESCRIBE),
    c("resources/network.rs", "CreateVpc", &["ec2:CreateVpc"], On::Ec2New("vpc")),
    c("resources/network.rs", "CreateVpc", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "CreateSubnet", &["ec2:CreateSubnet"], On::Ec2New("subnet")),
    c("resources/network/parts.rs", "CreateSubnet", &["ec2:CreateSubnet"], On::Ec2Owned),
    c("resources/network/parts.rs", "CreateSubnet", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c(
        "resources/network/parts.rs",
        "CreateInternetGateway",
        &["ec2:CreateInternetGateway"],
        On::Ec2New("internet-gateway"),
    ),
    c("resources/network/parts.rs", "CreateInternetGateway", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "AllocateAddress", &["ec2:AllocateAddress"], On::Ec2New("elastic-ip")),
    c("resources/network/parts.rs", "AllocateAddress", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "CreateNatGateway", &["ec2:CreateNatGateway"], On::Ec2New("natgateway")),
    c("resources/network/parts.rs", "CreateNatGateway", &["ec2:CreateNatGateway"], On::Ec2Owned),
    c("resources/network/parts.rs", "CreateNatGateway", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "CreateRouteTable", &["ec2:CreateRouteTable"], On::Ec2New("route-table")),
    c("resources/network/parts.rs", "CreateRouteTable", &["ec2:CreateRouteTable"], On::Ec2Owned),
    c("resources/network/parts.rs", "CreateRouteTable", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "CreateNetworkAcl", &["ec2:CreateNetworkAcl"], On::Ec2New("network-acl")),
    c("resources/network/parts.rs", "CreateNetworkAcl", &["ec2:CreateNetworkAcl"], On::Ec2Owned),
    c("resources/network/parts.rs", "CreateNetworkAcl", &["ec2:CreateTags"], On::Ec2TagOnCreate),
    c("resources/network/parts.rs", "CreateNetworkAclEntry", &["ec2:CreateNetworkAclEntry"], On::Ec2Owned),
    c("resources/network.rs", "CreateRoute", &["ec2:CreateRoute"], On::Ec2Owned),
    c("resources/network.rs", "ModifyVpcAttribute", &["ec2:ModifyVpcAttribute"], On::Ec2Owned),
    c("resources/network/parts.rs", "ModifySubnetAttribute", &["ec2:ModifySubnetAttribute"], On::Ec2Owned),
    c("resources/network.rs", "AssociateRouteTable", &["ec2:AssociateRouteTable"], On::Ec2Owned),
    c("resources/network/parts.rs", "AttachInternetGateway", &["ec2:AttachInternetGateway"], On::Ec2Owned),
    c("resources/network.rs", "ReplaceNetworkAclAssociation", &["ec2:ReplaceNetworkAclAssociation"], On::Ec2Owned),
    c(
        "resources/network/parts.rs",
        "ReplaceNetworkAclAssociation",
        &["ec2:ReplaceNetworkAclAssociation"],
        On::Ec2Owned,
    ),
    c("resources/network.rs", "DeleteNatGateway", &["ec2:DeleteNatGateway"], On::Ec2Owned),
    c("resources/network.rs", "ReleaseAddress", &["ec2:ReleaseAddress"], On::Ec2Owned),
    c("resources/network.rs", "DetachInternetGateway", &["ec2:DetachInternetGateway"], On::Ec2Owned),
    c("resources/network.rs", "DeleteInternetGateway", &["ec2:DeleteInternetGateway"], On::Ec2Owned),
    c("resources/network.rs", "DeleteNetworkAcl", &["ec2:DeleteNetworkAcl"], On::Ec2Owned),
    c("resources/network.rs", "DeleteSubnet", &["ec2:DeleteSubnet"], On::Ec2Owned),
    c("resources/network.rs", "DisassociateRouteTable", &["ec2:DisassociateRouteTable"], On::Ec2Owned),
    c("resources/network.rs", "DeleteRouteTable", &["ec2:DeleteRouteTable"], On::Ec2Owned),
    c("resources/network.rs", "DeleteVpc", &["ec2:DeleteVpc"], On::Ec2Owned),
    // `import --from-stream`: reads around a stream (`--include import`).
    c("import/discover.rs", "DescribeStreamSummary", &["kinesis:DescribeStreamSummary"], On::Streams),
    c("import/discover.rs", "ListTagsForStream", &["kinesis:ListTagsForStream"], On::Streams),
    c(
        "import/discover.rs",
        "ListDeliveryStreams",
        &["firehose:ListDeliveryStreams"],
        On::Any("FirehoseListDeliveryStreamsTakesNoResource", When::Import),
    ),
    c("import/discover.rs", "DescribeDeliveryStream", &["firehose:DescribeDeliveryStream"], On::Firehoses),
    c("import/discover.rs", "ListTagsForDeliveryStream", &["firehose:ListTagsForDeliveryStream"], On::Firehoses),
    c(
        "import/discover.rs",
        "ListEventSourceMappings",
        &["lambda:ListEventSourceMappings"],
        On::Any("LambdaListEventSourceMappingsTakesNoResource", When::Import),
    ),
    c("import/discover.rs", "GetFunction", &["lambda:GetFunction"], On::Functions),
    c("import/discover.rs", "DescribeLogGroups", &["logs:DescribeLogGroups"], On::LogGroupsInAccount),
    c("import/discover.rs", "GetBucketTagging", &["s3:GetBucketTagging"], On::Buckets),
    c("import/discover.rs", "GetBucketEncryption", &["s3:GetEncryptionConfiguration"], On::Buckets),
    c("import/discover.rs", "GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"], On::Buckets),
    c("import/discover.rs", "GetDatabase", &["glue:GetDatabase"], On::GlueDatabases),
    c("import/discover.rs", "GetTable", &["glue:GetTable"], On::GlueTables),
    // `verify` (`--include verify`): a canary record in, read back out.
    // `status`: the metrics of every hop and the alarms' states.
    c(
        "status/read.rs",
        "GetMetricData",
        &["cloudwatch:GetMetricData"],
        On::Any("CloudWatchGetMetricDataTakesNoResource", When::Always),
    ),
    c("status/read.rs", "DescribeAlarms", &["cloudwatch:DescribeAlarms"], On::AlarmsInAccount),
    c("verify/check.rs", "PutRecord", &["kinesis:PutRecord"], On::Streams),
    c("verify/check.rs", "PutRecord", &["firehose:PutRecord"], On::Firehoses),
    c("verify/check.rs", "GetShardIterator", &["kinesis:GetShardIterator"], On::Streams),
    c("verify/check.rs", "GetRecords", &["kinesis:GetRecords"], On::Streams),
    c("verify/check.rs", "ListObjectsV2", &["s3:ListBucket"], On::Buckets),
    c("verify/check.rs", "GetObject", &["s3:GetObject"], On::ObjectReads),
    c("verify/check.rs", "FilterLogEvents", &["logs:FilterLogEvents"], On::LogGroups),
    // Whether the service runs a hop: a Firehose's stream source, a trigger, a function.
    c("verify/check.rs", "DescribeDeliveryStream", &["firehose:DescribeDeliveryStream"], On::Firehoses),
    c(
        "verify/check.rs",
        "ListEventSourceMappings",
        &["lambda:ListEventSourceMappings"],
        On::Any("LambdaListEventSourceMappingsTakesNoResource", When::Kind(Kind::Trigger)),
    ),
    c("verify/check.rs", "Invoke", &["lambda:InvokeFunction"], On::Functions),
    // `verify --clean`: the objects holding a canary, under a Firehose's prefix.
    // Listed and read again with each object's attributes and ETag, which
    // the write is conditional on (a conditional PutObject or DeleteObject
    // needs no other action; DeleteObject's If-Match also needs s3:GetObject).
    c("verify/clean.rs", "ListObjectsV2", &["s3:ListBucket"], On::Buckets),
    c("verify/clean.rs", "GetObject", &["s3:GetObject"], On::ObjectReads),
    c("verify/clean.rs", "PutObject", &["s3:PutObject"], On::HopObjects),
    c("verify/clean.rs", "DeleteObject", &["s3:DeleteObject"], On::HopObjects),
];

/// Files whose calls no command of the policy sends: `produce` and
/// `export --code-bucket` are run by other roles (a data producer, a
/// release job); `verify` is in the table, granted with `--include verify`.
pub const OUT_OF_SCOPE: &[(&str, &str)] =
    &[("produce/mod.rs", "pipectl produce"), ("commands/export.rs", "pipectl export --code-bucket")];
