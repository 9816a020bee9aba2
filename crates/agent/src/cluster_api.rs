//! Cluster endpoints. On the cluster port (mutual TLS, see [`crate::peer`]): Raft RPCs,
//! forwarded writes, probes and the two join steps. On the local socket: tokens, join,
//! the node list, leave and node removal.
//!
//! Join, in two steps so the joining node verifies the cluster before trusting it and
//! the cluster verifies the node before adding it:
//! 1. `sign` (no client certificate yet): the joiner connects trusting only a CA whose
//!    fingerprint is in the token, proves the token's secret, and gets its CSR signed.
//! 2. `commit` (with its new certificate): the leader adds it as a learner, waits for
//!    it to catch up, then makes it a voter while there are fewer than seven.
//!
//! Sign refuses a node id that is a member now; commit adds only the node whose
//! certificate the caller presented, and records that certificate's fingerprint so
//! that removing the node revokes it ([`roost_cluster::trust`]). A member that gets the
//! commit forwards it to the leader as `commit-vouched`, which only members may call.

use crate::sync::MutexExt as _;
use crate::api::ApiError;
use crate::peer::{Peer, TlsTransport};
use crate::Agent;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use roost_api::{JoinRequest, JoinResponse, NodeRow, TokenResponse};
use roost_cluster::network::{serve_rpc, Transport, TransportError};
use roost_cluster::node::FORWARD;
use roost_cluster::state::NodeInfo;
use roost_pki::{JoinToken, NodeIdentity};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIGN: &str = "/cluster/join/sign";
const COMMIT: &str = "/cluster/join/commit";
const COMMIT_VOUCHED: &str = "/cluster/join/commit-vouched";
const REMOVE: &str = "/cluster/remove";
/// A peer is reachable if it answered a probe this recently.
const REACHABLE_WITHIN: Duration = Duration::from_secs(3);

#[derive(Serialize, Deserialize)]
struct SignRequest {
    secret: String,
    csr_pem: String,
    node_id: u64,
}

#[derive(Serialize, Deserialize)]
struct SignResponse {
    cert_pem: String,
    ca_cert_pem: String,
}

#[derive(Serialize, Deserialize)]
struct CommitRequest {
    node: NodeInfo,
}

#[derive(Serialize, Deserialize)]
struct RemoveRequest {
    id: u64,
}

pub fn peer_router(agent: Arc<Agent>) -> Router {
    let remote_cli = crate::api::router(agent.clone())
        .layer(axum::middleware::from_fn_with_state(agent.clone(), require_cli_token));
    Router::new()
        .route("/raft/{rpc}", post(raft_rpc).layer(axum::extract::DefaultBodyLimit::max(roost_cluster::node::RAFT_BODY_LIMIT)))
        .route(FORWARD, post(forwarded_write).layer(axum::extract::DefaultBodyLimit::max(roost_cluster::node::RAFT_BODY_LIMIT)))
        .route(crate::probe::PATH, post(probe))
        .route(SIGN, post(join_sign))
        .route(COMMIT, post(join_commit))
        .route(COMMIT_VOUCHED, post(join_commit_vouched))
        .route(REMOVE, post(remove_member))
        .merge(crate::volumes::api::peer_routes())
        .with_state(agent)
        .merge(remote_cli)
}

pub fn local_routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/v1/token", get(token))
        .route("/v1/join", post(join))
        .route("/v1/nodes", get(nodes))
        .route("/v1/leave", post(leave))
        .route("/v1/nodes/{name}", delete(remove_node))
        .route("/v1/nodes/{name}/drain", post(drain))
        .route("/v1/move", post(move_service))
}

