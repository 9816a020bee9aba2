//! Three Raft members in one process over an in-memory transport that can cut nodes
//! off: election, replication, forwarding, failover and the "no quorum" refusal.

use roost_cluster::network::{serve_rpc, BoxFuture, Transport, TransportError};
use roost_cluster::node::{ClusterNode, Timing, FORWARD};
use roost_cluster::state::NodeInfo;
use roost_cluster::types::Command;
use roost_spec::Stack;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Net {
    nodes: Mutex<BTreeMap<String, Weak<ClusterNode>>>,
    cut: Mutex<BTreeSet<String>>,
}

struct Link {
    net: Arc<Net>,
    from: String,
}

impl Transport for Link {
    fn post(&self, addr: &str, path: &str, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, TransportError>> {
        let (net, from, addr, path) = (self.net.clone(), self.from.clone(), addr.to_owned(), path.to_owned());
        Box::pin(async move {
            let cut = net.cut.lock().unwrap().clone();
            if cut.contains(&from) || cut.contains(&addr) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(TransportError::Unreachable(format!("{addr} is cut off")));
            }
            let node = net.nodes.lock().unwrap().get(&addr).and_then(Weak::upgrade);
            let Some(node) = node else { return Err(TransportError::Unreachable(format!("{addr} is down"))) };
            if path == FORWARD {
                return Ok(node.serve_forwarded(&body).await);
            }
            serve_rpc(node.raft(), &path, &body).await.map_err(TransportError::Failed)
        })
    }
}

async fn start(net: &Arc<Net>, dir: &std::path::Path, id: u64) -> Arc<ClusterNode> {
    let addr = format!("n{id}");
    let link = Arc::new(Link { net: net.clone(), from: addr.clone() });
    let timing = Timing { heartbeat_ms: 50, election_min_ms: 200, election_max_ms: 400, snapshot_every: 20 };
    std::fs::create_dir_all(dir.join(&addr)).unwrap();
    let node = Arc::new(ClusterNode::start(&dir.join(&addr), id, link, timing).await.unwrap());
    net.nodes.lock().unwrap().insert(addr, Arc::downgrade(&node));
    node
}

fn info(id: u64) -> NodeInfo {
    NodeInfo { id, name: format!("n{id}"), addr: format!("n{id}"), labels: Default::default(), witness: false, resources: Default::default(), cert_sha256: None }
}

fn put(name: &str, node: u64) -> Command {
    Command::PutStack { stack: Stack { name: name.into(), ..Default::default() }, node }
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_fail_over_and_refuse_writes_without_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(Net::default());
    let n1 = start(&net, dir.path(), 1).await;
    n1.bootstrap("n1", vec![Command::PutNode { node: info(1) }]).await.unwrap();
    let n2 = start(&net, dir.path(), 2).await;
    let n3 = start(&net, dir.path(), 3).await;
    n1.add_member(info(2)).await.unwrap();
    n1.add_member(info(3)).await.unwrap();
    let nodes = [n1.clone(), n2.clone(), n3.clone()];

    // Writes from a follower are forwarded to the leader and reach everyone.
    n3.write(put("a", 3)).await.unwrap();
    wait_for("a on all nodes", || nodes.iter().all(|n| n.state().stacks.contains_key("a"))).await;
    assert_eq!(n2.state().nodes.len(), 3);

    // Enough writes to trigger snapshots and log compaction.
    for i in 0..30 {
        n2.write(put(&format!("s{i}"), 2)).await.unwrap();
    }

    // The leader is cut off: the other two elect a new leader and keep accepting writes;
    // the old leader refuses writes with "no quorum" and never acknowledges one.
    let old = n1.leader().unwrap();
    let old_node = nodes.iter().find(|n| n.id == old).unwrap().clone();
    net.cut.lock().unwrap().insert(format!("n{old}"));
    let survivors: Vec<_> = nodes.iter().filter(|n| n.id != old).cloned().collect();
    let started = Instant::now();
    wait_for("a new leader", || survivors.iter().all(|n| n.leader().is_some_and(|l| l != old))).await;
    let failover = started.elapsed();
    assert!(failover < Duration::from_secs(5), "failover took {failover:?}");
    survivors[0].write(put("after-cut", survivors[0].id)).await.unwrap();
    let refused = old_node.write(put("lost", old)).await.unwrap_err();
    assert!(refused.to_string().starts_with("no quorum"), "{refused}");

    // Heal: the old leader converges and the refused write is nowhere.
    net.cut.lock().unwrap().clear();
    wait_for("convergence after heal", || {
        nodes.iter().all(|n| n.state().stacks.contains_key("after-cut") && !n.state().stacks.contains_key("lost"))
    })
    .await;
    assert_eq!(n1.state().stacks.len(), 32);
    for n in &nodes {
        n.shutdown().await;
    }
}
