//! Every physical name pipectl derives, and ARNs.
//!
//! A spec names a few resources; the rest are derived from them (a
//! Firehose's role and log group, a function's role and log group, an agent
//! host's role, instance profile and security group). Each derivation is one
//! function here, used by validation, the graph and the resources alike.
//!
//! ARNs are built only through [`Arn`], whose partition follows the region
//! (`cn-*` → `aws-cn`, `us-gov-*` → `aws-us-gov`, else `aws`).

use std::fmt;

/// The AWS partition a region belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arn {
    partition: &'static str,
    service: &'static str,
    region: String,
    account: String,
    resource: String,
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Arn { partition, service, region, account, resource } = self;
        write!(f, "arn:{partition}:{service}:{region}:{account}:{resource}")
    }
}

impl Arn {
    /// The same ARN with `suffix` appended to its resource (`/*`, `:*`).
    pub fn with_suffix(&self, suffix: &str) -> Arn {
        Arn { resource: format!("{}{suffix}", self.resource), ..self.clone() }
    }
}

/// Where ARNs point: one account in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account: String,
}

impl Scope {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Scope {
        Scope { region: region.into(), account: account.into() }
    }

    pub fn partition(&self) -> Partition {
        Partition::of_region(&self.region)
    }

    /// A regional resource of this account.
    pub fn arn(&self, service: &'static str, resource: impl Into<String>) -> Arn {
        Arn {
            partition: self.partition().as_str(),
            service,
            region: self.region.clone(),
            account: self.account.clone(),
            resource: resource.into(),
        }
    }

    /// A global resource of this account (IAM, dashboards): no region.
    fn global(&self, service: &'static str, resource: String) -> Arn {
        Arn { region: String::new(), ..self.arn(service, resource) }
    }

    pub fn bucket(&self, name: &str) -> Arn {
        Arn { account: String::new(), ..self.global("s3", name.to_string()) }
    }
    pub fn stream(&self, name: &str) -> Arn {
        self.arn("kinesis", format!("stream/{name}"))
    }
    /// Every EC2 instance of the account in the region.
    pub fn instances(&self) -> Arn {
        self.arn("ec2", "instance/*".to_string())
    }
    pub fn firehose(&self, name: &str) -> Arn {
        self.arn("firehose", format!("deliverystream/{name}"))
    }
    pub fn function(&self, name: &str) -> Arn {
        self.arn("lambda", format!("function:{name}"))
    }
    pub fn role(&self, name: &str) -> Arn {
        self.global("iam", format!("role/{name}"))
    }
    pub fn instance_profile(&self, name: &str) -> Arn {
        self.global("iam", format!("instance-profile/{name}"))
    }
    pub fn log_group(&self, name: &str) -> Arn {
        self.arn("logs", format!("log-group:{name}"))
    }
    pub fn glue_catalog(&self) -> Arn {
        self.arn("glue", "catalog")
    }
    pub fn glue_database(&self, name: &str) -> Arn {
        self.arn("glue", format!("database/{name}"))
    }
    pub fn glue_table(&self, id: &TableId) -> Arn {
        self.arn("glue", format!("table/{}/{}", id.database, id.table))
    }
    pub fn dashboard(&self, name: &str) -> Arn {
        self.global("cloudwatch", format!("dashboard/{name}"))
    }
    pub fn alarm(&self, name: &str) -> Arn {
        self.arn("cloudwatch", format!("alarm:{name}"))
    }
    pub fn parameter(&self, name: &str) -> Arn {
        self.arn("ssm", format!("parameter{name}"))
    }
    /// What AWS publishes in the region, owned by no account (public SSM
    /// parameters and documents, AMIs): `arn:aws:ssm:us-east-1::document/X`.
    pub fn public(&self, service: &'static str, resource: impl Into<String>) -> Arn {
        Arn { account: String::new(), ..self.arn(service, resource) }
    }
    /// A secret by name or ARN; a name matches the suffix AWS appends.
    pub fn secret(&self, id: &str) -> String {
        if id.starts_with("arn:") {
            id.to_string()
        } else {
            self.arn("secretsmanager", format!("secret:{id}-??????")).to_string()
        }
    }
}

/// The longest region name the SDK's partitions know (`us-isof-south-1`):
/// a name that carries a region not known yet is measured with it. A test
/// ties it to `src/spec/partitions.json`, and fails when a later SDK lists
/// a longer region. Raising this then would leave less room for every base,
/// changing every cut default bucket name (a replace of each such bucket):
/// keep it, and let only the longer region's own names be measured with
/// their region, as [`default_bucket`] already does (`docs/names.md`).
pub const LONGEST_REGION: &str = "us-isof-south-1";

/// An account id is always 12 digits.
const ACCOUNT_DIGITS: usize = 12;

/// The most characters an S3 bucket name holds.
const BUCKET_MAX: usize = 63;

