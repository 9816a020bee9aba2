//! The cluster on the multi-host testbed (`testbed/testbed`): real network namespaces,
//! one dockerd and one agent per host, real faults (kill -9, cut links).
//!
//! The testbed has fixed names (one per machine), so these tests take a lock.

mod failover;
mod faults;
mod https;
mod ingress;
mod join;
mod network;
mod size;
mod strangers;
mod trust;
mod volumes;

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

struct Testbed {
    _serial: MutexGuard<'static, ()>,
}

fn tool() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testbed/testbed")
}

fn tb(args: &[&str]) -> Output {
    Command::new(tool())
        .args(args)
        .env("ROOST_BIN", env!("CARGO_BIN_EXE_roost"))
        .env("TESTBED_QUIET", "1")
        .env("ROOST_RAFT_SNAPSHOT_EVERY", "10")
        .output()
        .expect("run testbed")
}

impl Testbed {
    fn up(n: usize, env: &[(&str, &str)]) -> Testbed {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let _ = tb(&["down"]);
        let mut cmd = Command::new(tool());
        cmd.args(["up", &n.to_string()])
            .env("ROOST_BIN", env!("CARGO_BIN_EXE_roost"))
            .env("TESTBED_QUIET", "1")
            .env("ROOST_RAFT_SNAPSHOT_EVERY", "10");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "testbed up failed: {}", String::from_utf8_lossy(&out.stderr));
        Testbed { _serial: serial }
    }

    /// Forms a cluster: every other host joins h1.
    fn cluster(n: usize, env: &[(&str, &str)]) -> Testbed {
        let t = Testbed::up(n, env);
        let token = t.ok("h1", &["token"]).trim().to_owned();
        for i in 2..=n {
            t.ok(&format!("h{i}"), &["join", "10.77.0.11:4280", "--token", &token]);
        }
        // Placement only uses nodes the leader has heard from: wait until every node
        // sees every other, so tests start from a settled cluster.
        for i in 1..=n {
            wait_until(Duration::from_secs(15), "every node reachable from every node", || {
                t.json(&format!("h{i}"), &["nodes", "--json"])
                    .is_some_and(|nodes| nodes.len() == n && nodes.iter().all(|x| x["reachable"] == true))
            });
        }
        t
    }

    fn roost(&self, host: &str, args: &[&str]) -> Output {
        let mut all = vec!["roost", host];
        all.extend_from_slice(args);
        tb(&all)
    }

    fn ok(&self, host: &str, args: &[&str]) -> String {
        let out = self.roost(host, args);
        assert!(
            out.status.success(),
            "roost {args:?} on {host} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, host: &str, args: &[&str]) -> Option<Vec<serde_json::Value>> {
        let out = self.roost(host, args);
        out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
    }

    /// The leader's name as `host` sees it.
    fn leader(&self, host: &str) -> Option<String> {
        self.json(host, &["nodes", "--json"])?
            .into_iter()
            .find(|n| n["leader"] == true)
            .map(|n| n["name"].as_str().unwrap().to_owned())
    }

    fn stacks(&self, host: &str) -> Vec<String> {
        self.json(host, &["ls", "--json"])
            .unwrap_or_default()
            .into_iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `up` of a stack with no replicas: a pure state change.
    fn deploy(&self, host: &str, name: &str) -> Output {
        let file = format!("/tmp/roost-cluster-test-{name}.yaml");
        std::fs::write(&file, "services:\n  s:\n    image: roost-test/busybox:latest\n    deploy: {replicas: 0}\n").unwrap();
        self.roost(host, &["up", "-f", &file, "-p", name])
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = tb(&["down"]);
    }
}

fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn three_hosts_form_a_cluster_elect_a_new_leader_and_catch_up_via_snapshot() {
    let t = Testbed::cluster(3, &[]);
    for h in ["h1", "h2", "h3"] {
        wait_until(Duration::from_secs(10), "all three nodes and one leader", || {
            let nodes = t.json(h, &["nodes", "--json"]).unwrap_or_default();
            nodes.len() == 3 && nodes.iter().filter(|n| n["leader"] == true).count() == 1
        });
    }
    let old = t.leader("h1").unwrap();
    let survivor = ["h1", "h2", "h3"].into_iter().find(|h| *h != old).unwrap();
    tb(&["kill-agent", &old]);
    let took = wait_until(Duration::from_secs(10), "a new leader", || t.leader(survivor).is_some_and(|l| l != old));
    assert!(took < Duration::from_millis(2500), "new leader after {took:?} (includes CLI polling)");

    // Enough changes while the old leader is down that its log entries are compacted
    // away: it must catch up from a snapshot.
    for i in 0..15 {
        let out = t.deploy(survivor, &format!("s{i}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    tb(&["start-agent", &old]);
    wait_until(Duration::from_secs(20), "the old leader to catch up", || t.stacks(&old).len() == 15);
}

#[test]
fn a_cut_off_host_refuses_changes_and_converges_after_heal() {
    let t = Testbed::cluster(3, &[]);
    wait_until(Duration::from_secs(10), "a leader seen by h3", || t.leader("h3").is_some());
    tb(&["cut", "h3"]);
    let out = t.deploy("h1", "majority");
    assert!(out.status.success(), "the majority keeps accepting changes: {}", String::from_utf8_lossy(&out.stderr));
    let refused = t.deploy("h3", "minority");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("no quorum"), "{err}");
    tb(&["heal", "h3"]);
    wait_until(Duration::from_secs(20), "h3 to converge", || t.stacks("h3") == ["majority"]);
    for h in ["h1", "h2"] {
        assert_eq!(t.stacks(h), ["majority"], "the refused write is nowhere");
    }
}

#[test]
fn strangers_and_bad_tokens_are_refused() {
    let t = Testbed::up(2, &[]);
    // Plain TCP on the cluster port: no HTTP answer, ever.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&"10.77.0.11:4280".parse().unwrap(), Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"GET /v1/nodes HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(!buf.starts_with(b"HTTP"), "a plain TCP client got an HTTP answer");

    // A TLS client with a node certificate from another CA: refused in the handshake.
    let answer = strangers::foreign_ca_client("10.77.0.11:4280");
    assert!(!answer.starts_with(b"HTTP"), "a client of another CA got an answer: {}", String::from_utf8_lossy(&answer));

    let garbage = t.roost("h2", &["join", "10.77.0.11:4280", "--token", "SWMTKN-1-abc"]);
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("not a roost join token"), "{}", String::from_utf8_lossy(&garbage.stderr));

    let old = t.ok("h1", &["token"]).trim().to_owned();
    let new = t.ok("h1", &["token", "--rotate"]).trim().to_owned();
    assert_ne!(old, new);
    let rotated = t.roost("h2", &["join", "10.77.0.11:4280", "--token", &old]);
    assert!(!rotated.status.success());
    assert!(String::from_utf8_lossy(&rotated.stderr).contains("not valid for this cluster"), "{}", String::from_utf8_lossy(&rotated.stderr));

    // A token naming another cluster's CA: h2 refuses to trust h1.
    let other = t.ok("h2", &["token"]).trim().to_owned();
    let wrong_ca = t.roost("h2", &["join", "10.77.0.11:4280", "--token", &other]);
    assert!(String::from_utf8_lossy(&wrong_ca.stderr).contains("did not prove"), "{}", String::from_utf8_lossy(&wrong_ca.stderr));

    t.ok("h2", &["join", "10.77.0.11:4280", "--token", &new]);
    wait_until(Duration::from_secs(10), "two nodes", || t.json("h1", &["nodes", "--json"]).is_some_and(|n| n.len() == 2));

    // The remote CLI on the cluster port: only with a CLI token.
    let remote = |token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.args(["--host", "tcp://10.77.0.12:4280", "ls", "--json"]).env_remove("ROOST_CLI_TOKEN");
        if let Some(t) = token {
            cmd.args(["--cli-token", t]);
        }
        cmd.output().unwrap()
    };
    let none = remote(None);
    assert!(String::from_utf8_lossy(&none.stderr).contains("needs a CLI token"), "{}", String::from_utf8_lossy(&none.stderr));
    let join_token_as_cli = remote(Some(&new));
    assert!(String::from_utf8_lossy(&join_token_as_cli.stderr).contains("not valid"), "{}", String::from_utf8_lossy(&join_token_as_cli.stderr));
    let cli = t.ok("h1", &["token", "--cli"]).trim().to_owned();
    let ok = remote(Some(&cli));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn leave_and_node_rm_shrink_the_cluster_without_losing_quorum() {
    let t = Testbed::cluster(3, &[]);
    wait_until(Duration::from_secs(10), "h1 to see every node reachable", || {
        t.json("h1", &["nodes", "--json"]).is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["reachable"] == true))
    });
    let rm = |name: &str| t.roost("h1", &["node", "rm", name]);
    let up = rm("h2");
    assert!(String::from_utf8_lossy(&up.stderr).contains("is up"), "{}", String::from_utf8_lossy(&up.stderr));

    tb(&["kill-agent", "h2"]);
    tb(&["kill-agent", "h3"]);
    wait_until(Duration::from_secs(10), "h1 to see both down", || {
        t.json("h1", &["nodes", "--json"]).is_some_and(|n| n.iter().filter(|n| n["reachable"] == false).count() == 2)
    });
    let no_quorum = rm("h3");
    assert!(!no_quorum.status.success());
    assert!(String::from_utf8_lossy(&no_quorum.stderr).contains("no quorum"), "{}", String::from_utf8_lossy(&no_quorum.stderr));

    tb(&["start-agent", "h2"]);
    wait_until(Duration::from_secs(15), "h2 back", || {
        t.json("h1", &["nodes", "--json"]).is_some_and(|n| n.iter().any(|n| n["name"] == "h2" && n["reachable"] == true))
            && t.leader("h1").is_some()
    });
    let out = rm("h3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names = |h: &str| -> Vec<String> {
        let mut v: Vec<String> =
            t.json(h, &["nodes", "--json"]).unwrap_or_default().iter().map(|n| n["name"].as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    wait_until(Duration::from_secs(10), "two nodes left", || names("h1") == ["h1", "h2"]);

    t.ok("h2", &["leave"]);
    wait_until(Duration::from_secs(10), "h1 alone", || names("h1") == ["h1"]);
    assert_eq!(names("h2"), ["h2"], "h2 is a one-node cluster again");
    assert!(t.deploy("h1", "after-leave").status.success());
    assert!(t.deploy("h2", "alone").status.success());
}

#[test]
fn every_acknowledged_up_survives_random_member_kills() {
    let t = Testbed::cluster(3, &[]);
    let hosts = ["h1", "h2", "h3"];
    // A fixed-seed LCG: random but repeatable kills.
    let mut seed: u64 = 0x5eed_1234;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut acknowledged = Vec::new();
    let mut down: Option<&str> = None;
    for i in 0..24 {
        if i % 4 == 0 {
            if let Some(h) = down.take() {
                tb(&["start-agent", h]);
            } else {
                let h = hosts[next(3) as usize];
                tb(&["kill-agent", h]);
                down = Some(h);
            }
        }
        let host = hosts[next(3) as usize];
        let name = format!("ack{i}");
        if t.deploy(host, &name).status.success() {
            acknowledged.push(name);
        }
    }
    if let Some(h) = down {
        tb(&["start-agent", h]);
    }
    assert!(acknowledged.len() >= 12, "too few writes acknowledged: {acknowledged:?}");
    for h in hosts {
        wait_until(Duration::from_secs(20), "every acknowledged stack on every host", || {
            let stacks = t.stacks(h);
            acknowledged.iter().all(|a| stacks.contains(a))
        });
    }
}

#[test]
fn a_full_cluster_stop_and_start_keeps_state() {
    let t = Testbed::cluster(3, &[]);
    assert!(t.deploy("h2", "kept").status.success());
    for h in ["h1", "h2", "h3"] {
        tb(&["kill-agent", h]);
    }
    for h in ["h1", "h2", "h3"] {
        tb(&["start-agent", h]);
    }
    for h in ["h1", "h2", "h3"] {
        wait_until(Duration::from_secs(15), "state after restart", || t.stacks(h) == ["kept"] && t.leader(h).is_some());
    }
}

#[test]
fn two_hosts_and_a_witness_survive_losing_either_host() {
    let t = Testbed::cluster(3, &[("ROOST_AGENT_ARGS_H3", "--witness")]);
    let refused = t.deploy("h3", "on-witness");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("witness"), "{}", String::from_utf8_lossy(&refused.stderr));
    let web = "/tmp/roost-cluster-test-web.yaml";
    std::fs::write(web, "services:\n  web:\n    image: roost-test/busybox:latest\n    command: [\"sleep\", \"10000\"]\n    init: true\n").unwrap();
    t.ok("h1", &["up", "-f", web, "-p", "web", "--wait", "--wait-timeout", "30"]);
    for (lost, survivor) in [("h1", "h2"), ("h2", "h1")] {
        tb(&["kill-agent", lost]);
        wait_until(Duration::from_secs(10), "a leader among the survivors", || {
            t.leader(survivor).is_some_and(|l| l != lost)
        });
        let out = t.deploy(survivor, &format!("after-losing-{lost}"));
        assert!(out.status.success(), "losing {lost}: {}", String::from_utf8_lossy(&out.stderr));
        tb(&["start-agent", lost]);
        wait_until(Duration::from_secs(15), "the lost host to rejoin", || t.stacks(lost).len() == 2 + usize::from(lost == "h2"));
    }
    let witness_containers = tb(&["docker", "h3", "ps", "-aq"]);
    assert_eq!(String::from_utf8_lossy(&witness_containers.stdout).trim(), "", "the witness never runs a container");
}
