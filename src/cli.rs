//! The command line: commands and flags.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod shell;
mod start;
mod status;
pub use shell::{color_in, ColorChoice, CompletionsArgs, ManArgs, ValidateArgs};
pub use start::{CostArgs, InitArgs, Warnings};
pub use status::StatusArgs;

#[derive(Debug, Parser)]
#[command(
    name = "pipectl",
    version,
    about = "Deploy a streaming-data pipeline on AWS from one YAML file, and take it down again"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Environment name: suffixes default names and isolates deployments (e.g. `pr-42`).
    #[arg(long, global = true, env = "PIPECTL_ENV", value_parser = parse_env)]
    pub env: Option<String>,
    /// A value for `${var.NAME}` in the spec (repeatable).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// A YAML file of values for the spec's declared `vars:` (repeatable;
    /// later files win, `PIPECTL_VAR_<NAME>` and `--var` win over files).
    #[arg(long = "var-file", global = true, value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// AWS region; overrides the spec's `region:` and the environment.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from the shared config files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); also AWS_ENDPOINT_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Machine-readable output: one JSON document, or JSON lines for progress.
    #[arg(long, global = true)]
    pub json: bool,
    /// The project function code must stay inside (default: the git work
    /// tree holding the spec, else the spec's folder).
    #[arg(long, global = true, env = "PIPECTL_CODE_ROOT", value_name = "DIR")]
    pub code_root: Option<PathBuf>,
    /// Seconds one AWS request may take before it is abandoned and tried
    /// again, so a stalled answer cannot hang a run.
    #[arg(long, global = true, env = "PIPECTL_REQUEST_TIMEOUT", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// The operator's policy: what a spec may do beyond its own pipeline
    /// (secrets, roles, AMIs, subnets, regions, sizes, cost, waivers, a
    /// permissions boundary). The spec cannot name or weaken it. See
    /// docs/policy.md.
    #[arg(long, global = true, env = "PIPECTL_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Honour the waivers `policy:` statements carry
    /// (`allow_privilege_escalation: true`): a guard the spec cannot switch
    /// off alone.
    #[arg(long, global = true)]
    pub allow_privilege_escalation: bool,
    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour the output (plan symbols): `auto` is on a terminal
    /// only, honouring NO_COLOR, CLICOLOR_FORCE and TERM=dumb.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check specs offline: schema, references, cycles, AWS names and
    /// limits; warn above a monthly cost or AWS's default quotas.
    Validate(ValidateArgs),
    /// Read live AWS and print what apply would change.
    Plan(PlanArgs),
    /// Plan, confirm, and make AWS match the spec.
    Apply(ApplyArgs),
    /// Delete everything the spec (or the deployment record) names, in reverse order.
    Destroy(DestroyArgs),
    /// Print the resource graph as DOT or Mermaid, offline.
    Graph(GraphArgs),
    /// Print names, ARNs and console URLs of the deployed resources.
    Outputs(SpecArg),
    /// Show the deployments in this account and region.
    List(ListArgs),
    /// Destroy the deployments of the envs `--env-pattern` matches that were not applied for `--older-than` (a dry run without `--yes`).
    Gc(GcArgs),
    /// Break a deployment's lock, left by a run that died holding it.
    Unlock(UnlockArgs),
    /// Send records into a deployed stream: a file (JSON lines or CSV) or a
    /// built-in generator.
    Produce(ProduceArgs),
    /// Send a canary into each stream and Direct-PUT Firehose and follow it
    /// down every path of the pipeline.
    Verify(VerifyArgs),
    /// Show data flowing through every hop, from CloudWatch: records in and
    /// out, lag, failures, a verdict per hop and the alarms. See
    /// docs/status.md.
    Status(StatusArgs),
    /// Bring what exists under pipectl: adopt the live resources a spec
    /// names that nobody owns, or write a spec for a pipeline built by hand.
    Import(ImportArgs),
    /// Write the spec in another tool's format, offline.
    #[command(subcommand)]
    Export(ExportFormat),
    /// The operator's policy: check a spec against it, offline.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the env name for a branch (`feature/ABC_1` -> `feature-abc-1`):
    /// deterministic, always a valid `--env`. See docs/variables.md.
    EnvName(EnvNameArgs),
    /// Print the least-privilege IAM policy a CI role needs to plan, apply,
    /// destroy and gc this spec, offline. See docs/ci-permissions.md.
    DeployerPolicy(DeployerPolicyArgs),
    /// Write a starting spec and its handlers (a minimal pipeline or a lab),
    /// built into pipectl, ready to validate and deploy. See docs/init.md.
    Init(InitArgs),
    /// What a spec costs a month once deployed, offline: no credentials, the
    /// account assumed empty. See docs/cost.md.
    Cost(CostArgs),
    /// Print the spec's JSON Schema (draft-07) for editors, offline.
    ///
    /// The output is JSON whether or not `--json` is given. Editor setup:
    /// docs/schema.md; every field: docs/spec-reference.md.
    Schema(SchemaArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or
    /// powershell. See docs/shell.md.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one per command with `--out`.
    Man(ManArgs),
    /// Print pipectl's version.
    Version,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the spec reference (docs/spec-reference.md) instead, from the
    /// same table.
    #[arg(long, hide = true)]
    pub markdown: bool,
}

