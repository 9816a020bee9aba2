//! The fault matrix: random faults on a 3-host cluster that runs a stream of deploys,
//! a stateful service and routed traffic, and the promises that must hold through them.
//!
//! Each step applies one fault to one host (the seed is printed; `ROOST_TEST_SEED`
//! replays a run, `ROOST_FAULT_STEPS` makes a long run), holds it for a random time,
//! undoes it and waits for the cluster to converge. Checked throughout and at the end:
//! no acknowledged deploy is lost, the stateful service never runs twice, no agent
//! crashes (or stops by itself), everything converges after each heal, and routed
//! requests through the hosts not at fault succeed (under 5 % fail; each failure is
//! printed with its time).
//!
//! This kernel has no netem, so delay comes from a slow link (a token bucket whose
//! queue adds latency) and loss from iptables' random drop. Linux has no namespace for
//! the wall clock, so a host's clock is stepped for its agent alone with libfaketime
//! (`testbed clock`), the monotonic and boot-time clocks staying true, as when NTP
//! steps a real machine's clock.

use crate::failover::{fault_rng as rng, Sampler};
use crate::{tb, wait_until, Testbed};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../common/http.rs"]
mod http;

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// A stateful `db` (a named volume) and three `web` replicas.
use crate::failover::STACK as STATEFUL;
/// Three replicas behind `site.lan`.
use crate::ingress::STACK as ROUTED;

/// The faults, each with how to apply and undo it on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The host's link down: a full partition.
    Cut,
    /// Nobody can open a connection to the host; its own connections work.
    OneWay,
    /// 30 % of the host's packets dropped, both ways.
    Lossy,
    /// The host's link at 1 Mbit/s: its queue adds up to half a second.
    Slow,
    /// The agent stopped (SIGSTOP) while its host and containers run on.
    Pause,
    /// The agent killed (-9) while its host and containers run on.
    KillAgent,
    /// The file system of the agent's data dir full to the last byte.
    DiskFull,
    /// A deploy acknowledged by the leader, whose agent is killed (-9) at once.
    KillLeaderAfterAck,
    /// The host's wall clock stepped three hours back.
    ClockBack,
    /// The host's wall clock stepped three hours forward.
    ClockForward,
}

const FAULTS: [Fault; 10] = [
    Fault::Cut,
    Fault::OneWay,
    Fault::Lossy,
    Fault::Slow,
    Fault::Pause,
    Fault::KillAgent,
    Fault::DiskFull,
    Fault::KillLeaderAfterAck,
    Fault::ClockBack,
    Fault::ClockForward,
];

impl Fault {
    fn apply(self, host: &str) {
        match self {
            Fault::Cut => tb(&["cut", host]),
            Fault::OneWay => tb(&["oneway", host]),
            Fault::Lossy => tb(&["lossy", host, "30"]),
            Fault::Slow => tb(&["slow", host, "1mbit"]),
            Fault::Pause => tb(&["pause", host]),
            Fault::KillAgent | Fault::KillLeaderAfterAck => tb(&["kill-agent", host]),
            Fault::DiskFull => tb(&["fill", host]),
            Fault::ClockBack => tb(&["clock", host, "-3h"]),
            Fault::ClockForward => tb(&["clock", host, "+3h"]),
        };
    }

    fn undo(self, host: &str) {
        match self {
            Fault::Cut => tb(&["heal", host]),
            Fault::OneWay | Fault::Lossy | Fault::Slow => tb(&["clean", host]),
            Fault::Pause => tb(&["resume", host]),
            Fault::KillAgent | Fault::KillLeaderAfterAck => tb(&["start-agent", host]),
            Fault::DiskFull => tb(&["unfill", host]),
            Fault::ClockBack | Fault::ClockForward => tb(&["clock", host, "+0"]),
        };
    }
}

/// Deploys stacks one after another on random hosts, recording those acknowledged.
struct DeployStream {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<String>>>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl DeployStream {
    fn start() -> DeployStream {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (s, a) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let mut tried = 0;
            while !s.load(Ordering::SeqCst) {
                let name = format!("d{tried:03}");
                let host = HOSTS[tried % 3];
                tried += 1;
                if deploy(host, &name).status.success() {
                    a.lock().unwrap().insert(name);
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            tried
        });
        DeployStream { stop, acked, thread: Some(thread) }
    }

