//! A cluster whose replicated state has grown to several MB still takes new members,
//! shows them as caught up, and keeps its data dirs to a few times the state.

use crate::{wait_until, Testbed};
use std::time::Duration;

/// Once, every AppendEntries to a new member was refused with 413 (axum's 2 MiB body
/// limit) as soon as the state passed a few MB, so a node that joined never caught up.
#[test]
fn a_node_joining_a_cluster_with_6_mb_of_state_catches_up() {
    let t = Testbed::up(2, &[]);
    // 48 stacks of 128 KiB of labels each: about 6 MB of state.
    let label = "x".repeat(1000);
    let mut yaml = String::from("services:\n  s:\n    image: roost-test/busybox:latest\n    deploy: {replicas: 0}\n    labels:\n");
    for i in 0..128 {
        yaml += &format!("      l{i}: \"{label}\"\n");
    }
    std::fs::write("/tmp/roost-cluster-test-size.yaml", &yaml).unwrap();
    for i in 0..48 {
        t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-size.yaml", "-p", &format!("big{i:02}")]);
    }
    let token = t.ok("h1", &["token"]).trim().to_owned();
    t.ok("h2", &["join", "10.77.0.11:4280", "--token", &token]);
    let took = wait_until(Duration::from_secs(90), "h2 to hold all 48 stacks", || t.stacks("h2").len() == 48);
    eprintln!("h2 caught up with about 6 MB of state {took:?} after joining");
    // Caught up, it no longer shows as behind on the leader.
    wait_until(Duration::from_secs(10), "h1 to see h2 caught up", || {
        t.json("h1", &["nodes", "--json"])
            .is_some_and(|n| n.iter().any(|n| n["name"] == "h2" && n["behind"].as_u64().is_some_and(|b| b <= roost_api::LAGGING_AFTER)))
    });
    for host in ["h1", "h2"] {
        let bytes = dir_size(std::path::Path::new(&format!("/tmp/roost-testbed/{host}/roost")));
        eprintln!("{host}: data dir {:.1} MB for about 6 MB of replicated state", bytes as f64 / 1e6);
        // The log, one snapshot and redb's free pages: a few times the state. (When
        // every applied batch rewrote the whole state, this was over 100 MB.)
        assert!(bytes < 60_000_000, "{host}'s data dir takes {bytes} bytes for about 6 MB of state");
    }
    // And it stays a working member: a change made on it is seen by both.
    assert!(t.deploy("h2", "after").status.success());
    wait_until(Duration::from_secs(10), "h1 to see the stack deployed on h2", || t.stacks("h1").len() == 49);
}

/// Bytes a directory takes on disk.
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    // Allocated blocks, as `du` counts: redb files are sparse.
                    Ok(_) => e.metadata().map_or(0, |m| std::os::unix::fs::MetadataExt::blocks(&m) * 512),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
