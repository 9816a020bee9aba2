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
///
/// `Debug` is hand-written (below): openraft and tracing log entries with it, and
/// the CA key and token secrets must never end up in logs.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
    /// Replace the accepted join-token secrets (their [`roost_pki::JoinToken::secret_hash`]),
    /// rotating older ones out.
    SetJoinSecrets { hashes: Vec<String> },
    /// Replace the accepted remote-CLI token secrets (hashes), rotating older ones out.
    SetCliSecrets {
        // The name in the Raft log since before the values were hashes.
        #[serde(rename = "secrets")]
        hashes: Vec<String>,
    },
    /// Accept one more join-token secret (its hash), keeping the newest
    /// [`crate::state::LIVE_TOKENS`].
    AddJoinSecret { hash: String },
    /// Accept one more remote-CLI token secret (its hash), likewise.
    AddCliSecret { hash: String },
    /// The scheduler's decision: which node runs each replica slot, and why some run
    /// nowhere. Replaces the previous placement whole.
    SetPlacement { placement: crate::state::PlacementState },
    /// Return a stack to its previous version (the two swap, so it can roll forward).
    Rollback { name: String, automatic: bool },
    /// The slots a rolling update lets move to the new version (replaces the set).
    SetRollout { slots: Vec<roost_core::reconcile::SlotKey> },
    /// `roost drain` / `roost undrain`.
    SetDraining { node: NodeId, draining: bool },
    /// `roost move`: `service` (`STACK/SERVICE`) goes to `node`; `None` when it is there.
    SetMove { service: String, node: Option<NodeId> },
    /// Certificates, ACME settings and challenge answers of the ingress.
    Ingress(crate::ingress::IngressCommand),
    /// The replicated volumes' password and who holds which snapshot.
    Volumes(crate::volumes::VolumeCommand),
}

/// What `Debug` prints instead of a secret.
pub(crate) struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What `Debug` prints instead of a list of secrets: how many there are.
struct RedactedList(usize);

impl std::fmt::Debug for RedactedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

// Hand-written so the CA key and the token secrets never end up in logs; every
// other field prints as the derived impl would.
impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::PutStack { stack, node } => f.debug_struct("PutStack").field("stack", stack).field("node", node).finish(),
            Command::RemoveStack { name } => f.debug_struct("RemoveStack").field("name", name).finish(),
            Command::PutNode { node } => f.debug_struct("PutNode").field("node", node).finish(),
            Command::RemoveNode { id } => f.debug_struct("RemoveNode").field("id", id).finish(),
            Command::SetCa { cert_pem, key_pem: _ } => {
                f.debug_struct("SetCa").field("cert_pem", cert_pem).field("key_pem", &Redacted).finish()
            }
            Command::SetJoinSecrets { hashes } => f.debug_struct("SetJoinSecrets").field("hashes", &RedactedList(hashes.len())).finish(),
            Command::SetCliSecrets { hashes } => f.debug_struct("SetCliSecrets").field("hashes", &RedactedList(hashes.len())).finish(),
            Command::AddJoinSecret { .. } => f.debug_struct("AddJoinSecret").field("hash", &"[redacted]").finish(),
            Command::AddCliSecret { .. } => f.debug_struct("AddCliSecret").field("hash", &"[redacted]").finish(),
            Command::SetPlacement { placement } => f.debug_struct("SetPlacement").field("placement", placement).finish(),
            Command::Rollback { name, automatic } => f.debug_struct("Rollback").field("name", name).field("automatic", automatic).finish(),
            Command::SetRollout { slots } => f.debug_struct("SetRollout").field("slots", slots).finish(),
            Command::SetDraining { node, draining } => f.debug_struct("SetDraining").field("node", node).field("draining", draining).finish(),
            Command::SetMove { service, node } => f.debug_struct("SetMove").field("service", service).field("node", node).finish(),
            Command::Ingress(command) => f.debug_tuple("Ingress").field(command).finish(),
            Command::Volumes(command) => f.debug_tuple("Volumes").field(command).finish(),
        }
    }
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