    fn finish(mut self) -> (usize, BTreeSet<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let tried = self.thread.take().unwrap().join().unwrap();
        (tried, self.acked.lock().unwrap().clone())
    }
}

/// `up` of a stack with no replicas on `host`: a pure state change (as `Testbed::deploy`,
/// without the testbed handle, which stays on the test's thread).
fn deploy(host: &str, name: &str) -> std::process::Output {
    let file = format!("/tmp/roost-cluster-test-{name}.yaml");
    std::fs::write(&file, "services:\n  s:\n    image: roost-test/busybox:latest\n    deploy: {replicas: 0}\n").unwrap();
    tb(&["roost", host, "up", "-f", &file, "-p", name])
}

/// Routed requests through the hosts not at fault, every 50 ms.
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(faulted: Arc<Mutex<Option<String>>>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, n, f) = (stop.clone(), sent.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut i = 0usize;
            while !s.load(Ordering::SeqCst) {
                i += 1;
                let host = HOSTS[i % 3];
                if faulted.lock().unwrap().as_deref() != Some(host) {
                    let addr = format!("10.77.0.{}:80", 10 + i % 3 + 1);
                    let answer = http::get(&addr, "site.lan", "/", Duration::from_secs(5));
                    let ok = answer.as_ref().is_some_and(|(status, _)| *status == 200);
                    // Counted only if the host was still not at fault when it answered.
                    if faulted.lock().unwrap().as_deref() != Some(host) {
                        n.fetch_add(1, Ordering::SeqCst);
                        if !ok {
                            f.fetch_add(1, Ordering::SeqCst);
                            eprintln!("routed request through {host} failed at {:?}: {answer:?}", started.elapsed());
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Traffic { stop, sent, failed, thread: Some(thread) }
    }

    fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        (self.sent.load(Ordering::SeqCst), self.failed.load(Ordering::SeqCst))
    }
}

/// Every host answers, sees all three nodes reachable, one `db` is ready and the route
/// answers through every host.
fn converged(t: &Testbed) -> bool {
    HOSTS.iter().all(|h| {
        t.json(h, &["nodes", "--json"]).is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["reachable"] == true))
    }) && t
        .json("h1", &["ps", "-p", "state", "--json"])
        .is_some_and(|rows| rows.iter().any(|r| r["service"] == "db" && r["ready"] == true && r["desired"] == true))
        && (1..=3).all(|i| {
            http::get(&format!("10.77.0.{}:80", 10 + i), "site.lan", "/", Duration::from_secs(2)).is_some_and(|(s, _)| s == 200)
        })
}

fn agent_log(host: &str) -> String {
    std::fs::read_to_string(format!("/tmp/roost-testbed/{host}/agent.log")).unwrap_or_default()
}

#[test]
fn random_faults_keep_every_promise() {
    let steps: usize = std::env::var("ROOST_FAULT_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(FAULTS.len());
    let t = Testbed::cluster(3, &[("TESTBED_DATA_MB", "64"), ("TESTBED_FAKETIME", "1")]);
    std::fs::write("/tmp/roost-cluster-test-faults-state.yaml", STATEFUL).unwrap();
    std::fs::write("/tmp/roost-cluster-test-faults-routed.yaml", ROUTED).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-faults-state.yaml", "-p", "state"]);
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-faults-routed.yaml", "-p", "routed"]);
    wait_until(Duration::from_secs(60), "the cluster to settle with both stacks", || converged(&t));

    let mut rng = rng();
    let faulted: Arc<Mutex<Option<String>>> = Arc::default();
    let copies = Sampler::start("db");
    let traffic = Traffic::start(faulted.clone());
    let deploys = DeployStream::start();
    let t0 = Instant::now();
    let mut late_acks = BTreeSet::new();
    let mut worst_convergence = Duration::ZERO;

    // Every fault once in a random order, then random ones.
    let mut order: Vec<Fault> = FAULTS.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, rng(i as u64 + 1) as usize);
    }
    for step in 0..steps {
        let fault = if step < order.len() { order[step] } else { FAULTS[rng(FAULTS.len() as u64) as usize] };
        let host = match fault {
            Fault::KillLeaderAfterAck => t.leader("h1").or_else(|| t.leader("h2")).expect("a leader"),
            _ => HOSTS[rng(3) as usize].to_owned(),
        };
        let hold = Duration::from_millis(500 + rng(5500));
        *faulted.lock().unwrap() = Some(host.clone());
        eprintln!("step {step}: {fault:?} on {host} for {hold:?} at {:?}", t0.elapsed());
        if fault == Fault::KillLeaderAfterAck {
            let name = format!("ack{step:02}");
            let out = t.deploy(&host, &name);
            fault.apply(&host);
            assert!(out.status.success(), "the leader refused {name}: {}", String::from_utf8_lossy(&out.stderr));
            late_acks.insert(name);
        } else {
            fault.apply(&host);
        }
        std::thread::sleep(hold);
        fault.undo(&host);
        let healed = Instant::now();
        wait_until(Duration::from_secs(60), &format!("convergence after {fault:?} on {host}"), || converged(&t));
        let took = healed.elapsed();
        worst_convergence = worst_convergence.max(took);
        eprintln!("step {step}: converged {took:?} after the undo");
        *faulted.lock().unwrap() = None;
    }

