//! Keeps this node's Raft running.
//!
//! openraft stops its core for good when storage fails (`No space left on device`, an
//! I/O error): the agent would go on answering, routing and reconciling from a state
//! that no longer follows the cluster, and `roost nodes` elsewhere would show it
//! falling behind for ever. This loop notices, says why once, and starts Raft again
//! from its files as soon as a write succeeds; the leader then sends what it missed.

use crate::Agent;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(500);

pub async fn run(agent: Arc<Agent>) {
    let mut down: Option<String> = None;
    loop {
        tokio::time::sleep(EVERY).await;
        let Some(failure) = agent.cluster.raft_failure() else {
            if let Some(why) = down.take() {
                tracing::info!("Raft runs again on this node (it had stopped: {why})");
            }
            continue;
        };
        if down.is_none() {
            tracing::error!("Raft stopped on this node: {failure}; this node follows no cluster changes until it can write again");
            down = Some(failure);
        }
        if let Err(e) = agent.cluster.restart_raft().await {
            tracing::debug!("Raft cannot start again yet: {e:#}");
        }
    }
}
