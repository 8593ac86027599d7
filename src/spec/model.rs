//! The validated spec: every default applied, every reference checked, every
//! name interpolated. Keys are the user's keys (`trips`), names are AWS's
//! physical names (`taxi-lab-trips-pr-42`).
//!
//! Names may still hold `${account}` or `${region}` when the command runs
//! offline (`validate`, `graph`); commands that talk to AWS load the spec
//! with both known.

pub use super::interp::SecretRef;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub pipeline: String,
    /// `--env`, or `default` when none is given.
    pub env: String,
    pub region: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub buckets: BTreeMap<String, Bucket>,
    pub streams: BTreeMap<String, Stream>,
    pub databases: BTreeMap<String, Database>,
    pub tables: BTreeMap<String, Table>,
    pub firehoses: BTreeMap<String, Firehose>,
    pub functions: BTreeMap<String, Function>,
    pub agents: BTreeMap<String, Agent>,
    pub networks: BTreeMap<String, Network>,
    pub dashboards: BTreeMap<String, Dashboard>,
    pub alarms: BTreeMap<String, Alarm>,
    pub metric_filters: BTreeMap<String, MetricFilter>,
    /// Seconds a kind may take to become ready or gone, overriding its default.
    pub timeouts: BTreeMap<String, u32>,
}

