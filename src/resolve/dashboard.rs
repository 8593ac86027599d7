//! The dashboard body and the alarms of a spec: names only, no AWS call.

use crate::names::Scope;
use crate::resources::cloudwatch::{instance_placeholder, AlarmSpec};
use crate::spec::{AlarmKind, Spec};
use serde_json::{json, Value};

fn metric_widget(title: &str, region: &str, y: u32, x: u32, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
        "properties": { "title": title, "region": region, "view": "timeSeries", "stat": stat, "period": 300, "metrics": metrics }
    })
}

/// A metric widget: title, statistic, metrics.
type Widget = (String, &'static str, Vec<Value>);

/// What shows a stream falling behind or throttled.
const LAG_METRICS: [&str; 3] =
    ["ReadProvisionedThroughputExceeded", "WriteProvisionedThroughputExceeded", "GetRecords.IteratorAgeMilliseconds"];

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
    // One row per resource: what goes in (sums) on the left, what lags or
    // fails (maxima) on the right.
    let mut rows: Vec<[Widget; 2]> = Vec::new();
    for s in spec.streams.values() {
        let m = |metric: &str| json!(["AWS/Kinesis", metric, "StreamName", s.name]);
        let input = ["IncomingRecords", "IncomingBytes", "PutRecord.Success", "GetRecords.Success"];
        let lag = LAG_METRICS;
        rows.push([
            (format!("Stream {}: records in, puts and reads", s.name), "Sum", input.map(m).to_vec()),
            (format!("Stream {}: throttling and iterator age", s.name), "Maximum", lag.map(m).to_vec()),
        ]);
    }
    for f in spec.firehoses.values() {
        let m = |metric: &str| json!(["AWS/Firehose", metric, "DeliveryStreamName", f.name]);
        let (input, lag) =
            (["IncomingRecords", "DeliveryToS3.Success"], ["DeliveryToS3.DataFreshness", "FailedConversion.Records"]);
        rows.push([
            (format!("Firehose {}: records in and delivered", f.name), "Sum", input.map(m).to_vec()),
            (format!("Firehose {}: freshness and conversion failures", f.name), "Maximum", lag.map(m).to_vec()),
        ]);
    }
    for f in spec.functions.values() {
        let m = |metric: &str| json!(["AWS/Lambda", metric, "FunctionName", f.name]);
        rows.push([
            (format!("Function {}: invocations and errors", f.name), "Sum", ["Invocations", "Errors"].map(m).to_vec()),
            (
                format!("Function {}: duration and iterator age", f.name),
                "Maximum",
                ["Duration", "IteratorAge"].map(m).to_vec(),
            ),
        ]);
    }
    for (key, a) in &spec.agents {
        let cpu = vec![json!(["AWS/EC2", "CPUUtilization", "InstanceId", instance_placeholder(key)])];
        let m = |metric: &str| json!([crate::resources::role::AGENT_METRIC_NAMESPACE, metric]);
        let sent = ["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"].map(m).to_vec();
        rows.push([
            (format!("Agent host {}: CPU", a.name), "Average", cpu),
            (format!("Agent host {}: Kinesis Agent", a.name), "Sum", sent),
        ]);
    }
    // Log-based metrics: what each metric filter counts from the log lines.
    for m in spec.metric_filters.values() {
        let metric = vec![json!([m.namespace, m.metric])];
        let title = format!("Log metric {}/{} ({})", m.namespace, m.metric, m.name);
        rows.push([(format!("{title}: sum"), "Sum", metric.clone()), (format!("{title}: maximum"), "Maximum", metric)]);
    }
    for (i, [left, right]) in rows.into_iter().enumerate() {
        let y = 3 + 6 * i as u32;
        widgets.push(metric_widget(&left.0, region, y, 0, left.1, left.2));
        widgets.push(metric_widget(&right.0, region, y, 12, right.1, right.2));
    }
    json!({ "widgets": widgets })
}

/// An alarm of the spec in CloudWatch's terms.
pub fn alarm(key: &str, spec: &Spec) -> Option<AlarmSpec> {
    let a = spec.alarms.get(key)?;
    let (namespace, metric, dimension, statistic, threshold, what) = match &a.kind {
        AlarmKind::StreamIteratorAge { stream, max_ms } => {
            let s = &spec.streams.get(stream)?.name;
            (
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                ("StreamName", s.clone()),
                "Maximum",
                *max_ms as f64,
                format!("records in stream {s} older than {max_ms} ms"),
            )
        }
        AlarmKind::FunctionIteratorAge { function, max_ms } => {
            let f = &spec.functions.get(function)?.name;
            (
                "AWS/Lambda",
                "IteratorAge",
                ("FunctionName", f.clone()),
                "Maximum",
                *max_ms as f64,
                format!("function {f} behind its stream by more than {max_ms} ms"),
            )
        }
        AlarmKind::DeliveryFreshness { firehose, max_seconds } => {
            let f = &spec.firehoses.get(firehose)?.name;
            (
                "AWS/Firehose",
                "DeliveryToS3.DataFreshness",
                ("DeliveryStreamName", f.clone()),
                "Maximum",
                *max_seconds as f64,
                format!("delivery stream {f} more than {max_seconds} s behind"),
            )
        }
        AlarmKind::FunctionErrors { function, max_errors } => {
            let f = &spec.functions.get(function)?.name;
            (
                "AWS/Lambda",
                "Errors",
                ("FunctionName", f.clone()),
                "Sum",
                *max_errors as f64,
                format!("function {f} errors above {max_errors}"),
            )
        }
    };
    Some(AlarmSpec {
        namespace,
        metric,
        dimension,
        statistic,
        threshold,
        period: a.period_seconds,
        evaluation_periods: a.evaluation_periods,
        description: format!("pipectl {}/{}: {what}", spec.pipeline, spec.env),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_covers_every_resource_of_the_lab_with_a_region_on_every_widget() {
        let l = crate::load::load_pipeline("lab");
        let b = body(&l.spec, &Scope::new("eu-west-1", "1"));
        let text = b.to_string();
        for name in [
            "taxi-lab-trips",
            "taxi-lab-raw",
            "taxi-lab-to-lake",
            "taxi-lab-filter",
            "${agent.producer.instance_id}",
            "AWSKinesisAgent",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        let widgets = b["widgets"].as_array().unwrap();
        assert_eq!(widgets.len(), 1 + 2 * (1 + 2 + 1 + 1));
        for w in widgets.iter().filter(|w| w["type"] == "metric") {
            assert_eq!(w["properties"]["region"], "eu-west-1");
        }
        assert!(widgets[0]["properties"]["markdown"].as_str().unwrap().contains("Pipeline `taxi-lab`, env `default`"));
    }
}
