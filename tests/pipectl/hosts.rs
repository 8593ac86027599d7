//! Agent hosts, networks, dashboards and alarms against the emulator.

use crate::emulator::{Moto, Sdk};
use aws_sdk_ec2::types::Filter;
use base64::Engine as _;

fn spec(test: &str, text: &str) -> String {
    crate::util::temp_spec("host", test, text).display().to_string()
}

const HOST: &str = "
pipeline: ag
streams: { trips: {}, other: {} }
agents:
  producer:
    instance_type: t3.small
    flows:
      - file_pattern: \"/tmp/*.csv*\"
        stream: trips
        csv_to_json: { fields: [VendorID, total_amount] }
";

pub(crate) fn instances(sdk: &Sdk, pipeline: &str) -> Vec<aws_sdk_ec2::types::Instance> {
    let out = sdk
        .run(
            sdk.ec2
                .describe_instances()
                .filters(Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build())
                .filters(Filter::builder().name("instance-state-name").values("pending").values("running").build())
                .send(),
        )
        .unwrap();
    out.reservations().iter().flat_map(|r| r.instances().to_vec()).collect()
}

/// The boot script a host was started with.
pub(crate) fn user_data_of(sdk: &Sdk, id: &str) -> String {
    let attr = sdk
        .run(
            sdk.ec2
                .describe_instance_attribute()
                .instance_id(id)
                .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
                .send(),
        )
        .unwrap();
    let encoded = attr.user_data().and_then(|u| u.value()).unwrap().to_string();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

fn agent_json_of(sdk: &Sdk, id: &str) -> serde_json::Value {
    let script = user_data_of(sdk, id);
    let inner = script.split("<<'PIPECTL_AGENT_JSON'\n").nth(1).unwrap().split("\nPIPECTL_AGENT_JSON").next().unwrap();
    serde_json::from_str(inner).unwrap()
}

#[test]
fn agent_host_with_profile_group_imdsv2_and_user_data() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("host", HOST);
    moto.apply(&s);
    let sdk = moto.sdk();
    let hosts = instances(&sdk, "ag");
    assert_eq!(hosts.len(), 1);
    let i = &hosts[0];
    assert_eq!(i.instance_type().map(|t| t.as_str()), Some("t3.small"));
    assert_eq!(i.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()), Some("required"));
    assert!(i.iam_instance_profile().and_then(|p| p.arn()).unwrap().ends_with("/ag-producer-agent-us-east-1"));
    let name = i.tags().iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value());
    assert_eq!(name, Some("ag-producer"));
    // The AMI came from the SSM public parameter.
    let param = sdk.run(sdk.ssm.get_parameter().name(pipectl::resources::agent::AL2023_X86).send()).unwrap();
    assert_eq!(i.image_id(), param.parameter().and_then(|p| p.value()));
    // Security group: no inbound rule.
    let sg = i.security_groups()[0].group_id().unwrap();
    let g = sdk.run(sdk.ec2.describe_security_groups().group_ids(sg).send()).unwrap();
    assert!(g.security_groups()[0].ip_permissions().is_empty());
    // Profile role: put on exactly its streams, metrics only in the agent namespace.
    let p = sdk
        .run(sdk.iam.get_role_policy().role_name("ag-producer-agent-us-east-1").policy_name("pipectl").send())
        .unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    assert_eq!(
        doc["Statement"][0]["Resource"],
        serde_json::json!(["arn:aws:kinesis:us-east-1:123456789012:stream/ag-trips"])
    );
    assert_eq!(doc["Statement"][1]["Condition"]["StringEquals"]["cloudwatch:namespace"], "AWSKinesisAgent");
    // agent.json in the user data matches the flows.
    let cfg = agent_json_of(&sdk, i.instance_id().unwrap());
    assert_eq!(cfg["flows"][0]["kinesisStream"], "ag-trips");
    assert_eq!(cfg["flows"][0]["filePattern"], "/tmp/*.csv*");
    assert_eq!(
        cfg["flows"][0]["dataProcessingOptions"][0]["customFieldNames"],
        serde_json::json!(["VendorID", "total_amount"])
    );
    assert_eq!(cfg["kinesis.endpoint"], "kinesis.us-east-1.amazonaws.com");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);

    // A changed flow is a new host (user data only runs at first boot).
    let old = i.instance_id().unwrap().to_string();
    std::fs::write(&s, HOST.replace("stream: trips", "stream: other")).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("-/+ agent.producer"), "{}", plan.stdout);
    assert!(plan.stdout.contains("user_data_sha256"), "{}", plan.stdout);
    moto.apply(&s);
    let hosts = instances(&sdk, "ag");
    assert_eq!(hosts.len(), 1, "exactly one host after the replace");
    assert_ne!(hosts[0].instance_id().unwrap(), old);
    assert_eq!(agent_json_of(&sdk, hosts[0].instance_id().unwrap())["flows"][0]["kinesisStream"], "ag-other");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);

    // Destroy: host terminated first, then group, profile and role.
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(instances(&sdk, "ag").is_empty());
    let groups = sdk
        .run(
            sdk.ec2
                .describe_security_groups()
                .filters(Filter::builder().name("group-name").values("ag-producer-agent-us-east-1").build())
                .send(),
        )
        .unwrap();
    assert!(groups.security_groups().is_empty());
    assert!(sdk
        .run(sdk.iam.get_instance_profile().instance_profile_name("ag-producer-agent-us-east-1").send())
        .is_err());
    assert!(sdk.run(sdk.iam.get_role().role_name("ag-producer-agent-us-east-1").send()).is_err());
}