/// A bucket's default name. S3 names are global to every account and
/// region, so it carries both: `<base>-<account>-<region>`, `base` being
/// `<pipeline>-<key>[-<env>]` in lower case with `_` as `-`. A base too
/// long to fit 63 characters with any account and the longest region is
/// cut and ends with 8 hex digits of its SHA-256 instead, so the cut
/// depends only on the base: the same name offline (`${account}`,
/// `${region}`) and once they are known. It ends in the region's digit, so
/// never in a suffix S3 reserves (`-s3alias`, `--ol-s3`, …).
pub fn default_bucket(base: &str, account: &str, region: &str) -> String {
    let spelled = base.to_ascii_lowercase().replace('_', "-");
    let longest = LONGEST_REGION.len().max(if region.starts_with("${") { 0 } else { region.len() });
    let room = BUCKET_MAX - ACCOUNT_DIGITS - longest - 2;
    let base = if spelled.chars().count() > room {
        let hash = &sha256_hex(base)[..8];
        let cut: String = spelled.chars().take(room - hash.len() - 1).collect();
        format!("{}-{hash}", cut.trim_end_matches(['-', '.']))
    } else {
        spelled
    };
    format!("{base}-{account}-{region}")
}

/// A dashboard's default name. Dashboards are global to the account (one
/// name for every region), so it carries the region: `<base>-<region>`.
pub fn default_dashboard(base: &str, region: &str) -> String {
    format!("{base}-{region}")
}

/// How an IAM name spells a region not known yet (offline, without
/// `--region` or `region:`).
pub const UNKNOWN_REGION: &str = "REGION";

/// The ARN of the role something runs as: `given` (a spec's `role:`, a
/// name or an ARN) as is, else the role pipectl makes, `derived`.
pub fn role_arn(scope: &Scope, given: Option<&str>, derived: &str) -> String {
    match given {
        Some(arn) if arn.starts_with("arn:") => arn.to_string(),
        Some(name) => scope.role(name).to_string(),
        None => scope.role(derived).to_string(),
    }
}

/// IAM names are global to the account: each carries the region, so the
/// same pipeline and env in two regions never share a role.
fn iam_name(base: &str, role: &str, region: Option<&str>) -> String {
    format!("{base}-{role}-{}", region.unwrap_or(UNKNOWN_REGION))
}

/// The role a Firehose delivers with.
pub fn firehose_role(firehose: &str, region: Option<&str>) -> String {
    iam_name(firehose, "firehose", region)
}

/// The log group a Firehose writes delivery errors to.
pub fn firehose_log_group(firehose: &str) -> String {
    format!("/aws/kinesisfirehose/{firehose}")
}

/// The log stream inside [`firehose_log_group`] that Firehose writes to.
pub const FIREHOSE_LOG_STREAM: &str = "DestinationDelivery";

/// The role a function runs as.
pub fn function_role(function: &str, region: Option<&str>) -> String {
    iam_name(function, "lambda", region)
}

/// The log group Lambda writes a function's output to.
pub fn function_log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// The role, instance profile and security group of an agent host share
/// one name.
pub fn agent_role(agent: &str, region: Option<&str>) -> String {
    iam_name(agent, "agent", region)
}

/// The deployment record's SSM parameter.
pub fn record_parameter(pipeline: &str, env: &str) -> String {
    format!("/pipectl/{pipeline}/{env}")
}

/// Where the parts of a record too large for one parameter live, by the
/// record's parameter: `/pipectl/p/e` -> `/pipectl-parts/p/e`. A part is
/// `<path>/<generation>/<index>`.
pub fn record_parts_path(record: &str) -> String {
    format!("/pipectl-parts/{}", record.trim_start_matches("/pipectl/"))
}

/// A stream trigger: identified by its function and the stream it reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TriggerId {
    pub function: String,
    pub stream: String,
}

impl TriggerId {
    /// How the deployment record spells it.
    pub fn to_record(&self) -> String {
        format!("{}|{}", self.function, self.stream)
    }

    pub fn from_record(s: &str) -> TriggerId {
        let (function, stream) = s.split_once('|').unwrap_or((s, ""));
        TriggerId { function: function.into(), stream: stream.into() }
    }
}

impl fmt::Display for TriggerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ← {}", self.function, self.stream)
    }
}

/// A metric filter: identified by its log group and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricFilterId {
    pub log_group: String,
    pub filter: String,
}

impl MetricFilterId {
    /// How the deployment record spells it (`:` is in neither name).
    pub fn to_record(&self) -> String {
        format!("{}:{}", self.log_group, self.filter)
    }

    pub fn from_record(s: &str) -> MetricFilterId {
        let (log_group, filter) = s.rsplit_once(':').unwrap_or(("", s));
        MetricFilterId { log_group: log_group.into(), filter: filter.into() }
    }
}

impl fmt::Display for MetricFilterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.filter, self.log_group)
    }
}

/// A Glue table: identified by its database and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableId {
    pub database: String,
    pub table: String,
}

impl TableId {
    /// How the deployment record spells it.
    pub fn to_record(&self) -> String {
        format!("{}/{}", self.database, self.table)
    }

