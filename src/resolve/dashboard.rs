//! The dashboard body and the alarms of a spec: names only, no AWS call.

use crate::names::Scope;
use crate::resources::cloudwatch::{instance_placeholder, AlarmSpec};
use crate::spec::{AlarmKind, FirehoseSource, Spec};
use serde_json::{json, Value};

fn metric_widget(title: &str, region: &str, y: u32, x: u32, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
        "properties": { "title": title, "region": region, "view": "timeSeries", "stat": stat, "period": 300, "metrics": metrics }
    })
}

/// A metric widget: title, statistic, metrics.
type Widget = (String, &'static str, Vec<Value>);

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
    // fails (maxima) on the right. Every line is a metric AWS, or the
    // Kinesis Agent, emits for this spec's traffic: a line that could only
    // stay empty (a reader's metric on a stream nobody reads, an API no
    // producer of the spec calls) is left out.
    let mut rows: Vec<[Widget; 2]> = Vec::new();
    for (key, s) in &spec.streams {
        let m = |metric: &str| json!(["AWS/Kinesis", metric, "StreamName", s.name]);
        rows.push(stream_row(&s.name, m, is_read(spec, key)));
    }
    for f in spec.firehoses.values() {
        let m = |metric: &str| json!(["AWS/Firehose", metric, "DeliveryStreamName", f.name]);
        // A stream-sourced Firehose reports what it read from the stream;
        // IncomingRecords is Direct PUT's.
        let incoming = match f.source {
            FirehoseSource::Stream(_) => "DataReadFromKinesisStream.Records",
            FirehoseSource::Direct => "IncomingRecords",
        };
        let mut input = vec![incoming, "DeliveryToS3.Records", "DeliveryToS3.Success"];
        let mut lag = vec!["DeliveryToS3.DataFreshness"];
        // Conversion metrics exist only where the Firehose converts.
        if f.destination.convert.is_some() {
            input.push("SucceedConversion.Records");
            lag.push("FailedConversion.Records");
        }
        let title = if f.destination.convert.is_some() {
            format!("Firehose {}: freshness and conversion failures", f.name)
        } else {
            format!("Firehose {}: freshness", f.name)
        };
        rows.push([
            (format!("Firehose {}: records in ({incoming}) and delivered", f.name), "Sum", all(&input, m)),
            (title, "Maximum", all(&lag, m)),
        ]);
    }
    for f in spec.functions.values() {
        let m = |metric: &str| json!(["AWS/Lambda", metric, "FunctionName", f.name]);
        // IteratorAge is reported only for invocations by a stream's event
        // source mapping.
        let (lag, lag_title) = if f.trigger.is_some() {
            (vec!["Duration", "IteratorAge"], "duration and iterator age")
        } else {
            (vec!["Duration"], "duration")
        };
        rows.push([
            (format!("Function {}: invocations and errors", f.name), "Sum", all(&["Invocations", "Errors"], m)),
            (format!("Function {}: {lag_title}", f.name), "Maximum", all(&lag, m)),
        ]);
    }
    for (key, a) in &spec.agents {
        let instance = instance_placeholder(key);
        let ec2 = |metric: &str| json!(["AWS/EC2", metric, "InstanceId", instance]);
        let cpu = (format!("Agent host {}: CPU", a.name), "Average", vec![ec2("CPUUtilization")]);
        let right = if a.flows.is_empty() {
            // The built-in producer publishes no metrics of its own: what it
            // sends shows as the host's network out (and on its stream).
            (format!("Agent host {}: network out (the producer's puts)", a.name), "Sum", vec![ec2("NetworkOut")])
        } else {
            (format!("Agent host {}: Kinesis Agent, per destination stream", a.name), "Sum", agent_metrics(spec, a))
        };
        rows.push([cpu, right]);
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

/// Metrics of one kind of resource, by name.
fn all(names: &[&str], m: impl Fn(&str) -> Value) -> Vec<Value> {
    names.iter().map(|n| m(n)).collect()
}

/// Whether anything of the spec reads the stream (a Firehose or a
/// function's trigger): GetRecords metrics and the iterator age exist only
/// then.
fn is_read(spec: &Spec, stream: &str) -> bool {
    spec.firehoses.values().any(|f| matches!(&f.source, FirehoseSource::Stream(s) if s == stream))
        || spec.functions.values().any(|f| f.trigger.as_ref().is_some_and(|t| t.stream == stream))
}

/// A stream's row. Records put are IncomingRecords (PutRecord and PutRecords
/// alike) and PutRecords.SuccessfulRecords: `pipectl produce`, the host
/// producer and the Kinesis Agent all call PutRecords, so PutRecord.Success
/// would stay empty under them.
fn stream_row(name: &str, m: impl Fn(&str) -> Value, read: bool) -> [Widget; 2] {
    let mut input = vec!["IncomingRecords", "IncomingBytes", "PutRecords.SuccessfulRecords"];
    let mut lag = vec!["WriteProvisionedThroughputExceeded"];
    if read {
        input.extend(["GetRecords.Records", "GetRecords.Success"]);
        lag.extend(["ReadProvisionedThroughputExceeded", "GetRecords.IteratorAgeMilliseconds"]);
    }
    let (in_title, lag_title) = if read {
        ("records put (PutRecord and PutRecords) and read", "throttling and iterator age")
    } else {
        ("records put (PutRecord and PutRecords)", "write throttling")
    };
    [
        (format!("Stream {name}: {in_title}"), "Sum", all(&input, &m)),
        (format!("Stream {name}: {lag_title}"), "Maximum", all(&lag, &m)),
    ]
}

/// The Kinesis Agent's metrics as it emits them (its `KinesisSender`): in
/// its CloudWatch namespace, with the one dimension `Destination` =
/// `KinesisStream:<stream name>` (and `Instance` only with
/// `cloudwatch.tagInstance`, which pipectl does not set).
fn agent_metrics(spec: &Spec, a: &crate::spec::Agent) -> Vec<Value> {
    let mut streams: Vec<&str> =
        a.flows.iter().filter_map(|f| spec.streams.get(&f.stream)).map(|s| s.name.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let mut metrics = Vec::new();
    for stream in streams {
        for metric in AGENT_METRICS {
            metrics.push(json!([
                crate::resources::role::AGENT_METRIC_NAMESPACE,
                metric,
                "Destination",
                format!("KinesisStream:{stream}")
            ]));
        }
    }
    metrics
}

/// What the Kinesis Agent's sender reports on every PutRecords call.
const AGENT_METRICS: [&str; 4] = ["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"];

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

    /// Each metric widget of a lab spec's dashboard: its title and lines.
    fn lines(pipeline: &str) -> Vec<(String, Vec<Vec<String>>)> {
        let l = crate::load::load_pipeline(pipeline);
        let b = body(&l.spec, &Scope::new("us-east-1", "1"));
        let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        b["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["type"] == "metric")
            .map(|w| {
                let metrics = w["properties"]["metrics"].as_array().unwrap();
                let metrics = metrics.iter().map(|m| m.as_array().unwrap().iter().map(text).collect()).collect();
                (text(&w["properties"]["title"]), metrics)
            })
            .collect()
    }

    fn widget(pipeline: &str, title_start: &str) -> (String, Vec<Vec<String>>) {
        lines(pipeline).into_iter().find(|(t, _)| t.starts_with(title_start)).expect(title_start)
    }

    const LABS: [&str; 6] = [
        "lab",
        "kinesis-agent-lambda-s3",
        "firehose-tenant-metrics",
        "lambda-firehose-parquet-glue",
        "sensor-streaming-lab",
        "stream-data-processor",
    ];

    #[test]
    fn sensor_dashboard_charted_put_record_success_which_putrecords_producers_never_emit() {
        let (title, metrics) = widget("sensor-streaming-lab", "Stream sensor-data-stream: records put");
        assert!(title.contains("PutRecord and PutRecords"), "{title}");
        let names: Vec<&str> = metrics.iter().map(|m| m[1].as_str()).collect();
        assert_eq!(
            names,
            [
                "IncomingRecords",
                "IncomingBytes",
                "PutRecords.SuccessfulRecords",
                "GetRecords.Records",
                "GetRecords.Success"
            ]
        );
        for m in &metrics {
            assert_eq!(m[..1], ["AWS/Kinesis"]);
            assert_eq!(m[2..], ["StreamName", "sensor-data-stream"]);
        }
        for pipeline in LABS {
            assert!(lines(pipeline).iter().all(|(_, ms)| ms.iter().all(|m| m[1] != "PutRecord.Success")), "{pipeline}");
        }
    }

    #[test]
    fn lab_agent_widgets_omitted_the_agents_destination_dimension() {
        for (pipeline, stream) in [("lab", "taxi-lab-trips"), ("kinesis-agent-lambda-s3", "agent-lab-stream")] {
            let metrics: Vec<_> =
                lines(pipeline).into_iter().filter(|(t, _)| t.contains("Kinesis Agent")).flat_map(|(_, m)| m).collect();
            assert!(!metrics.is_empty(), "{pipeline}");
            let names: Vec<&str> = metrics.iter().map(|m| m[1].as_str()).collect();
            assert_eq!(names, ["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"]);
            for m in &metrics {
                assert_eq!(m[0], "AWSKinesisAgent");
                assert_eq!(m[2..], ["Destination".to_string(), format!("KinesisStream:{stream}")], "{pipeline}");
            }
        }
    }

    #[test]
    fn producer_host_showed_kinesis_agent_lines_though_no_agent_runs_on_it() {
        let host: Vec<_> =
            lines("stream-data-processor").into_iter().filter(|(t, _)| t.starts_with("Agent host")).collect();
        assert_eq!(host.len(), 2);
        for (title, metrics) in host {
            assert!(!title.contains("Kinesis Agent"), "{title}");
            for m in metrics {
                assert_eq!(m[0], "AWS/EC2");
                assert_eq!(m[2..], ["InstanceId", "${agent.producer.instance_id}"]);
                assert!(["CPUUtilization", "NetworkOut"].contains(&m[1].as_str()));
            }
        }
    }

    #[test]
    fn stream_sourced_firehose_charted_incoming_records_which_only_direct_put_reports() {
        let (title, metrics) = widget("firehose-tenant-metrics", "Firehose tenant_metrics_firehose: records in");
        assert!(title.contains("DataReadFromKinesisStream.Records"));
        let names: Vec<&str> = metrics.iter().map(|m| m[1].as_str()).collect();
        assert_eq!(names, ["DataReadFromKinesisStream.Records", "DeliveryToS3.Records", "DeliveryToS3.Success"]);
        let (_, direct) = widget("lambda-firehose-parquet-glue", "Firehose nyc-taxi-trips: records in");
        let names: Vec<&str> = direct.iter().map(|m| m[1].as_str()).collect();
        assert_eq!(
            names,
            ["IncomingRecords", "DeliveryToS3.Records", "DeliveryToS3.Success", "SucceedConversion.Records"]
        );
        for m in metrics.iter().chain(&direct) {
            assert_eq!(m[0], "AWS/Firehose");
            assert_eq!(m[2], "DeliveryStreamName");
        }
    }

    #[test]
    fn firehose_without_conversion_charted_conversion_failures_it_never_reports() {
        let (title, metrics) = widget("sensor-streaming-lab", "Firehose sensor-data-delivery: freshness");
        assert_eq!(title, "Firehose sensor-data-delivery: freshness");
        assert_eq!(
            metrics,
            [["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", "sensor-data-delivery"]]
        );
        let (_, converting) = widget("lab", "Firehose taxi-lab-to-lake: freshness");
        assert!(converting.iter().any(|m| m[1] == "FailedConversion.Records"));
    }

    /// What each metric line may be: a metric its namespace emits for the
    /// labs' traffic, with that metric's dimension.
    const EMITTED: [(&str, &str, &[&str]); 5] = [
        (
            "AWS/Kinesis",
            "StreamName",
            &[
                "IncomingRecords",
                "IncomingBytes",
                "PutRecords.SuccessfulRecords",
                "GetRecords.Records",
                "GetRecords.Success",
                "WriteProvisionedThroughputExceeded",
                "ReadProvisionedThroughputExceeded",
                "GetRecords.IteratorAgeMilliseconds",
            ],
        ),
        (
            "AWS/Firehose",
            "DeliveryStreamName",
            &[
                "IncomingRecords",
                "DataReadFromKinesisStream.Records",
                "DeliveryToS3.Records",
                "DeliveryToS3.Success",
                "DeliveryToS3.DataFreshness",
                "SucceedConversion.Records",
                "FailedConversion.Records",
            ],
        ),
        ("AWS/Lambda", "FunctionName", &["Invocations", "Errors", "Duration", "IteratorAge"]),
        ("AWS/EC2", "InstanceId", &["CPUUtilization", "NetworkOut"]),
        ("AWSKinesisAgent", "Destination", &["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"]),
    ];

    #[test]
    fn every_line_of_every_lab_dashboard_is_a_metric_emitted_with_its_dimension() {
        for pipeline in LABS {
            let l = crate::load::load_pipeline(pipeline);
            for (title, metrics) in lines(pipeline) {
                assert!(!metrics.is_empty(), "{pipeline}: {title}");
                for m in metrics {
                    if l.spec.metric_filters.values().any(|f| f.namespace == m[0] && f.metric == m[1]) {
                        assert_eq!(m.len(), 2, "metric filters publish without dimensions");
                        continue;
                    }
                    let (_, dim, names) = EMITTED.iter().find(|(ns, _, _)| *ns == m[0]).expect("known namespace");
                    assert!(names.contains(&m[1].as_str()), "{pipeline}: {title}: {m:?}");
                    assert_eq!(m.len(), 4, "{pipeline}: {title}: {m:?}");
                    assert_eq!(m[2], *dim, "{pipeline}: {title}: {m:?}");
                }
            }
        }
    }

    #[test]
    fn lab_alarms_watch_metrics_emitted_with_their_dimension() {
        for pipeline in LABS {
            let l = crate::load::load_pipeline(pipeline);
            for key in l.spec.alarms.keys() {
                let a = alarm(key, &l.spec).unwrap();
                let (_, dim, names) = EMITTED.iter().find(|(ns, _, _)| *ns == a.namespace).expect("known namespace");
                assert!(names.contains(&a.metric), "{pipeline}/{key}: {}", a.metric);
                assert_eq!(a.dimension.0, *dim, "{pipeline}/{key}");
            }
        }
        let l = crate::load::load_pipeline("lab");
        let a = alarm("iterator_age", &l.spec).unwrap();
        assert_eq!((a.metric, a.dimension.1.as_str()), ("GetRecords.IteratorAgeMilliseconds", "taxi-lab-trips"));
    }
}