/// Destroy deletes what pipectl made in two calls each, and what was added
/// by hand shows up as a conflict it then clears: a second host with the
/// agent's tags, a policy put on the role, another role in the profile.
/// The hand-made role itself is not pipectl's and stays.
#[test]
fn destroy_clears_hosts_policies_and_roles_added_by_hand() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("byhand", HOST);
    moto.apply(&s);
    let sdk = moto.sdk();
    let first = instances(&sdk, "ag").remove(0);
    let (role, profile) = ("ag-producer-agent-us-east-1", "ag-producer-agent-us-east-1");
    // A second host carrying the first one's tags (a launch whose answer was lost).
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
        .set_tags(Some(first.tags().to_vec()))
        .build();
    let req = sdk.ec2.run_instances().image_id(first.image_id().unwrap()).min_count(1).max_count(1);
    sdk.run(req.tag_specifications(tags).send()).unwrap();
    assert_eq!(instances(&sdk, "ag").len(), 2);
    let extra = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::x"}]}"#;
    sdk.run(sdk.iam.put_role_policy().role_name(role).policy_name("by-hand").policy_document(extra).send()).unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    sdk.run(sdk.iam.create_role().role_name("by-hand").assume_role_policy_document(trust).send()).unwrap();
    sdk.run(sdk.iam.remove_role_from_instance_profile().instance_profile_name(profile).role_name(role).send()).unwrap();
    sdk.run(sdk.iam.add_role_to_instance_profile().instance_profile_name(profile).role_name("by-hand").send()).unwrap();

    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(instances(&sdk, "ag").is_empty(), "both hosts terminated");
    assert!(sdk.run(sdk.iam.get_instance_profile().instance_profile_name(profile).send()).is_err());
    assert!(sdk.run(sdk.iam.get_role().role_name(role).send()).is_err());
    assert!(sdk.run(sdk.iam.get_role().role_name("by-hand").send()).is_ok(), "a role pipectl did not make stays");
}

#[test]
fn ssh_ingress_only_when_asked_and_updated_in_place() {
    let Some(moto) = Moto::start() else { return };
    let with_ssh = HOST
        .replace("    instance_type: t3.small\n", "    instance_type: t3.small\n    ssh: { cidr: 203.0.113.0/24 }\n");
    let s = spec("ssh", &with_ssh);
    moto.apply(&s);
    let sdk = moto.sdk();
    let rules = |sdk: &Sdk| {
        let g = sdk
            .run(
                sdk.ec2
                    .describe_security_groups()
                    .filters(Filter::builder().name("group-name").values("ag-producer-agent-us-east-1").build())
                    .send(),
            )
            .unwrap();
        g.security_groups()[0].ip_permissions().to_vec()
    };
    let r = rules(&sdk);
    assert_eq!((r[0].from_port(), r[0].to_port()), (Some(22), Some(22)));
    assert_eq!(r[0].ip_ranges()[0].cidr_ip(), Some("203.0.113.0/24"));
    std::fs::write(&s, with_ssh.replace("203.0.113.0/24", "198.51.100.0/24")).unwrap();
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ security_group.producer"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("-/+ agent"), "{}", plan.stdout);
    moto.apply(&s);
    assert_eq!(rules(&sdk)[0].ip_ranges()[0].cidr_ip(), Some("198.51.100.0/24"));
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
}

