//! The dashboard body and the alarms of a spec: names only, no AWS call.

use crate::metrics::{self, Metric, Panel, Stat};
use crate::names::Scope;
use crate::resources::cloudwatch::{instance_placeholder, AlarmSpec};
use crate::spec::{AlarmKind, Spec};
use serde_json::{json, Value};

/// A metric widget: half the width of a row, at `x`, one line per metric.
/// Each line carries its own statistic, so the widget sets none.
fn metric_widget(title: &str, region: &str, y: u32, x: u32, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
        "properties": { "title": title, "region": region, "view": "timeSeries", "period": 300, "metrics": metrics }
    })
}

/// A line of a widget: a row of a metrics table with the value of its
/// dimension for one resource, read with the row's own statistic (the
/// trailing options element CloudWatch allows in a metric array); on the
/// right axis when its unit is not that of the widget's first line, so
/// bytes, ratios or ages never flatten counts drawn beside them.
fn line(m: &Metric, value: &str, right: bool) -> Value {
    if right {
        json!([m.namespace, m.name, m.dimension, value, { "stat": m.stat.as_str(), "yAxis": "right" }])
    } else {
        json!([m.namespace, m.name, m.dimension, value, { "stat": m.stat.as_str() }])
    }
}

/// One resource's row of the dashboard: what comes in and goes out on the
/// left, what lags and fails on the right.
struct Row {
    /// The kind and name of the resource, as the titles begin.
    what: String,
    flow: Vec<Value>,
    health: Vec<Value>,
}

impl Row {
    /// The row of a resource from the table rows AWS reports for it, each
    /// drawn once per value of its dimension (`values`: the Kinesis Agent
    /// reports per destination stream); `Panel::None` rows are not drawn.
    fn of(what: String, rows: Vec<&'static Metric>, values: impl Fn(&Metric) -> Vec<String>) -> Row {
        let mut row = Row { what, flow: Vec::new(), health: Vec::new() };
        let first = |panel: Panel| rows.iter().find(|m| m.panel == panel).map(|m| m.unit);
        let units = (first(Panel::Flow), first(Panel::Health));
        for m in &rows {
            let (panel, unit) = match m.panel {
                Panel::Flow => (&mut row.flow, units.0),
                Panel::Health => (&mut row.health, units.1),
                Panel::None => continue,
            };
            panel.extend(values(m).iter().map(|v| line(m, v, unit != Some(m.unit))));
        }
        row
    }
}

