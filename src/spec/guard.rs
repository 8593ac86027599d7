//! The IAM guard: what an extra `policy:` statement may grant the role of
//! a Firehose, function or agent host, judged against the published
//! catalogues of IAM privilege-escalation and exposure paths.
//!
//! - Privilege escalation: Rhino Security Labs' escalation methods
//!   ("AWS IAM Privilege Escalation – Methods and Mitigation", and the
//!   methods added to their `pacu` module since: SSM, EC2 Instance Connect,
//!   CodeBuild, SageMaker, ECS), and every IAM action that writes.
//! - Resource exposure, credentials exposure, data exfiltration: the
//!   categories Cloudsplaining (Salesforce) reports, with its action lists
//!   (`cloudsplaining/shared/default-exclusions` and `utils.py`, 2024).
//! - Infrastructure modification: the writes that would let a pipeline's
//!   role change what other pipelines (and pipectl's own records) rely on.
//!
//! A statement is judged only where its resources reach beyond this
//! deployment's own ARNs; IAM writes, `iam:PassRole` on a wildcard, every
//! action (`*`), and `NotAction`/`NotResource` are findings wherever they
//! point. Action names are case-insensitive and may hold `*` and `?`.

use serde::Serialize;

/// The kind of harm a grant opens the way to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    PrivilegeEscalation,
    ResourceExposure,
    CredentialsExposure,
    DataExfiltration,
    InfrastructureModification,
    /// `NotAction` or `NotResource`: everything but what is listed.
    Negation,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PrivilegeEscalation => "privilege escalation",
            Category::ResourceExposure => "resource exposure",
            Category::CredentialsExposure => "credentials exposure",
            Category::DataExfiltration => "data exfiltration",
            Category::InfrastructureModification => "infrastructure modification",
            Category::Negation => "NotAction/NotResource",
        }
    }
}

use Category::*;