    pub fn from_record(s: &str) -> TableId {
        let (database, table) = s.split_once('/').unwrap_or(("", s));
        TableId { database: database.into(), table: table.into() }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// SHA-256 of `bytes` in lower-case hex: the one spelling of a digest in
/// names, tokens, records and plans (cut a prefix for a shorter one).
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_follows_the_region() {
        let cn = Scope::new("cn-north-1", "123456789012");
        assert_eq!(cn.stream("s").to_string(), "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s");
        assert_eq!(cn.role("r").to_string(), "arn:aws-cn:iam::123456789012:role/r");
        assert_eq!(cn.bucket("b").with_suffix("/*").to_string(), "arn:aws-cn:s3:::b/*");
        let gov = Scope::new("us-gov-west-1", "1");
        assert_eq!(gov.function("f").to_string(), "arn:aws-us-gov:lambda:us-gov-west-1:1:function:f");
        let std = Scope::new("eu-west-1", "1");
        assert_eq!(std.dashboard("d").to_string(), "arn:aws:cloudwatch::1:dashboard/d");
        assert_eq!(std.parameter("/pipectl/p/e").to_string(), "arn:aws:ssm:eu-west-1:1:parameter/pipectl/p/e");
    }

    #[test]
    fn composite_identities_round_trip_through_the_record() {
        let t = TriggerId { function: "lab-filter".into(), stream: "lab-trips".into() };
        assert_eq!(t.to_string(), "lab-filter ← lab-trips");
        assert_eq!(TriggerId::from_record(&t.to_record()), t);
        let g = TableId { database: "lake".into(), table: "trips".into() };
        assert_eq!(g.to_string(), "lake.trips");
        assert_eq!(TableId::from_record(&g.to_record()), g);
        let m = MetricFilterId { log_group: "/aws/lambda/lab-consumer".into(), filter: "lab-errors".into() };
        assert_eq!(m.to_string(), "lab-errors in /aws/lambda/lab-consumer");
        assert_eq!(MetricFilterId::from_record(&m.to_record()), m);
    }

    #[test]
    fn default_bucket_names_carry_the_account_and_region_and_fit_s3() {
        assert_eq!(default_bucket("demo-raw", "123456789012", "eu-west-1"), "demo-raw-123456789012-eu-west-1");
        assert_eq!(
            default_bucket("demo-Raw_Data-pr-1", "${account}", "${region}"),
            "demo-raw-data-pr-1-${account}-${region}"
        );
        // The longest base and region: cut, with a hash of the whole base.
        let base = format!("{}-{}-{}", "p".repeat(40), "k".repeat(64), "e".repeat(32));
        let known = default_bucket(&base, "123456789012", LONGEST_REGION);
        assert_eq!(known.len(), 63, "{known}");
        let offline = default_bucket(&base, "${account}", "${region}");
        assert_eq!(offline.replace("${account}", "123456789012").replace("${region}", LONGEST_REGION), known);
        // Two bases alike up to the cut stay apart.
        let other = default_bucket(&format!("{base}x"), "123456789012", LONGEST_REGION);
        assert_ne!(other, known);
        assert!(known.starts_with(&"p".repeat(24)) && !known.contains("--"), "{known}");
        // The example of docs/names.md.
        let doc = default_bucket(&format!("demo-{}", "k".repeat(60)), "123456789012", "eu-west-1");
        assert_eq!(doc, "demo-kkkkkkkkkkkkkkkkkkkk-ed2f4b16-123456789012-eu-west-1");
        // A base that fits is never cut, whatever the region.
        let fits = "a".repeat(34);
        assert_eq!(default_bucket(&fits, "123456789012", "us-east-1"), format!("{fits}-123456789012-us-east-1"));
    }

    /// `LONGEST_REGION` is the longest region the vendored partition data
    /// lists (its `*-global` endpoints are not regions).
    #[test]
    fn longest_region_is_the_longest_listed_region() {
        let longest = crate::spec::regions::listed().map(str::len).max();
        assert_eq!(Some(LONGEST_REGION.len()), longest, "a longer region is listed: see LONGEST_REGION");
        assert!(crate::spec::regions::listed().any(|r| r == LONGEST_REGION));
    }

    #[test]
    fn derived_names() {
        assert_eq!(firehose_role("p-f", Some("eu-west-1")), "p-f-firehose-eu-west-1");
        assert_eq!(function_role("p-f", Some("us-east-1")), "p-f-lambda-us-east-1");
        assert_eq!(agent_role("p-a", None), "p-a-agent-REGION");
        assert_eq!(firehose_log_group("p-f"), "/aws/kinesisfirehose/p-f");
        assert_eq!(function_log_group("p-f"), "/aws/lambda/p-f");
        assert_eq!(record_parameter("p", "e"), "/pipectl/p/e");
        assert_eq!(record_parts_path(&record_parameter("p", "e")), "/pipectl-parts/p/e");
    }
}
