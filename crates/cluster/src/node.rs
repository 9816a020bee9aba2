//! A member of the cluster: what the agent uses to change and read replicated state.

use crate::network::{Network, Transport, TransportError};
use crate::state::{ClusterState, NodeInfo};
use crate::storage::{self, Applied};
use crate::types::{Command, CommandResponse, NodeId, Raft};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The path a follower forwards a write to on the leader.
pub const FORWARD: &str = "/cluster/write";
/// The most voters a cluster has; later members join as non-voters (learners).
pub const MAX_VOTERS: usize = 7;
/// How long a write may wait for a majority before it is refused.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No majority answered: this node is cut off, or too many nodes are down.
    #[error("no quorum: this node cannot reach a majority of the cluster ({0}); nothing was changed")]
    NoQuorum(String),
    /// [`ClusterNode::write_as_leader`] on a node that is not (or no longer) the leader.
    #[error("this node is not the leader; a leader's decision is not forwarded")]
    NotLeader,
    #[error("{0}")]
    Other(String),
}

/// Raft timing. The defaults detect a dead leader in about a second on a LAN.
/// How long the leader waits for a joining node to hold the log up to its admission
/// before answering the join (the joiner's request times out after 10 s, then retries).
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(8);

/// Why a join was not completed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "the leader could not reach the joining node at {addr} (its advertised address): \
         check `--advertise` on it and that the leader can connect to that port; it was not added"
    )]
    Unreachable { addr: String },
    #[error("the joining node is still catching up (log entry {at} of {of}); it stays a learner until it has")]
    CatchingUp { at: u64, of: u64 },
}

#[derive(Debug, Clone)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Take a snapshot (and compact the log) after this many applied entries
    /// (`ROOST_RAFT_SNAPSHOT_EVERY` overrides the default 500, for tests).
    pub snapshot_every: u64,
}

impl Default for Timing {
    fn default() -> Self {
        let snapshot_every = std::env::var("ROOST_RAFT_SNAPSHOT_EVERY").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
        Timing { heartbeat_ms: 100, election_min_ms: 500, election_max_ms: 800, snapshot_every }
    }
}

pub struct ClusterNode {
    pub id: NodeId,
    raft: Raft,
    applied: Arc<RwLock<Applied>>,
    transport: Arc<dyn Transport>,
}

/// Bytes of snapshot per InstallSnapshot RPC.
pub const SNAPSHOT_CHUNK: u64 = 1 << 20;

/// The largest Raft RPC body a node accepts. An AppendEntries of 32 entries of
/// the largest stack the API takes, or a snapshot chunk as JSON, fits with room.
/// (axum's default of 2 MiB refused every AppendEntries once the state passed a few
/// MB, and a joining node never caught up.)
pub const RAFT_BODY_LIMIT: usize = 128 << 20;

impl ClusterNode {
    /// Opens the Raft state in `dir` and starts the Raft node (not yet a member of
    /// anything if the state is new; see [`ClusterNode::bootstrap`]).
    ///
    /// # Errors
    /// The Raft database is locked by another process or unreadable.
    pub async fn start(dir: &Path, id: NodeId, transport: Arc<dyn Transport>, timing: Timing) -> anyhow::Result<Self> {
        let (log, sm) = storage::open(dir)?;
        let applied = sm.shared();
        let config = Config {
            cluster_name: "roost".into(),
            heartbeat_interval: timing.heartbeat_ms,
            election_timeout_min: timing.election_min_ms,
            election_timeout_max: timing.election_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(timing.snapshot_every),
            max_in_snapshot_log_to_keep: 100,
            install_snapshot_timeout: 2000,
            // Both bound one RPC body (see RAFT_BODY_LIMIT): a snapshot chunk travels
            // as its raw bytes after a small JSON header (`network::encode_snapshot`);
            // 32 entries of at most a stack's size each stay well under the limit.
            snapshot_max_chunk_size: SNAPSHOT_CHUNK,
            max_payload_entries: 32,
            ..Default::default()
        };
        let config = Arc::new(config.validate()?);
        let raft = Raft::new(id, config, Network { transport: transport.clone() }, log, sm).await?;
        Ok(ClusterNode { id, raft, applied, transport })
    }

