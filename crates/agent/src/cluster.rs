//! This agent's membership in a cluster: identity, Raft node, joining and leaving.
//!
//! Each cluster this node has belonged to gets its own folder
//! `DIR/cluster/<first 12 hex of the CA fingerprint>/` with `identity.json` (node key and
//! certificate) and `raft.redb`; `DIR/cluster/current` names the one in use. A fresh
//! agent makes its own CA and is a one-node cluster at once; joining swaps in the new
//! cluster's folder, so the old Raft files are never half-overwritten.

use crate::sync::RwLockExt as _;
use crate::peer::TlsTransport;
use anyhow::{bail, Context};
use roost_cluster::node::{ClusterNode, Timing, WriteError};
use roost_cluster::state::{ClusterState, NodeInfo};
use roost_cluster::types::{Command, CommandResponse, NodeId};
use roost_pki::{ClusterCa, JoinToken, NodeIdentity};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::rustls;

/// Free space `restart_raft` wants before it starts Raft again.
const RESTART_ROOM: u64 = 1 << 20;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Join the cluster as a node.
    Join,
    /// Use the remote CLI.
    Cli,
}

pub struct Cluster {
    pub id: NodeId,
    data_dir: PathBuf,
    node: RwLock<Arc<ClusterNode>>,
    identity: RwLock<NodeIdentity>,
    pub transport: Arc<TlsTransport>,
    pub server_tls: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    /// This node's record (name, address, labels, resources) as it announces it.
    pub info: NodeInfo,
}

fn cluster_dir(data_dir: &Path, fingerprint: &str) -> PathBuf {
    data_dir.join("cluster").join(&fingerprint[..12])
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

impl Cluster {
    /// Opens the current cluster membership, or makes a new one-node cluster.
    ///
    /// # Errors
    /// Unreadable identity or Raft files, or the Raft files are locked by another agent.
    pub async fn open(data_dir: &Path, info: NodeInfo) -> anyhow::Result<Self> {
        let current = data_dir.join("cluster/current");
        let (identity, fresh_ca) = match std::fs::read_to_string(&current) {
            Ok(fp12) => {
                let path = data_dir.join("cluster").join(fp12.trim()).join("identity.json");
                let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                (serde_json::from_slice::<NodeIdentity>(&bytes)?, None)
            }
            Err(_) => {
                let ca = ClusterCa::generate(&format!("{:016x}", info.id))?;
                let identity = ca.issue_node(&info.name, info.id, &[])?;
                (identity, Some(ca))
            }
        };
        let fingerprint = identity.ca_fingerprint()?;
        let dir = cluster_dir(data_dir, &fingerprint);
        std::fs::create_dir_all(&dir)?;
        write_private(&dir.join("identity.json"), &serde_json::to_vec(&identity)?)?;
        write_private(&current, fingerprint[..12].as_bytes())?;

        let transport = TlsTransport::new(roost_pki::client_config(&identity)?);
        let server_tls = Arc::new(RwLock::new(roost_pki::server_config(&identity)?));
        let node = ClusterNode::start(&dir, info.id, transport.clone(), Timing::default())
            .await
            .map_err(|e| match format!("{e:#}") {
                m if m.contains("already open") || m.contains("DatabaseAlreadyOpen") => anyhow::anyhow!(
                    "the state database {} is in use by another roost agent",
                    dir.join("raft.redb").display()
                ),
                _ => e,
            })?;
        if let Some(ca) = fresh_ca {
            let token = JoinToken::generate(&fingerprint);
            let first = vec![
                Command::SetCa { cert_pem: ca.cert_pem.clone(), key_pem: ca.key_pem.clone() },
                Command::SetJoinSecrets { hashes: vec![token.secret_hash()] },
                Command::PutNode { node: NodeInfo { cert_sha256: Some(roost_pki::cert_fingerprint(&identity.cert_pem)?), ..info.clone() } },
            ];
            node.bootstrap(&info.addr, first).await.context("cannot start a new one-node cluster")?;
        }
        Ok(Cluster {
            id: info.id,
            data_dir: data_dir.to_owned(),
            node: RwLock::new(Arc::new(node)),
            identity: RwLock::new(identity),
            transport,
            server_tls,
            info,
        })
    }

    pub fn node(&self) -> Arc<ClusterNode> {
        self.node.reading().clone()
    }

    pub fn state(&self) -> ClusterState {
        self.node().state()
    }

    /// See [`roost_cluster::node::ClusterNode::with_state`].
    pub fn with_state<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        self.node().with_state(f)
    }

    /// How many nodes the cluster has (1: a lone node, which runs everything unfenced).
    pub fn node_count(&self) -> usize {
        self.with_state(|s| s.nodes.len())
    }

    /// # Errors
    /// [`WriteError::NoQuorum`] when this node cannot reach a majority.
    pub async fn write(&self, command: Command) -> Result<CommandResponse, WriteError> {
        self.node().write(command).await
    }

    /// A leader's own decision, never forwarded (see [`roost_cluster::node::ClusterNode::write_as_leader`]).
    ///
    /// # Errors
    /// Not the leader, or no quorum.
    pub async fn write_as_leader(&self, command: Command) -> Result<CommandResponse, WriteError> {
        self.node().write_as_leader(command).await
    }

    pub fn ca_fingerprint(&self) -> String {
        self.identity.reading().ca_fingerprint().unwrap_or_default()
    }

    /// A new token of `kind`. The cluster stores only its secret's hash, so this is
    /// the one time it can be shown; with `rotate`, every earlier token of that kind
    /// stops working, else the newest [`roost_cluster::state::LIVE_TOKENS`] stay valid.
    ///
    /// # Errors
    /// No quorum.
    pub async fn new_token(&self, kind: TokenKind, rotate: bool) -> Result<JoinToken, WriteError> {
        let token = JoinToken::generate(&self.ca_fingerprint());
        let hash = token.secret_hash();
        let command = match (kind, rotate) {
            (TokenKind::Join, true) => Command::SetJoinSecrets { hashes: vec![hash] },
            (TokenKind::Join, false) => Command::AddJoinSecret { hash },
            (TokenKind::Cli, true) => Command::SetCliSecrets { hashes: vec![hash] },
            (TokenKind::Cli, false) => Command::AddCliSecret { hash },
        };
        self.write(command).await?;
        Ok(token)
    }

    /// Whether `secret` is an accepted remote-CLI secret.
    pub fn cli_secret_accepted(&self, secret: &str) -> bool {
        matches_any(&self.state().cli_secrets, secret)
    }

    /// Whether `secret` is an accepted join secret (constant-time per candidate).
    pub fn secret_accepted(&self, secret: &str) -> bool {
        matches_any(&self.state().join_secrets, secret)
    }
}

