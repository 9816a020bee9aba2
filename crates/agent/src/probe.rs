//! Reachability: every second this agent probes each other member over the cluster
//! port and records when it last answered. `roost nodes` shows this node's view; the
//! failover issue builds failure detection on it.

use crate::Agent;
use roost_cluster::network::Transport;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PATH: &str = "/cluster/ping";
const EVERY: Duration = Duration::from_secs(1);

pub async fn run(agent: Arc<Agent>) {
    loop {
        let nodes = agent.cluster.state().nodes;
        let probes = nodes.values().filter(|n| n.id != agent.cluster.id).map(|n| {
            let agent = agent.clone();
            let (id, addr) = (n.id, n.addr.clone());
            async move {
                let ok = tokio::time::timeout(EVERY, agent.cluster.transport.post(&addr, PATH, Vec::new())).await;
                if matches!(ok, Ok(Ok(_))) {
                    agent.seen.lock().expect("seen lock").insert(id, Instant::now());
                }
            }
        });
        futures_util::future::join_all(probes).await;
        tokio::time::sleep(EVERY).await;
    }
}
