//! `pipectl cost` offline (no AWS environment at all, an unreachable
//! endpoint) in every format, equal to what `plan` shows on an empty
//! account; and `validate`'s warnings above a monthly figure and AWS's
//! default quotas, each at its field.

use crate::emulator::Moto;
use crate::util::{pipectl, root, temp_spec, Pipectl};
use serde_json::Value;

const LAB: &str = "pipelines/lab.yaml";

/// `pipectl` with no AWS variable at all, a home without AWS files, and
/// every endpoint unreachable.
fn offline(args: &[&str]) -> Pipectl {
    let home = crate::util::scratch().join("cost-empty-home");
    std::fs::create_dir_all(&home).unwrap();
    let mut p = pipectl(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        p = p.env_remove(&k);
    }
    p.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("HOME", &home.display().to_string())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
}

/// `pipelines/stream-data-processor.yaml` with a NAT gateway: a host, a
/// VPC and a NAT, its code paths pointing back at the repository.
fn host_and_nat(test: &str) -> String {
    let text = std::fs::read_to_string(root().join("pipelines/stream-data-processor.yaml"))
        .unwrap()
        .replace("    nacl: true", "    nacl: true\n    nat_gateway: true")
        .replace("../templates/", &format!("{}/templates/", root().display()));
    assert!(text.contains("nat_gateway: true"));
    temp_spec("cost", test, &text).display().to_string()
}

#[test]
fn cost_prices_the_lab_as_text_with_no_aws_environment_and_no_reachable_endpoint() {
    let run = offline(&["cost", LAB, "--region", "us-east-1"]).run().expect_code(0);
    let out = &run.stdout;
    assert!(out.contains("the account assumed empty"), "{out}");
    assert!(out.contains("stream.trips") && out.contains("1 shard") && out.contains("730 h"), "{out}");
    assert!(out.contains("$0.015/h") && out.contains("$10.95"), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("total") && l.ends_with("$37.43")), "{out}");
    assert!(out.contains("not estimated: function.filter: Lambda bills per request"), "{out}");
    assert!(out.contains("https://aws.amazon.com/kinesis/data-streams/pricing/"), "{out}");
    // The resource is named once, above its lines.
    assert_eq!(out.matches("agent.producer").count(), 1, "{out}");
}

