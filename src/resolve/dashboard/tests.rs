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

/// A metric widget of a dashboard: its title, its place (0 left, 12
/// right), and its lines, each as its metric's parts (namespace, name,
/// dimension and value) and the statistic of its options element.
struct Widget {
    title: String,
    x: u64,
    lines: Vec<(Vec<String>, Option<String>)>,
}

impl Widget {
    fn metrics(&self) -> Vec<Vec<String>> {
        self.lines.iter().map(|(m, _)| m.clone()).collect()
    }

    fn names(&self) -> Vec<String> {
        self.lines.iter().map(|(m, _)| m[1].clone()).collect()
    }
}

fn widgets(pipeline: &str) -> Vec<Widget> {
    let l = crate::load::load_pipeline(pipeline);
    let b = body(&l.spec, &Scope::new("us-east-1", "1"));
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    b["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .map(|w| {
            assert!(w["properties"].get("stat").is_none(), "each line has its own statistic");
            let lines = w["properties"]["metrics"].as_array().unwrap().iter().map(|m| {
                let parts = m.as_array().unwrap();
                let (last, id) = parts.split_last().unwrap();
                match last.as_object() {
                    Some(o) => (id.iter().map(text).collect(), o.get("stat").map(text)),
                    None => (parts.iter().map(text).collect(), None),
                }
            });
            Widget { title: text(&w["properties"]["title"]), x: w["x"].as_u64().unwrap(), lines: lines.collect() }
        })
        .collect()
}

fn widget(pipeline: &str, title: &str) -> Widget {
    widgets(pipeline).into_iter().find(|w| w.title == title).expect(title)
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
    let w = widget("sensor-streaming-lab", "Stream sensor-data-stream: in and out");
    assert_eq!(w.names(), ["IncomingRecords", "IncomingBytes", "PutRecords.SuccessfulRecords", "GetRecords.Records",]);
    for m in w.metrics() {
        assert_eq!(m[..1], ["AWS/Kinesis"]);
        assert_eq!(m[2..], ["StreamName", "sensor-data-stream"]);
    }
    for pipeline in LABS {
        assert!(widgets(pipeline).iter().all(|w| w.names().iter().all(|n| n != "PutRecord.Success")), "{pipeline}");
    }
}

#[test]
fn lab_agent_widgets_omitted_the_agents_destination_dimension() {
    for (pipeline, stream) in [("lab", "taxi-lab-trips"), ("kinesis-agent-lambda-s3", "agent-lab-stream")] {
        let host: Vec<Widget> =
            widgets(pipeline).into_iter().filter(|w| w.title.contains("(Kinesis Agent, per destination")).collect();
        assert_eq!(host.len(), 2, "{pipeline}");
        let agent: Vec<Vec<String>> =
            host.iter().flat_map(Widget::metrics).filter(|m| m[0] == metrics::host::AGENT_NAMESPACE).collect();
        let mut names: Vec<&str> = agent.iter().map(|m| m[1].as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"]);
        for m in &agent {
            assert_eq!(m[0], "AWSKinesisAgent");
            assert_eq!(m[2..], ["Destination".to_string(), format!("KinesisStream:{stream}")], "{pipeline}");
        }
    }
}

#[test]
fn producer_host_showed_kinesis_agent_lines_though_no_agent_runs_on_it() {
    let host: Vec<Widget> =
        widgets("stream-data-processor").into_iter().filter(|w| w.title.starts_with("Agent host")).collect();
    assert_eq!(host.len(), 2);
    for w in &host {
        assert!(!w.title.contains("Kinesis Agent"), "{}", w.title);
        for m in w.metrics() {
            assert_ne!(m[0], "AWSKinesisAgent");
            if m[0] == "AWS/EC2" {
                assert_eq!(m[2..], ["InstanceId", "${agent.producer.instance_id}"]);
                assert!(["CPUUtilization", "NetworkOut"].contains(&m[1].as_str()));
            }
        }
    }
}

#[test]
fn producer_host_dashboard_showed_none_of_the_producers_own_metrics() {
    let row = |x: u64| {
        let w = widgets("stream-data-processor")
            .into_iter()
            .find(|w| w.title.starts_with("Agent host") && w.x == x)
            .unwrap();
        w.metrics().into_iter().filter(|m| m[0] == metrics::host::PRODUCER_NAMESPACE).collect::<Vec<_>>()
    };
    let line = |name: &str| ["PipectlProducer", name, "StreamName", "stream-data-processor"].map(String::from).to_vec();
    assert_eq!(row(0), [line("RecordsSent")], "what it sent, with what comes in and goes out");
    assert_eq!(row(12), [line("RecordsFailed")], "what it could not send, with what lags and fails");
}

#[test]
fn stream_sourced_firehose_charted_incoming_records_which_only_direct_put_reports() {
    let w = widget("firehose-tenant-metrics", "Firehose tenant_metrics_firehose: in and out");
    assert_eq!(w.names(), ["DataReadFromKinesisStream.Records", "DeliveryToS3.Records"]);
    let direct = widget("lambda-firehose-parquet-glue", "Firehose nyc-taxi-trips: in and out");
    assert_eq!(direct.names(), ["IncomingRecords", "DeliveryToS3.Records", "SucceedConversion.Records"]);
    for m in w.metrics().iter().chain(&direct.metrics()) {
        assert_eq!(m[0], "AWS/Firehose");
        assert_eq!(m[2], "DeliveryStreamName");
    }
}

#[test]
fn firehose_without_conversion_charted_conversion_failures_it_never_reports() {
    let w = widget("sensor-streaming-lab", "Firehose sensor-data-delivery: lag and failures");
    assert_eq!(
        w.metrics(),
        [["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", "sensor-data-delivery"]]
    );
    let converting = widget("lab", "Firehose taxi-lab-to-lake: lag and failures");
    assert!(converting.names().iter().any(|n| n == "FailedConversion.Records"));
}

/// What each metric line may be: a metric its namespace emits for the
/// labs' traffic, with that metric's dimension. Written apart from the
/// tables, so a row added to a table for a metric AWS does not emit shows.
const EMITTED: [(&str, &str, &[&str]); 6] = [
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
            "ExecuteProcessing.Success",
        ],
    ),
    ("AWS/Lambda", "FunctionName", &["Invocations", "Errors", "Duration", "IteratorAge"]),
    ("AWS/EC2", "InstanceId", &["CPUUtilization", "NetworkOut"]),
    ("AWSKinesisAgent", "Destination", &["BytesSent", "RecordSendAttempts", "RecordSendErrors", "ServiceErrors"]),
    ("PipectlProducer", "StreamName", &["RecordsSent", "RecordsFailed"]),
];

