//! Hosts that really start, and each lab's own input: the agent host's
//! user data (the AL2023 group, the generated taxi CSV), apply waiting for
//! the service by default, `produce --generate taxi --format csv`, and the
//! sensor generator's default partition key.

use crate::emulator::{Moto, Sdk};

fn spec(test: &str, text: &str) -> String {
    crate::util::temp_spec("startup", test, text).display().to_string()
}

const FIELDS: &str = "[VendorID, tpep_pickup_datetime, tpep_dropoff_datetime, passenger_count, trip_distance, \
    RatecodeID, store_and_fwd_flag, PULocationID, DOLocationID, payment_type, fare_amount, extra, mta_tax, \
    tip_amount, tolls_amount, improvement_surcharge, total_amount]";

fn agent_host() -> String {
    format!(
        "
pipeline: st
streams: {{ taxi: {{ shards: 2 }} }}
agents:
  producer:
    flows:
      - file_pattern: \"/tmp/*.csv*\"
        stream: taxi
        csv_to_json: {{ fields: {FIELDS} }}
    data: {{ generate: taxi, rows: 2000, path: /tmp/yellow_tripdata.csv }}
"
    )
}

/// The boot script of the deployment's one host.
fn user_data(sdk: &Sdk, pipeline: &str) -> String {
    let hosts = crate::hosts::instances(sdk, pipeline);
    assert_eq!(hosts.len(), 1);
    crate::hosts::user_data_of(sdk, hosts[0].instance_id().unwrap())
}

#[test]
fn the_agent_may_not_start_on_the_ami_we_pick() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("group", &agent_host());
    moto.apply(&s);
    let script = user_data(&moto.sdk(), "st");
    let at = |needle: &str| script.find(needle).unwrap_or_else(|| panic!("`{needle}` in {script}"));
    // AL2023's package makes the user, not the group its init script's
    // `install -g aws-kinesis-agent-user` needs: made before the start.
    let start = at("systemctl restart aws-kinesis-agent");
    assert!(at("getent group \"$AGENT_USER\" >/dev/null || groupadd -r \"$AGENT_USER\"") < start);
    assert!(at("usermod -g \"$AGENT_USER\" \"$AGENT_USER\"") < start);
    assert!(at("install -d -o \"$AGENT_USER\" -g \"$AGENT_USER\" /var/run/aws-kinesis-agent") < start);
    // The taxi rows are generated there once the agent runs, renamed into place.
    let write = at("python3 /opt/pipectl/producer.py write-csv /opt/pipectl/data.json");
    assert!(start < write);
    let inner = script.split("<<'PIPECTL_DATA_JSON'\n").nth(1).unwrap().split("\nPIPECTL_DATA_JSON").next().unwrap();
    let settings: serde_json::Value = serde_json::from_str(inner).unwrap();
    assert_eq!(settings["path"], "/tmp/yellow_tripdata.csv");
    assert_eq!(settings["partial"], "/tmp/.pipectl-partial/yellow_tripdata.csv");
    assert_eq!(settings["rows"], 2000);
    assert_eq!(settings["fields"].as_array().unwrap().len(), 17);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

#[test]
fn agent_hosts_wait_until_the_agent_is_active_by_default() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("wait", &agent_host());
    // No `wait_for:` in the spec, and apply asked the host whether the agent runs.
    let lines = crate::hosts::applied_asking_the_host(&moto, &s);
    assert_eq!(lines[0], "svc=aws-kinesis-agent");
    assert!(lines
        .iter()
        .any(|l| l == "tail -n 20 /var/log/aws-kinesis-agent/aws-kinesis-agent.log 2>&1 | cut -c1-300"));
    assert!(lines.iter().any(|l| l == "tail -n 20 /var/log/cloud-init-output.log 2>&1 | cut -c1-300"));
    // Opting out changes nothing on AWS; an apply with it asks nothing.
    std::fs::write(&s, agent_host() + "    wait_for: launched\n").unwrap();
    moto.pipectl(&["plan", &s, "--detailed-exitcode"]).run().expect_code(0);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
    let proxy = crate::faults::Proxy::start(&moto.url, crate::faults::Faults::default());
    crate::util::pipectl(&["apply", &s, "--yes"]).aws_env(&proxy.url).run().expect_code(0);
    assert_eq!(proxy.stats.calls("SendCommand"), 0, "{:?}", proxy.stats.ops);
    moto.pipectl(&["destroy", &s, "--yes"]).run().expect_code(0);
}