/// Actions outside IAM that the catalogues name, each with its category.
/// (IAM's own writes are all escalation and judged by rule, below.)
pub const CATALOGUE: &[(&str, Category)] = &[
    // Rhino Security Labs' methods (with iam:PassRole where they need it).
    ("ec2:RunInstances", PrivilegeEscalation),
    ("ec2:ModifyInstanceAttribute", PrivilegeEscalation),
    ("ec2:CreateLaunchTemplateVersion", PrivilegeEscalation),
    ("ec2:ModifyLaunchTemplate", PrivilegeEscalation),
    ("lambda:CreateFunction", PrivilegeEscalation),
    ("lambda:InvokeFunction", PrivilegeEscalation),
    ("lambda:CreateEventSourceMapping", PrivilegeEscalation),
    ("lambda:UpdateFunctionCode", PrivilegeEscalation),
    ("lambda:UpdateFunctionConfiguration", PrivilegeEscalation),
    ("glue:CreateDevEndpoint", PrivilegeEscalation),
    ("glue:UpdateDevEndpoint", PrivilegeEscalation),
    ("glue:CreateJob", PrivilegeEscalation),
    ("glue:UpdateJob", PrivilegeEscalation),
    ("cloudformation:CreateStack", PrivilegeEscalation),
    ("cloudformation:UpdateStack", PrivilegeEscalation),
    ("cloudformation:CreateChangeSet", PrivilegeEscalation),
    ("cloudformation:ExecuteChangeSet", PrivilegeEscalation),
    ("cloudformation:SetStackPolicy", PrivilegeEscalation),
    ("datapipeline:CreatePipeline", PrivilegeEscalation),
    ("datapipeline:PutPipelineDefinition", PrivilegeEscalation),
    ("datapipeline:ActivatePipeline", PrivilegeEscalation),
    ("ssm:SendCommand", PrivilegeEscalation),
    ("ssm:StartSession", PrivilegeEscalation),
    ("ssm:StartAutomationExecution", PrivilegeEscalation),
    ("ec2-instance-connect:SendSSHPublicKey", PrivilegeEscalation),
    ("ec2-instance-connect:SendSerialConsoleSSHPublicKey", PrivilegeEscalation),
    ("codestar:CreateProject", PrivilegeEscalation),
    ("codestar:AssociateTeamMember", PrivilegeEscalation),
    ("codebuild:CreateProject", PrivilegeEscalation),
    ("codebuild:UpdateProject", PrivilegeEscalation),
    ("codebuild:StartBuild", PrivilegeEscalation),
    ("sagemaker:CreateNotebookInstance", PrivilegeEscalation),
    ("sagemaker:CreatePresignedNotebookInstanceUrl", PrivilegeEscalation),
    ("sagemaker:CreateTrainingJob", PrivilegeEscalation),
    ("sagemaker:CreateProcessingJob", PrivilegeEscalation),
    ("ecs:RunTask", PrivilegeEscalation),
    ("ecs:StartTask", PrivilegeEscalation),
    ("ecs:RegisterTaskDefinition", PrivilegeEscalation),
    ("autoscaling:CreateLaunchConfiguration", PrivilegeEscalation),
    ("autoscaling:CreateAutoScalingGroup", PrivilegeEscalation),
    ("sts:AssumeRole", PrivilegeEscalation),
    // Cloudsplaining: resource exposure (permissions management).
    ("s3:PutBucketPolicy", ResourceExposure),
    ("s3:DeleteBucketPolicy", ResourceExposure),
    ("s3:PutBucketAcl", ResourceExposure),
    ("s3:PutObjectAcl", ResourceExposure),
    ("s3:PutObjectVersionAcl", ResourceExposure),
    ("s3:PutBucketPublicAccessBlock", ResourceExposure),
    ("s3:PutAccountPublicAccessBlock", ResourceExposure),
    ("s3:PutAccessPointPolicy", ResourceExposure),
    ("lambda:AddPermission", ResourceExposure),
    ("lambda:RemovePermission", ResourceExposure),
    ("lambda:AddLayerVersionPermission", ResourceExposure),
    ("lambda:CreateFunctionUrlConfig", ResourceExposure),
    ("lambda:UpdateFunctionUrlConfig", ResourceExposure),
    ("kms:CreateGrant", ResourceExposure),
    ("kms:PutKeyPolicy", ResourceExposure),
    ("kms:RetireGrant", ResourceExposure),
    ("kms:RevokeGrant", ResourceExposure),
    ("secretsmanager:PutResourcePolicy", ResourceExposure),
    ("secretsmanager:DeleteResourcePolicy", ResourceExposure),
    ("sns:AddPermission", ResourceExposure),
    ("sns:SetTopicAttributes", ResourceExposure),
    ("sqs:AddPermission", ResourceExposure),
    ("sqs:SetQueueAttributes", ResourceExposure),
    ("ecr:SetRepositoryPolicy", ResourceExposure),
    ("glue:PutResourcePolicy", ResourceExposure),
    ("glue:DeleteResourcePolicy", ResourceExposure),
    ("kinesis:PutResourcePolicy", ResourceExposure),
    ("kinesis:DeleteResourcePolicy", ResourceExposure),
    ("logs:PutResourcePolicy", ResourceExposure),
    ("logs:PutDestinationPolicy", ResourceExposure),
    ("events:PutPermission", ResourceExposure),
    ("ram:CreateResourceShare", ResourceExposure),
    ("ram:AssociateResourceShare", ResourceExposure),
    ("ec2:ModifySnapshotAttribute", ResourceExposure),
    ("ec2:ModifyImageAttribute", ResourceExposure),
    ("ec2:AuthorizeSecurityGroupIngress", ResourceExposure),
    ("rds:ModifyDBSnapshotAttribute", ResourceExposure),
    ("backup:PutBackupVaultAccessPolicy", ResourceExposure),
    ("efs:PutFileSystemPolicy", ResourceExposure),
    ("glacier:SetVaultAccessPolicy", ResourceExposure),
    ("apigateway:UpdateRestApiPolicy", ResourceExposure),
    ("ssm:ModifyDocumentPermission", ResourceExposure),
    // Cloudsplaining: credentials exposure.
    ("sts:AssumeRoleWithSAML", CredentialsExposure),
    ("sts:AssumeRoleWithWebIdentity", CredentialsExposure),
    ("sts:GetFederationToken", CredentialsExposure),
    ("sts:GetSessionToken", CredentialsExposure),
    ("ecr:GetAuthorizationToken", CredentialsExposure),
    ("ec2:GetPasswordData", CredentialsExposure),
    ("redshift:GetClusterCredentials", CredentialsExposure),
    ("redshift:GetClusterCredentialsWithIAM", CredentialsExposure),
    ("rds-db:connect", CredentialsExposure),
    ("lightsail:GetInstanceAccessDetails", CredentialsExposure),
    ("lightsail:GetRelationalDatabaseMasterUserPassword", CredentialsExposure),
    ("sso:GetRoleCredentials", CredentialsExposure),
    ("cognito-identity:GetCredentialsForIdentity", CredentialsExposure),
    ("cognito-identity:GetOpenIdToken", CredentialsExposure),
    ("cognito-identity:GetOpenIdTokenForDeveloperIdentity", CredentialsExposure),
    ("codepipeline:PollForJobs", CredentialsExposure),
    ("gamelift:RequestUploadCredentials", CredentialsExposure),
    ("connect:GetFederationToken", CredentialsExposure),
    ("chime:CreateApiKey", CredentialsExposure),
    ("mediapackage:RotateChannelCredentials", CredentialsExposure),
    ("mediapackage:RotateIngestEndpointCredentials", CredentialsExposure),
    // Cloudsplaining: data exfiltration, and reads of the same kind.
    ("s3:GetObject", DataExfiltration),
    ("s3:GetObjectVersion", DataExfiltration),
    ("ssm:GetParameter", DataExfiltration),
    ("ssm:GetParameters", DataExfiltration),
    ("ssm:GetParametersByPath", DataExfiltration),
    ("ssm:GetParameterHistory", DataExfiltration),
    ("secretsmanager:GetSecretValue", DataExfiltration),
    ("secretsmanager:BatchGetSecretValue", DataExfiltration),
    ("kms:Decrypt", DataExfiltration),
    ("kinesis:GetRecords", DataExfiltration),
    ("dynamodb:GetItem", DataExfiltration),
    ("dynamodb:BatchGetItem", DataExfiltration),
    ("dynamodb:Query", DataExfiltration),
    ("dynamodb:Scan", DataExfiltration),
    ("rds-data:ExecuteStatement", DataExfiltration),
    ("athena:GetQueryResults", DataExfiltration),
    ("logs:GetLogEvents", DataExfiltration),
    ("logs:FilterLogEvents", DataExfiltration),
    // Writes to what others (and pipectl's records) rely on.
    ("ssm:PutParameter", InfrastructureModification),
    ("ssm:DeleteParameter", InfrastructureModification),
    ("ssm:DeleteParameters", InfrastructureModification),
    ("ssm:LabelParameterVersion", InfrastructureModification),
    ("s3:PutObject", InfrastructureModification),
    ("s3:DeleteObject", InfrastructureModification),
    ("s3:DeleteObjectVersion", InfrastructureModification),
    ("s3:DeleteBucket", InfrastructureModification),
    ("s3:PutBucketTagging", InfrastructureModification),
    ("lambda:DeleteFunction", InfrastructureModification),
    ("kinesis:DeleteStream", InfrastructureModification),
    ("firehose:DeleteDeliveryStream", InfrastructureModification),
    ("firehose:UpdateDestination", InfrastructureModification),
    ("glue:DeleteTable", InfrastructureModification),
    ("glue:UpdateTable", InfrastructureModification),
    ("ec2:TerminateInstances", InfrastructureModification),
    ("events:PutRule", InfrastructureModification),
    ("events:PutTargets", InfrastructureModification),
    ("logs:DeleteLogGroup", InfrastructureModification),
    ("cloudwatch:DeleteAlarms", InfrastructureModification),
    ("tag:TagResources", InfrastructureModification),
];