#[test]
fn cost_json_gives_every_line_with_quantity_and_unit_price_and_the_tables_date_and_sources() {
    let run = offline(&["cost", LAB, "--region", "us-east-1", "--json"]).run().expect_code(0);
    let doc = run.json();
    let table: Value = serde_json::from_str(&std::fs::read_to_string(root().join("prices/aws.json")).unwrap()).unwrap();
    assert_eq!(doc["prices_version"], table["version"]);
    assert_eq!(doc["sources"], table["sources"]);
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 13, "{doc}");
    for i in items {
        let (q, p, m) =
            (i["quantity"].as_f64().unwrap(), i["unit_price"].as_f64().unwrap(), i["monthly"].as_f64().unwrap());
        assert!((q * p - m).abs() < 1e-9, "{i}");
        let price = i["price"].as_str().unwrap();
        assert_eq!(table["regions"]["us-east-1"][price].as_f64(), Some(p), "{i}");
        assert!(i["address"].is_string() && i["what"].is_string(), "{i}");
    }
    let sum: f64 = items.iter().map(|i| i["monthly"].as_f64().unwrap()).sum();
    assert!((sum - doc["monthly"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(doc["not_estimated"].as_array().unwrap().len(), 2, "{doc}");
    // `--json` and `--format json` are one output.
    let again = offline(&["cost", LAB, "--region", "us-east-1", "--format", "json"]).run().expect_code(0);
    assert_eq!(again.json(), doc);
}

#[test]
fn cost_markdown_is_a_table_for_a_pull_request_comment() {
    let run = offline(&["cost", LAB, "--region", "us-east-1", "--format", "markdown"]).run().expect_code(0);
    let md = &run.stdout;
    assert!(md.contains("| Resource | What | Quantity | Unit price | Per month |\n|---|---|--:|--:|--:|\n"), "{md}");
    assert!(md.contains("| `stream.trips` | 1 shard | 730 h | $0.015/h | $10.95 |"), "{md}");
    assert!(md.contains("| **Total** | | | | **$37.43** |"), "{md}");
    assert!(md.contains("[kinesis](https://aws.amazon.com/kinesis/data-streams/pricing/)"), "{md}");
    assert!(md.contains("- function.filter: Lambda bills per request"), "{md}");
}

#[test]
fn cost_of_a_spec_with_a_host_and_a_nat_gateway_in_every_format() {
    let spec = host_and_nat("host-nat");
    let text = offline(&["cost", &spec, "--region", "us-east-1"]).run().expect_code(0).stdout;
    assert!(text.contains("NAT gateway") && text.contains("$0.045/h") && text.contains("$32.85"), "{text}");
    assert!(text.contains("t3.micro instance") && text.contains("$0.0104/h"), "{text}");
    let doc = offline(&["cost", &spec, "--region", "us-east-1", "--json"]).run().expect_code(0).json();
    let prices: Vec<&str> = doc["items"].as_array().unwrap().iter().map(|i| i["price"].as_str().unwrap()).collect();
    for p in ["vpc.nat_gateway_hour", "vpc.public_ipv4_hour", "ec2.t3.micro", "ebs.gp3_gb_month"] {
        assert!(prices.contains(&p), "{p}: {prices:?}");
    }
    let md = offline(&["cost", &spec, "--region", "us-east-1", "--format", "markdown"]).run().expect_code(0).stdout;
    assert!(md.contains("| NAT gateway | 730 h | $0.045/h | $32.85 |"), "{md}");
}

/// The lines and totals of `cost --json` against the `cost` of `plan --json`.
fn same_as_plan(moto: &Moto, spec: &str) {
    let cost = moto.pipectl(&["cost", spec, "--json"]).run().expect_code(0).json();
    let plan = moto.pipectl(&["plan", spec, "--json"]).run().expect_code(0).json();
    let planned = &plan["cost"];
    let lines = |items: &Value, key: &str| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i[key].as_str().unwrap().into(),
                    i["what"].as_str().unwrap().into(),
                    format!("{:.6}", i["monthly"].as_f64().unwrap()),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(lines(&cost["items"], "address"), lines(&planned["items"], "address"), "{spec}");
    let monthly = |v: &Value| format!("{:.6}", v["monthly"].as_f64().unwrap());
    assert_eq!(monthly(&cost), monthly(planned), "{spec}");
    assert_eq!(cost["not_estimated"], planned["not_estimated"], "{spec}");
    assert_eq!(cost["region"], planned["region"]);
}

#[test]
fn cost_equals_what_plan_shows_for_the_same_spec_on_an_empty_account() {
    let Some(moto) = Moto::start() else { return };
    same_as_plan(&moto, LAB);
    same_as_plan(&moto, &host_and_nat("plan-equal"));
}

#[test]
fn cost_without_a_region_or_in_one_the_table_lacks_is_refused() {
    let run = offline(&["cost", LAB]).run().expect_code(2);
    assert!(run.stderr.contains("no region to price in") && run.stderr.contains("--region"), "{}", run.stderr);
    let run = offline(&["cost", LAB, "--region", "ap-south-1"]).run().expect_code(2);
    assert!(run.stderr.contains("has no prices for ap-south-1"), "{}", run.stderr);
    assert!(run.stderr.contains("us-east-1"), "{}", run.stderr);
    // AWS_REGION is a region too.
    offline(&["cost", LAB]).env("AWS_REGION", "us-west-2").run().expect_code(0);
}

/// The 1-based line and column of the first line holding `needle`, at it.
fn at(text: &str, needle: &str) -> String {
    let (n, line) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
    format!("{}:{}", n + 1, line.find(needle).unwrap() + 1)
}

/// Issue: `validate` accepted `shards: 5000` (about $55,000 a month, above
/// the default shard quota) without a word.
#[test]
fn validate_warns_of_5000_shards_with_their_monthly_cost_and_the_default_quota() {
    let text = "pipeline: big\nregion: us-east-2\nstreams:\n  s:\n    shards: 5000\n";
    let spec = temp_spec("cost", "5000-shards", text).display().to_string();
    let run = offline(&["validate", &spec]).run().expect_code(0);
    let err = &run.stderr;
    // 5000 shards * $0.015 * 730 h.
    assert!(err.contains("warning[monthly-cost]: this spec costs about $54,750.00 a month in us-east-2"), "{err}");
    assert!(err.contains("`stream.s` alone $54,750.00"), "{err}");
    assert!(
        err.contains("warning[default-quota]: this spec alone needs 5,000 shards, above AWS's default quota of 1,000"),
        "{err}"
    );
    let place = format!("--> {spec}:{}", at(text, "shards"));
    assert_eq!(err.matches(&place).count(), 2, "{err}");
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
    let doc = offline(&["validate", &spec, "--json"]).run().expect_code(0).json();
    let rules: Vec<&str> = doc["diagnostics"].as_array().unwrap().iter().map(|w| w["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["monthly-cost", "default-quota"], "{doc}");
    let quota = &doc["diagnostics"][1];
    assert_eq!((quota["line"].as_u64(), quota["col"].as_u64()), (Some(5), Some(5)));
    assert!(doc["diagnostics"].as_array().unwrap().iter().all(|d| d["severity"] == "warning"), "{doc}");
    // In a region whose default is 20,000 shards, only the cost warns.
    let run = offline(&["validate", &spec, "--region", "us-east-1"]).run().expect_code(0);
    assert!(run.stderr.contains("warning[monthly-cost]") && !run.stderr.contains("default-quota"), "{}", run.stderr);
}

#[test]
fn validate_warns_above_the_monthly_figure_asked_and_not_below() {
    let run = offline(&["validate", LAB, "--region", "us-east-1"]).run().expect_code(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let run = offline(&["validate", LAB, "--region", "us-east-1", "--warn-above-usd", "30"]).run().expect_code(0);
    assert!(run.stderr.contains("costs about $37.43 a month in us-east-1 at 1 GB/day, above $30.00"), "{}", run.stderr);
    let text = std::fs::read_to_string(root().join(LAB)).unwrap();
    // The costliest resource: the host, at its instance type.
    assert!(run.stderr.contains(&format!("--> {LAB}:{}", at(&text, "instance_type"))), "{}", run.stderr);
    // A bigger volume assumed costs more.
    let run = offline(&["validate", LAB, "--region", "us-east-1", "--assume-gb-per-day", "1000"]).run().expect_code(0);
    assert!(run.stderr.contains("warning[monthly-cost]"), "{}", run.stderr);
}

fn quota_warning(test: &str, text: &str, counted: &str, field: &str, nth: usize) {
    let spec = temp_spec("cost", test, text).display().to_string();
    let run = offline(&["validate", &spec, "--region", "us-east-1"]).run().expect_code(0);
    assert!(run.stderr.contains("warning[default-quota]"), "{test}: {}", run.stderr);
    assert!(run.stderr.contains(counted), "{test}: {}", run.stderr);
    let (n, line) = text.lines().enumerate().filter(|(_, l)| l.contains(field)).nth(nth).unwrap();
    let place = format!("--> {spec}:{}:{}", n + 1, line.find(field).unwrap() + 1);
    assert!(run.stderr.contains(&place), "{test}: {place}\n{}", run.stderr);
}

#[test]
fn validate_warns_of_more_on_demand_streams_than_the_default_quota() {
    let mut text = "pipeline: many\nstreams:\n".to_string();
    for i in 0..51 {
        text.push_str(&format!("  s{i:02}:\n    mode: on_demand\n"));
    }
    quota_warning("on-demand", &text, "needs 51 on-demand streams, above AWS's default quota of 50", "mode", 50);
}

#[test]
fn validate_warns_of_reserved_concurrency_above_what_the_account_can_reserve() {
    let code = format!("{}/templates/lambda/decode_and_log.py", root().display());
    let f = |name: &str, n: u32| {
        format!("  {name}:\n    runtime: python3.12\n    code: {code}\n    handler: decode_and_log.handler\n    reserved_concurrency: {n}\n")
    };
    let text = format!("pipeline: busy\nfunctions:\n{}{}", f("a", 500), f("b", 600));
    quota_warning(
        "concurrency",
        &text,
        "needs 1,100 reserved concurrent executions, above AWS's default quota of 900",
        "reserved_concurrency",
        1,
    );
}

#[test]
fn validate_warns_of_more_on_demand_vcpus_than_the_default_quota() {
    let host = |name: &str, t: &str| {
        format!("  {name}:\n    instance_type: {t}\n    ami: al2023\n    run: producer\n    producer: {{ stream: s, generate: taxi, rate: 1 }}\n")
    };
    let text = format!(
        "pipeline: hosts\nstreams:\n  s: {{}}\nagents:\n{}{}{}",
        host("a", "t3.small"),
        host("b", "t2.micro"),
        host("c", "t3.large")
    );
    // 2 + 1 + 2 vCPUs is the quota; a third 2-vCPU host passes it.
    let spec = temp_spec("cost", "vcpus-at", &text).display().to_string();
    let run = offline(&["validate", &spec, "--region", "us-east-1"]).run().expect_code(0);
    assert!(!run.stderr.contains("default-quota"), "{}", run.stderr);
    let text = format!("{text}{}", host("d", "t3.micro"));
    quota_warning("vcpus", &text, "needs 7 vCPUs, above AWS's default quota of 5", "instance_type", 3);
}

#[test]
fn validate_warns_of_more_vpcs_and_nat_gateways_than_the_default_quotas() {
    let mut text = "pipeline: nets\nstreams:\n  s: {}\nnetworks:\n".to_string();
    for i in 0..6 {
        text.push_str(&format!("  n{i}:\n    cidr: 10.{i}.0.0/16\n    nat_gateway: true\n"));
    }
    quota_warning("vpcs", &text, "needs 6 VPCs, above AWS's default quota of 5", "n5:", 0);
    quota_warning("eips", &text, "needs 6 Elastic IPs, above AWS's default quota of 5", "nat_gateway", 5);
}

#[test]
fn validate_warns_of_more_firehoses_than_the_default_quota() {
    let mut text = "pipeline: fh\nregion: us-east-2\nbuckets:\n  b: {}\nfirehoses:\n".to_string();
    for i in 0..2001 {
        text.push_str(&format!("  f{i:04}:\n    source: direct\n    destination: {{ bucket: b }}\n"));
    }
    let spec = temp_spec("cost", "firehoses", &text).display().to_string();
    let run = offline(&["validate", &spec]).run().expect_code(0);
    let want = "needs 2,001 Firehoses, above AWS's default quota of 2,000 Firehose streams per account and region in us-east-2";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    // At the last one's key.
    assert!(run.stderr.contains(&format!("--> {spec}:{}", at(&text, "f2000:"))), "{}", run.stderr);
    // us-east-1's default is 5,000.
    let run = offline(&["validate", &spec, "--region", "us-east-1"]).run().expect_code(0);
    assert!(!run.stderr.contains("default-quota"), "{}", run.stderr);
}