/// The CLI API on the cluster port: for members, and for clients presenting a
/// remote-CLI token (`roost token --cli`) as a bearer token.
async fn require_cli_token(
    State(agent): State<Arc<Agent>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = req.extensions().get::<Peer>().cloned().unwrap_or_default();
    let bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        _ if peer.0.is_some() => next.run(req).await,
        Some(secret) if agent.cluster.cli_secret_accepted(secret) => next.run(req).await,
        Some(_) => ApiError(StatusCode::UNAUTHORIZED, "the CLI token is not valid for this cluster (wrong, or rotated out): get a new one with `roost token --cli`".into()).into_response(),
        None => ApiError(StatusCode::UNAUTHORIZED, "a remote CLI needs a token: run `roost token --cli` on a member and pass it with --cli-token or ROOST_CLI_TOKEN".into()).into_response(),
    }
}

/// Cluster-internal routes need a certificate of this cluster.
pub(crate) fn member(peer: &Peer) -> Result<u64, ApiError> {
    peer.id().ok_or_else(|| ApiError::forbidden("this endpoint is for cluster members only"))
}

async fn probe(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>) -> Result<Json<crate::probe::ProbeAnswer>, ApiError> {
    let from = member(&peer)?;
    Ok(Json(crate::probe::answer(&agent, from)))
}

async fn raft_rpc(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, Path(rpc): Path<String>, body: Bytes) -> Result<Vec<u8>, ApiError> {
    member(&peer)?;
    serve_rpc(agent.cluster.node().raft(), &format!("/raft/{rpc}"), &body).await.map_err(ApiError::bad_request)
}

