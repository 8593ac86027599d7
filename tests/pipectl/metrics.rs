//! The metrics tables against the emulator: a producer host's role, its
//! dashboard row and an alarm, as applied, exported and planned again.

use crate::emulator::Moto;

const SPEC: &str = "
pipeline: pm
streams: { readings: {} }
agents:
  gen:
    run: producer
    producer: { stream: readings, generate: sensor, rate: 5 }
    wait_for: launched
dashboards: { main: {} }
alarms:
  iterator_age: { stream: readings, max_ms: 60000 }
";

#[test]
fn producer_host_role_put_metrics_in_the_agents_namespace_and_its_dashboard_drew_none_of_its_own() {
    let Some(moto) = Moto::start() else { return };
    let path = crate::util::temp_spec("metrics", "producer", SPEC);
    let s = path.display().to_string();
    moto.apply(&s);
    let sdk = moto.sdk();

    // The host may put metrics in the producer's namespace, and no other.
    let p =
        sdk.run(sdk.iam.get_role_policy().role_name("pm-gen-agent-us-east-1").policy_name("pipectl").send()).unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    let st = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "AgentMetrics").unwrap().clone();
    assert_eq!(st["Action"], serde_json::json!(["cloudwatch:PutMetricData"]));
    assert_eq!(st["Condition"]["StringEquals"]["cloudwatch:namespace"], "PipectlProducer");

    // The dashboard's host row draws what the producer publishes, each
    // line with its own statistic.
    let d = sdk.run(sdk.cloudwatch.get_dashboard().dashboard_name("pm-main-us-east-1").send()).unwrap();
    let body: serde_json::Value = serde_json::from_str(d.dashboard_body().unwrap()).unwrap();
    let lines: Vec<&serde_json::Value> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .flat_map(|w| w["properties"]["metrics"].as_array().unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let stat = l.as_array().unwrap().last().unwrap()["stat"].as_str();
        assert!(matches!(stat, Some("Sum" | "Maximum" | "Average")), "{l}");
    }
    // Counts beside the host's bytes and CPU go on the right axis.
    for (name, stat) in [("RecordsSent", "Sum"), ("RecordsFailed", "Sum")] {
        let want = serde_json::json!(["PipectlProducer", name, "StreamName", "pm-readings", { "stat": stat, "yAxis": "right" }]);
        assert!(lines.contains(&&want), "{want} not in {body}");
    }
    assert!(!body.to_string().contains("AWSKinesisAgent"), "no Kinesis Agent runs on the host");

    // The alarm watches the row the dashboard draws, as deployed alarms do.
    let alarms = sdk.run(sdk.cloudwatch.describe_alarms().alarm_names("pm-iterator_age").send()).unwrap();
    let a = &alarms.metric_alarms()[0];
    assert_eq!(
        (a.namespace(), a.metric_name(), a.statistic().map(|s| s.as_str())),
        (Some("AWS/Kinesis"), Some("GetRecords.IteratorAgeMilliseconds"), Some("Maximum"))
    );
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);

    // The CloudFormation export writes the host role from the same policy.
    let out = path.with_file_name("template.yaml");
    let out_s = out.display().to_string();
    moto.pipectl(&["export", "cloudformation", &s, "--out", &out_s]).run().expect_code(0);
    let template = std::fs::read_to_string(&out).unwrap();
    assert!(template.contains("PipectlProducer"), "{template}");
    assert!(!template.contains("AWSKinesisAgent"), "{template}");
}