#[derive(Debug, Args)]
pub struct EnvNameArgs {
    /// The branch name, e.g. `feature/ABC_1` or `refs/heads/main`.
    pub branch: String,
    /// The spec the env is for: the name is shortened further (with its
    /// hash) until every name the spec derives from it fits AWS's limits.
    pub spec: Option<PathBuf>,
    /// At most this many characters (10 to 32), the spec or not: a job that
    /// has no checkout (a pull request's close) then gets the same name as
    /// the job that applied.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(10..=32))]
    pub max_length: Option<u8>,
}

#[derive(Debug, Args)]
pub struct DeployerPolicyArgs {
    pub spec: PathBuf,
    /// Serve every env matching this pattern (`*` matches any characters),
    /// e.g. `pr-*` for a role deploying each pull request; instead of `--env`.
    #[arg(long, value_name = "PATTERN")]
    pub env_pattern: Option<String>,
    /// The AWS account of the ARNs (12 digits); without it they read
    /// `${AWS::AccountId}`, for CloudFormation's `Fn::Sub` or a text substitution.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Print a JSON list of policy documents, each within AWS's size limit
    /// for a managed policy (6,144 characters), to attach together.
    #[arg(long)]
    pub split: bool,
    /// Commands to grant beyond plan, apply, destroy and gc (repeatable).
    #[arg(long, value_enum, value_name = "COMMAND")]
    pub include: Vec<Extra>,
}

/// A command `deployer-policy --include` can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Extra {
    /// `import`: adopting what a spec names, and `import --from-stream`.
    Import,
    /// `verify`: a canary record through the deployment, read back.
    Verify,
    /// `status`: the metrics of every hop (GetMetricData) and the alarms.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Every decision the policy (`--policy`) makes on the spec, offline:
    /// exit 0 when nothing is refused, 2 when something is. What needs AWS
    /// (an AMI's owner, a subnet's VPC) is shown as decided at plan time.
    Check(PolicyCheckArgs),
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    pub spec: PathBuf,
    #[command(flatten)]
    pub cost: Costing,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The spec whose unowned live resources to adopt.
    #[arg(required_unless_present = "from_stream", conflicts_with = "from_stream")]
    pub spec: Option<PathBuf>,
    /// Adopt them (tags, marker, record); without it, only show them.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Read the pipeline around this stream and write a spec for it.
    #[arg(long, value_name = "STREAM", requires = "out")]
    pub from_stream: Option<String>,
    /// Where `--from-stream` writes the spec (function code goes to
    /// `code/` beside it).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The spec's `pipeline:` (default: from the stream's name).
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// A folder holding each function's deployed code as `<function>.zip`
    /// (`aws lambda get-function` gives its download link).
    #[arg(long, value_name = "DIR")]
    pub code_dir: Option<PathBuf>,
    /// Adopt also what this tool's tags say it manages (repeatable);
    /// without it, such a resource is left alone.
    #[arg(long = "adopt-from", value_name = "TOOL", conflicts_with = "from_stream",
          value_parser = clap::builder::PossibleValuesParser::new(crate::plan::foreign::TOOLS.map(|t| t.name)))]
    pub adopt_from: Vec<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// One CloudFormation template (YAML) for the spec and env: the same
    /// resources, names, tags and policies, deployable as a stack or StackSet.
    Cloudformation(CloudFormationArgs),
}

