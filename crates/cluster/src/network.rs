//! Raft RPCs as JSON over a [`Transport`] the agent provides (HTTPS with mutual TLS in
//! production, anything in tests). Requests are `POST`s to the paths below; the answer
//! is the JSON of `Result<response, RaftError>`, so remote errors keep their type.

use crate::types::{NodeId, Raft, TypeConfig};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest, VoteResponse};
use openraft::{AnyError, BasicNode};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const APPEND: &str = "/raft/append";
pub const VOTE: &str = "/raft/vote";
pub const SNAPSHOT: &str = "/raft/snapshot";

/// Why a request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing answered (refused, timed out, TLS refused): the peer may be down.
    #[error("{0}")]
    Unreachable(String),
    /// The peer answered with an HTTP error.
    #[error("{0}")]
    Failed(String),
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Sends one request to a peer and returns its answer body.
pub trait Transport: Send + Sync + 'static {
    fn post(&self, addr: &str, path: &str, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, TransportError>>;
}

/// Creates per-peer connections for openraft.
#[derive(Clone)]
pub struct Network {
    pub transport: Arc<dyn Transport>,
}

pub struct Connection {
    target: NodeId,
    addr: String,
    transport: Arc<dyn Transport>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        Connection { target, addr: node.addr.clone(), transport: self.transport.clone() }
    }
}

impl Connection {
    async fn call<Req, Resp, E>(&self, path: &str, req: &Req) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let answer = match self.transport.post(&self.addr, path, body).await {
            Ok(a) => a,
            Err(TransportError::Unreachable(e)) => {
                return Err(RPCError::Unreachable(Unreachable::new(&AnyError::error(e))))
            }
            Err(TransportError::Failed(e)) => return Err(RPCError::Network(NetworkError::new(&AnyError::error(e)))),
        };
        let result: Result<Resp, RaftError<NodeId, E>> =
            serde_json::from_slice(&answer).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(APPEND, &rpc).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>> {
        self.call(SNAPSHOT, &rpc).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(VOTE, &rpc).await
    }
}

/// Serves one Raft RPC received at `path`: what the agent's peer endpoint calls.
///
/// # Errors
/// An unknown path or a body that is not the RPC's JSON.
pub async fn serve_rpc(raft: &Raft, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    fn de<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
        serde_json::from_slice(b).map_err(|e| format!("bad raft request: {e}"))
    }
    let out = match path {
        APPEND => serde_json::to_vec(&raft.append_entries(de(body)?).await),
        VOTE => serde_json::to_vec(&raft.vote(de(body)?).await),
        SNAPSHOT => serde_json::to_vec(&raft.install_snapshot(de(body)?).await),
        other => return Err(format!("no raft endpoint {other}")),
    };
    out.map_err(|e| e.to_string())
}
