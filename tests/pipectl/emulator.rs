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
        let bin = std::env::var("PIPECTL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spawned = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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

    /// SDK clients pointed at this emulator, for checks that do not go
    /// through pipectl's own read code.
    pub fn sdk(&self) -> Sdk {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(&self.url)
                .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
                .load(),
        );
        let s3 =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        Sdk {
            rt,
            s3,
            kinesis: aws_sdk_kinesis::Client::new(&config),
            firehose: aws_sdk_firehose::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            glue: aws_sdk_glue::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Sdk {
    pub rt: tokio::runtime::Runtime,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub glue: aws_sdk_glue::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
}

impl Sdk {
    pub fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}