/// The dashboard body for a spec: names only, no AWS call.
pub fn body(spec: &Spec, scope: &Scope) -> Value {
    let region = scope.region.as_str();
    let mut widgets = Vec::new();
    let console = format!("https://{region}.console.aws.amazon.com");
    let mut links = vec![format!("[Kinesis streams]({console}/kinesis/home?region={region}#/streams/list)")];
    if !spec.firehoses.is_empty() {
        links.push(format!("[Firehose]({console}/firehose/home?region={region}#/streams)"));
    }
    if !spec.functions.is_empty() {
        links.push(format!("[Lambda]({console}/lambda/home?region={region}#/functions)"));
    }
    for b in spec.buckets.values() {
        links.push(format!(
            "[s3://{}](https://s3.console.aws.amazon.com/s3/buckets/{}?region={region})",
            b.name, b.name
        ));
    }
    widgets.push(json!({
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 3,
        "properties": { "markdown": format!("# Pipeline `{}`, env `{}`\n{}", spec.pipeline, spec.env, links.join(" · ")) }
    }));
    // Every line is a row of the kind's metrics table that AWS, the Kinesis
    // Agent or pipectl's producer reports for this resource
    // (`metrics::of_*`): a line that could only stay empty is not drawn.
    let mut rows: Vec<Row> = Vec::new();
    for (key, s) in &spec.streams {
        rows.push(Row::of(format!("Stream {}", s.name), metrics::of_stream(spec, key), |_| vec![s.name.clone()]));
    }
    for (key, f) in &spec.firehoses {
        rows.push(Row::of(format!("Firehose {}", f.name), metrics::of_firehose(spec, key), |_| vec![f.name.clone()]));
    }
    for (key, f) in &spec.functions {
        rows.push(Row::of(format!("Function {}", f.name), metrics::of_function(spec, key), |_| vec![f.name.clone()]));
    }
    for (key, a) in &spec.agents {
        let instance = instance_placeholder(key);
        let stream_name = |k: &str| spec.streams.get(k).map(|s| s.name.clone());
        // The Kinesis Agent reports per destination stream; the producer
        // sends to its one stream.
        let mut destinations: Vec<String> = a.flows.iter().filter_map(|f| stream_name(&f.stream)).collect();
        destinations.sort_unstable();
        destinations.dedup();
        let produced: Vec<String> = a.producer.iter().filter_map(|p| stream_name(&p.stream)).collect();
        let runs = if a.producer.is_some() { "pipectl producer" } else { "Kinesis Agent, per destination stream" };
        rows.push(Row::of(format!("Agent host {} ({runs})", a.name), metrics::of_host(spec, key), |m| {
            match m.namespace {
                metrics::host::AGENT_NAMESPACE => {
                    destinations.iter().map(|s| metrics::host::agent_destination(s)).collect()
                }
                metrics::host::PRODUCER_NAMESPACE => produced.clone(),
                _ => vec![instance.clone()],
            }
        }));
    }
    let mut y = 3;
    for row in rows.into_iter().filter(|r| !r.flow.is_empty() || !r.health.is_empty()) {
        let panels = [(0, "in and out", row.flow), (12, "lag and failures", row.health)];
        for (x, says, lines) in panels.into_iter().filter(|(_, _, l)| !l.is_empty()) {
            widgets.push(metric_widget(&format!("{}: {says}", row.what), region, y, x, lines));
        }
        y += 6;
    }
    // Log-based metrics: what each metric filter counts from the log lines,
    // published without a dimension.
    for m in spec.metric_filters.values() {
        let title = format!("Log metric {}/{} ({})", m.namespace, m.metric, m.name);
        for (x, stat) in [(0, Stat::Sum), (12, Stat::Maximum)] {
            let lines = vec![json!([m.namespace, m.metric, { "stat": stat.as_str() }])];
            let says = stat.as_str().to_lowercase();
            widgets.push(metric_widget(&format!("{title}: {says}"), region, y, x, lines));
        }
        y += 6;
    }
    json!({ "widgets": widgets })
}

/// An alarm of the spec in CloudWatch's terms: its metric, dimension and
/// statistic are a row of the kind's metrics table, the one the dashboard
/// and `status` read.
pub fn alarm(key: &str, spec: &Spec) -> Option<AlarmSpec> {
    let a = spec.alarms.get(key)?;
    let (value, threshold, what) = match &a.kind {
        AlarmKind::StreamIteratorAge { stream, max_ms } => {
            let s = &spec.streams.get(stream)?.name;
            (s.clone(), *max_ms as f64, format!("records in stream {s} older than {max_ms} ms"))
        }
        AlarmKind::FunctionIteratorAge { function, max_ms } => {
            let f = &spec.functions.get(function)?.name;
            (f.clone(), *max_ms as f64, format!("function {f} behind its stream by more than {max_ms} ms"))
        }
        AlarmKind::DeliveryFreshness { firehose, max_seconds } => {
            let f = &spec.firehoses.get(firehose)?.name;
            (f.clone(), *max_seconds as f64, format!("delivery stream {f} more than {max_seconds} s behind"))
        }
        AlarmKind::FunctionErrors { function, max_errors } => {
            let f = &spec.functions.get(function)?.name;
            (f.clone(), *max_errors as f64, format!("function {f} errors above {max_errors}"))
        }
    };
    let row = metrics::of_alarm(&a.kind);
    Some(AlarmSpec {
        namespace: row.namespace,
        metric: row.name,
        dimension: (row.dimension, value),
        statistic: row.stat.as_str(),
        threshold,
        period: a.period_seconds,
        evaluation_periods: a.evaluation_periods,
        description: format!("pipectl {}/{}: {what}", spec.pipeline, spec.env),
    })
}

#[cfg(test)]
mod tests;