#[test]
fn host_in_a_network_of_its_own_and_the_network_removed_after_it() {
    let Some(moto) = Moto::start() else { return };
    let text = HOST.replace(
        "    instance_type: t3.small\n",
        "    instance_type: t3.small\n    subnet: { network: lab, tier: public }\n",
    ) + "networks:\n  lab: { cidr: 10.20.0.0/16, zones: 2, nacl: true }\n";
    let s = spec("net", &text);
    moto.apply(&s);
    let sdk = moto.sdk();
    let vpcs = sdk
        .run(
            sdk.ec2.describe_vpcs().filters(Filter::builder().name("tag:pipectl:pipeline").values("ag").build()).send(),
        )
        .unwrap();
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.20.0.0/16"));
    let subnets = sdk
        .run(sdk.ec2.describe_subnets().filters(Filter::builder().name("vpc-id").values(&vpc).build()).send())
        .unwrap();
    let mut cidrs: Vec<&str> = subnets.subnets().iter().filter_map(|s| s.cidr_block()).collect();
    cidrs.sort();
    assert_eq!(cidrs, ["10.20.0.0/20", "10.20.128.0/20", "10.20.144.0/20", "10.20.16.0/20"]);
    let igw = sdk
        .run(
            sdk.ec2
                .describe_internet_gateways()
                .filters(Filter::builder().name("attachment.vpc-id").values(&vpc).build())
                .send(),
        )
        .unwrap();
    assert_eq!(igw.internet_gateways().len(), 1);
    let host = &instances(&sdk, "ag")[0];
    assert_eq!(host.vpc_id(), Some(vpc.as_str()));
    let public: Vec<&str> = subnets
        .subnets()
        .iter()
        .filter(|s| s.tags().iter().any(|t| t.key() == Some("pipectl:tier") && t.value() == Some("public")))
        .filter_map(|s| s.subnet_id())
        .collect();
    assert!(public.contains(&host.subnet_id().unwrap()), "the host is in a public subnet");
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // A new CIDR replaces the network: refused while the host and its
    // group live in it, before anything is deleted.
    std::fs::write(&s, text.replace("10.20.0.0/16", "10.30.0.0/16")).unwrap();
    let refused = moto.pipectl(&["apply", &s, "--yes"]).run().expect_code(1);
    assert!(refused.stdout.contains("! network.lab"), "{}", refused.stdout);
    assert!(refused.stdout.contains("under `security_group.producer`, `agent.producer`"), "{}", refused.stdout);
    assert!(refused.stdout.contains("--target network.lab"), "{}", refused.stdout);
    assert_eq!(instances(&sdk, "ag").len(), 1, "nothing was deleted");
    std::fs::write(&s, &text).unwrap();
    let run = moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    let at = |needle: &str| run.stderr.find(needle).unwrap_or_else(|| panic!("{needle} in {}", run.stderr));
    assert!(at("agent.producer: delete done") < at("network.lab: delete done"), "{}", run.stderr);
    assert!(sdk.run(sdk.ec2.describe_vpcs().vpc_ids(&vpc).send()).map(|o| o.vpcs().is_empty()).unwrap_or(true));
}

#[test]
fn a_subnet_id_that_does_not_exist_is_a_clear_error() {
    let Some(moto) = Moto::start() else { return };
    let s = spec(
        "badsubnet",
        &HOST.replace(
            "    instance_type: t3.small\n",
            "    instance_type: t3.small\n    subnet: subnet-0123456789abcdef0\n",
        ),
    );
    let run = moto.pipectl(&["apply", &s, "--yes"]).run().expect_code(1);
    assert!(run.stderr.contains("subnet `subnet-0123456789abcdef0` does not exist in us-east-1"), "{}", run.stderr);
}

