//! How an agent stops: its fence watchdog leaves with a clean stop, stays after a crash.

use crate::harness::{serial, wait_until, Agent};
use std::time::Duration;

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

fn cluster_agent() -> (Agent, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    // Ingress on ports of its own: another test binary may run its agent meanwhile.
    let agent = Agent::start_with(&["--listen", &listen, "--advertise", &listen, "--http-listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0"]);
    let pid_file = agent.dir.path().join("data/fence.pid");
    wait_until(Duration::from_secs(10), "the fence watchdog", || pid_file.exists());
    let watchdog = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    assert!(alive(&watchdog), "the watchdog {watchdog} runs");
    (agent, watchdog)
}

#[test]
fn the_fence_watchdog_leaves_with_a_clean_stop_and_stays_after_a_crash() {
    let _serial = serial();

    let (mut agent, watchdog) = cluster_agent();
    agent.terminate();
    wait_until(Duration::from_secs(5), "the watchdog of a cleanly stopped agent to exit", || !alive(&watchdog));
    assert!(!agent.dir.path().join("data/fence.pid").exists(), "it leaves no pid file behind");

    let (mut crashed, watchdog) = cluster_agent();
    crashed.kill9();
    std::thread::sleep(Duration::from_secs(1));
    let still = alive(&watchdog);
    let _ = std::process::Command::new("kill").args(["-9", &watchdog]).status();
    assert!(still, "the watchdog of a killed agent keeps guarding its stateful replicas");
}
