//! Raft RPCs over a [`Transport`] the agent provides (HTTPS with mutual TLS in
//! production, anything in tests). Requests are `POST`s to the paths below; the answer
//! is the JSON of `Result<response, RaftError>`, so remote errors keep their type.
//! Requests are JSON, except snapshot chunks: JSON would carry their bytes as an array
//! of numbers, 3.6 times their size, so [`SNAPSHOT_BIN`] frames the raw bytes after a
//! JSON header ([`encode_snapshot`]). [`SNAPSHOT`] (all JSON) is still served, for
//! members not yet upgraded.

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
pub const SNAPSHOT_BIN: &str = "/raft/snapshot-bin";

/// An InstallSnapshot request as sent on [`SNAPSHOT_BIN`]: the length of the header
/// (4 bytes, big-endian), the header (the request's JSON with an empty `data`), then
/// the chunk's bytes as they are.
pub fn encode_snapshot(rpc: &InstallSnapshotRequest<TypeConfig>) -> Result<Vec<u8>, serde_json::Error> {
    let header = serde_json::to_vec(&InstallSnapshotRequest::<TypeConfig> { data: Vec::new(), ..rpc.clone() })?;
    let len = u32::try_from(header.len()).map_err(serde::ser::Error::custom)?;
    let mut body = Vec::with_capacity(4 + header.len() + rpc.data.len());
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(&header);
    body.extend_from_slice(&rpc.data);
    Ok(body)
}

/// The request [`encode_snapshot`] made.
///
/// # Errors
/// A body too short for its header length, or a header that is not the request's JSON.
pub fn decode_snapshot(body: &[u8]) -> Result<InstallSnapshotRequest<TypeConfig>, String> {
    let bad = |why: &str| format!("bad snapshot chunk: {why}");
    let (len, rest) = body.split_first_chunk::<4>().ok_or_else(|| bad("no header length"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(bad("shorter than its header"));
    }
    let (header, data) = rest.split_at(len);
    let mut rpc: InstallSnapshotRequest<TypeConfig> = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    rpc.data = data.to_vec();
    Ok(rpc)
}

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

    /// As [`Transport::post`], on a connection of its own made for this request: a
    /// forwarded write must never wait in the send buffer of a pooled connection over a
    /// cut link, to be delivered (and applied) after the writer was told it was refused.
    fn post_fresh(&self, addr: &str, path: &str, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, TransportError>> {
        self.post(addr, path, body)
    }
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
        self.send(path, body).await
    }

    async fn send<Resp, E>(&self, path: &str, body: Vec<u8>) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
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
        let body = encode_snapshot(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.send(SNAPSHOT_BIN, body).await
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
        SNAPSHOT_BIN => serde_json::to_vec(&raft.install_snapshot(decode_snapshot(body)?).await),
        other => return Err(format!("no raft endpoint {other}")),
    };
    out.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{SnapshotMeta, Vote};

    fn chunk(data: Vec<u8>) -> InstallSnapshotRequest<TypeConfig> {
        InstallSnapshotRequest {
            vote: Vote::new_committed(3, 1),
            meta: SnapshotMeta { last_log_id: None, last_membership: Default::default(), snapshot_id: "s-1".into() },
            offset: 1 << 20,
            data,
            done: false,
        }
    }

    #[test]
    fn snapshot_chunks_travel_as_raw_bytes_after_a_json_header() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let body = encode_snapshot(&chunk(data.clone())).unwrap();
        assert!(body.len() < data.len() + 512, "{} bytes for a 1 MiB chunk", body.len());
        let back = decode_snapshot(&body).unwrap();
        assert_eq!((back.data == data, back.offset, back.done), (true, 1 << 20, false));
        assert_eq!(back.meta.snapshot_id, "s-1");
        let json = serde_json::to_vec(&chunk(data)).unwrap();
        assert!(json.len() > 3 * body.len(), "JSON would take {} bytes", json.len());
    }

    #[test]
    fn a_bad_snapshot_frame_is_an_error_not_a_panic() {
        for body in [&b""[..], &b"\0\0"[..], &b"\0\0\0\x09{}"[..], &b"\0\0\0\x02[]xyz"[..]] {
            assert!(decode_snapshot(body).is_err(), "{body:?}");
        }
    }
}
