//! The marks other tools leave on what they manage: tags (and a Glue
//! table's parameters, which stand in for tags Glue tables cannot have).
//! A resource that carries one is not "nobody's": adopting it (`pipectl
//! import`) would have that tool and pipectl change it in turn, and the
//! tool delete it under pipectl or pipectl delete what the tool still
//! lists. [`MARKS`] is the one table, each row saying where its mark
//! comes from; [`managed_by`] reads it. Pure.
//!
//! Keys are compared without case, `-` or `_` (`ManagedBy`, `managed-by`
//! and `managed_by` are one key); values of `managed-by` without case.
//! What carries no mark (an IAM role, which CloudFormation does not tag;
//! a dashboard, which cannot be tagged and whose body names no maker) is
//! not recognised.

use super::Tags;

/// A tool that manages AWS resources: `name` as `--adopt-from` takes it,
/// `title` as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
}

/// Every tool [`MARKS`] recognises.
pub const TOOLS: [Tool; 12] = [
    Tool { name: "cloudformation", title: "CloudFormation" },
    Tool { name: "servicecatalog", title: "Service Catalog" },
    Tool { name: "cdk", title: "the AWS CDK" },
    Tool { name: "sam", title: "AWS SAM" },
    Tool { name: "terraform", title: "Terraform" },
    Tool { name: "pulumi", title: "Pulumi" },
    Tool { name: "crossplane", title: "Crossplane" },
    Tool { name: "kubernetes", title: "Kubernetes" },
    Tool { name: "elasticbeanstalk", title: "Elastic Beanstalk" },
    Tool { name: "autoscaling", title: "EC2 Auto Scaling" },
    Tool { name: "copilot", title: "AWS Copilot" },
    Tool { name: "glue-crawler", title: "a Glue crawler" },
];

/// How a mark's key is matched (after [`normal`]).
#[derive(Debug, Clone, Copy)]
enum Key {
    Is(&'static str),
    StartsWith(&'static str),
}

/// One mark: its key, the values it must have (`None`: any; else one of
/// them, without case), the tool it names, and where it comes from.
struct Mark {
    key: Key,
    values: Option<&'static [&'static str]>,
    tool: &'static str,
    #[allow(dead_code)] // documentation, read here and in the tests
    source: &'static str,
}

const fn mark(key: Key, values: Option<&'static [&'static str]>, tool: &'static str, source: &'static str) -> Mark {
    Mark { key, values, tool, source }
}

use Key::{Is, StartsWith};

/// The key people set to say which tool deploys a resource.
const MANAGED_BY: &str = "managed-by";

/// Every mark, in the order they are looked for.
#[rustfmt::skip]
const MARKS: [Mark; 25] = [
    mark(StartsWith("aws:cloudformation:"), None, "cloudformation",
        "CloudFormation tags every resource of a stack that takes tags: stack-name, stack-id, logical-id"),
    mark(StartsWith("aws:servicecatalog:"), None, "servicecatalog",
        "Service Catalog tags a provisioned product's resources: portfolioArn, productArn, provisioningPrincipalArn"),
    mark(StartsWith("aws-cdk:"), None, "cdk",
        "CDK constructs tag what they make: aws-cdk:auto-delete-objects, aws-cdk:subnet-name, aws-cdk:cr-owned"),
    mark(StartsWith("aws:cdk:"), None, "cdk", "the CDK's own metadata tags"),
    mark(Is("lambda:createdBy"), Some(&["SAM"]), "sam", "SAM tags every function it makes lambda:createdBy=SAM"),
    mark(StartsWith("pulumi:"), None, "pulumi", "Pulumi's auto-tagging convention: pulumi:project, pulumi:stack"),
    mark(Is("pulumi-project"), None, "pulumi", "Pulumi's auto-tagging example: pulumi-project, pulumi-stack"),
    mark(Is("pulumi-stack"), None, "pulumi", "Pulumi's auto-tagging example: pulumi-project, pulumi-stack"),
    mark(Is("terraform"), None, "terraform", "the usual Terraform default_tags: terraform = true (or Terraform)"),
    mark(StartsWith("terraform:"), None, "terraform", "Terraform default_tags conventions: terraform:workspace, ..."),
    mark(Is(MANAGED_BY), Some(&["terraform", "opentofu", "tofu"]), "terraform",
        "managed-by / ManagedBy / managed_by: the tag teams set to the tool that deploys a resource"),
    mark(Is(MANAGED_BY), Some(&["pulumi"]), "pulumi", "managed-by naming Pulumi"),
    mark(Is(MANAGED_BY), Some(&["cdk", "aws-cdk", "cdktf"]), "cdk", "managed-by naming the CDK"),
    mark(Is(MANAGED_BY), Some(&["cloudformation", "cfn"]), "cloudformation", "managed-by naming CloudFormation"),
    mark(Is(MANAGED_BY), Some(&["crossplane"]), "crossplane", "managed-by naming Crossplane"),
    mark(Is(MANAGED_BY), Some(&["sam", "aws-sam"]), "sam", "managed-by naming SAM"),
    mark(Is(MANAGED_BY), Some(&["copilot"]), "copilot", "managed-by naming Copilot"),
    mark(Is("crossplane-kind"), None, "crossplane", "Crossplane's AWS providers tag every external resource"),
    mark(Is("crossplane-name"), None, "crossplane", "Crossplane's AWS providers tag every external resource"),
    mark(Is("crossplane-providerconfig"), None, "crossplane", "Crossplane's AWS providers tag every resource"),
    mark(StartsWith("kubernetes.io/cluster/"), None, "kubernetes",
        "Kubernetes (EKS, kOps, the cloud controllers) tags what a cluster owns or shares"),
    mark(StartsWith("elasticbeanstalk:"), None, "elasticbeanstalk",
        "Elastic Beanstalk tags an environment's resources: environment-name, environment-id"),
    mark(StartsWith("aws:autoscaling:"), None, "autoscaling", "EC2 Auto Scaling tags a group's instances: groupName"),
    mark(StartsWith("copilot-"), None, "copilot", "AWS Copilot tags what it deploys: copilot-application, ..."),
    mark(Is("UPDATED_BY_CRAWLER"), None, "glue-crawler",
        "a Glue table parameter: the crawler that keeps the table's schema (and changes it on its next run)"),
];