    /// Whether this node has ever been part of a cluster (has a membership).
    pub fn is_member(&self) -> bool {
        let a = self.applied.read().expect("state lock");
        a.membership.membership().nodes().next().is_some() || a.last_applied.is_some()
    }

    /// Makes a new one-node cluster of this node, then writes `first` (the CA, the
    /// node's own record). Does nothing if this node already belongs to a cluster.
    ///
    /// # Errors
    /// Raft refused to initialize or the first writes failed.
    pub async fn bootstrap(&self, addr: &str, first: Vec<Command>) -> anyhow::Result<()> {
        if self.is_member() {
            return Ok(());
        }
        let members = BTreeMap::from([(self.id, BasicNode { addr: addr.to_owned() })]);
        match self.raft.initialize(members).await {
            Ok(()) => {}
            Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        for cmd in first {
            self.write(cmd).await?;
        }
        Ok(())
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The replicated state as applied on this node (may lag the leader slightly).
    pub fn state(&self) -> ClusterState {
        self.applied.read().expect("state lock").state.clone()
    }

    /// Reads the applied state without copying it, for the loops that look at a small
    /// part of it many times a second. `f` runs under the state's read lock, which
    /// holds back applying the log: keep it short and never await in it.
    pub fn with_state<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.applied.read().expect("state lock").state)
    }

    /// Why Raft stopped by itself (a storage error), if it did; `None` while it runs
    /// or after a [`ClusterNode::shutdown`].
    pub fn failure(&self) -> Option<String> {
        match &self.raft.metrics().borrow().running_state {
            Ok(()) | Err(openraft::error::Fatal::Stopped) => None,
            Err(fatal) => Some(fatal.to_string()),
        }
    }

    pub fn metrics(&self) -> openraft::RaftMetrics<NodeId, BasicNode> {
        self.raft.metrics().borrow().clone()
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.metrics().current_leader
    }

