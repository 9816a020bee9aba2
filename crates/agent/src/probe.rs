//! Probes, leases and reports: the one message nodes exchange besides Raft.
//!
//! Every [`EVERY`] each agent probes every other member over the cluster port. The
//! answer carries the responder's [`Report`] (its replicas and containers), so every
//! node has a cluster-wide view at most a probe old, for `roost ps` anywhere and for
//! `depends_on` across nodes. The answer from the leader also carries a lease grant.
//!
//! Leases (fencing). A node may run stateful replicas only while it holds a lease:
//! - the leader grants one only while a majority acknowledged it within
//!   [`QUORUM_FRESH`] (a deposed leader in a minority cannot grant);
//! - the node takes a grant only once it has applied the leader's log up to the index
//!   the grant names (so it never runs an assignment the leader already changed);
//! - the node counts its lease from when it *sent* the granted probe and fences itself
//!   (kills its stateful replicas) [`FENCE_AFTER`] later without a new grant;
//! - the leader counts from when it *received* that probe and moves stateful slots
//!   only [`REASSIGN_AFTER`] later; a new leader waits [`NEW_LEADER_WAIT`] after its
//!   election for the nodes that have not renewed with it yet.
//!
//! So a stateful replica is dead before its replacement is placed, given clock rates
//! that differ by less than (REASSIGN_AFTER − FENCE_AFTER) / REASSIGN_AFTER ≈ 35 %.

use crate::Agent;
use roost_api::ReplicaStatus;
use roost_cluster::network::Transport;
use roost_core::observed::ObservedContainer;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PATH: &str = "/cluster/ping";
pub const EVERY: Duration = Duration::from_millis(250);
/// A peer that has not answered for this long is down (for stateless replicas).
pub const DOWN_AFTER: Duration = Duration::from_millis(1200);
/// A node without a new lease grant for this long kills its stateful replicas.
pub const FENCE_AFTER: Duration = Duration::from_millis(1500);
/// The leader moves a silent node's stateful replicas this long after its last renewal.
pub const REASSIGN_AFTER: Duration = Duration::from_millis(2300);
/// The leader grants leases only if a majority acknowledged it this recently.
pub const QUORUM_FRESH: u64 = 500;
/// How long a new leader waits after its election before it moves the stateful replicas
/// of nodes it has not heard renew. The old leader granted its last lease at most
/// [`QUORUM_FRESH`] after its last majority ack; a follower votes for a new leader only
/// after the Raft leader lease (the 800 ms maximum election timeout) has passed since
/// that ack; a lease lasts [`FENCE_AFTER`] from before its grant. So every lease of the
/// old term is over 0.5 + 1.5 − 0.8 = 1.2 s after the election; 1.5 s leaves a margin.
pub const NEW_LEADER_WAIT: Duration = Duration::from_millis(1500);

/// What a node runs, as it last observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub node: String,
    pub rows: Vec<ReplicaStatus>,
    pub containers: Vec<ObservedContainer>,
    /// Docker names of the named volumes on the node.
    #[serde(default)]
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeAnswer {
    /// The responder is the leader and grants the prober a lease.
    pub lease: bool,
    /// The leader's applied log index when it granted: the prober takes the lease
    /// only once it has applied that far, so it never runs a placement the leader has
    /// already changed (a restarted agent's state lags for a moment).
    #[serde(default)]
    pub applied: u64,
    pub report: Report,
}

/// The leader's side of a probe: grant a lease when leadership is fresh.
pub fn answer(agent: &Agent, from: u64) -> ProbeAnswer {
    let lease = agent.grants_leases();
    if lease {
        agent.leases.lock().expect("lease lock").insert(from, Instant::now());
    }
    let applied = agent.cluster.node().metrics().last_applied.map_or(0, |l| l.index);
    ProbeAnswer { lease, applied, report: agent.report() }
}

pub async fn run(agent: Arc<Agent>) {
    loop {
        let started = Instant::now();
        agent.take_pending_grant();
        let nodes = agent.cluster.state().nodes;
        let probes = nodes.values().filter(|n| n.id != agent.cluster.id).map(|n| {
            let agent = agent.clone();
            let (id, addr) = (n.id, n.addr.clone());
            async move {
                let sent = Instant::now();
                let call = agent.cluster.transport.post(&addr, PATH, Vec::new());
                let Ok(Ok(bytes)) = tokio::time::timeout(EVERY * 2, call).await else { return };
                let Ok(answer) = serde_json::from_slice::<ProbeAnswer>(&bytes) else { return };
                agent.seen.lock().expect("seen lock").insert(id, Instant::now());
                if answer.lease && agent.cluster.node().leader() == Some(id) {
                    agent.grant(sent, answer.applied);
                }
                agent.reports.lock().expect("reports lock").insert(id, (Instant::now(), answer.report));
            }
        });
        futures_util::future::join_all(probes).await;
        if agent.grants_leases() {
            // The leader renews its own lease while it has a fresh majority.
            agent.renew_lease(started);
        }
        agent.publish_deadline();
        tokio::time::sleep(EVERY.saturating_sub(started.elapsed())).await;
    }
}