/// Whether `secret` hashes to one of the `accepted` hashes (each compared in constant
/// time).
fn matches_any(accepted: &[String], secret: &str) -> bool {
    accepted.iter().any(|hash| roost_pki::secret_matches(secret, hash))
}

impl Cluster {

    /// Signs a joining node's CSR with the replicated cluster CA.
    ///
    /// # Errors
    /// The cluster has no CA (cannot happen after bootstrap) or the CSR is invalid.
    pub fn sign(&self, csr_pem: &str, node_id: NodeId) -> anyhow::Result<(String, String)> {
        let state = self.state();
        let Some(ca) = state.ca else { bail!("this cluster has no CA yet") };
        let ca = ClusterCa { cert_pem: ca.cert_pem, key_pem: ca.key_pem };
        Ok((ca.sign_node_csr(csr_pem, node_id, &[])?, ca.cert_pem))
    }

    /// Switches this agent to another cluster: stores the new identity, starts a fresh
    /// Raft node in that cluster's folder and swaps TLS configs. The caller then asks the
    /// cluster to add this node.
    ///
    /// # Errors
    /// The new files cannot be written or Raft cannot start.
    pub async fn switch_to(&self, identity: NodeIdentity) -> anyhow::Result<()> {
        let fingerprint = identity.ca_fingerprint()?;
        let dir = cluster_dir(&self.data_dir, &fingerprint);
        std::fs::create_dir_all(&dir)?;
        write_private(&dir.join("identity.json"), &serde_json::to_vec(&identity)?)?;
        let same = self.ca_fingerprint() == fingerprint;
        self.transport.set_config(roost_pki::client_config(&identity)?);
        *self.server_tls.writing() = roost_pki::server_config(&identity)?;
        *self.identity.writing() = identity;
        if !same {
            let old = self.node();
            old.shutdown().await;
            let node = ClusterNode::start(&dir, self.id, self.transport.clone(), Timing::default()).await?;
            *self.node.writing() = Arc::new(node);
        }
        write_private(&self.data_dir.join("cluster/current"), fingerprint[..12].as_bytes())?;
        Ok(())
    }

    /// Why this node's Raft stopped, if it did: openraft quits for good on a storage
    /// error (a full disk, say) and would leave the agent serving a state that no
    /// longer follows the cluster.
    /// (A Raft shut down on purpose, by a join, `leave` or the agent stopping, is not
    /// a failure.)
    pub fn raft_failure(&self) -> Option<String> {
        self.node().failure()
    }

    /// Starts this node's Raft again from its files (the log holds every entry it
    /// acknowledged; the leader sends what it missed).
    ///
    /// # Errors
    /// The files cannot be opened yet (the old instance still holds them) or written
    /// (still no space).
    pub async fn restart_raft(&self) -> anyhow::Result<()> {
        let dir = cluster_dir(&self.data_dir, &self.ca_fingerprint());
        // Room for a write first: openraft quits again at its first failed one. Asked
        // of the filesystem (this runs every half second while the disk is full), not
        // found out by writing.
        let stats = nix::sys::statvfs::statvfs(&dir).with_context(|| format!("cannot tell the free space in {}", dir.display()))?;
        let free = u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size()));
        if free < RESTART_ROOM {
            anyhow::bail!("no room to write in {}: {free} bytes free, {RESTART_ROOM} needed", dir.display());
        }
        let old = self.node();
        old.shutdown().await;
        let node = ClusterNode::start(&dir, self.id, self.transport.clone(), Timing::default()).await?;
        *self.node.writing() = Arc::new(node);
        Ok(())
    }

    /// Leaves the current cluster for a new one-node cluster of this node alone.
    ///
    /// # Errors
    /// As [`Cluster::switch_to`].
    pub async fn reset_alone(&self) -> anyhow::Result<()> {
        let ca = ClusterCa::generate(&format!("{:016x}", self.id))?;
        let identity = ca.issue_node(&self.info.name, self.id, &[])?;
        let identity_pem = identity.cert_pem.clone();
        self.switch_to(identity).await?;
        let fingerprint = ca.fingerprint();
        let token = JoinToken::generate(&fingerprint);
        let first = vec![
            Command::SetCa { cert_pem: ca.cert_pem.clone(), key_pem: ca.key_pem.clone() },
            Command::SetJoinSecrets { hashes: vec![token.secret_hash()] },
            Command::PutNode { node: NodeInfo { cert_sha256: Some(roost_pki::cert_fingerprint(&identity_pem)?), ..self.info.clone() } },
        ];
        self.node().bootstrap(&self.info.addr, first).await
    }
}