#[derive(Debug, Args)]
pub struct CloudFormationArgs {
    pub spec: PathBuf,
    /// Write the template here instead of to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// An existing S3 bucket to upload function code to when it is too
    /// large to inline (more than one small Python or Node.js file).
    #[arg(long, value_name = "BUCKET")]
    pub code_bucket: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The pipeline spec (YAML).
    pub spec: PathBuf,
    /// How long to wait for the canaries to come out (default: the spec's
    /// slowest path, its Firehose's buffer interval and its trigger's
    /// batching and tumbling windows, plus two minutes).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// After the checks, take this run's canaries out of the objects they
    /// landed in (rewritten without them, or deleted when nothing else
    /// was in them).
    #[arg(long)]
    pub clean: bool,
    /// Exit 0 even when a hop's objects arrived in a form pipectl cannot
    /// read (ORC, Snappy or ZIP objects, a table no canary survives):
    /// such a hop is `not read`, which proves nothing, and fails verify
    /// unless this is given.
    #[arg(long)]
    pub accept_unread: bool,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The pipeline spec (YAML).
    pub spec: PathBuf,
    /// The stream's key in the spec's `streams:`.
    #[arg(long, value_name = "KEY")]
    pub stream: String,
    /// Records from this file (`-` for standard input): JSON lines as they
    /// are, or CSV rows turned into JSON objects.
    #[arg(long, value_name = "PATH", required_unless_present = "generate", conflicts_with = "generate")]
    pub file: Option<PathBuf>,
    /// Records from a built-in generator shaped like a lab's data.
    #[arg(long, value_enum, value_name = "KIND")]
    pub generate: Option<crate::produce::generate::Kind>,
    /// How the file is read (default: from its name, else its first line);
    /// with `--generate taxi`, `csv` makes the agent lab's 17-column
    /// yellow-taxi rows, named by `--fields` as a CSV file's rows are.
    #[arg(long, value_enum)]
    pub format: Option<crate::produce::source::Format>,
    /// CSV field names (default: the `csv_to_json` fields of an agent flow
    /// into this stream, else the file's header row).
    #[arg(long, value_delimiter = ',', value_name = "A,B,..")]
    pub fields: Vec<String>,
    /// CSV delimiter (default: the agent flow's, else `,`).
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// Partition each record by this field's value (default: `sensor_id`
    /// with `--generate sensor`, as Lambda's windows are per shard; random
    /// keys otherwise). `random` gives random keys.
    #[arg(long, value_name = "FIELD")]
    pub partition_key: Option<String>,
    /// Write the generated lines to this file (`-` for standard output)
    /// instead of sending them: offline, no credentials needed.
    #[arg(long, value_name = "FILE", requires_all = ["generate", "limit"])]
    pub output: Option<PathBuf>,
    /// With `--output`: replace an existing regular file (atomically,
    /// through a new file renamed over it); a symlink is refused still.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Records per second at most (e.g. `200` or `200/s`).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Stop after this long (e.g. `5m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Seed of the generator: the same seed sends the same values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// PutRecords calls in flight at once (default 4; 1 with `--endpoint-url`
    /// or AWS_ENDPOINT_URL, as emulators lose records written to one shard
    /// by calls at the same time).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub in_flight: Option<u16>,
}