/// IAM actions that only read.
const IAM_READS: [&str; 4] = ["get", "list", "generate", "simulate"];

/// What a role may be granted on resources beyond the deployment without
/// the operator: metadata reads (`Describe*`, `List*`, but not the object
/// listings of S3), and the calls that have no resource-level permissions
/// and only add data of the caller's own (metrics, traces).
const HARMLESS_ANYWHERE: [&str; 6] = [
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "sts:GetCallerIdentity",
];

/// `List*` and `Describe*` actions that show data, not metadata: object
/// keys, functions' environments, hosts' user data, task and job
/// definitions' environments, commands' output, stacks' parameters.
const DATA_LISTINGS: [&str; 14] = [
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListMultipartUploadParts",
    "s3:ListBucketMultipartUploads",
    "s3-object-lambda:ListBucket",
    "s3-object-lambda:ListBucketVersions",
    "lambda:ListFunctions",
    "lambda:ListVersionsByFunction",
    "ec2:DescribeInstanceAttribute",
    "ec2:DescribeLaunchTemplateVersions",
    "ecs:DescribeTaskDefinition",
    "batch:DescribeJobDefinitions",
    "ssm:ListCommandInvocations",
    "cloudformation:DescribeStacks",
];

/// Verbs of actions that read data rather than change it.
const DATA_READS: [&str; 16] = [
    "get",
    "batchget",
    "query",
    "scan",
    "select",
    "subscribe",
    "download",
    "export",
    "read",
    "retrieve",
    "lookup",
    "search",
    "filter",
    "fetch",
    "receive",
    "start",
];