#[test]
fn every_line_of_every_lab_dashboard_is_a_metric_emitted_with_its_dimension() {
    for pipeline in LABS {
        let l = crate::load::load_pipeline(pipeline);
        for w in widgets(pipeline) {
            assert!(!w.lines.is_empty(), "{pipeline}: {}", w.title);
            for m in w.metrics() {
                if l.spec.metric_filters.values().any(|f| f.namespace == m[0] && f.metric == m[1]) {
                    assert_eq!(m.len(), 2, "metric filters publish without dimensions");
                    continue;
                }
                let (_, dim, names) = EMITTED.iter().find(|(ns, _, _)| *ns == m[0]).expect("known namespace");
                assert!(names.contains(&m[1].as_str()), "{pipeline}: {}: {m:?}", w.title);
                assert_eq!(m.len(), 4, "{pipeline}: {}: {m:?}", w.title);
                assert_eq!(m[2], *dim, "{pipeline}: {}: {m:?}", w.title);
            }
        }
    }
}

#[test]
fn every_line_of_every_lab_dashboard_is_a_row_of_a_table_with_its_own_statistic_and_dimension() {
    for pipeline in LABS {
        let l = crate::load::load_pipeline(pipeline);
        for w in widgets(pipeline) {
            for (m, stat) in &w.lines {
                let stat = stat.as_deref().unwrap_or_else(|| panic!("{pipeline}: {}: {m:?} has no statistic", w.title));
                if l.spec.metric_filters.values().any(|f| f.namespace == m[0] && f.metric == m[1]) {
                    let want = if w.x == 0 { "Sum" } else { "Maximum" };
                    assert_eq!(stat, want, "{pipeline}: {}", w.title);
                    continue;
                }
                let row = metrics::all()
                    .iter()
                    .find(|r| r.namespace == m[0] && r.name == m[1])
                    .unwrap_or_else(|| panic!("{pipeline}: {}: {m:?} is in no table", w.title));
                assert_eq!((m.len(), m[2].as_str()), (4, row.dimension), "{pipeline}: {}: {m:?}", w.title);
                assert_eq!(stat, row.stat.as_str(), "{pipeline}: {}: {m:?}", w.title);
                let x = match row.panel {
                    Panel::Flow => 0,
                    Panel::Health => 12,
                    Panel::None => panic!("{pipeline}: {m:?} is drawn though its row says not"),
                };
                assert_eq!(w.x, x, "{pipeline}: {}: {m:?} in its row's panel", w.title);
            }
        }
    }
}

