//! An agent host's user data: the Kinesis Agent configuration for its
//! flows, with the stream names resolved, inside the boot script.

use crate::spec::{self, InitialPosition, Spec};
use serde_json::{json, Value};

const USER_DATA_TEMPLATE: &str = include_str!("../../templates/agent/user-data.sh");
const PRODUCER_TEMPLATE: &str = include_str!("../../templates/agent/producer-user-data.sh");
const PRODUCER_PY: &str = include_str!("../../templates/agent/producer.py");
const DATA_TEMPLATE: &str = include_str!("../../templates/agent/data.sh");

/// The settings `producer.py write-csv` reads for a host's `data:`.
pub fn data_json(data: &spec::AgentData) -> Value {
    json!({
        "generate": data.generate,
        "rows": data.rows,
        "path": data.path,
        "partial": data.partial,
        "fields": data.fields,
        "delimiter": data.delimiter,
        "seed": 1,
    })
}

/// The Kinesis Agent configuration for a host's flows, as JSON.
pub fn agent_json(agent: &spec::Agent, spec: &Spec, region: &str) -> Value {
    let flows: Vec<Value> = agent
        .flows
        .iter()
        .map(|f| {
            let stream = spec.streams.get(&f.stream).map_or(f.stream.as_str(), |s| s.name.as_str());
            let mut flow = json!({
                "filePattern": f.file_pattern,
                "kinesisStream": stream,
                "partitionKeyOption": f.partition_key,
                "initialPosition": match f.initial_position {
                    InitialPosition::StartOfFile => "START_OF_FILE",
                    InitialPosition::EndOfFile => "END_OF_FILE",
                },
            });
            if let Some(c) = &f.csv_to_json {
                flow["dataProcessingOptions"] = json!([{
                    "optionName": "CSVTOJSON",
                    "customFieldNames": c.fields,
                    "delimiter": c.delimiter,
                }]);
            }
            flow
        })
        .collect();
    json!({
        "cloudwatch.emitMetrics": true,
        "cloudwatch.endpoint": format!("monitoring.{region}.amazonaws.com"),
        "kinesis.endpoint": format!("kinesis.{region}.amazonaws.com"),
        "flows": flows,
    })
}

/// The host's user data: the Kinesis Agent's template with its
/// configuration, or (`run: producer`) the built-in producer's with its
/// script and settings.
pub fn user_data(agent: &spec::Agent, spec: &Spec, region: &str) -> String {
    if let Some(p) = &agent.producer {
        let stream = spec.streams.get(&p.stream).map_or(p.stream.as_str(), |s| s.name.as_str());
        let mut env = vec![
            ("STREAM", stream.to_string()),
            ("GENERATE", p.generate.clone()),
            ("RATE", p.rate.to_string()),
            ("AWS_REGION", region.to_string()),
        ];
        env.extend(p.partition_key.iter().map(|k| ("PARTITION_KEY", k.clone())));
        // systemd `Environment="K=V"`: names and values come from validated
        // names, a choice, a number and a field name; quotes are escaped.
        let lines: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("Environment=\"{k}={}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        return fill(
            PRODUCER_TEMPLATE,
            &[("{{PRODUCER_PY}}", PRODUCER_PY.trim_end()), ("{{ENVIRONMENT}}", &lines.join("\n"))],
        );
    }
    let config = serde_json::to_string_pretty(&agent_json(agent, spec, region)).expect("JSON serializes");
    // One line of JSON: it cannot end the heredoc holding it.
    let data = agent.data.as_ref().map_or(String::new(), |d| {
        fill(
            DATA_TEMPLATE,
            &[("{{PRODUCER_PY}}", PRODUCER_PY.trim_end()), ("{{DATA_JSON}}", &data_json(d).to_string())],
        )
    });
    fill(USER_DATA_TEMPLATE, &[("{{AGENT_JSON}}", &config), ("{{DATA}}", data.trim_end())])
}