async fn forwarded_write(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<Vec<u8>, ApiError> {
    member(&peer)?;
    Ok(agent.cluster.node().serve_forwarded(&body).await)
}

async fn join_sign(State(agent): State<Arc<Agent>>, Json(req): Json<SignRequest>) -> Result<Json<SignResponse>, ApiError> {
    if !agent.cluster.secret_accepted(&req.secret) {
        return Err(ApiError::forbidden("the join token is not valid for this cluster (wrong, or rotated out): get a new one with `roost token`"));
    }
    if let Some(refusal) = agent.cluster.with_state(|s| s.join_refusal(req.node_id)) {
        return Err(ApiError::conflict(refusal));
    }
    let (cert_pem, ca_cert_pem) = agent.cluster.sign(&req.csr_pem, req.node_id).map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    Ok(Json(SignResponse { cert_pem, ca_cert_pem }))
}

/// Runs `path` on the leader: here if this node leads, else forwarded.
async fn on_leader(agent: &Agent, path: &str, body: Vec<u8>) -> Result<Option<Vec<u8>>, ApiError> {
    let node = agent.cluster.node();
    match node.leader() {
        Some(l) if l == node.id => Ok(None),
        Some(l) => {
            let addr = node
                .metrics()
                .membership_config
                .membership()
                .get_node(&l)
                .map(|n| n.addr.clone())
                .ok_or_else(|| ApiError::unavailable("the leader's address is unknown"))?;
            agent.cluster.transport.post(&addr, path, body).await.map(Some).map_err(|e| ApiError::unavailable(e.to_string()))
        }
        None => Err(ApiError::unavailable("no quorum: the cluster has no leader right now")),
    }
}

/// The joiner's own commit: bound to the certificate it presents.
async fn join_commit(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<Vec<u8>, ApiError> {
    let Some(caller) = peer.0 else {
        return Err(ApiError::forbidden("a join commit needs the certificate that `join/sign` issued"));
    };
    let mut req: CommitRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(refusal) = agent.cluster.with_state(|s| roost_cluster::trust::commit_refusal(s, caller.id, &caller.cert_sha256, &req.node)) {
        return Err(ApiError::forbidden(refusal));
    }
    req.node.cert_sha256 = Some(caller.cert_sha256);
    add_vouched(&agent, req).await
}

/// A commit a member checked and forwarded (see [`join_commit`]).
async fn join_commit_vouched(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<Vec<u8>, ApiError> {
    let caller = member(&peer)?;
    if !agent.cluster.with_state(|s| s.nodes.contains_key(&caller)) {
        return Err(ApiError::forbidden("only a member may forward a join commit"));
    }
    let req: CommitRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    add_vouched(&agent, req).await
}

/// Adds a checked joiner on the leader (forwarding it there if need be).
async fn add_vouched(agent: &Agent, req: CommitRequest) -> Result<Vec<u8>, ApiError> {
    let body = serde_json::to_vec(&req).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(answer) = on_leader(agent, COMMIT_VOUCHED, body).await? {
        return Ok(answer);
    }
    let voter = agent.cluster.node().add_member(req.node).await.map_err(|e| ApiError::unavailable(format!("{e:#}")))?;
    Ok(serde_json::to_vec(&voter).expect("bool"))
}

async fn remove_member(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<Vec<u8>, ApiError> {
    member(&peer)?;
    if let Some(answer) = on_leader(&agent, REMOVE, body.to_vec()).await? {
        return Ok(answer);
    }
    let req: RemoveRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    agent.cluster.node().remove_member(req.id).await.map_err(|e| ApiError::unavailable(format!("{e:#}")))?;
    Ok(b"{}".to_vec())
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    rotate: bool,
    /// The remote-CLI token instead of the join token.
    #[serde(default)]
    cli: bool,
}

async fn token(State(agent): State<Arc<Agent>>, Query(q): Query<TokenQuery>) -> Result<Json<TokenResponse>, ApiError> {
    let kind = if q.cli { crate::cluster::TokenKind::Cli } else { crate::cluster::TokenKind::Join };
    let token = agent.cluster.new_token(kind, q.rotate).await?;
    Ok(Json(TokenResponse { token: token.to_string() }))
}

async fn join(State(agent): State<Arc<Agent>>, Json(req): Json<JoinRequest>) -> Result<Json<JoinResponse>, ApiError> {
    let token = JoinToken::parse(&req.token).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if agent.cluster.info.addr.ends_with(":0") {
        return Err(ApiError::bad_request("this agent runs with --listen none, so no cluster can reach it: restart it with --listen ADDR:PORT"));
    }
    let state = agent.cluster.state();
    if state.nodes.len() > 1 {
        return Err(ApiError::conflict(format!("this node is already in a cluster of {} nodes: run `roost leave` first", state.nodes.len())));
    }
    if !state.stacks.is_empty() {
        let names: Vec<_> = state.stacks.keys().cloned().collect();
        return Err(ApiError::conflict(format!(
            "this node has stacks deployed ({}): remove them with `roost down` before joining another cluster",
            names.join(", ")
        )));
    }
    let (key_pem, csr_pem) = roost_pki::generate_node_key_and_csr(&agent.cluster.info.name).map_err(ApiError::internal)?;
    let sign = SignRequest { secret: token.secret.clone(), csr_pem, node_id: agent.cluster.id };
    let join_tls = roost_pki::join_client_config(&token.ca_fingerprint).map_err(ApiError::internal)?;
    let answer = TlsTransport::post_with(join_tls, &req.addr, SIGN, serde_json::to_vec(&sign).expect("json"))
        .await
        .map_err(|e| match e {
            TransportError::Unreachable(m) if m.contains("TLS") || m.contains("certificate") => ApiError::bad_request(format!(
                "refusing to join {}: it did not prove it is the cluster the token names (CA fingerprint mismatch or not a roost agent): {m}",
                req.addr
            )),
            TransportError::Unreachable(m) => ApiError::unavailable(format!("cannot reach {}: {m}", req.addr)),
            TransportError::Failed(m) => ApiError::forbidden(m),
        })?;
    let signed: SignResponse = serde_json::from_slice(&answer).map_err(|e| ApiError::internal(e.to_string()))?;
    let identity = NodeIdentity { ca_cert_pem: signed.ca_cert_pem, cert_pem: signed.cert_pem, key_pem };
    agent.cluster.switch_to(identity).await.map_err(|e| ApiError::internal(format!("{e:#}")))?;

    let commit = serde_json::to_vec(&CommitRequest { node: agent.cluster.info.clone() }).expect("json");
    let deadline = Instant::now() + Duration::from_secs(30);
    let voter = loop {
        let failure = match agent.cluster.transport.post(&req.addr, COMMIT, commit.clone()).await {
            Ok(answer) => break serde_json::from_slice::<bool>(&answer).unwrap_or(true),
            Err(e) => e,
        };
        // The leader cannot reach this node back: retrying cannot help.
        let hopeless = matches!(&failure, TransportError::Failed(m) if m.contains("could not reach the joining node"));
        if hopeless || Instant::now() >= deadline {
            // Not a member: be a one-node cluster again rather than a node of no cluster.
            if let Err(e) = agent.cluster.reset_alone().await {
                tracing::warn!("join: cannot go back to a one-node cluster: {e:#}");
            }
            agent.wake.notify_one();
            return Err(ApiError::unavailable(format!("the cluster did not add this node: {failure}")));
        }
        tracing::info!("join: the cluster did not add this node yet ({failure}); retrying");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    agent.wake.notify_one();
    let nodes = agent.cluster.state().nodes.len().max(2);
    Ok(Json(JoinResponse { nodes, voter }))
}

fn reachable(agent: &Agent, id: u64) -> (bool, Option<u64>) {
    if id == agent.cluster.id {
        return (true, Some(0));
    }
    match agent.seen.locked().get(&id) {
        Some(t) => (t.elapsed() < REACHABLE_WITHIN, Some(t.elapsed().as_millis() as u64)),
        None => (false, None),
    }
}

async fn nodes(State(agent): State<Arc<Agent>>) -> Json<Vec<NodeRow>> {
    let node = agent.cluster.node();
    let metrics = node.metrics();
    let membership = metrics.membership_config.membership().clone();
    let voters: std::collections::BTreeSet<u64> = membership.voter_ids().collect();
    let state = agent.cluster.state();
    let own_applied = metrics.last_applied.as_ref().map_or(0, |l| l.index);
    let reports = agent.reports.locked().iter().map(|(id, (_, r))| (*id, r.applied)).collect::<std::collections::HashMap<u64, u64>>();
    let rows = state
        .nodes
        .clone()
        .into_values()
        .map(|n| {
            let (is_reachable, seen) = reachable(&agent, n.id);
            let applied = if n.id == agent.cluster.id { Some(own_applied) } else { reports.get(&n.id).copied() };
            let role = if n.witness {
                "witness"
            } else if voters.contains(&n.id) {
                "voter"
            } else {
                "learner"
            };
            NodeRow {
                id: format!("{:016x}", n.id),
                name: n.name,
                addr: n.addr,
                role: role.into(),
                leader: metrics.current_leader == Some(n.id),
                is_self: n.id == agent.cluster.id,
                reachable: is_reachable,
                draining: state.draining.contains(&n.id),
                last_seen_ms: seen,
                applied,
                behind: applied.map(|a| own_applied.saturating_sub(a)),
                labels: n.labels,
                cpus: n.resources.cpus,
                memory_bytes: n.resources.memory_bytes,
                gpus: n.resources.gpus,
                devices: n.resources.devices,
            }
        })
        .collect();
    Json(rows)
}

async fn leave(State(agent): State<Arc<Agent>>) -> Result<Json<serde_json::Value>, ApiError> {
    let state = agent.cluster.state();
    if state.nodes.len() <= 1 {
        return Err(ApiError::bad_request("this node is not in a cluster with other nodes"));
    }
    let body = serde_json::to_vec(&RemoveRequest { id: agent.cluster.id }).expect("json");
    match on_leader(&agent, REMOVE, body).await? {
        Some(_) => {}
        None => agent.cluster.node().remove_member(agent.cluster.id).await.map_err(|e| ApiError::unavailable(format!("{e:#}")))?,
    }
    agent.cluster.reset_alone().await.map_err(|e| ApiError::internal(format!("{e:#}")))?;
    agent.wake.notify_one();
    Ok(Json(serde_json::json!({"left": true})))
}

#[derive(Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

async fn remove_node(State(agent): State<Arc<Agent>>, Path(name): Path<String>, Query(q): Query<RemoveQuery>) -> Result<Json<serde_json::Value>, ApiError> {
    let state = agent.cluster.state();
    let Some(target) = state.nodes.values().find(|n| n.name == name).cloned() else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no node named `{name}`: `roost nodes` lists them")));
    };
    if target.id == agent.cluster.id {
        return Err(ApiError::bad_request("to remove this node, run `roost leave` on it"));
    }
    if reachable(&agent, target.id).0 && !q.force {
        return Err(ApiError::conflict(format!("node `{name}` is up: run `roost leave` on it, or pass --force")));
    }
    let voters: Vec<u64> = agent.cluster.node().metrics().membership_config.membership().voter_ids().filter(|v| *v != target.id).collect();
    let up = voters.iter().filter(|v| reachable(&agent, **v).0).count();
    if up * 2 <= voters.len() && !q.force {
        return Err(ApiError::conflict(format!(
            "removing `{name}` would leave {up} of {} voters reachable, which is no quorum: pass --force to remove it anyway",
            voters.len()
        )));
    }
    let body = serde_json::to_vec(&RemoveRequest { id: target.id }).expect("json");
    match on_leader(&agent, REMOVE, body).await? {
        Some(_) => {}
        None => agent.cluster.node().remove_member(target.id).await.map_err(|e| ApiError::unavailable(format!("{e:#}")))?,
    }
    Ok(Json(serde_json::json!({"removed": name})))
}

#[derive(Deserialize)]
struct DrainQuery {
    on: bool,
}

/// `roost drain` / `roost undrain`: the scheduler moves replicas off a draining node
/// (stateful ones stop first, then start elsewhere) and places none there.
async fn drain(State(agent): State<Arc<Agent>>, Path(name): Path<String>, Query(q): Query<DrainQuery>) -> Result<Json<serde_json::Value>, ApiError> {
    let state = agent.cluster.state();
    let Some(node) = state.nodes.values().find(|n| n.name == name) else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no node named `{name}`: `roost nodes` lists them")));
    };
    agent.cluster.write(roost_cluster::types::Command::SetDraining { node: node.id, draining: q.on }).await?;
    agent.schedule.notify_one();
    Ok(Json(serde_json::json!({"node": name, "draining": q.on})))
}

#[derive(serde::Deserialize)]
struct MoveRequest {
    /// `STACK/SERVICE`.
    service: String,
    /// The node's name.
    node: String,
}

/// `roost move STACK/SERVICE NODE`: the service's slots go to that node (a stateful one
/// with its data: the old copy stops, a final snapshot follows it, then it starts).
async fn move_service(State(agent): State<Arc<Agent>>, Json(req): Json<MoveRequest>) -> Result<Json<serde_json::Value>, ApiError> {
    let state = agent.cluster.state();
    let Some((stack, service)) = req.service.split_once('/') else {
        return Err(ApiError::bad_request(format!("name the service as STACK/SERVICE, not `{}`", req.service)));
    };
    if !state.stacks.get(stack).is_some_and(|s| s.spec.services.contains_key(service)) {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no service {}: `roost ps` lists them", req.service)));
    }
    let Some(node) = state.nodes.values().find(|n| n.name == req.node) else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no node named `{}`: `roost nodes` lists them", req.node)));
    };
    if node.witness || state.draining.contains(&node.id) {
        let why = if node.witness { "a witness runs no services" } else { "it is draining (`roost undrain` it first)" };
        return Err(ApiError::conflict(format!("cannot move {} to {}: {why}", req.service, req.node)));
    }
    agent.cluster.write(roost_cluster::types::Command::SetMove { service: req.service.clone(), node: Some(node.id) }).await?;
    agent.schedule.notify_one();
    Ok(Json(serde_json::json!({"service": req.service, "node": req.node})))
}