/// Actions that would let a role grow what the operator's limits bound
/// (shards, concurrency), even on this deployment's own resources.
const PAST_THE_LIMITS: [&str; 10] = [
    "kinesis:UpdateShardCount",
    "kinesis:UpdateStreamMode",
    "kinesis:SplitShard",
    "kinesis:MergeShards",
    "kinesis:IncreaseStreamRetentionPeriod",
    "kinesis:RegisterStreamConsumer",
    "kinesis:EnableEnhancedMonitoring",
    "lambda:PutFunctionConcurrency",
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:UpdateFunctionConfiguration",
];

/// Whether `action` (maybe a pattern) grants only what is harmless on
/// resources beyond the deployment.
fn harmless(action: &str) -> bool {
    let a = action.to_ascii_lowercase();
    let Some((service, name)) = a.split_once(':') else { return false };
    if HARMLESS_ANYWHERE.iter().any(|h| h.eq_ignore_ascii_case(action)) {
        return true;
    }
    if DATA_LISTINGS.iter().any(|d| glob(action, d)) {
        return false;
    }
    let metadata = name.starts_with("describe") || name.starts_with("list");
    // A pattern is harmless only if all it can match is metadata reads.
    metadata && !(service.contains(['*', '?']))
}

/// One grant of a statement the guard refuses unless the operator allows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub category: Category,
    /// The action as written (or `NotAction [...]`).
    pub action: String,
    /// The resource as written (or `NotResource [...]`).
    pub resource: String,
    /// Why, in a sentence.
    pub why: String,
}

/// `pattern` (IAM's `*` and `?`) matches `text`, ignoring case.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    glob_chars(&p, &t)
}

/// Case-sensitive glob, for names and ARNs.
pub fn glob_exact(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_chars(&p, &t)
}

/// Iterative wildcard match: linear in practice, no recursion to blow up
/// on hostile patterns.
fn glob_chars(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Whether `resource` is one of this deployment's own ARNs or inside one
/// (`<own>/...`, `<own>:...`); an own ARN with a wildcard before its end
/// (`arn:aws:s3:::lake*`) reaches beyond it.
pub fn is_own(resource: &str, own: &[String]) -> bool {
    own.iter().filter(|a| !has_wildcard(a)).any(|a| match resource.strip_prefix(a.as_str()) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with(':'),
        None => false,
    })
}

/// A statement as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub actions: &'a [String],
    pub not_actions: &'a [String],
    pub resources: &'a [String],
    pub not_resources: &'a [String],
}