    if let Ok(dir) = std::env::var("ROOST_FAULT_LOGS") {
        let _ = std::fs::create_dir_all(&dir);
        for host in HOSTS {
            let _ = std::fs::write(format!("{dir}/{host}.log"), agent_log(host));
        }
    }
    let (tried, mut acked) = deploys.finish();
    let (sent, failed) = traffic.finish();
    let max_copies = copies.finish();
    acked.extend(late_acks);
    eprintln!(
        "fault matrix: {steps} steps in {:?}; {} of {tried} streamed deploys acknowledged; routed requests through hosts not at fault: {failed} of {sent} failed ({:.2} %); slowest convergence after an undo {worst_convergence:?}",
        t0.elapsed(),
        acked.len(),
        100.0 * failed as f64 / sent.max(1) as f64
    );

    assert_eq!(max_copies, 1, "the stateful service ran {max_copies} copies at once");
    for host in HOSTS {
        wait_until(Duration::from_secs(20), &format!("{host} to hold every acknowledged deploy"), || {
            let stacks: BTreeSet<String> = t.stacks(host).into_iter().collect();
            acked.is_subset(&stacks)
        });
        let log = agent_log(host);
        assert!(!log.contains("panicked"), "{host}'s agent panicked:\n{log}");
        assert!(!log.contains("stopping the agent"), "{host}'s agent stopped itself:\n{log}");
    }
    // The windows of 503s this bound once caught came from a cut-off leader's stale
    // placement, forwarded to the next leader (see
    // `a_leader_back_from_a_cut_moves_nothing_off_the_nodes_that_kept_running`).
    assert!(
        (failed as f64) < 0.05 * sent as f64,
        "{failed} of {sent} routed requests through hosts not at fault failed (each is printed above with its time)"
    );
}