#[test]
fn run_instances_waits_for_the_instance_profile() {
    let Some(moto) = Moto::start() else { return };
    let proxy = crate::faults::Proxy::start(
        &moto.url,
        crate::faults::Faults {
            reject_first: Some(("RunInstances", 2, "InvalidParameterValue", "Invalid IAM Instance Profile name")),
            ..Default::default()
        },
    );
    let s = spec("profile", HOST);
    let run = crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert!(run.stderr.contains("waiting for the instance profile to propagate"), "{}", run.stderr);
    assert_eq!(instances(&moto.sdk(), "ag").len(), 1, "retries never start a second host");
}

#[test]
fn dashboard_covers_the_lab_and_alarms_round_trip() {
    let Some(moto) = Moto::start() else { return };
    moto.pipectl(&["apply", "pipelines/lab.yaml", "--yes"]).run().expect_code(0);
    let sdk = moto.sdk();
    let d = sdk.run(sdk.cloudwatch.get_dashboard().dashboard_name("taxi-lab-main-us-east-1").send()).unwrap();
    let body: serde_json::Value = serde_json::from_str(d.dashboard_body().unwrap()).unwrap();
    let text = body.to_string();
    let host = instances(&sdk, "taxi-lab")[0].instance_id().unwrap().to_string();
    for name in [
        "taxi-lab-trips",
        "taxi-lab-raw",
        "taxi-lab-to-lake",
        "taxi-lab-filter",
        host.as_str(),
        "AWSKinesisAgent",
        "env `default`",
    ] {
        assert!(text.contains(name), "{name} not in the dashboard");
    }
    for w in body["widgets"].as_array().unwrap().iter().filter(|w| w["type"] == "metric") {
        assert_eq!(w["properties"]["region"], "us-east-1");
    }
    let alarms = sdk.run(sdk.cloudwatch.describe_alarms().alarm_name_prefix("taxi-lab-").send()).unwrap();
    let mut names: Vec<&str> = alarms.metric_alarms().iter().filter_map(|a| a.alarm_name()).collect();
    names.sort();
    assert_eq!(names, ["taxi-lab-filter_errors", "taxi-lab-iterator_age", "taxi-lab-lake_freshness"]);
    let age = alarms.metric_alarms().iter().find(|a| a.alarm_name() == Some("taxi-lab-iterator_age")).unwrap();
    assert_eq!((age.metric_name(), age.threshold()), (Some("GetRecords.IteratorAgeMilliseconds"), Some(60000.0)));
    moto.pipectl(&["plan", "pipelines/lab.yaml", "--detailed-exitcode"]).run().expect_code(0);

    // A new resource updates the dashboard; a changed threshold updates the alarm.
    let text = std::fs::read_to_string("pipelines/lab.yaml").unwrap();
    let changed = text
        .replace("streams:\n  trips:", "streams:\n  extra: {}\n  trips:")
        .replace("max_ms: 60000", "max_ms: 120000");
    let s = spec("lab", &changed.replace("../templates/", &format!("{}/templates/", env!("CARGO_MANIFEST_DIR"))));
    let plan = moto.pipectl(&["plan", &s]).run().expect_code(0);
    assert!(plan.stdout.contains("~ dashboard.main"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("~ alarm.iterator_age") && plan.stdout.contains("threshold: 60000.0 -> 120000.0"),
        "{}",
        plan.stdout
    );
    moto.apply(&s);
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(sdk.run(sdk.cloudwatch.describe_alarms().send()).unwrap().metric_alarms().is_empty());
    assert!(sdk.run(sdk.cloudwatch.list_dashboards().send()).unwrap().dashboard_entries().is_empty());
    assert!(instances(&sdk, "taxi-lab").is_empty());
}

#[test]
fn every_pipeline_applies_replans_clean_and_destroys() {
    for lab in [
        "lab",
        "kinesis-agent-lambda-s3",
        "firehose-tenant-metrics",
        "lambda-firehose-parquet-glue",
        "stream-data-processor",
        "sensor-streaming-lab",
    ] {
        let Some(moto) = Moto::start() else { return };
        let path = format!("pipelines/{lab}.yaml");
        moto.apply(&path);
        moto.pipectl(&["plan", &path, "--detailed-exitcode"]).run().expect_code(0);
        moto.pipectl(&["destroy", &path, "--yes", "--delete-data", "--allow-data-loss"]).run().expect_code(0);
        moto.pipectl(&["plan", &path, "--detailed-exitcode"]).run().expect_code(2);
    }
}

const PRODUCER_HOST: &str = "
pipeline: ph
streams: { readings: {} }
agents:
  gen:
    run: producer
    producer: { stream: readings, generate: sensor, rate: 5, partition_key: sensor_id }
    wait_for: running
";

#[test]
fn a_producer_host_runs_the_built_in_producer_and_apply_waits_until_it_runs() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("producer", PRODUCER_HOST);
    // Apply asked the host, through Systems Manager, whether the service runs.
    let lines = applied_asking_the_host(&moto, &s);
    let sdk = moto.sdk();
    assert_eq!(lines[0], "svc=pipectl-producer");
    assert!(lines.iter().any(|l| l.starts_with("journalctl -u pipectl-producer -n 20")), "{lines:?}");
    let hosts = instances(&sdk, "ph");
    assert_eq!(hosts.len(), 1);
    let id = hosts[0].instance_id().unwrap();
    let script = user_data_of(&sdk, id);
    assert!(script.contains("Environment=\"STREAM=ph-readings\""), "{script}");
    assert!(script.contains("Environment=\"PARTITION_KEY=sensor_id\""));
    assert!(script.contains("GENERATORS = {"));
    // The role may put records on exactly the producer's stream, and register with SSM.
    let p =
        sdk.run(sdk.iam.get_role_policy().role_name("ph-gen-agent-us-east-1").policy_name("pipectl").send()).unwrap();
    let doc = pipectl::resources::role::decode_document(p.policy_document());
    let st = doc["Statement"].as_array().unwrap();
    let sid = |name: &str| st.iter().find(|s| s["Sid"] == name).cloned().unwrap_or_else(|| panic!("{name} in {doc}"));
    assert_eq!(
        sid("PutRecords")["Resource"],
        serde_json::json!(["arn:aws:kinesis:us-east-1:123456789012:stream/ph-readings"])
    );
    assert_eq!(sid("SsmRegister")["Resource"], serde_json::json!(["arn:aws:ec2:us-east-1:123456789012:instance/*"]));
    let outputs = moto.pipectl(&["outputs", &s]).run().expect_code(0);
    assert!(
        outputs.stdout.contains(&format!("aws ssm start-session --target {id} --region us-east-1")),
        "{}",
        outputs.stdout
    );
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    // Without wait_for the host is still asked (the default); changing it does not replace the host.
    std::fs::write(&s, PRODUCER_HOST.replace("    wait_for: running\n", "")).unwrap();
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    assert!(instances(&sdk, "ph").is_empty());

    // A host not yet registered with Systems Manager is waited for.
    std::fs::write(&s, PRODUCER_HOST).unwrap();
    let faults = crate::faults::Faults {
        reject_first: Some(("SendCommand", 2, "InvalidInstanceId", "Instances not in a valid state for account")),
        ..Default::default()
    };
    let proxy = crate::faults::Proxy::start(&moto.url, faults);
    let run = crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert_eq!(proxy.stats.calls("SendCommand"), 3, "{}", run.stderr);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

/// Applies `spec` through a counting proxy and returns the lines of the
/// Run Command apply sent to ask the host whether its service runs (it
/// must have sent one, and asked for its answer).
pub(crate) fn applied_asking_the_host(moto: &Moto, spec: &str) -> Vec<String> {
    let proxy = crate::faults::Proxy::start(&moto.url, crate::faults::Faults::default());
    crate::util::pipectl(&["apply", spec, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert!(proxy.stats.calls("SendCommand") >= 1, "{:?}", proxy.stats.ops);
    assert!(proxy.stats.calls("GetCommandInvocation") >= 1);
    let sdk = moto.sdk();
    let commands = sdk.run(sdk.ssm.list_commands().send()).unwrap();
    let c = &commands.commands()[0];
    assert_eq!(c.document_name(), Some("AWS-RunShellScript"));
    c.parameters().unwrap()["commands"].clone()
}