#[test]
fn each_resource_is_drawn_with_exactly_the_rows_aws_reports_for_it() {
    for pipeline in LABS {
        let l = crate::load::load_pipeline(pipeline);
        let spec = &l.spec;
        let drawn = |value: &str| -> Vec<String> {
            let mut names: Vec<String> = widgets(pipeline)
                .iter()
                .flat_map(Widget::metrics)
                .filter(|m| m.len() == 4 && m[3] == value)
                .map(|m| format!("{}/{}", m[0], m[1]))
                .collect();
            names.sort();
            names
        };
        let want = |rows: Vec<&'static Metric>| -> Vec<String> {
            let mut names: Vec<String> =
                rows.iter().filter(|r| r.panel != Panel::None).map(|r| format!("{}/{}", r.namespace, r.name)).collect();
            names.sort();
            names
        };
        for (key, s) in &spec.streams {
            // A producer's own metrics carry its stream's name too.
            let produced = spec.agents.values().filter_map(|a| a.producer.as_ref()).any(|p| &p.stream == key);
            let mut rows = metrics::of_stream(spec, key);
            if produced {
                rows.extend(metrics::host::PRODUCER.iter().filter(|r| r.panel != Panel::None));
            }
            assert_eq!(drawn(&s.name), want(rows), "{pipeline}: stream {key}");
        }
        for (key, f) in &spec.firehoses {
            assert_eq!(drawn(&f.name), want(metrics::of_firehose(spec, key)), "{pipeline}: firehose {key}");
        }
        for (key, f) in &spec.functions {
            assert_eq!(drawn(&f.name), want(metrics::of_function(spec, key)), "{pipeline}: function {key}");
        }
        for key in spec.agents.keys() {
            let ec2: Vec<_> = metrics::of_host(spec, key).into_iter().filter(|r| r.namespace == "AWS/EC2").collect();
            assert_eq!(drawn(&instance_placeholder(key)), want(ec2), "{pipeline}: host {key}");
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
            // The alarm watches a row of the table, read as the table says.
            let row = metrics::all().iter().find(|r| r.namespace == a.namespace && r.name == a.metric).unwrap();
            assert_eq!((a.dimension.0, a.statistic), (row.dimension, row.stat.as_str()), "{pipeline}/{key}");
        }
    }
    let l = crate::load::load_pipeline("lab");
    let a = alarm("iterator_age", &l.spec).unwrap();
    assert_eq!((a.metric, a.dimension.1.as_str()), ("GetRecords.IteratorAgeMilliseconds", "taxi-lab-trips"));
}

#[test]
fn every_kind_of_alarm_keeps_the_shape_deployed_alarms_have() {
    let spec = "pipeline: p
streams: { s: {} }
buckets: { b: {} }
firehoses: { f: { source: { stream: s }, destination: { bucket: b } } }
functions:
  g: { runtime: python3.12, code: ../templates/lambda/filter_to_firehose.py, handler: filter_to_firehose.handler, trigger: { stream: s } }
alarms:
  age: { kind: iterator_age, stream: s, max_ms: 1000 }
  lambda_age: { kind: iterator_age, function: g, max_ms: 2000 }
  fresh: { kind: delivery_freshness, firehose: f, max_seconds: 900 }
  errors: { kind: function_errors, function: g, max_errors: 0 }
";
    let opts = crate::spec::Options::default();
    let l = crate::load::load_str(spec, "p.yaml", std::path::Path::new("pipelines"), &opts).unwrap();
    let shape = |key: &str| {
        let a = alarm(key, &l.spec).unwrap();
        (a.namespace, a.metric, a.dimension.0, a.statistic)
    };
    assert_eq!(shape("age"), ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "Maximum"));
    assert_eq!(shape("lambda_age"), ("AWS/Lambda", "IteratorAge", "FunctionName", "Maximum"));
    assert_eq!(shape("fresh"), ("AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", "Maximum"));
    assert_eq!(shape("errors"), ("AWS/Lambda", "Errors", "FunctionName", "Sum"));
}

#[test]
fn a_widget_drew_bytes_and_ratios_on_the_axis_of_its_record_counts() {
    let l = crate::load::load_pipeline("lab");
    let b = body(&l.spec, &Scope::new("us-east-1", "1"));
    for w in b["widgets"].as_array().unwrap().iter().filter(|w| w["type"] == "metric") {
        let lines = w["properties"]["metrics"].as_array().unwrap();
        let unit = |line: &Value| {
            let name = line[1].as_str().unwrap();
            crate::metrics::all().iter().find(|m| m.name == name).map(|m| m.unit)
        };
        let first = unit(&lines[0]);
        for line in lines {
            let options = line.as_array().unwrap().last().unwrap();
            let right = options.get("yAxis").is_some_and(|a| a == "right");
            assert_eq!(right, unit(line) != first, "{}: {line}", w["properties"]["title"]);
        }
    }
    let stream = b.to_string();
    assert!(
        stream.contains(r#""IncomingBytes","StreamName","taxi-lab-trips",{"stat":"Sum","yAxis":"right"}"#),
        "{stream}"
    );
}

#[test]
fn a_widget_drew_a_third_unit_on_an_axis_already_taken() {
    for pipeline in LABS {
        let l = crate::load::load_pipeline(pipeline);
        let b = body(&l.spec, &Scope::new("us-east-1", "1"));
        for w in b["widgets"].as_array().unwrap().iter().filter(|w| w["type"] == "metric") {
            let units: std::collections::BTreeSet<String> = w["properties"]["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|line| crate::metrics::all().iter().find(|m| line[1] == m.name))
                .map(|m| format!("{:?}", m.unit))
                .collect();
            assert!(units.len() <= 2, "{pipeline}: {}: {units:?}", w["properties"]["title"]);
        }
    }
}