#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// How long to wait for another run of the same deployment to finish
    /// (e.g. `10m`); by default fail at once, naming it.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// `--allow-data-loss`, for the commands that may delete protected data.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct DataGuard {
    /// Run even though it deletes the data of resources the spec protects
    /// (`protect:`; buckets under `on_destroy: retain` by default).
    #[arg(long)]
    pub allow_data_loss: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this pipeline's deployments.
    #[arg(long)]
    pub pipeline: Option<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Deployments not applied for this long are stale (e.g. `24h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: std::time::Duration,
    /// Only this pipeline's deployments.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only envs matching this glob (`*`, `?`; e.g. `pr-*`); repeatable.
    /// Required: the deployment without an env is never a candidate.
    #[arg(long, value_name = "GLOB")]
    pub env_pattern: Vec<String>,
    /// Destroy them; without it, only show what would be destroyed.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Empty and delete buckets even when they say `on_destroy: retain`.
    #[arg(long)]
    pub delete_data: bool,
    #[command(flatten)]
    pub guard: DataGuard,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub which: Which,
}

/// A deployment named by its spec, or, without one, by `--pipeline` (and
/// `--env`) through its record.
#[derive(Debug, Args)]
pub struct Which {
    /// The spec; without it, `--pipeline` names the deployment.
    pub spec: Option<PathBuf>,
    /// The pipeline, when no spec is given.
    #[arg(long, required_unless_present = "spec", conflicts_with = "spec")]
    pub pipeline: Option<String>,
}

#[derive(Debug, Args)]
pub struct SpecArg {
    /// The pipeline spec (YAML).
    pub spec: PathBuf,
}

#[derive(Debug, Args, Clone, Default)]
pub struct Targets {
    /// Only this resource (an address like `stream.trips`, or a kind like
    /// `stream`) and what it depends on (for destroy: what depends on it).
    #[arg(long = "target", value_name = "ADDRESS|KIND")]
    pub targets: Vec<String>,
    /// How many resources may be changed at once. Most of a change is
    /// waiting for AWS, so many run at once; every call is paced at the
    /// rate AWS accepts it (`rates/aws.json`), the longest path first.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    pub spec: PathBuf,
    #[command(flatten)]
    pub targets: Targets,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Show what `destroy` would delete instead.
    #[arg(long)]
    pub destroy: bool,
    #[command(flatten)]
    pub guard: DataGuard,
    #[command(flatten)]
    pub cost: Costing,
    /// Also save the plan to FILE (mode 0600), for `pipectl apply FILE` to
    /// run exactly it, or nothing. See docs/saved-plans.md.
    #[arg(long, value_name = "FILE", conflicts_with = "destroy")]
    pub out: Option<PathBuf>,
    /// How to print the plan (default: text, or json with `--json`);
    /// markdown is for a pull-request comment.
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
}

/// How `plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct Costing {
    /// GB a day assumed into each stream and Firehose, for the per-GB
    /// items of the plan's cost estimate.
    #[arg(long, value_name = "GB", default_value_t = crate::cost::DEFAULT_GB_PER_DAY, value_parser = parse_gb)]
    pub assume_gb_per_day: f64,
}

fn parse_gb(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=1_000_000.0).contains(&x) => Ok(x),
        _ => Err("a number of GB from 0 to 1000000, e.g. `5` or `0.5`".into()),
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The spec, or a plan saved by `plan --out` (told by its content).
    pub spec: PathBuf,
    /// A saved plan older than this is refused (e.g. `2h`, `7d`).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub max_age: std::time::Duration,
    #[command(flatten)]
    pub cost: Costing,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub guard: DataGuard,
    #[command(flatten)]
    pub targets: Targets,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub which: Which,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Empty and delete buckets even when the spec says `on_destroy: retain`.
    #[arg(long)]
    pub delete_data: bool,
    /// Wait until every resource is gone. Without it, a stream, Firehose or
    /// trigger is done once AWS has accepted its delete and reads it as
    /// being deleted: AWS finishes it on its own, and a later apply of the
    /// same names waits for it.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub guard: DataGuard,
    #[command(flatten)]
    pub targets: Targets,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    /// Drawn by pipectl itself: no Graphviz needed; a standalone SVG file.
    Svg,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    pub spec: PathBuf,
    /// How to draw it (default: dot); `--json` gives nodes and edges
    /// instead, and is refused with `--format`.
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
}

fn parse_env(s: &str) -> Result<String, String> {
    crate::spec::rules::env_name(s)?;
    Ok(s.to_string())
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like `90s`, `10m` or `24h`: {e}"))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let n = s.strip_suffix("/s").unwrap_or(s);
    match n.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("`{s}` is not a rate like `200` or `200/s` (records per second, above 0)")),
    }
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("`{k}` is not a variable name (letters, digits, `_`, `-`)"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn vars_and_env_are_checked() {
        assert_eq!(parse_var("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_var("novalue").is_err());
        assert!(parse_env("pr-42").is_ok());
        assert!(parse_env("PR_42").is_err());
        assert!(parse_env("default").unwrap_err().contains("leave the env out"));
        assert_eq!(parse_rate("250/s").unwrap(), 250.0);
        assert_eq!(parse_rate("0.5").unwrap(), 0.5);
        assert!(parse_rate("0").is_err() && parse_rate("fast").is_err() && parse_rate("inf").is_err());
    }
}
