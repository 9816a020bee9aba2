//! Joins that cannot complete fail clearly and leave nothing half-done.

use crate::{wait_until, Testbed};
use std::time::{Duration, Instant};

/// Once, a joiner advertising an address the leader cannot reach was still added as a
/// voter that held nothing, and `roost nodes` showed it active and reachable.
#[test]
fn a_join_the_leader_cannot_reach_back_fails_clearly_and_leaves_no_half_member() {
    let t = Testbed::up(2, &[("ROOST_AGENT_ARGS_H2", "--advertise 10.77.0.99:4280")]);
    let token = t.ok("h1", &["token"]).trim().to_owned();
    let started = Instant::now();
    let join = t.roost("h2", &["join", "10.77.0.11:4280", "--token", &token]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&join.stderr);
    assert!(!join.status.success(), "the join must fail");
    assert!(err.contains("could not reach the joining node at 10.77.0.99:4280") && err.contains("--advertise"), "{err}");
    assert!(took < Duration::from_secs(20), "it fails in {took:?}, not after every retry");

    // h1 is alone and whole: one node, one voter, and it takes changes at once.
    let nodes = t.json("h1", &["nodes", "--json"]).unwrap();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(t.deploy("h1", "after").status.success(), "h1 keeps its quorum");
    // h2 is a one-node cluster of its own again, not a node of no cluster.
    wait_until(Duration::from_secs(10), "h2 to take changes alone", || t.deploy("h2", "alone").status.success());
    assert_eq!(t.stacks("h2"), ["alone"]);
}