/// openraft stops for good at a storage error; once, the node then followed no change
/// until its agent was restarted by hand, while it went on answering as if current.
#[test]
fn a_full_disk_stops_no_agent_and_its_node_catches_up_once_there_is_room() {
    let t = Testbed::cluster(3, &[("TESTBED_DATA_MB", "64")]);
    tb(&["fill", "h2"]);
    let names: Vec<String> = (0..30).map(|i| format!("full{i:02}")).collect();
    for name in &names {
        let out = deploy("h1", name);
        assert!(out.status.success(), "the majority keeps taking changes: {}", String::from_utf8_lossy(&out.stderr));
    }
    let ps = t.roost("h2", &["ps"]);
    assert!(ps.status.success(), "h2's agent answers with its disk full: {}", String::from_utf8_lossy(&ps.stderr));
    tb(&["unfill", "h2"]);
    wait_until(Duration::from_secs(20), "h2 to hold every change made while its disk was full", || {
        let stacks: BTreeSet<String> = t.stacks("h2").into_iter().collect();
        names.iter().all(|n| stacks.contains(n))
    });
    wait_until(Duration::from_secs(5), "h2's agent to say Raft runs again", || agent_log("h2").contains("Raft runs again on this node"));
    let log = agent_log("h2");
    assert!(log.contains("Raft stopped on this node") && log.contains("No space left on device"), "the full disk is named:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// The fence watchdog kept its deadline on the wall clock, shared with its agent by a
/// file: a step of the host's clock forward made it fence a healthy replica, and a
/// step back made it wait that much longer before stopping a dead agent's replica,
/// while the cluster started another copy after 1.5 s.
#[test]
fn a_clock_step_on_a_node_neither_fences_for_nothing_nor_delays_its_fencing() {
    let t = Testbed::cluster(3, &[("TESTBED_FAKETIME", "1")]);
    std::fs::write("/tmp/roost-cluster-test-faults-state.yaml", STATEFUL).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-faults-state.yaml", "-p", "state"]);
    let db = |asker: &str| {
        t.json(asker, &["ps", "-p", "state", "--json"])?
            .into_iter()
            .find(|r| r["service"] == "db" && r["ready"] == true && r["desired"] == true)
            .map(|r| (r["node"].as_str().unwrap().to_owned(), r["container_id"].as_str().unwrap_or_default().to_owned()))
    };
    wait_until(Duration::from_secs(60), "db ready", || db("h1").is_some());
    let (host, container) = db("h1").unwrap();
    let asker = *HOSTS.iter().find(|h| **h != host).unwrap();
    let copies = Sampler::start("db");

    // Forward: the replica keeps running, untouched.
    tb(&["clock", &host, "+3h"]);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(db(asker), Some((host.clone(), container.clone())), "the db on {host} after its clock stepped 3 h forward");
    assert!(!agent_log(&host).contains("lease expired, killed"), "{host}'s watchdog fenced a healthy replica");
    tb(&["clock", &host, "+0"]);
    std::thread::sleep(Duration::from_secs(2));

    // Back, then the agent dies: its watchdog still stops the replica in time.
    tb(&["clock", &host, "-3h"]);
    std::thread::sleep(Duration::from_secs(2));
    tb(&["kill-agent", &host]);
    wait_until(Duration::from_secs(30), "db ready on another host", || db(asker).is_some_and(|(node, _)| node != host));
    std::thread::sleep(Duration::from_secs(2));
    let max = copies.finish();
    tb(&["clock", &host, "+0"]);
    tb(&["start-agent", &host]);
    assert_eq!(max, 1, "the stateful service ran {max} copies at once after {host}'s clock stepped back");
}

/// The running `routed` containers on `host`, by id.
fn routed_ids(host: &str) -> BTreeSet<String> {
    let out = tb(&["docker", host, "ps", "-q", "--no-trunc", "--filter", "label=io.roost.stack=routed"]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// A leader cut off for longer than the down grace took every peer for down and moved
/// their replicas to itself; when it stepped down after the heal, that pending write
/// was forwarded to the new leader and applied there, so the nodes that never failed
/// stopped their replicas (found by the fault matrix: 502s through healthy hosts, and
/// 13 s to converge after a 2.4 s cut). Now the cut leader decides nothing and its
/// decisions are never forwarded.
#[test]
fn a_leader_back_from_a_cut_moves_nothing_off_the_nodes_that_kept_running() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-faults-routed.yaml", ROUTED).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-faults-routed.yaml", "-p", "routed"]);
    let everywhere = || HOSTS.iter().all(|h| routed_ids(h).len() == 1);
    wait_until(Duration::from_secs(60), "one routed replica on every host", everywhere);
    // Whether the stale decision lands depends on timing: before the fix, about one
    // round in three showed it.
    for round in 0..6 {
        let leader = t.leader("h1").or_else(|| t.leader("h2")).expect("a leader");
        let others: Vec<&str> = HOSTS.into_iter().filter(|h| **h != leader).collect();
        let kept: Vec<(&str, BTreeSet<String>)> = others.iter().map(|h| (*h, routed_ids(h))).collect();
        eprintln!("round {round}: cutting the leader {leader} for 2.5 s");
        tb(&["cut", &leader]);
        std::thread::sleep(Duration::from_millis(2500));
        tb(&["heal", &leader]);
        wait_until(Duration::from_secs(30), "every node reachable again", || {
            HOSTS.iter().all(|h| t.json(h, &["nodes", "--json"]).is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["reachable"] == true)))
        });
        // Long enough for a stale decision to be forwarded, applied and acted on.
        std::thread::sleep(Duration::from_secs(4));
        for (host, ids) in &kept {
            let now = routed_ids(host);
            eprintln!("round {round}: {host} ran {ids:?}, runs {now:?}");
            assert!(ids.is_subset(&now), "round {round}: {host} never failed, yet its replica {ids:?} was replaced (now {now:?})");
        }
        wait_until(Duration::from_secs(30), "three routed replicas again", || HOSTS.iter().map(|h| routed_ids(h).len()).sum::<usize>() == 3);
    }
}
