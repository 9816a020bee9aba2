//! Rules 2 to 7: standbys, recovery point and state of one replicated volume.

use crate::ReplicatedVolume;
use roost_core::placement::{NodeId, NodeView};
use roost_spec::Replication;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What one node holds restored of one volume: the last snapshot it received whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The snapshot id (64 hex digits, restic's).
    pub snapshot: String,
    /// When the snapshot was taken on the primary, Unix milliseconds.
    pub taken_ms: u64,
}

/// What [`plan_volume`] needs to know about one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The Raft node id.
    pub id: NodeId,
    /// The node name (orders ties, names the node in listings).
    pub name: String,
    /// Reachable and holding a valid lease (decided by the caller).
    pub up: bool,
    /// A witness votes but holds no data.
    pub witness: bool,
    /// `roost drain`: takes no new role.
    pub draining: bool,
}

impl From<&NodeView> for Candidate {
    /// The node as placement sees it.
    fn from(n: &NodeView) -> Self {
        Candidate { id: n.id, name: n.name.clone(), up: n.up, witness: n.witness, draining: n.draining }
    }
}

/// Where one volume's copies are, and how far behind they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumePlan {
    /// The node running the service (the live volume), if it runs.
    pub primary: Option<NodeId>,
    /// The nodes that receive its snapshots, best first (rule 4).
    pub standbys: Vec<NodeId>,
    /// Rule 5: how much a failover now would lose at most, in milliseconds.
    pub rpo_ms: Option<u64>,
    /// Rule 6.
    pub state: VolumeState,
}

/// How well a volume is protected (rule 6). Serialized in snake_case; displayed as
/// `roost volume ls` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeState {
    /// No node runs the service: nothing writes, nothing is snapshotted.
    #[default]
    NotRunning,
    /// Only the primary has the data: losing it loses the volume.
    SingleCopy,
    /// A standby holds data, but older than three snapshot intervals.
    Lagging,
    /// A standby holds data at most three intervals old.
    Replicated,
}

impl fmt::Display for VolumeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VolumeState::NotRunning => "not running",
            VolumeState::SingleCopy => "single copy",
            VolumeState::Lagging => "lagging",
            VolumeState::Replicated => "replicated",
        })
    }
}

/// Rule 2: the number of nodes meant to hold the volume, the primary included:
/// `copies` clamped to `1..=3`, `0` read as 1.
pub fn copies(settings: &Replication) -> usize {
    usize::from(settings.copies.clamp(1, Replication::MAX_COPIES))
}

/// A state counts as lagging past this many snapshot intervals.
const LAG_INTERVALS: u64 = 3;

/// Rules 3 to 6 for one volume. `primary` is the node running its service, `held`
/// what each node holds of it, `now_ms` the current Unix time in milliseconds.
/// Deterministic: the order of `nodes` does not matter (a node listed twice counts
/// once).
pub fn plan_volume(
    v: &ReplicatedVolume,
    primary: Option<NodeId>,
    nodes: &[Candidate],
    held: &BTreeMap<NodeId, Held>,
    now_ms: u64,
) -> VolumePlan {
    let mut eligible: Vec<&Candidate> =
        nodes.iter().filter(|n| n.up && !n.witness && !n.draining && Some(n.id) != primary).collect();
    // Holders first, newest first (Reverse(None) sorts after every Reverse(Some)).
    eligible.sort_by_key(|n| (Reverse(held.get(&n.id).map(|h| h.taken_ms)), &n.name, n.id));
    let mut seen = BTreeSet::new();
    let standbys: Vec<NodeId> =
        eligible.iter().map(|n| n.id).filter(|id| seen.insert(*id)).take(copies(&v.settings) - 1).collect();
    let rpo_ms = rpo_ms(&standbys, held, now_ms);
    let lag_limit = u64::try_from(v.settings.interval.as_millis()).unwrap_or(u64::MAX).saturating_mul(LAG_INTERVALS);
    let state = match (primary, rpo_ms) {
        (None, _) => VolumeState::NotRunning,
        (Some(_), None) => VolumeState::SingleCopy,
        (Some(_), Some(rpo)) if rpo > lag_limit => VolumeState::Lagging,
        (Some(_), Some(_)) => VolumeState::Replicated,
    };
    VolumePlan { primary, standbys, rpo_ms, state }
}

/// Rule 5: `now_ms` minus the newest snapshot among `standbys`, `None` if none holds one.
pub(crate) fn rpo_ms(standbys: &[NodeId], held: &BTreeMap<NodeId, Held>, now_ms: u64) -> Option<u64> {
    standbys.iter().filter_map(|id| held.get(id)).map(|h| h.taken_ms).max().map(|t| now_ms.saturating_sub(t))
}

/// Rule 7: among `eligible` nodes holding a snapshot, the one with the newest
/// (`taken_ms`), the lowest id on a tie; `None` if none holds one.
pub fn freshest_holder(held: &BTreeMap<NodeId, Held>, eligible: &BTreeSet<NodeId>) -> Option<NodeId> {
    // `held` iterates in id order, and `max_by_key` keeps the last maximum: reverse it.
    held.iter().rev().filter(|(id, _)| eligible.contains(id)).max_by_key(|(_, h)| h.taken_ms).map(|(id, _)| *id)
}