/// A key as marks compare it: lower case, without `-` and `_`.
fn normal(key: &str) -> String {
    key.chars().filter(|c| *c != '-' && *c != '_').map(|c| c.to_ascii_lowercase()).collect()
}

impl Mark {
    fn matches(&self, key: &str, value: &str) -> bool {
        let key = normal(key);
        let key_matches = match self.key {
            Is(k) => key == normal(k),
            StartsWith(p) => key.starts_with(&normal(p)),
        };
        key_matches && self.values.is_none_or(|vs| vs.iter().any(|v| v.eq_ignore_ascii_case(value.trim())))
    }
}

/// Another tool's mark on a resource: the tool and the tag saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    pub tool: Tool,
    pub key: String,
    pub value: String,
}

impl std::fmt::Display for Managed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} manages it (`{}` = `{}`)", self.tool.title, self.key, self.value)
    }
}

/// The tool that a tag (or table parameter) says manages a resource.
pub fn marks(key: &str, value: &str) -> Option<Tool> {
    let m = MARKS.iter().find(|m| m.matches(key, value))?;
    TOOLS.iter().copied().find(|t| t.name == m.tool)
}

/// The first of `tags`, in key order, that says another tool manages the
/// resource.
pub fn managed_by(tags: &Tags) -> Option<Managed> {
    tags.iter().find_map(|(k, v)| marks(k, v).map(|tool| Managed { tool, key: k.clone(), value: v.clone() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(pairs: &[(&str, &str)]) -> Option<&'static str> {
        let tags: Tags = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        managed_by(&tags).map(|m| m.tool.name)
    }

    #[test]
    fn each_tools_marks_are_recognised() {
        assert_eq!(tool(&[("aws:cloudformation:stack-name", "legacy")]), Some("cloudformation"));
        assert_eq!(tool(&[("aws:cloudformation:logical-id", "Lake")]), Some("cloudformation"));
        assert_eq!(tool(&[("aws:servicecatalog:productArn", "arn")]), Some("servicecatalog"));
        assert_eq!(tool(&[("aws-cdk:auto-delete-objects", "true")]), Some("cdk"));
        assert_eq!(tool(&[("aws:cdk:path", "x")]), Some("cdk"));
        assert_eq!(tool(&[("lambda:createdBy", "SAM")]), Some("sam"));
        assert_eq!(tool(&[("pulumi:project", "p")]), Some("pulumi"));
        assert_eq!(tool(&[("pulumi-project", "p")]), Some("pulumi"));
        assert_eq!(tool(&[("Terraform", "true")]), Some("terraform"));
        assert_eq!(tool(&[("terraform:workspace", "prod")]), Some("terraform"));
        for key in ["managed-by", "ManagedBy", "managed_by", "Managed-By"] {
            assert_eq!(tool(&[(key, "Terraform")]), Some("terraform"), "{key}");
        }
        assert_eq!(tool(&[("ManagedBy", "pulumi")]), Some("pulumi"));
        assert_eq!(tool(&[("managed-by", "crossplane")]), Some("crossplane"));
        assert_eq!(tool(&[("crossplane-kind", "bucket.s3.aws.upbound.io")]), Some("crossplane"));
        assert_eq!(tool(&[("kubernetes.io/cluster/prod", "owned")]), Some("kubernetes"));
        assert_eq!(tool(&[("elasticbeanstalk:environment-name", "e")]), Some("elasticbeanstalk"));
        assert_eq!(tool(&[("aws:autoscaling:groupName", "g")]), Some("autoscaling"));
        assert_eq!(tool(&[("copilot-application", "a")]), Some("copilot"));
        assert_eq!(tool(&[("UPDATED_BY_CRAWLER", "lake-crawler")]), Some("glue-crawler"));
    }

    #[test]
    fn ordinary_tags_and_pipectls_own_are_nobodys_mark() {
        assert_eq!(tool(&[("team", "data"), ("pipectl:pipeline", "p"), ("env", "prod")]), None);
        assert_eq!(tool(&[("ManagedBy", "data-team")]), None, "a team is not a tool");
        assert_eq!(tool(&[("lambda:createdBy", "console")]), None);
        assert_eq!(tool(&[("aws:createdBy", "x")]), None);
    }

    #[test]
    fn every_mark_names_a_known_tool_and_its_source() {
        for m in &MARKS {
            assert!(TOOLS.iter().any(|t| t.name == m.tool), "{}", m.tool);
            assert!(!m.source.is_empty());
        }
        for t in &TOOLS {
            assert!(MARKS.iter().any(|m| m.tool == t.name), "{} has no mark", t.name);
        }
        let stack = managed_by(&[("aws:cloudformation:stack-name".into(), "legacy".into())].into()).unwrap();
        assert_eq!(stack.to_string(), "CloudFormation manages it (`aws:cloudformation:stack-name` = `legacy`)");
    }
}
