//! Flags of the offline commands that start a pipeline and price it:
//! `init`, `cost`, and `validate`'s warnings.

use super::{Costing, PlanFormat};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The starting pipeline: `minimal` (the default) or a lab; `--list`
    /// says what each is.
    #[arg(value_name = "LAB", value_parser = template_names())]
    pub lab: Option<String>,
    /// The folder to write into (`.`: the current one), created if missing.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Replace files that exist (never through a symbolic link).
    #[arg(long)]
    pub force: bool,
    /// List the starting pipelines, one line each, and write nothing.
    #[arg(long, conflicts_with_all = ["lab", "force"])]
    pub list: bool,
}

fn template_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::init::TEMPLATES.iter().map(|t| clap::builder::PossibleValue::new(t.name).help(t.about)),
    )
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The pipeline spec (YAML).
    pub spec: PathBuf,
    #[command(flatten)]
    pub cost: Costing,
    /// Output format (default: text; `--json` means `json`). `markdown` is a
    /// table for a pull-request comment.
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
}

/// What `validate` warns about beyond errors.
#[derive(Debug, Args)]
pub struct Warnings {
    /// Warn when the monthly estimate (at `--assume-gb-per-day`) is above
    /// this many US dollars.
    #[arg(long, value_name = "USD", default_value_t = 1000.0, value_parser = parse_usd)]
    pub warn_above_usd: f64,
    /// Silence a warning (repeatable): a rule (`monthly-cost`,
    /// `default-quota`, `unknown-vcpus`, `no-price`) or one quota by its
    /// key (`kinesis.shards`), for an account whose quota was raised.
    #[arg(long, value_name = "RULE", value_parser = warning_names())]
    pub ignore_warning: Vec<String>,
    #[command(flatten)]
    pub cost: Costing,
}

/// The rules `validate`'s own warnings have.
pub const WARNING_RULES: [&str; 4] = ["monthly-cost", "default-quota", "unknown-vcpus", "no-price"];

fn warning_names() -> clap::builder::PossibleValuesParser {
    let quotas = crate::cost::quotas::table().quotas.keys().map(String::as_str);
    clap::builder::PossibleValuesParser::new(WARNING_RULES.into_iter().chain(quotas))
}

impl Warnings {
    /// Whether warning `rule` (or the quota `key`) is silenced.
    pub fn ignored(&self, rule: &str) -> bool {
        self.ignore_warning.iter().any(|r| r == rule)
    }
}

fn parse_usd(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err("a number of US dollars a month, e.g. `500`".into()),
    }
}
