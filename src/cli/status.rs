//! Flags of `pipectl status`.

use crate::status::Verdict;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The pipeline spec (YAML).
    pub spec: PathBuf,
    /// How far back to look: from `5m` to `15d` (one point per minute up
    /// to two hours, then wider points, at most 120 per metric).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_since)]
    pub since: Duration,
    /// Refresh in place on a terminal (quit with `q` or Ctrl-C); one line
    /// per hop and refresh when standard output is not a terminal.
    #[arg(long)]
    pub watch: bool,
    /// How often `--watch` reads again (at least `10s`: CloudWatch's
    /// metrics move once a minute).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_interval, requires = "watch")]
    pub interval: Duration,
    /// Exit 4 when a hop has one of these verdicts, naming the hops (for
    /// CI: `--fail-on stalled,failing` after `produce`).
    #[arg(long, value_name = "VERDICTS", value_enum, value_delimiter = ',', conflicts_with = "watch")]
    pub fail_on: Vec<Verdict>,
    /// Also write a self-contained HTML page (the graph and a chart per
    /// hop; opens without a network). A page pipectl wrote there is
    /// replaced; any other file, or a symbolic link, is refused.
    #[arg(long, value_name = "FILE", conflicts_with = "watch")]
    pub html: Option<PathBuf>,
}

fn parse_since(s: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like `30m`, `1h` or `2d`: {e}"))?;
    if d < Duration::from_secs(5 * 60) || d > Duration::from_secs(15 * 86_400) {
        return Err(format!("`{s}` is outside 5m to 15d (CloudWatch keeps one-minute points for 15 days)"));
    }
    Ok(d)
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like `30s` or `1m`: {e}"))?;
    if d < Duration::from_secs(10) {
        return Err(format!("`{s}` is under 10s: CloudWatch's metrics move once a minute"));
    }
    Ok(d)
}
