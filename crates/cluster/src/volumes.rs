//! The replicated part of volume replication: the repositories' password and which
//! snapshot each node holds restored of each volume. Snapshots themselves travel
//! between nodes on the cluster port, never through Raft (see the agent's `volumes`).

use crate::state::ClusterState;
use crate::types::{CommandResponse, NodeId};
use roost_replication::Held;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the cluster knows of its replicated volumes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VolumesState {
    /// The password of every volume repository (restic format): the same on every
    /// node, since standbys hold copies of the primary's repository. Shown by
    /// `roost volume password` for a restore by hand with restic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// By Docker volume name: the snapshot each node holds restored.
    #[serde(default)]
    pub held: BTreeMap<String, BTreeMap<NodeId, Held>>,
}

impl std::fmt::Debug for VolumesState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumesState").field("key", &self.key.as_ref().map(|_| crate::types::Redacted)).field("held", &self.held).finish()
    }
}

/// Changes to [`VolumesState`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum VolumeCommand {
    /// Set the repositories' password; the first one wins (repositories exist with it).
    SetKey { key: String },
    /// `node` restored `held` of `volume`. An older snapshot than the one recorded is
    /// ignored: reports may arrive out of order.
    Held { volume: String, node: NodeId, held: Held },
    /// The volume is gone (`down --volumes`): forget who holds what.
    Forget { volume: String },
}

impl std::fmt::Debug for VolumeCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VolumeCommand::SetKey { .. } => f.debug_struct("SetKey").field("key", &crate::types::Redacted).finish(),
            VolumeCommand::Held { volume, node, held } => {
                f.debug_struct("Held").field("volume", volume).field("node", node).field("held", held).finish()
            }
            VolumeCommand::Forget { volume } => f.debug_struct("Forget").field("volume", volume).finish(),
        }
    }
}

pub(crate) fn apply(state: &mut ClusterState, command: &VolumeCommand) -> CommandResponse {
    let volumes = &mut state.volumes;
    match command {
        VolumeCommand::SetKey { key } => {
            volumes.key.get_or_insert_with(|| key.clone());
        }
        VolumeCommand::Held { volume, node, held } => {
            let holders = volumes.held.entry(volume.clone()).or_default();
            let newer = holders.get(node).is_none_or(|h| h.taken_ms <= held.taken_ms);
            if newer && state.nodes.contains_key(node) {
                holders.insert(*node, held.clone());
            }
        }
        VolumeCommand::Forget { volume } => {
            volumes.held.remove(volume);
        }
    }
    CommandResponse::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Command;

    fn held(snapshot: &str, taken_ms: u64) -> Held {
        Held { snapshot: snapshot.into(), taken_ms }
    }

    #[test]
    fn the_first_key_wins_and_older_reports_never_replace_newer_ones() {
        let mut s = ClusterState::default();
        s.nodes.insert(1, crate::state::NodeInfo { id: 1, name: "a".into(), addr: String::new(), labels: Default::default(), witness: false, resources: Default::default(), cert_sha256: None });
        s.apply(&Command::Volumes(VolumeCommand::SetKey { key: "one".into() }));
        s.apply(&Command::Volumes(VolumeCommand::SetKey { key: "two".into() }));
        assert_eq!(s.volumes.key.as_deref(), Some("one"));
        let report = |node, h| Command::Volumes(VolumeCommand::Held { volume: "demo_data".into(), node, held: h });
        s.apply(&report(1, held("bbbb", 2000)));
        s.apply(&report(1, held("aaaa", 1000)));
        assert_eq!(s.volumes.held["demo_data"][&1], held("bbbb", 2000));
        s.apply(&report(7, held("cccc", 3000)));
        assert!(!s.volumes.held["demo_data"].contains_key(&7), "not a member");
        s.apply(&Command::Volumes(VolumeCommand::Forget { volume: "demo_data".into() }));
        assert!(s.volumes.held.is_empty());
        assert!(!format!("{:?}", s.volumes).contains("one"), "the key never reaches a log");
    }
}