#[test]
fn produce_generate_taxi_format_csv_makes_the_agents_rows() {
    let s = spec("csv", &agent_host());
    // Offline: the endpoint is a closed port, and no call is made.
    let run = crate::util::pipectl(&taxi_csv(&s, "-", "25"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .run()
        .expect_code(0);
    let rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 25, "{}", run.stdout);
    assert!(rows.iter().all(|r| r.len() == 17), "{}", run.stdout);
    assert!(["1", "2"].contains(&rows[0][0]), "VendorID first: {:?}", rows[0]);
    assert!(rows[0][16].parse::<f64>().unwrap() > 3.0, "total_amount last");
    // To a file, and the same seed gives the same rows.
    let file = crate::util::scratch().join("startup-trips.csv");
    let _ = std::fs::remove_file(&file);
    let f = file.display().to_string();
    let args = ["produce", &s, "--stream", "taxi", "--generate", "taxi", "--format", "csv", "--limit", "25"];
    let mut with_file = args.to_vec();
    with_file.extend(["--output", &f]);
    let run = crate::util::pipectl(&with_file).run().expect_code(0);
    assert!(run.stdout.contains("wrote 25 lines"), "{}", run.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let untimed = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| {
                l.split(',')
                    .enumerate()
                    .filter(|(i, _)| ![1, 2].contains(i))
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    let mut to_stdout = args.to_vec();
    to_stdout.extend(["--output", "-"]);
    let again = crate::util::pipectl(&to_stdout).run().expect_code(0);
    assert_eq!(untimed(&text), untimed(&again.stdout), "the same seed, the same rows");
    // Other generators make JSON: no CSV form, said before any call.
    let run = crate::util::pipectl(&[
        "produce",
        &s,
        "--stream",
        "taxi",
        "--generate",
        "sensor",
        "--format",
        "csv",
        "--output",
        "-",
        "--limit",
        "5",
    ])
    .run()
    .expect_code(2);
    assert!(run.stderr.contains("makes the agent lab's taxi CSV rows"), "{}", run.stderr);

    // Sent to a stream, the rows become objects named by the flow's fields,
    // every value text, as the agent's CSVTOJSON makes them.
    let Some(moto) = Moto::start() else { return };
    let plain = spec("csv-stream", "pipeline: st\nstreams: { taxi: { name: st-taxi } }\nagents:\n  producer:\n    wait_for: launched\n    flows:\n      - file_pattern: \"/tmp/*.csv*\"\n        stream: taxi\n        csv_to_json: { fields: [total_amount, VendorID] }\n");
    moto.apply(&plain);
    moto.pipectl(&["produce", &plain, "--stream", "taxi", "--generate", "taxi", "--format", "csv", "--limit", "40"])
        .run()
        .expect_code(0);
    let records = moto.sdk().records("st-taxi");
    assert_eq!(records.len(), 40);
    for r in &records {
        let v: serde_json::Value = serde_json::from_slice(r).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 2, "{v}");
        assert!(o["VendorID"] == "1" || o["VendorID"] == "2", "{v}");
        assert!(o["total_amount"].as_str().unwrap().parse::<f64>().is_ok(), "{v}");
    }
}

/// Every record of `stream` with its partition key.
fn keyed_records(sdk: &Sdk, stream: &str) -> Vec<(String, serde_json::Value)> {
    let records = sdk.keyed_records(stream).into_iter();
    records.map(|(key, data)| (key, serde_json::from_slice(&data).unwrap())).collect()
}

#[test]
fn the_sensor_producers_default_partition_key_is_sensor_id() {
    let Some(moto) = Moto::start() else { return };
    let s = spec("sensor", "pipeline: sk\nstreams: { readings: { name: sk-readings, shards: 4 } }\n");
    moto.apply(&s);
    let produce = |extra: &[&str]| {
        let mut args = vec!["produce", &s, "--stream", "readings", "--generate", "sensor", "--limit", "200"];
        args.extend(extra);
        moto.pipectl(&args).run().expect_code(0);
    };
    produce(&[]);
    let records = keyed_records(&moto.sdk(), "sk-readings");
    assert_eq!(records.len(), 200);
    for (key, r) in &records {
        assert_eq!(key, r["sensor_id"].as_str().unwrap(), "keyed by its sensor: {r}");
    }
    // `random` opts out: keys that are no sensor's.
    produce(&["--partition-key", "random"]);
    let records = keyed_records(&moto.sdk(), "sk-readings");
    let random: Vec<&String> = records.iter().map(|(k, _)| k).filter(|k| !k.starts_with("sensor-")).collect();
    assert_eq!(random.len(), 200);
    assert!(random.iter().all(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit())));
    let help = crate::util::pipectl(&["produce", "--help"]).run().expect_code(0);
    assert!(help.stdout.contains("`sensor_id`") && help.stdout.contains("with `--generate sensor`"), "{}", help.stdout);
}

/// `produce SPEC --stream taxi --generate taxi --format csv` of `limit`
/// rows written to `out` (`-`: standard output).
fn taxi_csv<'a>(spec: &'a str, out: &'a str, limit: &'a str) -> Vec<&'a str> {
    let generate = ["--generate", "taxi", "--format", "csv"];
    let mut args = vec!["produce", spec, "--stream", "taxi"];
    args.extend(generate);
    args.extend(["--output", out, "--limit", limit]);
    args
}

