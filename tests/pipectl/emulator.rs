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

    /// `pipectl apply SPEC --yes`, which must succeed.
    pub fn apply(&self, spec: &str) -> crate::util::Run {
        self.pipectl(&["apply", spec, "--yes"]).run().expect_code(0)
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
        let aws =
            pipectl::aws::Aws::from_config(&config, "us-east-1".into(), "123456789012".into(), Some(self.url.clone()));
        Sdk { rt, aws }
    }
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
}
