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
//! that differ by less than 10 % (NTP-disciplined clocks differ by parts per million;
//! the margins below hold up to 20 %).

use crate::sync::MutexExt as _;
use crate::Agent;
use roost_api::ReplicaStatus;
use roost_cluster::network::Transport;
use roost_core::observed::ObservedContainer;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PATH: &str = "/cluster/ping";
pub const EVERY: Duration = Duration::from_millis(200);
/// A node without a new lease grant for this long kills its stateful replicas (six
/// probe rounds: a node does not fence itself over one slow answer).
pub const FENCE_AFTER: Duration = Duration::from_millis(1200);
/// The leader moves a silent node's stateful replicas this long after its last renewal
/// (FENCE_AFTER × 1.25: the holder counted from before the leader received).
pub const REASSIGN_AFTER: Duration = Duration::from_millis(1500);
/// The leader grants leases only if a majority acknowledged it this recently (Raft
/// heartbeats go every 100 ms; openraft dates an ack by when its heartbeat was sent).
pub const QUORUM_FRESH: u64 = 250;
/// How long a new leader waits after its election before it moves the stateful replicas
/// of nodes it has not heard renew. The old leader granted its last lease less than
/// [`QUORUM_FRESH`] after sending a heartbeat a majority acknowledged; a follower that
/// received it votes for a new leader only after openraft's leader lease (the 800 ms
/// maximum election timeout) has passed since; a lease lasts [`FENCE_AFTER`] from
/// before its grant. So every lease of the old term is over 0.25 + 1.2 − 0.8 = 0.65 s
/// after the election; with clock rates 10 % apart, (0.25 + 1.2) × 1.1 − 0.8 / 1.1 =
/// 0.87 s; 1 s leaves a margin.
pub const NEW_LEADER_WAIT: Duration = Duration::from_millis(1000);

/// What a node runs, as it last observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub node: String,
    pub rows: Vec<ReplicaStatus>,
    pub containers: Vec<ObservedContainer>,
    /// Docker names of the named volumes on the node.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The Raft log index the node has applied (`roost nodes` shows a member behind).
    #[serde(default)]
    pub applied: u64,
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
        agent.leases.locked().insert(from, Instant::now());
    }
    let applied = agent.cluster.node().metrics().last_applied.map_or(0, |l| l.index);
    ProbeAnswer { lease, applied, report: agent.report() }
}

pub async fn run(agent: Arc<Agent>) {
    // Peers with a probe still out: a silent peer (its probe waits out the timeout)
    // must not slow down the probes of the others, which the campaign gate and
    // leases count on arriving every round.
    let in_flight: Arc<std::sync::Mutex<std::collections::BTreeSet<u64>>> = Default::default();
    loop {
        let started = Instant::now();
        agent.take_pending_grant();
        let peers: Vec<(u64, String)> = agent
            .cluster
            .with_state(|s| s.nodes.values().filter(|n| n.id != agent.cluster.id).map(|n| (n.id, n.addr.clone())).collect());
        for (id, addr) in peers {
            if !in_flight.locked().insert(id) {
                continue;
            }
            let (agent, in_flight) = (agent.clone(), in_flight.clone());
            tokio::spawn(async move {
                probe(&agent, id, &addr).await;
                in_flight.locked().remove(&id);
            });
        }
        if agent.grants_leases() {
            // The leader renews its own lease while it has a fresh majority.
            agent.renew_lease(started);
        }
        agent.publish_deadline();
        tokio::time::sleep(EVERY.saturating_sub(started.elapsed())).await;
    }
}

/// One probe of peer `id`: records that it answered, its report, and a lease grant.
async fn probe(agent: &Agent, id: u64, addr: &str) {
    let sent = Instant::now();
    let call = agent.cluster.transport.post(addr, PATH, Vec::new());
    let Ok(Ok(bytes)) = tokio::time::timeout(EVERY * 2, call).await else { return };
    let Ok(answer) = serde_json::from_slice::<ProbeAnswer>(&bytes) else { return };
    agent.seen.locked().insert(id, Instant::now());
    if answer.lease && agent.cluster.node().leader() == Some(id) {
        agent.grant(sent, answer.applied);
    }
    agent.reports.locked().insert(id, (Instant::now(), answer.report));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lease constants keep their safety margins if someone tunes one of them
    /// (or the Raft election timeout that bounds when followers may vote).
    #[test]
    fn lease_timings_are_safe_for_clock_rates_ten_percent_apart() {
        let drift = 1.1;
        let fence = FENCE_AFTER.as_secs_f64();
        assert!(REASSIGN_AFTER.as_secs_f64() >= fence * drift, "the leader must outwait the holder's fence");
        let raft_lease = roost_cluster::node::Timing::default().election_max_ms as f64 / 1000.0;
        let old_term_over = (QUORUM_FRESH as f64 / 1000.0 + fence) * drift - raft_lease / drift;
        assert!(NEW_LEADER_WAIT.as_secs_f64() >= old_term_over, "a new leader must outwait the old term's leases");
        assert!(FENCE_AFTER >= EVERY * 5, "a node must not fence itself over a slow probe or two");
    }
}
