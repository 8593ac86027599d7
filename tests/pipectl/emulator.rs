//! The emulator: one moto server per test, on a free loopback port, stopped
//! when the test ends. Found through PIPECTL_MOTO_SERVER (set by
//! scripts/test.sh) or on PATH. Missing under CI=true is a failure; missing
//! elsewhere skips the test with a message saying so.

use crate::util::{pipectl, Pipectl};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Option<Moto> {
        Moto::start_with(&[])
    }

    /// An emulator that checks every request against the caller's IAM
    /// policies, as AWS does, and the keys of an administrator made before
    /// it starts checking (moto's `INITIAL_NO_AUTH_ACTION_COUNT`: the first
    /// that many requests go unchecked, here the three that make the
    /// administrator).
    pub fn start_enforcing_iam() -> Option<(Moto, Keys)> {
        let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")])?;
        let sdk = moto.sdk();
        let admin = sdk.run(async {
            sdk.iam.create_user().user_name("admin").send().await.unwrap();
            let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
            sdk.iam.put_user_policy().user_name("admin").policy_name("all").policy_document(all).send().await.unwrap();
            let key = sdk.iam.create_access_key().user_name("admin").send().await.unwrap();
            let key = key.access_key().unwrap();
            Keys { id: key.access_key_id().to_string(), secret: key.secret_access_key().to_string() }
        });
        Some((moto, admin))
    }

    fn start_with(env: &[(&str, &str)]) -> Option<Moto> {
        let bin = std::env::var("PIPECTL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spawned = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let ci = std::env::var("CI").is_ok_and(|v| v == "true");
                assert!(!ci, "CI=true but the emulator `{bin}` cannot start ({e}): run the tests with scripts/test.sh");
                eprintln!("SKIPPED: emulator `{bin}` not available ({e}); run scripts/test.sh to install it");
                return None;
            }
        };
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "moto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    /// pipectl pointed at this emulator.
    pub fn pipectl(&self, args: &[&str]) -> Pipectl {
        pipectl(args).aws_env(&self.url)
    }

    /// `pipectl apply SPEC --yes`, which must succeed.
    pub fn apply(&self, spec: &str) -> crate::util::Run {
        self.pipectl(&["apply", spec, "--yes"]).run().expect_code(0)
    }

    /// SDK clients pointed at this emulator, for checks that do not go
    /// through pipectl's own read code.
    pub fn sdk(&self) -> Sdk {
        self.sdk_as(&Keys { id: "testing".into(), secret: "testing".into() })
    }

    /// pipectl pointed at this emulator, signing with `keys`.
    pub fn pipectl_as(&self, keys: &Keys, args: &[&str]) -> Pipectl {
        self.pipectl(args).env("AWS_ACCESS_KEY_ID", &keys.id).env("AWS_SECRET_ACCESS_KEY", &keys.secret)
    }

    /// SDK clients signing with `keys`.
    pub fn sdk_as(&self, keys: &Keys) -> Sdk {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(&self.url)
                .credentials_provider(aws_sdk_s3::config::Credentials::new(&keys.id, &keys.secret, None, None, "test"))
                .load(),
        );
        let aws =
            pipectl::aws::Aws::from_config(&config, "us-east-1".into(), "123456789012".into(), Some(self.url.clone()));
        Sdk { rt, aws }
    }
}

/// An IAM user's access keys.
pub struct Keys {
    pub id: String,
    pub secret: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SDK clients of pipectl's own `Aws`, with a runtime to drive them
/// from synchronous tests.
pub struct Sdk {
    pub rt: tokio::runtime::Runtime,
    aws: pipectl::aws::Aws,
}

impl std::ops::Deref for Sdk {
    type Target = pipectl::aws::Aws;
    fn deref(&self) -> &pipectl::aws::Aws {
        &self.aws
    }
}

impl Sdk {
    pub fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A deployment record's listing as JSON, whatever form it is stored
    /// in (compressed in its head, or in parts).
    pub fn record(&self, name: &str) -> serde_json::Value {
        let content = self.run(pipectl::resources::record::Record::fetch(&self.aws, name)).unwrap();
        serde_json::to_value(content.expect("a record")).unwrap()
    }
}

impl Sdk {
    /// Everything a deployment could have left in the emulator: one line
    /// per resource that is not the emulator's own default.
    /// A stream made by hand, with `tags`.
    pub fn tagged_stream(&self, name: &str, shards: i32, tags: &[(&str, &str)]) {
        self.run(async {
            self.kinesis.create_stream().stream_name(name).shard_count(shards).send().await.unwrap();
            if !tags.is_empty() {
                let mut req = self.kinesis.add_tags_to_stream().stream_name(name);
                for (k, v) in tags {
                    req = req.tags(*k, *v);
                }
                req.send().await.unwrap();
            }
        })
    }

    /// A stream's tags, key and value.
    pub fn stream_tags(&self, name: &str) -> Vec<(String, String)> {
        let t = self.run(self.kinesis.list_tags_for_stream().stream_name(name).send()).unwrap();
        t.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect()
    }

    /// Every record of every shard of `stream`, from the start.
    pub fn records(&self, stream: &str) -> Vec<Vec<u8>> {
        self.keyed_records(stream).into_iter().map(|(_, data)| data).collect()
    }

