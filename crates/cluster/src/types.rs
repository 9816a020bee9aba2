//! The openraft type configuration and the commands the cluster log carries.

use crate::state::{NodeInfo, StoredStack};
use serde::{Deserialize, Serialize};
use std::io::Cursor;

pub type NodeId = u64;

openraft::declare_raft_types!(
    /// roost's Raft types: JSON-serializable commands, u64 node ids, nodes known by address.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<NodeId>;

/// A change to the cluster state. Every change goes through the Raft log, on one
/// node as on seven.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Create or replace a stack, to run on `node` (until scheduling assigns replicas).
    PutStack { stack: roost_spec::Stack, node: NodeId },
    RemoveStack { name: String },
    /// Register or update a node (address, labels, resources).
    PutNode { node: NodeInfo },
    RemoveNode { id: NodeId },
    /// Set the cluster CA (first entry of a new cluster).
    SetCa { cert_pem: String, key_pem: String },
    /// Replace the accepted join-token secrets, rotating older ones out.
    SetJoinSecrets { hashes: Vec<String> },
    /// Replace the accepted remote-CLI token secrets, rotating older ones out.
    SetCliSecrets { secrets: Vec<String> },
    /// The scheduler's decision: which node runs each replica slot, and why some run
    /// nowhere. Replaces the previous placement whole.
    SetPlacement { placement: crate::state::PlacementState },
    /// Return a stack to its previous version (the two swap, so it can roll forward).
    Rollback { name: String, automatic: bool },
    /// The slots a rolling update lets move to the new version (replaces the set).
    SetRollout { slots: Vec<roost_core::reconcile::SlotKey> },
    /// `roost drain` / `roost undrain`.
    SetDraining { node: NodeId, draining: bool },
    /// Certificates, ACME settings and challenge answers of the ingress.
    Ingress(crate::ingress::IngressCommand),
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CommandResponse {
    /// For `PutStack`: the stored stack after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StoredStack>,
    /// For removals: whether something was removed.
    #[serde(default)]
    pub removed: bool,
    /// For setting the ingress CA: the certificate of the CA in effect (the first set wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_ca_pem: Option<String>,
}
