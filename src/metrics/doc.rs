//! `docs/metrics.md`, generated from the tables (tests only): a test
//! fails when the committed page differs, naming the command that writes it
//! again.

use super::{Metric, Panel, Role, Unit, When};
use crate::spec::AlarmKind;

pub const PATH: &str = "docs/metrics.md";
pub const REGENERATE: &str = "PIPECTL_UPDATE_DOCS=1 cargo test --locked --lib metrics::doc";

/// The kinds, each with its rows (a host has three tables: the instance's,
/// the Kinesis Agent's and the producer's).
const KINDS: [(&str, &[&[Metric]]); 4] = [
    ("Stream", &[super::stream::METRICS]),
    ("Firehose", &[super::firehose::METRICS]),
    ("Function", &[super::function::METRICS]),
    ("Agent host", &[super::host::EC2, super::host::AGENT, super::host::PRODUCER]),
];

fn role(r: Role) -> &'static str {
    match r {
        Role::RecordsIn => "records in",
        Role::BytesIn => "bytes in",
        Role::RecordsOut => "records passed on",
        Role::BytesOut => "bytes passed on",
        Role::Lag => "how far behind",
        Role::Failed => "failures",
        Role::Throttled => "refused for rate (retried, late)",
        Role::SuccessRatio => "share of calls that succeeded (0 to 1)",
        Role::RetriedRatio => "share of calls that succeeded (0 to 1; failures retried, late)",
        Role::Info => "shown, not judged",
    }
}

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Count => "count",
        Unit::Bytes => "bytes",
        Unit::Milliseconds => "ms",
        Unit::Seconds => "s",
        Unit::Percent => "%",
        Unit::Ratio => "ratio",
    }
}

fn when(w: When) -> &'static str {
    match w {
        When::Always => "always",
        When::StreamRead => "a Firehose or a function's trigger reads the stream",
        When::FromStream => "the Firehose reads a stream",
        When::Direct => "the Firehose takes Direct PUT",
        When::Converts => "the Firehose converts (`convert:`)",
        When::Processes => "the Firehose transforms with a function (`processor:`)",
        When::Triggered => "a stream triggers the function",
        When::AgentRuns => "the host runs the Kinesis Agent (`flows:`), per destination stream",
        When::ProducerRuns => "the host runs the built-in producer (`run: producer`)",
    }
}

fn panel(p: Panel) -> &'static str {
    match p {
        Panel::Flow => "left: in and out",
        Panel::Health => "right: lag and failures",
        Panel::None => "not drawn",
    }
}

/// The alarm kinds of a spec, as written, each with an example of its kind.
fn alarms() -> [(&'static str, AlarmKind); 4] {
    let s = String::new;
    [
        ("`iterator_age` on a stream", AlarmKind::StreamIteratorAge { stream: s(), max_ms: 0 }),
        ("`iterator_age` on a function", AlarmKind::FunctionIteratorAge { function: s(), max_ms: 0 }),
        ("`delivery_freshness`", AlarmKind::DeliveryFreshness { firehose: s(), max_seconds: 0 }),
        ("`function_errors`", AlarmKind::FunctionErrors { function: s(), max_errors: 0 }),
    ]
}

pub fn markdown() -> String {
    let mut out = format!(
        "# Metrics: what pipectl reads of each hop\n\n\
         <!-- Generated from src/metrics/ by `{REGENERATE}`; do not edit. -->\n\n\
         Every CloudWatch metric pipectl reads is a row of one table per kind\n\
         (`src/metrics/`): its namespace, name, dimension and statistic, what it\n\
         says of its hop, when AWS reports it, and where the dashboard draws it.\n\
         `pipectl status`, the dashboard (`dashboards:`) and the alarms\n\
         (`alarms:`) all read these tables, so they never disagree on a metric's\n\
         name, dimension or statistic. A metric AWS reports only for some\n\
         configurations is read and drawn only for a resource that has that\n\
         configuration: a line that could only stay empty is left out.\n\n\
         The dashboard has a row of two widgets per resource: what comes in and\n\
         goes out on the left, what lags and fails on the right, each line read\n\
         with its own statistic; then a row per metric filter (its metric, sum\n\
         and maximum). [dashboards.md](dashboards.md) says why each metric is\n\
         the one that has data.\n\n\
         ## Alarms\n\n\
         | alarm | namespace | metric | dimension | statistic |\n|---|---|---|---|---|\n"
    );
    for (alarm, kind) in alarms() {
        let m = super::of_alarm(&kind);
        out += &format!("| {alarm} | `{}` | `{}` | `{}` | {} |\n", m.namespace, m.name, m.dimension, m.stat.as_str());
    }
    for (kind, tables) in KINDS {
        out += &format!(
            "\n## {kind}\n\n\
             | namespace | metric | dimension | statistic | says | unit | reported when | dashboard |\n\
             |---|---|---|---|---|---|---|---|\n"
        );
        for m in tables.iter().flat_map(|t| t.iter()) {
            out += &format!(
                "| `{}` | `{}` | `{}` | {} | {} | {} | {} | {} |\n",
                m.namespace,
                m.name,
                m.dimension,
                m.stat.as_str(),
                role(m.role),
                unit(m.unit),
                when(m.when),
                panel(m.panel)
            );
        }
    }
    out += "\nThe Kinesis Agent's `Destination` is `KinesisStream:` and the stream's \
            name; the producer's `StreamName` is its stream's name, as Kinesis's own.\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_metrics_page_is_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        let want = markdown();
        if std::env::var_os("PIPECTL_UPDATE_DOCS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("docs/metrics.md is writable");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "{PATH} differs from the tables: write it again with `{REGENERATE}` and commit it");
    }

    #[test]
    fn the_page_lists_every_row_once_and_every_alarm() {
        let page = markdown();
        for m in super::super::all() {
            let row = format!("\n| `{}` | `{}` | `{}` | {} | ", m.namespace, m.name, m.dimension, m.stat.as_str());
            assert_eq!(page.matches(&row).count(), 1, "{}", m.name);
        }
        assert_eq!(page.matches("| `iterator_age`").count(), 2);
        assert!(page.contains("`pipectl status`") && page.contains("the dashboard") && page.contains("the alarms"));
    }
}