    /// Every record of every shard of `stream`, from the start, with its
    /// partition key.
    pub fn keyed_records(&self, stream: &str) -> Vec<(String, Vec<u8>)> {
        self.run(async {
            let shards = self.kinesis.list_shards().stream_name(stream).send().await.unwrap();
            let mut out = Vec::new();
            for shard in shards.shards() {
                let it = self
                    .kinesis
                    .get_shard_iterator()
                    .stream_name(stream)
                    .shard_id(shard.shard_id())
                    .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .unwrap();
                let mut iterator = it.shard_iterator().map(str::to_string);
                while let Some(i) = iterator {
                    let page = self.kinesis.get_records().shard_iterator(i).limit(10_000).send().await.unwrap();
                    if page.records().is_empty() {
                        break;
                    }
                    out.extend(
                        page.records()
                            .iter()
                            .map(|r| (r.partition_key().unwrap_or_default().to_string(), r.data().as_ref().to_vec())),
                    );
                    iterator = page.next_shard_iterator().map(str::to_string);
                }
            }
            out
        })
    }

    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |kind: &str, names: Vec<String>| out.extend(names.into_iter().map(|n| format!("{kind} {n}")));
        self.run(async {
            let a = &self.aws;
            let streams = a.kinesis.list_streams().send().await.unwrap();
            add("stream", streams.stream_names().to_vec());
            let buckets = a.s3.list_buckets().send().await.unwrap();
            add("bucket", buckets.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect());
            let firehoses = a.firehose.list_delivery_streams().send().await.unwrap();
            add("firehose", firehoses.delivery_stream_names().to_vec());
            let functions = a.lambda.list_functions().send().await.unwrap();
            add(
                "function",
                functions.functions().iter().filter_map(|f| f.function_name().map(str::to_string)).collect(),
            );
            let mappings = a.lambda.list_event_source_mappings().send().await.unwrap();
            add(
                "mapping",
                mappings.event_source_mappings().iter().filter_map(|m| m.uuid().map(str::to_string)).collect(),
            );
            let roles = a.iam.list_roles().send().await.unwrap();
            add("role", roles.roles().iter().map(|r| r.role_name().to_string()).collect());
            let profiles = a.iam.list_instance_profiles().send().await.unwrap();
            add(
                "instance profile",
                profiles.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()).collect(),
            );
            let groups = a.logs.describe_log_groups().send().await.unwrap();
            add(
                "log group",
                groups.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)).collect(),
            );
            let dbs = a.glue.get_databases().send().await.unwrap();
            add("glue database", dbs.database_list().iter().map(|d| d.name().to_string()).collect());
            let dashboards = a.cloudwatch.list_dashboards().send().await.unwrap();
            add(
                "dashboard",
                dashboards.dashboard_entries().iter().filter_map(|d| d.dashboard_name().map(str::to_string)).collect(),
            );
            let alarms = a.cloudwatch.describe_alarms().send().await.unwrap();
            add("alarm", alarms.metric_alarms().iter().filter_map(|m| m.alarm_name().map(str::to_string)).collect());
            for path in ["/pipectl", "/pipectl-lock"] {
                let params = a.ssm.get_parameters_by_path().path(path).recursive(true).send().await.unwrap();
                add("parameter", params.parameters().iter().filter_map(|p| p.name().map(str::to_string)).collect());
            }
            let vpcs = a.ec2.describe_vpcs().send().await.unwrap();
            add(
                "vpc",
                vpcs.vpcs()
                    .iter()
                    .filter(|v| v.is_default() != Some(true))
                    .filter_map(|v| v.vpc_id().map(str::to_string))
                    .collect(),
            );
            let instances = a.ec2.describe_instances().send().await.unwrap();
            add(
                "instance",
                instances
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter(|i| i.state().and_then(|s| s.name()).is_some_and(|n| n.as_str() != "terminated"))
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect(),
            );
            let sgs = a.ec2.describe_security_groups().send().await.unwrap();
            add(
                "security group",
                sgs.security_groups()
                    .iter()
                    .filter(|g| g.group_name() != Some("default"))
                    .filter_map(|g| g.group_name().map(str::to_string))
                    .collect(),
            );
            let eips = a.ec2.describe_addresses().send().await.unwrap();
            add("address", eips.addresses().iter().filter_map(|e| e.allocation_id().map(str::to_string)).collect());
            let nats = a.ec2.describe_nat_gateways().send().await.unwrap();
            add(
                "nat gateway",
                nats.nat_gateways()
                    .iter()
                    .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
                    .filter_map(|n| n.nat_gateway_id().map(str::to_string))
                    .collect(),
            );
            let igws = a.ec2.describe_internet_gateways().send().await.unwrap();
            let default_vpcs: Vec<String> = vpcs
                .vpcs()
                .iter()
                .filter(|v| v.is_default() == Some(true))
                .filter_map(|v| v.vpc_id().map(str::to_string))
                .collect();
            add(
                "internet gateway",
                igws.internet_gateways()
                    .iter()
                    .filter(|g| {
                        !g.attachments().iter().any(|x| x.vpc_id().is_some_and(|v| default_vpcs.iter().any(|d| d == v)))
                    })
                    .filter_map(|g| g.internet_gateway_id().map(str::to_string))
                    .collect(),
            );
        });
        out.sort();
        out
    }
}