    /// Commits `command` through the leader, forwarding it when this node is a follower.
    ///
    /// # Errors
    /// [`WriteError::NoQuorum`] when no majority confirms within [`WRITE_TIMEOUT`]: the
    /// write was not acknowledged and will not be reported as done.
    pub async fn write(&self, command: Command) -> Result<CommandResponse, WriteError> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.write_inner(command)).await {
            Ok(r) => r,
            Err(_) => Err(WriteError::NoQuorum(format!("no commit within {}s", WRITE_TIMEOUT.as_secs()))),
        }
    }

    /// Writes a decision only the leader makes (placement, rolling-update steps), and
    /// only while this node leads: it is never forwarded. A leader cut off from the
    /// cluster decided from a view in which every other node looked down; if its write
    /// were forwarded to the next leader once it stepped down, that stale decision
    /// would be applied there (it moved every replica to the cut-off node).
    ///
    /// # Errors
    /// [`WriteError::NotLeader`] when this node does not lead or stopped leading before
    /// the entry committed; [`WriteError::NoQuorum`] as [`ClusterNode::write`].
    pub async fn write_as_leader(&self, command: Command) -> Result<CommandResponse, WriteError> {
        let write = async {
            match self.raft.client_write(command).await {
                Ok(r) => Ok(r.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Err(WriteError::NotLeader),
                Err(e) => Err(WriteError::Other(e.to_string())),
            }
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(r) => r,
            Err(_) => Err(WriteError::NoQuorum(format!("no commit within {}s", WRITE_TIMEOUT.as_secs()))),
        }
    }

    async fn write_inner(&self, command: Command) -> Result<CommandResponse, WriteError> {
        loop {
            match self.raft.client_write(command.clone()).await {
                Ok(r) => return Ok(r.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                    let Some(node) = f.leader_node else {
                        // An election is under way: ask again shortly.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let body = serde_json::to_vec(&command).map_err(|e| WriteError::Other(e.to_string()))?;
                    return match self.transport.post_fresh(&node.addr, FORWARD, body).await {
                        Ok(bytes) => {
                            let r: Result<CommandResponse, String> =
                                serde_json::from_slice(&bytes).map_err(|e| WriteError::Other(e.to_string()))?;
                            r.map_err(WriteError::Other)
                        }
                        Err(TransportError::Unreachable(e)) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            tracing::debug!("leader unreachable, retrying: {e}");
                            continue;
                        }
                        Err(TransportError::Failed(e)) => Err(WriteError::Other(e)),
                    };
                }
                Err(e) => return Err(WriteError::Other(e.to_string())),
            }
        }
    }

    /// Serves a write forwarded by a follower: the JSON answer `Result<CommandResponse, String>`.
    pub async fn serve_forwarded(&self, body: &[u8]) -> Vec<u8> {
        let result: Result<CommandResponse, String> = match serde_json::from_slice::<Command>(body) {
            Ok(cmd) => self.write(cmd).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("bad command: {e}")),
        };
        serde_json::to_vec(&result).expect("serializable")
    }

    /// Adds a node: first as a learner (it catches up), then as a voter while there are
    /// fewer than [`MAX_VOTERS`]; records its [`NodeInfo`].
    ///
    /// It becomes a voter only once it holds the log up to its own admission, within
    /// [`CATCH_UP_WAIT`]. A learner this node never reached is removed again, so a
    /// joiner with a wrong `--advertise` (or a firewall in the way) leaves no
    /// half-member behind; one still catching up stays a learner, and the joiner's
    /// retry of the commit waits again.
    ///
    /// # Errors
    /// This node is not the leader, or no quorum; [`JoinError`] when the new node was
    /// never reached or has not caught up yet.
    pub async fn add_member(&self, info: NodeInfo) -> anyhow::Result<bool> {
        let admitted = self.raft.add_learner(info.id, BasicNode { addr: info.addr.clone() }, false).await?.log_id;
        let id = info.id;
        let matched = |m: &openraft::RaftMetrics<NodeId, BasicNode>| m.replication.as_ref().and_then(|r| r.get(&id).cloned()).flatten();
        let caught_up = self
            .raft
            .wait(Some(CATCH_UP_WAIT))
            .metrics(|m| matched(m).is_some_and(|at| at >= admitted), "the new member to catch up")
            .await;
        if caught_up.is_err() {
            let metrics = self.metrics();
            let Some(at) = matched(&metrics) else {
                self.raft.change_membership(openraft::ChangeMembers::RemoveNodes(BTreeSet::from([id])), false).await?;
                return Err(JoinError::Unreachable { addr: info.addr }.into());
            };
            return Err(JoinError::CatchingUp { at: at.index, of: admitted.index }.into());
        }
        let voters: BTreeSet<NodeId> = self.metrics().membership_config.membership().voter_ids().collect();
        let voter = voters.len() < MAX_VOTERS;
        if voter && !voters.contains(&info.id) {
            let mut new: BTreeSet<NodeId> = voters;
            new.insert(info.id);
            self.raft.change_membership(new, false).await?;
        }
        self.write(Command::PutNode { node: info }).await?;
        Ok(voter)
    }

    /// Removes a node from the membership and the node list.
    ///
    /// # Errors
    /// The removal would leave no majority among the remaining reachable voters (unless
    /// `force`), this node is not the leader, or no quorum.
    pub async fn remove_member(&self, id: NodeId) -> anyhow::Result<()> {
        let m = self.metrics();
        let voters: BTreeSet<NodeId> = m.membership_config.membership().voter_ids().filter(|v| *v != id).collect();
        anyhow::ensure!(!voters.is_empty(), "cannot remove the last voter");
        self.raft.change_membership(voters, false).await?;
        self.write(Command::RemoveNode { id }).await?;
        Ok(())
    }

    /// Waits until this node applied everything the leader committed (a linearizable
    /// read barrier on the leader).
    ///
    /// # Errors
    /// Not the leader, or no quorum.
    pub async fn linearizable_state(&self) -> anyhow::Result<ClusterState> {
        self.raft.ensure_linearizable().await?;
        Ok(self.state())
    }

    /// Stops Raft (tests, shutdown).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}