impl Spec {
    /// The SSM parameter holding the deployment record.
    pub fn record_name(&self) -> String {
        crate::names::record_parameter(&self.pipeline, &self.env)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDestroy {
    Retain,
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub name: String,
    pub on_destroy: OnDestroy,
    /// Plans that would delete it (and its objects) are refused without
    /// `--allow-data-loss`; the default under `on_destroy: retain`.
    pub protect: bool,
    pub encryption: BucketEncryption,
    /// All four settings of S3's public access block on (the default);
    /// `false`: no block of the bucket's own.
    pub public_access_block: bool,
}

/// A bucket's default encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketEncryption {
    /// SSE-S3 (`AES256`), the default.
    Aes256,
    /// No configuration of the bucket's own: S3's default (none on
    /// endpoints without one; SSE-S3 on AWS since January 2023).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    Provisioned { shards: u32 },
    OnDemand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEncryption {
    /// Server-side encryption with the AWS managed key `alias/aws/kinesis`.
    Kms,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub encryption: StreamEncryption,
    /// Plans that would delete it are refused without `--allow-data-loss`.
    pub protect: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Orc,
    Json,
}

impl TableFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Orc => "orc",
            TableFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    /// Key of the database in `catalog.databases`.
    pub database: String,
    /// Key of the bucket in `buckets`.
    pub bucket: String,
    pub prefix: String,
    pub format: TableFormat,
    /// Name and Hive type, in the order written.
    pub columns: Vec<(String, String)>,
    pub partition_keys: Vec<(String, String)>,
    pub description: Option<String>,
    /// Plans that would delete it are refused without `--allow-data-loss`.
    pub protect: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FirehoseSource {
    /// Key of the stream in `streams`.
    Stream(String),
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Uncompressed,
    Gzip,
    Snappy,
    Zip,
    HadoopSnappy,
}

impl Compression {
    pub const ALL: [(&'static str, Compression); 5] = [
        ("uncompressed", Compression::Uncompressed),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("zip", Compression::Zip),
        ("hadoop_snappy", Compression::HadoopSnappy),
    ];

    /// The value of Firehose's `CompressionFormat`.
    pub fn aws(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Snappy => "Snappy",
            Compression::Zip => "ZIP",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertFormat {
    Parquet,
    Orc,
}

/// Compression inside Parquet/ORC files (the serializer's own setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnarCompression {
    Snappy,
    Gzip,
    Zlib,
    Uncompressed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Convert {
    pub format: ConvertFormat,
    /// Key of the table in `catalog.tables`.
    pub table: String,
    pub compression: ColumnarCompression,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Key of the bucket in `buckets`.
    pub bucket: String,
    pub prefix: Option<String>,
    pub error_prefix: Option<String>,
    pub buffer_size_mb: u32,
    pub buffer_interval_seconds: u32,
    pub compression: Compression,
    pub convert: Option<Convert>,
    pub error_logging: bool,
    /// SSE of the delivery stream itself (Direct PUT only).
    pub encryption: bool,
}

/// The part of a prefix before its first `!{...}` expression: where every
/// object of that prefix lands.
pub fn static_prefix(prefix: &str) -> &str {
    prefix.find("!{").map_or(prefix, |i| &prefix[..i])
}

#[derive(Debug, Clone, PartialEq)]
pub struct Firehose {
    pub name: String,
    /// An existing role (name or ARN) to use as is, instead of the one
    /// pipectl makes; pipectl neither creates nor changes it.
    pub role: Option<String>,
    pub source: FirehoseSource,
    pub destination: Destination,
    /// Key of the transform function in `functions`.
    pub processor: Option<String>,
    /// Extra statements for the generated role.
    pub policy: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    Latest,
    TrimHorizon,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Key of the stream in `streams`.
    pub stream: String,
    pub batch_size: u32,
    pub batching_window_seconds: u32,
    pub starting_position: StartingPosition,
    pub tumbling_window_seconds: Option<u32>,
    pub parallelization_factor: u32,
    pub bisect_on_error: bool,
    /// -1 means retry until the record expires.
    pub max_retries: i64,
    /// -1 means no limit.
    pub max_record_age_seconds: i64,
    pub enabled: bool,
}

/// A resource a function may write to: `firehoses.X` or `streams.X`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteTarget {
    Firehose(String),
    Stream(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    /// An existing role (name or ARN) to run as, as is, instead of the
    /// one pipectl makes; pipectl neither creates nor changes it.
    pub role: Option<String>,
    pub runtime: String,
    /// A file or a directory, resolved against the spec's folder.
    pub code: PathBuf,
    /// The project the code must stay inside (see `package`).
    pub code_root: PathBuf,
    pub handler: String,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub environment: BTreeMap<String, EnvValue>,
    pub writes: Vec<WriteTarget>,
    pub trigger: Option<Trigger>,
    pub log_retention_days: u32,
    /// Concurrent executions reserved for it (PutFunctionConcurrency);
    /// `None`: it shares the account's unreserved pool.
    pub reserved_concurrency: Option<u32>,
    /// Extra statements for the generated execution role.
    pub policy: Vec<Statement>,
}

/// An environment variable's value: text, with the values of secret
/// references spliced in where they stand once read from AWS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvValue {
    pub text: String,
    /// Byte offset in `text` -> what goes there, in order.
    pub secrets: Vec<(usize, SecretRef)>,
}

impl EnvValue {
    pub fn plain(text: impl Into<String>) -> EnvValue {
        EnvValue { text: text.into(), secrets: Vec::new() }
    }

    /// The value with each secret replaced by what `value` gives for it.
    pub fn resolve<E>(&self, mut value: impl FnMut(&SecretRef) -> Result<String, E>) -> Result<String, E> {
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for (offset, secret) in &self.secrets {
            out.push_str(&self.text[at..*offset]);
            out.push_str(&value(secret)?);
            at = *offset;
        }
        out.push_str(&self.text[at..]);
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ami {
    /// Latest Amazon Linux 2023, from the SSM public parameter.
    Al2023,
    Id(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Public,
    Private,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SubnetChoice {
    /// The default VPC's default subnet in the first availability zone.
    Default,
    Id(String),
    /// A subnet of a network in `networks`.
    Network {
        network: String,
        tier: Tier,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CsvToJson {
    pub fields: Vec<String>,
    pub delimiter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialPosition {
    StartOfFile,
    EndOfFile,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub file_pattern: String,
    /// Key of the stream in `streams`.
    pub stream: String,
    /// `RANDOM`, or `DETERMINISTIC` (hash of the record).
    pub partition_key: String,
    pub initial_position: InitialPosition,
    pub csv_to_json: Option<CsvToJson>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ssh {
    pub cidr: String,
    pub key_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub instance_type: String,
    pub ami: Ami,
    pub subnet: SubnetChoice,
    /// The Kinesis Agent's flows (`run: agent`, the default); empty when
    /// the host runs the built-in producer.
    pub flows: Vec<Flow>,
    /// The built-in producer (`run: producer`).
    pub producer: Option<HostProducer>,
    /// Apply waits until the agent or producer runs (`wait_for: running`,
    /// the default); `wait_for: launched` stops at the instance running.
    pub wait_for_running: bool,
    /// A data file the host generates where a flow watches (`data:`).
    pub data: Option<AgentData>,
    pub ssh: Option<Ssh>,
    /// Extra statements for the generated host role.
    pub policy: Vec<Statement>,
}

/// A file of generated rows written on an agent host, once, after the
/// agent is installed, where one of its flows watches.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentData {
    /// `taxi`: the lab's 17-column yellow-taxi CSV.
    pub generate: String,
    pub rows: u32,
    /// Where the file lands; matches a flow's `file_pattern`.
    pub path: String,
    /// Where it is written first: outside every flow's pattern, on the
    /// same filesystem, so the rename into `path` is atomic.
    pub partial: String,
    /// The matched flow's `csv_to_json` fields (empty: the file's columns).
    pub fields: Vec<String>,
    pub delimiter: String,
}

/// A generator run on the host as a service, sending to one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct HostProducer {
    /// Key of the stream in `streams`.
    pub stream: String,
    /// `taxi`, `sensor` or `tenant-metrics` (as `pipectl produce --generate`).
    pub generate: String,
    /// Records per second.
    pub rate: u32,
    /// A field whose value is the partition key; random keys without one.
    pub partition_key: Option<String>,
}

impl Agent {
    /// The streams the host writes to.
    pub fn streams(&self) -> Vec<&str> {
        let mut s: Vec<&str> = self.flows.iter().map(|f| f.stream.as_str()).collect();
        s.extend(self.producer.iter().map(|p| p.stream.as_str()));
        s.sort_unstable();
        s.dedup();
        s
    }

    /// The systemd service that sends the host's data.
    pub fn service(&self) -> &'static str {
        if self.producer.is_some() {
            "pipectl-producer"
        } else {
            "aws-kinesis-agent"
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub cidr: String,
    pub zones: u32,
    pub nacl: bool,
    pub nat_gateway: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlarmKind {
    /// Kinesis GetRecords.IteratorAgeMilliseconds of a stream.
    StreamIteratorAge { stream: String, max_ms: u64 },
    /// Lambda IteratorAge of a function's trigger.
    FunctionIteratorAge { function: String, max_ms: u64 },
    /// Firehose DeliveryToS3.DataFreshness.
    DeliveryFreshness { firehose: String, max_seconds: u64 },
    /// Lambda Errors.
    FunctionErrors { function: String, max_errors: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub name: String,
    pub kind: AlarmKind,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
}

/// A metric from a function's log lines (CloudWatch Logs metric filter).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFilter {
    pub name: String,
    /// Key of the function in `functions`: the filter is on its log group.
    pub function: String,
    /// A CloudWatch Logs filter pattern (`"ERROR"`, `{ $.level = "error" }`).
    pub pattern: String,
    pub namespace: String,
    pub metric: String,
    /// What a matching line adds: a number, or a `$.field` of JSON lines.
    pub value: String,
    /// What the metric reports when no line matches.
    pub default: Option<f64>,
}

/// An extra Allow statement a user adds to a generated role.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Action`; empty when the statement says `not_actions`.
    pub actions: Vec<String>,
    /// `NotAction`: every action but these.
    pub not_actions: Vec<String>,
    /// `Resource`; empty when the statement says `not_resources`.
    pub resources: Vec<String>,
    /// `NotResource`: every resource but these.
    pub not_resources: Vec<String>,
    /// What the guard found in it (see `spec::guard`): each refused
    /// unless the operator allows it.
    pub findings: Vec<super::guard::Finding>,
    /// The statement says `allow_privilege_escalation: true`: a waiver
    /// that counts only where the operator honours waivers.
    pub waived: bool,
}
