//! Test harness: the real `roost` binary, a real agent process, the real dockerd.
//!
//! One engine can have one agent (an agent removes managed containers it does not
//! want), so tests take [`serial`] for their whole run. Every stack a test makes is
//! torn down by its [`Agent`]'s drop, even when the test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "roost-test/busybox:latest";

static SERIAL: Mutex<()> = Mutex::new(());
static IMAGES: Once = Once::new();

/// Serializes tests that run an agent, and makes sure the engine and test image exist.
pub fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    IMAGES.call_once(|| {
        let script = repo_root().join("scripts/build-test-images.sh");
        let out = Command::new("bash").arg(script).output().expect("run build-test-images.sh");
        assert!(
            out.status.success(),
            "the tests need a running Docker engine and the test image (run scripts/install-docker.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    guard
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("run docker")
}

pub fn docker_out(args: &[&str]) -> String {
    let out = docker(args);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where the test agent's ingress listens (tests run one at a time), unless a test
/// passes its own `--http-listen`/`--https-listen`.
pub const INGRESS_HTTP: &str = "127.0.0.1:18480";
pub const INGRESS_HTTPS: &str = "127.0.0.1:18443";

/// A running `roost agent` with its own data dir, and the stacks tests deploy to it.
pub struct Agent {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    extra_args: Vec<String>,
    stacks: Vec<String>,
    /// Runs the agent with this soft open-file limit (`ulimit -Sn`), as systemd would.
    soft_open_files: Option<u32>,
}

impl Agent {
    pub fn start() -> Agent {
        Self::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = Agent { child: None, dir, extra_args: args.iter().map(|s| s.to_string()).collect(), stacks: vec![], soft_open_files: None };
        agent.spawn();
        agent
    }

    /// An agent started with systemd's default soft limit of 1024 open files.
    pub fn start_as_a_service(args: &[&str]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = Agent { child: None, dir, extra_args: args.iter().map(|s| s.to_string()).collect(), stacks: vec![], soft_open_files: Some(1024) };
        agent.spawn();
        agent
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("agent.log")).unwrap();
        let mut command = match self.soft_open_files {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -Sn {n} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_roost")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_roost")),
        };
        let child = command
            .arg("agent")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(self.default_listen_args())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start roost agent");
        self.child = Some(child);
        let socket = self.socket();
        // A killed agent leaves its socket file behind: wait for one that answers.
        wait_until(Duration::from_secs(10), "the agent's socket", || std::os::unix::net::UnixStream::connect(&socket).is_ok());
    }

    fn default_listen_args(&self) -> Vec<&'static str> {
        let mut args = Vec::new();
        if !self.extra_args.iter().any(|a| a == "--listen") {
            args.extend(["--listen", "none"]);
        }
        if !self.extra_args.iter().any(|a| a == "--http-listen") {
            args.extend(["--http-listen", INGRESS_HTTP]);
        }
        if !self.extra_args.iter().any(|a| a == "--https-listen") {
            args.extend(["--https-listen", INGRESS_HTTPS]);
        }
        args
    }

    pub fn socket(&self) -> String {
        self.dir.path().join("data/roost.sock").display().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `kill -9`, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// `kill -TERM`, as `systemctl stop` would; waits for the agent to exit.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            c.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Runs the CLI against this agent.
    pub fn roost(&self, args: &[&str]) -> Output {
        self.roost_in(None, args)
    }

    pub fn roost_in(&self, cwd: Option<&Path>, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.args(args).env("ROOST_HOST", format!("unix://{}", self.socket()));
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        cmd.output().expect("run roost")
    }

    /// Writes `yaml` as a compose file for stack `name` and runs `up --wait`.
    pub fn up(&mut self, name: &str, yaml: &str) -> Output {
        self.up_env(name, yaml, &[])
    }

    pub fn up_env(&mut self, name: &str, yaml: &str, env: &[(&str, &str)]) -> Output {
        if !self.stacks.iter().any(|s| s == name) {
            self.stacks.push(name.to_owned());
        }
        let file = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.args(["up", "-f", file.to_str().unwrap(), "-p", name, "--wait", "--wait-timeout", "60"])
            .env("ROOST_HOST", format!("unix://{}", self.socket()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run roost up")
    }

    /// `roost ps --json` rows of one stack.
    pub fn ps(&self, stack: &str) -> Vec<serde_json::Value> {
        let out = self.roost(&["ps", "-p", stack, "--json"]);
        assert!(out.status.success(), "ps failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("ps --json prints JSON")
    }

    pub fn row(&self, stack: &str, service: &str, slot: u64) -> serde_json::Value {
        self.ps(stack)
            .into_iter()
            .find(|r| r["service"] == service && r["slot"] == slot)
            .unwrap_or_else(|| panic!("no ps row for {stack}/{service}#{slot}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What CI shows of a failed test: the agent's own account and the engine's view.
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("---- agent log (last {} lines) ----", tail.len());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            for s in &self.stacks {
                let filter = format!("label=io.roost.stack={s}");
                eprintln!("---- docker ps -a for {s} ----\n{}", docker_out(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}} {{.Status}} {{.Label \"io.roost.config-hash\"}}"]));
            }
        }
        if self.child.is_some() {
            for s in self.stacks.clone() {
                let _ = self.roost(&["down", "-p", &s, "--volumes"]);
            }
        }
        self.kill9();
        for s in &self.stacks {
            // Whatever the agent could not remove (the test killed it, say).
            let ids = docker_out(&["ps", "-aq", "--filter", &format!("label=io.roost.stack={s}")]);
            for id in ids.lines() {
                let _ = docker(&["rm", "-f", "-v", id]);
            }
            let _ = docker(&["network", "rm", &format!("{s}_default")]);
        }
    }
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Container ids of a stack's containers by name, from Docker itself.
pub fn containers(stack: &str) -> std::collections::BTreeMap<String, String> {
    docker_out(&["ps", "-a", "--filter", &format!("label=io.roost.stack={stack}"), "--format", "{{.Names}} {{.ID}}"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(n, i)| (n.to_owned(), i.to_owned())))
        .collect()
}

pub fn started_at(container: &str) -> String {
    docker_out(&["inspect", "-f", "{{.State.StartedAt}}", container])
}
