//! The ingress across nodes: every node routes every host to healthy replicas anywhere.

use crate::{tb, wait_until, Testbed};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[path = "../common/http.rs"]
mod http;

const NODES: [&str; 3] = ["10.77.0.11:80", "10.77.0.12:80", "10.77.0.13:80"];

/// Three replicas that answer with their container's host name, behind `site.lan`
/// (roost's own route form).
pub(crate) const STACK: &str = "services:
  web:
    image: roost-test/busybox:latest
    command: [\"sh\", \"-c\", \"mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www\"]
    deploy: {replicas: 3}
    healthcheck:
      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:8080/\"]
      interval: 1s
    x-roost:
      routes: [{host: site.lan, port: 8080, tls: off}]
";

/// Another stack, routed by Traefik labels at `api.lan`.
const API: &str = "services:
  api:
    image: roost-test/busybox:latest
    command: [\"sh\", \"-c\", \"mkdir -p /www && echo api > /www/index.html && exec httpd -f -p 8080 -h /www\"]
    labels:
      traefik.http.routers.api.rule: Host(`api.lan`)
      traefik.http.services.api.loadbalancer.server.port: \"8080\"
";

fn get(node: &str, host: &str) -> Option<(u16, String)> {
    http::get(node, host, "/", Duration::from_secs(5))
}

#[test]
fn every_node_routes_every_host_and_requests_survive_losing_a_replica_or_its_host() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-ingress.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-ingress.yaml", "-p", "site"]);
    std::fs::write("/tmp/roost-cluster-test-ingress-api.yaml", API).unwrap();
    t.ok("h2", &["up", "-f", "/tmp/roost-cluster-test-ingress-api.yaml", "-p", "api"]);

    // From every node: both hosts answer, and site.lan spreads over all three replicas
    // (one per node), wherever they run.
    for node in NODES {
        wait_until(Duration::from_secs(30), "every replica behind site.lan", || {
            let seen: BTreeSet<String> = (0..12).filter_map(|_| get(node, "site.lan")).filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
            seen.len() == 3
        });
        assert_eq!(get(node, "api.lan"), Some((200, "api".into())), "api.lan through {node}");
        assert_eq!(get(node, "other.lan").map(|(s, _)| s), Some(404), "no route through {node}");
    }

    // Killing a replica: requests through h1 keep succeeding (a refused connect is
    // retried on another replica at once).
    let victim = String::from_utf8(tb(&["docker", "h2", "ps", "-q", "--filter", "label=com.docker.compose.service=web"]).stdout).unwrap();
    let victim = victim.lines().next().expect("a web replica on h2").to_owned();
    tb(&["docker", "h2", "kill", &victim]);
    let failed = hammer(NODES[0], Duration::from_secs(3));
    assert_eq!(failed, 0, "requests failed after a replica was killed");

    // Cutting a replica's host off: requests through h1 keep succeeding (at most one
    // in-flight request may fail); the cut host's replica leaves the pool.
    tb(&["cut", "h3"]);
    let failed = hammer(NODES[0], Duration::from_secs(5));
    tb(&["heal", "h3"]);
    assert!(failed <= 1, "{failed} requests failed while h3 was cut off");
}

/// The data plane does not wait for the control plane: with the leader's host cut off,
/// another node goes on routing to the healthy replicas it knows through the election
/// (once, about 22 of 100 requests got a 503 for 1.3 s).
#[test]
fn cutting_the_leaders_host_interrupts_no_route_on_the_other_nodes() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-ingress.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-ingress.yaml", "-p", "site"]);
    for node in NODES {
        wait_until(Duration::from_secs(30), "every replica behind site.lan", || {
            let seen: BTreeSet<String> = (0..12).filter_map(|_| get(node, "site.lan")).filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
            seen.len() == 3
        });
    }
    let leader = t.leader("h1").unwrap();
    let other = ["h1", "h2", "h3"].iter().position(|h| *h != leader).unwrap();
    let hammering = std::thread::spawn(move || hammer(NODES[other], Duration::from_secs(6)));
    std::thread::sleep(Duration::from_millis(500));
    tb(&["cut", &leader]);
    let failed = hammering.join().unwrap();
    let new_leader = t.leader(["h1", "h2", "h3"][other]);
    tb(&["heal", &leader]);
    assert!(new_leader.is_some_and(|l| l != leader), "a new leader was elected meanwhile");
    assert!(failed <= 1, "{failed} requests through {} failed while the leader {leader} was cut off", NODES[other]);
}

/// Sends requests to site.lan through `node` back to back for `long`; returns how many
/// did not get a 200.
fn hammer(node: &str, long: Duration) -> usize {
    let start = Instant::now();
    let (mut ok, mut failed) = (0, 0);
    while start.elapsed() < long {
        match get(node, "site.lan") {
            Some((200, _)) => ok += 1,
            other => {
                eprintln!("request failed at {:?}: {other:?}", start.elapsed());
                failed += 1;
            }
        }
    }
    eprintln!("{ok} requests ok, {failed} failed in {long:?}");
    failed
}

const VIP: &str = "10.77.0.100";

/// How many hosts have the floating address on their interface.
fn vip_holders() -> usize {
    (1..=3)
        .filter(|i| {
            let out = tb(&["exec", &format!("h{i}"), "ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
            String::from_utf8_lossy(&out.stdout).contains(&format!(" {VIP}/"))
        })
        .count()
}

#[test]
fn the_floating_address_follows_the_leader_and_is_never_held_twice() {
    let t = Testbed::cluster(3, &[("ROOST_AGENT_ARGS", &format!("--vip {VIP}/24"))]);
    std::fs::write("/tmp/roost-cluster-test-ingress.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-ingress.yaml", "-p", "site"]);
    let front = format!("{VIP}:80");
    wait_until(Duration::from_secs(30), "site.lan through the floating address", || {
        get(&front, "site.lan").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(vip_holders(), 1);

    // Sample who holds it every 100 ms while the leader's host is cut off.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(vip_holders());
                std::thread::sleep(Duration::from_millis(100));
            }
            max
        })
    };
    let leader = t.leader("h1").unwrap();
    let watcher = ["h1", "h2", "h3"].into_iter().find(|h| *h != leader).unwrap();
    let cut_at = Instant::now();
    tb(&["cut", &leader]);
    wait_until(Duration::from_secs(20), "the floating address answering again", || {
        http::get(&front, "site.lan", "/", Duration::from_millis(500)).is_some_and(|(s, _)| s == 200)
    });
    eprintln!("the floating address answered again {:?} after cutting the leader {leader}", cut_at.elapsed());
    assert_ne!(t.leader(watcher).as_deref(), Some(leader.as_str()));
    tb(&["heal", &leader]);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sampler.join().unwrap(), 1, "two hosts held the floating address at once");
    assert_eq!(vip_holders(), 1, "exactly one host holds it after the heal");
}
