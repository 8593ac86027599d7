//! "Run pipectl with these args and expect this exit code and output."

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where tests write their specs: inside the repository, so code they
/// name (the repository's `templates/`, or files written beside the spec)
/// is inside the project pipectl confines `code:` to (`--code-root`, set to
/// the repository for every run).
pub fn scratch() -> PathBuf {
    root().join("target/test-specs")
}

/// Writes `text` as `spec.yaml` in a fresh folder of its own for `test`
/// (`group` keeps the folders of one module apart); returns its path.
pub fn temp_spec(group: &str, test: &str, text: &str) -> PathBuf {
    let dir = scratch().join(format!("pipectl-{group}-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spec.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub struct Pipectl {
    cmd: Command,
}

pub fn pipectl(args: &[&str]) -> Pipectl {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pipectl"));
    cmd.current_dir(root()).args(args);
    // Offline commands must not need AWS: make sure nothing could reach it.
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("PIPECTL_CODE_ROOT", root())
        .env_remove("PIPECTL_ENV");
    Pipectl { cmd }
}

impl Pipectl {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Credentials and region for the emulator at `url`.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn aws_env(mut self, url: &str) -> Self {
        self.cmd
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(std::process::Stdio::null());
        self
    }

    pub fn run(mut self) -> Run {
        let Output { status, stdout, stderr } = self.cmd.output().expect("pipectl runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

impl Pipectl {
    /// Starts pipectl without waiting for it (to signal or kill it).
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("pipectl starts")
    }
}

impl Pipectl {
    /// The command itself, to give it other standard streams (a
    /// pseudo-terminal).
    pub fn into_command(self) -> Command {
        self.cmd
    }
}

/// The exit code and output of a spawned pipectl.
pub fn finish(child: std::process::Child) -> Run {
    let Output { status, stdout, stderr } = child.wait_with_output().expect("pipectl ends");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