/// The template with each marker replaced in one pass, so a value that
/// happens to hold another marker (a field name) is never expanded.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((at, marker, value)) =
        values.iter().filter_map(|(m, v)| rest.find(m).map(|at| (at, *m, *v))).min_by_key(|(at, _, _)| *at)
    {
        out.push_str(&rest[..at]);
        out.push_str(value);
        rest = &rest[at + marker.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_json_holds_every_flow_and_parses_inside_the_user_data() {
        let l = crate::load::load_pipeline("kinesis-agent-lambda-s3");
        let agent = &l.spec.agents["producer"];
        let cfg = agent_json(agent, &l.spec, "us-west-2");
        assert_eq!(cfg["kinesis.endpoint"], "kinesis.us-west-2.amazonaws.com");
        assert_eq!(cfg["cloudwatch.emitMetrics"], true);
        let flow = &cfg["flows"][0];
        assert_eq!(flow["filePattern"], "/tmp/*.csv*");
        assert_eq!(flow["kinesisStream"], "agent-lab-stream");
        assert_eq!(flow["partitionKeyOption"], "RANDOM");
        assert_eq!(flow["initialPosition"], "START_OF_FILE");
        let opt = &flow["dataProcessingOptions"][0];
        assert_eq!(opt["optionName"], "CSVTOJSON");
        assert_eq!(opt["delimiter"], ",");
        assert_eq!(opt["customFieldNames"].as_array().unwrap().len(), 17);
        let ud = user_data(agent, &l.spec, "us-west-2");
        let inner = ud.split("<<'PIPECTL_AGENT_JSON'\n").nth(1).unwrap().split("\nPIPECTL_AGENT_JSON").next().unwrap();
        let parsed: Value = serde_json::from_str(inner).unwrap();
        assert_eq!(parsed, cfg);
        assert!(ud.contains("systemctl enable aws-kinesis-agent"));
    }

    #[test]
    fn the_agent_may_not_start_on_the_ami_we_pick() {
        let l = crate::load::load_pipeline("kinesis-agent-lambda-s3");
        let ud = user_data(&l.spec.agents["producer"], &l.spec, "us-east-1");
        let at = |needle: &str| ud.find(needle).unwrap_or_else(|| panic!("{needle} in {ud}"));
        // The group the init script's `install -g` needs, before the start.
        assert!(
            at("getent group \"$AGENT_USER\" >/dev/null || groupadd -r \"$AGENT_USER\"")
                < at("systemctl restart aws-kinesis-agent")
        );
        assert!(at("usermod -g \"$AGENT_USER\" \"$AGENT_USER\"") < at("systemctl restart aws-kinesis-agent"));
        assert!(at("dnf install -y aws-kinesis-agent") < at("groupadd"));
    }

    #[test]
    fn lab_000s_host_has_no_data() {
        let l = crate::load::load_pipeline("kinesis-agent-lambda-s3");
        let ud = user_data(&l.spec.agents["producer"], &l.spec, "us-east-1");
        let at = |needle: &str| ud.find(needle).unwrap_or_else(|| panic!("{needle} in {ud}"));
        // Generated once the agent runs, by the built-in producer's script.
        assert!(at("systemctl restart aws-kinesis-agent") < at("python3 /opt/pipectl/producer.py write-csv"));
        assert!(ud.contains("def write_csv(settings"));
        let inner = ud.split("<<'PIPECTL_DATA_JSON'\n").nth(1).unwrap().split("\nPIPECTL_DATA_JSON").next().unwrap();
        let settings: Value = serde_json::from_str(inner).unwrap();
        assert_eq!(settings["path"], "/tmp/yellow_tripdata.csv");
        assert_eq!(settings["partial"], "/tmp/.pipectl-partial/yellow_tripdata.csv");
        assert_eq!(settings["rows"], 10000);
        let fields = settings["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 17);
        assert_eq!(fields[0], "VendorID");
        assert_eq!(fields[16], "total_amount");
    }

    #[test]
    fn a_value_holding_a_marker_is_not_expanded() {
        let out = fill("{{A}} and {{B}}", &[("{{A}}", "has {{B}}"), ("{{B}}", "b")]);
        assert_eq!(out, "has {{B}} and b");
    }

    #[test]
    fn a_field_name_with_quotes_stays_valid_json() {
        let mut l = crate::load::load_pipeline("kinesis-agent-lambda-s3");
        let agent = l.spec.agents.get_mut("producer").unwrap();
        agent.flows[0].csv_to_json.as_mut().unwrap().fields[0] = "say \"hi\"\\".into();
        let agent = l.spec.agents["producer"].clone();
        let cfg = agent_json(&agent, &l.spec, "us-east-1");
        let back: Value = serde_json::from_str(&cfg.to_string()).unwrap();
        assert_eq!(back["flows"][0]["dataProcessingOptions"][0]["customFieldNames"][0], "say \"hi\"\\");
    }

    #[test]
    fn a_producer_host_runs_the_built_in_producer_as_a_service() {
        let l = crate::load::load_pipeline("stream-data-processor");
        let agent = &l.spec.agents["producer"];
        let ud = user_data(agent, &l.spec, "us-east-1");
        assert!(ud.contains("def run(client, stream, generate, rate"), "the script is inside");
        assert!(ud.contains("Environment=\"STREAM=stream-data-processor\""), "{ud}");
        assert!(ud.contains("Environment=\"AWS_REGION=us-east-1\""));
        assert!(ud.contains("systemctl enable pipectl-producer"));
        // EC2 takes at most 16 KB of user data before its base64.
        assert!(ud.len() <= 16 * 1024, "{} bytes of user data", ud.len());
        assert!(!ud.contains("aws-kinesis-agent"), "no Kinesis Agent on a producer host");
        assert_eq!(agent.service(), "pipectl-producer");
        assert!(agent.wait_for_running);
        // Sensor readings are keyed by their sensor unless told otherwise.
        assert_eq!(agent.producer.as_ref().unwrap().partition_key.as_deref(), Some("sensor_id"));
    }
}