/// `produce --output` of 3 taxi rows to `out` in `dir` (or `-`), from the
/// spec in `dir`, with `extra` flags.
fn produce_to(dir: &std::path::Path, out: &str, extra: &[&str]) -> crate::util::Run {
    let s = dir.join("spec.yaml").display().to_string();
    let out = if out == "-" { out.to_string() } else { dir.join(out).display().to_string() };
    let mut args = taxi_csv(&s, &out, "3");
    args.extend_from_slice(extra);
    crate::util::pipectl(&args).run()
}

#[cfg(unix)]
#[test]
fn produce_output_follows_symlinks_and_truncates_existing_files_silently() {
    let dir = crate::util::temp_spec("startup", "output-exists", &agent_host());
    let dir = dir.parent().unwrap();
    std::fs::write(dir.join("keep.txt"), "precious\n").unwrap();
    std::os::unix::fs::symlink("keep.txt", dir.join("link.csv")).unwrap();
    // A symlink: refused, with or without --force; its target untouched.
    for extra in [&[][..], &["--force"][..]] {
        let run = produce_to(dir, "link.csv", extra).expect_code(2);
        let named = format!("`--output {}` is a symbolic link", dir.join("link.csv").display());
        assert!(run.stderr.contains(&named), "{}", run.stderr);
        assert!(!run.stdout.contains("wrote"), "{}", run.stdout);
        assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "precious\n");
        assert!(std::fs::symlink_metadata(dir.join("link.csv")).unwrap().file_type().is_symlink());
    }
    // A dangling symlink is not followed to create its target.
    std::os::unix::fs::symlink("nowhere.csv", dir.join("dangling.csv")).unwrap();
    produce_to(dir, "dangling.csv", &[]).expect_code(2);
    assert!(!dir.join("nowhere.csv").exists());
    // An existing regular file: refused without --force, named, with the hint.
    let run = produce_to(dir, "keep.txt", &[]).expect_code(2);
    let named = format!("`--output {}` exists: not overwritten", dir.join("keep.txt").display());
    assert!(run.stderr.contains(&named), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "precious\n");
    // A folder: refused even with --force.
    std::fs::create_dir(dir.join("folder.csv")).unwrap();
    let run = produce_to(dir, "folder.csv", &["--force"]).expect_code(2);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    // With --force, a regular file is replaced whole; another hard link to
    // the old content keeps it (the name is replaced, not the content written through).
    std::fs::hard_link(dir.join("keep.txt"), dir.join("other-link.txt")).unwrap();
    let run = produce_to(dir, "keep.txt", &["--force"]).expect_code(0);
    assert!(run.stdout.contains("wrote 3 lines"), "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap().lines().count(), 3);
    assert_eq!(std::fs::read_to_string(dir.join("other-link.txt")).unwrap(), "precious\n");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pipectl-"))
        .collect();
    assert!(left.is_empty(), "no temporary file left: {left:?}");
    // A new path is created; `-` is still standard output.
    produce_to(dir, "new.csv", &[]).expect_code(0);
    assert_eq!(std::fs::read_to_string(dir.join("new.csv")).unwrap().lines().count(), 3);
    let run = produce_to(dir, "-", &[]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    // --force needs --output.
    let s = dir.join("spec.yaml").display().to_string();
    crate::util::pipectl(&["produce", &s, "--stream", "taxi", "--force"]).run().expect_code(2);
}
