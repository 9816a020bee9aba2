//! Helpers for the integration tests against a real engine.
//!
//! The engine is `DOCKER_HOST` or /var/run/docker.sock; an unreachable engine FAILS the
//! tests (no silent skipping). Each test uses its own stack name and removes everything
//! labelled with it afterwards, also when the test body panics.
//!
//! Run them on an engine no roost agent manages: an agent removes managed containers
//! and networks of stacks it does not know, which shows up here as "No such
//! container" / "network ... not found". A private engine works well, e.g. a second
//! dockerd in its own network namespace (see /work/shared/TESTBED.md) with
//! `DOCKER_HOST=unix:///tmp/rdt/docker.sock cargo test -p roost-docker`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::{FutureExt, StreamExt};
use roost_core::observed::{ObservedContainer, Observed};
use roost_docker::Driver;
use roost_spec::{Healthcheck, PullPolicy, Service, ServiceNetwork, Stack};

pub const IMAGE: &str = "roost-test/busybox:latest";

/// Connects, failing loudly if the engine is not there, and builds the test image if
/// it is missing (scripts/build-test-images.sh).
pub async fn driver() -> Driver {
    let drv = Driver::connect(None).await.unwrap_or_else(|e| {
        panic!("integration tests need a Docker engine (DOCKER_HOST or /var/run/docker.sock; run scripts/install-docker.sh): {e}")
    });
    drv.ping().await.expect("engine ping");
    if drv.docker().inspect_image(IMAGE).await.is_err() {
        // Tests run in parallel: build once. The script skips an existing image and
        // honours DOCKER_HOST, so it builds on the engine under test.
        static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _once = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-images.sh");
        let status = std::process::Command::new("bash").arg(&script).status().expect("run build-test-images.sh");
        assert!(status.success(), "{} failed", script.display());
    }
    drv
}

/// A stack name no other test (or earlier run) uses.
pub fn unique_stack(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("rt{prefix}{}x{}x{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A busybox service on the `default` network.
pub fn service(command: &[&str]) -> Service {
    Service {
        image: IMAGE.to_string(),
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        networks: BTreeMap::from([("default".to_string(), ServiceNetwork::default())]),
        replicas: 1,
        pull_policy: PullPolicy::Never,
        ..Default::default()
    }
}

/// A web server with a health check, as the lifecycle test wants.
pub fn web_service() -> Service {
    let mut s = service(&["httpd", "-f", "-p", "8080", "-h", "/www"]);
    s.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".into(), "wget -q -O- http://localhost:8080/ >/dev/null".into()],
        interval: Some(Duration::from_millis(500)),
        timeout: Some(Duration::from_secs(2)),
        retries: Some(3),
        start_period: None,
        start_interval: None,
    });
    s
}

pub fn stack(name: &str, services: &[(&str, Service)]) -> Stack {
    Stack {
        name: name.to_string(),
        services: services.iter().map(|(n, s)| (n.to_string(), s.clone())).collect(),
        networks: BTreeMap::from([("default".to_string(), Default::default())]),
        ..Default::default()
    }
}

/// Runs `body`, then removes everything of `stack_name` whatever happened, then
/// re-raises a panic of the body.
pub async fn with_cleanup<F, Fut>(drv: &Driver, stack_name: &str, body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let result = AssertUnwindSafe(body()).catch_unwind().await;
    cleanup(drv, stack_name).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

pub async fn cleanup(drv: &Driver, stack_name: &str) {
    let Ok(obs) = drv.observe().await else { return };
    for c in obs.containers.iter().filter(|c| c.stack == stack_name) {
        let _ = drv.remove_container(&c.id, None, Some(Duration::ZERO)).await;
    }
    for n in obs.networks.iter().filter(|n| n.stack == stack_name) {
        let _ = drv.remove_network(&n.name).await;
    }
    for v in obs.volumes.iter().filter(|v| v.stack == stack_name) {
        let _ = drv.remove_volume(&v.name).await;
    }
}

/// The managed containers of one stack.
pub fn of_stack<'a>(obs: &'a Observed, stack_name: &str) -> Vec<&'a ObservedContainer> {
    obs.containers.iter().filter(|c| c.stack == stack_name).collect()
}

/// Polls `observe` until `pred` holds (returns the last observation) or panics after
/// `timeout` with the last observation.
pub async fn wait_for(
    drv: &Driver,
    timeout: Duration,
    what: &str,
    mut pred: impl FnMut(&Observed) -> bool,
) -> Observed {
    let deadline = Instant::now() + timeout;
    loop {
        let obs = drv.observe().await.expect("observe");
        if pred(&obs) {
            return obs;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last observation: {obs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs a command in a running container; returns (exit code, stdout+stderr).
pub async fn exec(drv: &Driver, id: &str, cmd: &[&str]) -> (i64, String) {
    let docker = drv.docker();
    let created = docker
        .create_exec(
            id,
            ExecConfig {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        )
        .await
        .expect("create exec");
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&created.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: None }))
        .await
        .expect("start exec")
    {
        while let Some(chunk) = output.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.expect("exec output").into_bytes()));
        }
    }
    let code = docker.inspect_exec(&created.id).await.expect("inspect exec").exit_code.unwrap_or(-1);
    (code, out)
}

/// All log output of a container, as text.
pub async fn logs_text(drv: &Driver, id: &str, tail: Option<u64>) -> String {
    let chunks: Vec<_> = drv.logs(id, false, tail).collect().await;
    let mut s = String::new();
    for c in chunks {
        s.push_str(&String::from_utf8_lossy(&c.expect("log chunk")));
    }
    s
}