/// Every finding of a statement, given this deployment's own ARNs.
pub fn judge(g: Grant, own: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let any = "*".to_string();
    let resources: Vec<&String> = if g.not_resources.is_empty() { g.resources.iter().collect() } else { vec![&any] };
    if !g.not_actions.is_empty() || !g.not_resources.is_empty() {
        let what = match (g.not_actions.is_empty(), g.not_resources.is_empty()) {
            (false, true) => format!("NotAction [{}]", g.not_actions.join(", ")),
            (true, false) => format!("NotResource [{}]", g.not_resources.join(", ")),
            _ => format!("NotAction [{}] with NotResource [{}]", g.not_actions.join(", "), g.not_resources.join(", ")),
        };
        out.push(Finding {
            category: Negation,
            action: what.clone(),
            resource: resources.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            why: format!("{what} grants everything it does not name, including what AWS adds later"),
        });
    }
    // What the statement grants, as patterns: its actions, or with
    // NotAction, every action not excluded (judged as `*`, excluding).
    let granted = |catalogued: &str| -> bool {
        if g.not_actions.is_empty() {
            g.actions.iter().any(|a| glob(a, catalogued))
        } else {
            !g.not_actions.iter().any(|a| glob(a, catalogued))
        }
    };
    let patterns: Vec<&String> = if g.not_actions.is_empty() { g.actions.iter().collect() } else { vec![&any] };
    for action in &patterns {
        let a = action.to_ascii_lowercase();
        let (service, name) = a.split_once(':').unwrap_or((a.as_str(), "*"));
        if has_wildcard(service) {
            out.push(finding(
                PrivilegeEscalation,
                action,
                "*",
                format!("`{action}` grants every action of every service"),
            ));
            continue;
        }
        if service != "iam" {
            continue;
        }
        if glob(name, "passrole") {
            for r in &resources {
                if has_wildcard(r) {
                    let why = format!("`{action}` on `{r}` lets it hand any matching role to a service it controls");
                    out.push(finding(PrivilegeEscalation, action, r, why));
                }
            }
        }
        if IAM_READS.iter().all(|read| !name.starts_with(read)) && name != "passrole" {
            out.push(finding(
                PrivilegeEscalation,
                action,
                &resources_text(&resources),
                format!("`{action}` can change IAM (roles, policies, users, keys)"),
            ));
        }
    }
    // Growing past the operator's limits, wherever it points.
    for limit in PAST_THE_LIMITS {
        if let Some(by) = patterns.iter().find(|a| glob(a, limit)) {
            let why =
                format!("`{by}` grants `{limit}`, which grows the pipeline past the operator's limits at run time");
            out.push(finding(InfrastructureModification, by, &resources_text(&resources), why));
        }
    }
    // The catalogues, for resources beyond this deployment.
    let beyond: Vec<&&String> = resources.iter().filter(|r| !is_own(r, own)).collect();
    if !beyond.is_empty() {
        let shown = beyond.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        let mut caught: Vec<&str> = Vec::new();
        for (catalogued, category) in CATALOGUE {
            if granted(catalogued) {
                let by = patterns.iter().find(|a| glob(a, catalogued)).map_or("*", |a| a.as_str());
                let why =
                    format!("`{by}` grants `{catalogued}` ({}) on `{shown}`, beyond this pipeline", category.as_str());
                out.push(finding(*category, by, &shown, why));
                caught.push(by);
            }
        }
        // What no catalogue names is still refused beyond the pipeline,
        // unless it only reads metadata: a catalogue is never complete.
        for action in &patterns {
            let a = action.to_ascii_lowercase();
            let service = a.split_once(':').map_or(a.as_str(), |(s, _)| s);
            if service == "iam" || service.contains(['*', '?']) || caught.contains(&action.as_str()) || harmless(action)
            {
                continue;
            }
            let name = a.split_once(':').map_or("", |(_, n)| n);
            let category = if DATA_READS.iter().any(|v| name.starts_with(v)) {
                DataExfiltration
            } else {
                InfrastructureModification
            };
            let why = format!(
                "`{action}` ({}) on `{shown}` reaches beyond this pipeline; only metadata reads (`Describe*`, `List*`) and metrics go there without the operator",
                category.as_str()
            );
            out.push(finding(category, action, &shown, why));
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.category == b.category && a.action == b.action && a.resource == b.resource);
    out
}

fn resources_text(resources: &[&String]) -> String {
    resources.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

fn finding(category: Category, action: &str, resource: &str, why: String) -> Finding {
    Finding { category, action: action.to_string(), resource: resource.to_string(), why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    fn findings(actions: &[&str], resources: &[&str]) -> Vec<Finding> {
        let (a, r) = (v(actions), v(resources));
        let own = v(&["arn:aws:s3:::lake", "arn:aws:kinesis:us-east-1:123456789012:stream/trips"]);
        judge(Grant { actions: &a, not_actions: &[], resources: &r, not_resources: &[] }, &own)
    }

    #[test]
    fn globs_are_iterative_and_case_blind() {
        assert!(glob("iam:Pass*", "iam:PassRole"));
        assert!(glob("IAM:?assrole", "iam:PassRole"));
        assert!(glob("s3:*", "s3:GetObject"));
        assert!(!glob("s3:Get", "s3:GetObject"));
        assert!(glob("*", ""));
        assert!(glob_exact("/${p}/*", "/${p}/a/b"));
        assert!(!glob_exact("/App/*", "/app/x"));
        let hostile = "*a".repeat(50);
        assert!(!glob(&hostile, &"a".repeat(40)), "no blow-up");
    }

    #[test]
    fn the_old_escalations_are_still_found() {
        let role = ["arn:aws:iam::123456789012:role/app"];
        assert!(!findings(&["*"], &role).is_empty());
        assert!(!findings(&["*:*"], &role).is_empty());
        assert!(!findings(&["iam:*"], &role).is_empty());
        assert!(!findings(&["iam:PutRolePolicy"], &role).is_empty());
        assert!(!findings(&["IAM:attachrolepolicy"], &role).is_empty(), "case-insensitive");
        assert!(!findings(&["iam:*Policy"], &role).is_empty());
        assert!(!findings(&["iam:PassRole"], &["*"]).is_empty());
        assert!(!findings(&["iam:PassRole"], &["arn:aws:iam::1:role/*"]).is_empty());
        assert!(!findings(&["iam:PassRole"], &["arn:aws:iam::1:role/adm?n"]).is_empty(), "? is a wildcard");
        assert!(!findings(&["iam:Pass*"], &["*"]).is_empty(), "a pattern naming PassRole");
        assert!(findings(&["iam:PassRole"], &role).is_empty(), "one named role is the operator's to allow");
        assert!(findings(&["iam:GetRole", "iam:List*"], &["*"]).is_empty());
    }

    #[test]
    fn the_catalogues_judge_what_reaches_beyond_the_pipeline() {
        for action in [
            "sts:AssumeRole",
            "ssm:SendCommand",
            "ssm:PutParameter",
            "lambda:UpdateFunctionCode",
            "secretsmanager:GetSecretValue",
            "s3:*",
            "s3:Get*",
            "kms:Decrypt",
        ] {
            let f = findings(&[action], &["*"]);
            assert!(!f.is_empty(), "{action} on *");
        }
        assert!(findings(&["s3:GetObject"], &["arn:aws:s3:::lake/reference/*"]).is_empty(), "own bucket");
        assert!(findings(&["s3:*"], &["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"]).is_empty(), "own bucket");
        assert!(!findings(&["s3:GetObject"], &["arn:aws:s3:::lake*"]).is_empty(), "a wildcard past the name");
        assert!(!findings(&["s3:GetObject"], &["arn:aws:s3:::lakehouse/*"]).is_empty(), "another bucket");
        assert!(findings(&["cloudwatch:PutMetricData", "kinesis:DescribeStream", "kinesis:List*"], &["*"]).is_empty());
        // What no catalogue names is refused beyond the pipeline all the same.
        for action in [
            "kinesis:SubscribeToShard",
            "logs:StartQuery",
            "glue:GetConnection",
            "lambda:GetFunctionConfiguration",
            "s3:PutLifecycleConfiguration",
            "kinesis:AddTagsToStream",
            "firehose:PutRecordBatch",
            "s3:ListBucket",
            "kinesis:Put*",
        ] {
            assert!(!findings(&[action], &["*"]).is_empty(), "{action} on *");
        }
        // Growing past the limits is refused even on the pipeline's own stream.
        let own_stream = ["arn:aws:kinesis:us-east-1:123456789012:stream/trips"];
        assert!(!findings(&["kinesis:UpdateShardCount"], &own_stream).is_empty());
        assert!(!findings(&["kinesis:SplitShard"], &own_stream).is_empty());
        for data in
            ["lambda:ListFunctions", "ec2:DescribeInstanceAttribute", "cloudformation:Describe*", "lambda:List*"]
        {
            assert!(!findings(&[data], &["*"]).is_empty(), "{data} shows data");
        }
        assert!(findings(&["kinesis:PutRecords"], &own_stream).is_empty());
        let f = findings(&["s3:*"], &["*"]);
        let cats: std::collections::BTreeSet<Category> = f.iter().map(|f| f.category).collect();
        assert!(cats.contains(&ResourceExposure) && cats.contains(&DataExfiltration), "{f:?}");
    }

    #[test]
    fn negations_are_findings_and_grant_what_they_do_not_name() {
        let (na, r) = (v(&["s3:*"]), v(&["*"]));
        let f = judge(Grant { actions: &[], not_actions: &na, resources: &r, not_resources: &[] }, &[]);
        assert!(f.iter().any(|f| f.category == Negation));
        assert!(f.iter().any(|f| f.action == "*"), "every other action: {f:?}");
        assert!(!f.iter().any(|f| f.why.contains("`s3:GetObject`")), "s3 is excluded: {f:?}");
        let (a, nr) = (v(&["s3:GetObject"]), v(&["arn:aws:s3:::lake/*"]));
        let f = judge(Grant { actions: &a, not_actions: &[], resources: &[], not_resources: &nr }, &[]);
        assert!(f.iter().any(|f| f.category == Negation) && f.iter().any(|f| f.category == DataExfiltration));
    }
}
