//! The room's HTTP side: the bulk routes standbys serve on the cluster port (members
//! only), and `roost volume ls` / `roost volume snapshots` on the CLI API.

use super::{standby, Paths};
use crate::api::ApiError;
use crate::cluster_api::member;
use crate::peer::Peer;
use crate::Agent;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lists the repository files a standby holds of a volume.
pub const FILES: &str = "/volumes/files";
/// Stores one repository file (`?volume=NAME&path=PATH`, the bytes as body).
pub const PUT: &str = "/volumes/put";
/// Asks a standby to restore a snapshot into its copy of the volume.
pub const RESTORE: &str = "/volumes/restore";
/// Asks the volume's old primary for a final snapshot (a planned move).
pub const FINAL: &str = "/volumes/final";
/// Has the primary restore a snapshot into the volume (`roost volume restore`).
pub const RESTORE_HERE: &str = "/volumes/restore-here";
/// Repository files can be big packs: far above the default body limit.
const BULK_LIMIT: usize = 512 << 20;

#[derive(Serialize, Deserialize)]
pub struct FilesRequest {
    pub volume: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreRequest {
    /// The Docker volume name.
    pub volume: String,
    pub stack: String,
    /// The volume's Compose key in the stack.
    pub key: String,
    pub snapshot: String,
    /// When the primary took it (Unix ms).
    pub taken_ms: u64,
    /// The primary, and how many files its repository held when it sent this: a
    /// standby holding more has files the primary's prune deleted.
    #[serde(default)]
    pub from: u64,
    #[serde(default)]
    pub primary_files: usize,
}

#[derive(Serialize, Deserialize)]
pub struct FinalRequest {
    pub volume: String,
    /// The node that starts the service next, to send the snapshot to.
    pub to: u64,
}

#[derive(Deserialize)]
struct PutQuery {
    volume: String,
    path: String,
}

/// The routes standbys serve to the primary, on the cluster port.
pub fn peer_routes() -> Router<Arc<Agent>> {
    Router::new()
        .route(FILES, post(files))
        .route(PUT, post(put).layer(axum::extract::DefaultBodyLimit::max(BULK_LIMIT)))
        .route(RESTORE, post(restore))
        .route(FINAL, post(final_snapshot))
        .route(RESTORE_HERE, post(restore_here))
}

/// The CLI's routes.
pub fn cli_routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/v1/volumes", get(list))
        .route("/v1/volumes/snapshots", get(snapshots))
        .route("/v1/volumes/password", get(password))
        .route("/v1/volumes/restore", post(restore_by_hand))
}

/// A volume name that becomes a path: the same rule as the repository's.
fn checked(volume: &str) -> Result<&str, ApiError> {
    let ok = !volume.is_empty() && !volume.starts_with('.') && volume.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(volume)
    } else {
        Err(ApiError::bad_request(format!("`{volume}` is not a volume name")))
    }
}

async fn files(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<Json<Vec<String>>, ApiError> {
    member(&peer)?;
    let request: FilesRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let repo = Paths::of(&agent.data_dir, checked(&request.volume)?).repo();
    if !repo.exists() {
        return Ok(Json(Vec::new()));
    }
    let listed = tokio::task::spawn_blocking(move || roost_volumes::ship::files(&repo))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(listed.into_iter().map(|f| f.path).collect()))
}

async fn put(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, Query(q): Query<PutQuery>, body: Bytes) -> Result<&'static str, ApiError> {
    member(&peer)?;
    let repo = Paths::of(&agent.data_dir, checked(&q.volume)?).repo();
    if q.path == "config" && std::fs::read(repo.join("config")).is_ok_and(|old| old != body) {
        // The primary's repository is another one (it started without this node's
        // copy): this copy is set aside, not lost, and a fresh one begins.
        let aside = repo.with_file_name(format!("repo.replaced-{}", super::unix_ms()));
        std::fs::rename(&repo, &aside).map_err(|e| ApiError::internal(format!("cannot set {} aside: {e}", repo.display())))?;
        agent.volumes.forget_repo(&q.volume);
        tracing::warn!(volume = %q.volume, "the primary's repository is not this copy's: the copy is kept at {}", aside.display());
    }
    let _no_prune = agent.volumes.repo_write_lock(&q.volume).lock_owned().await;
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&repo).map_err(|e| format!("cannot make {}: {e}", repo.display()))?;
        roost_volumes::ship::receive(&repo, &q.path, &body).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(ApiError::bad_request)?;
    Ok("stored")
}

async fn restore(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<&'static str, ApiError> {
    member(&peer)?;
    let request: RestoreRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    checked(&request.volume)?;
    standby::want(&agent, request).map_err(ApiError::conflict)?;
    Ok("accepted")
}

async fn final_snapshot(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<String, ApiError> {
    member(&peer)?;
    let request: FinalRequest = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    checked(&request.volume)?;
    match super::handover::give_final(&agent, &request).await {
        Ok(id) => Ok(id),
        Err(super::handover::Refusal::NotPrimary) => Err(ApiError::not_found("this node was not the volume's last primary")),
        Err(super::handover::Refusal::StillRunning) => Err(ApiError::conflict("the service still runs here")),
        Err(super::handover::Refusal::Failed(e)) => Err(ApiError::internal(e)),
    }
}

async fn restore_here(State(agent): State<Arc<Agent>>, Extension(peer): Extension<Peer>, body: Bytes) -> Result<String, ApiError> {
    member(&peer)?;
    let command: super::restore_cmd::RestoreCommand = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    checked(&command.volume)?;
    super::restore_cmd::here(&agent, &command).await.map_err(|e| ApiError::internal(format!("{e:#}")))
}

async fn restore_by_hand(State(agent): State<Arc<Agent>>, Json(command): Json<super::restore_cmd::RestoreCommand>) -> Result<Json<serde_json::Value>, ApiError> {
    checked(&command.volume)?;
    let said = super::restore_cmd::run(&agent, &command).await.map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(Json(serde_json::json!({ "message": said })))
}

async fn list(State(agent): State<Arc<Agent>>) -> Json<Vec<roost_replication::VolumeRow>> {
    let plans = super::plans(&agent);
    let (held, names) = agent.cluster.with_state(|s| {
        let names: BTreeMap<u64, String> = s.nodes.values().map(|n| (n.id, n.name.clone())).collect();
        (s.volumes.held.clone(), names)
    });
    let volumes: Vec<_> = plans.iter().map(|(v, _)| v.clone()).collect();
    let plans = plans.into_iter().map(|(v, p)| (v.docker_name, p)).collect();
    Json(roost_replication::rows(&volumes, &plans, &held, &names, super::unix_ms()))
}

#[derive(Deserialize)]
struct SnapshotsQuery {
    volume: String,
}

/// A snapshot as `roost volume snapshots --json` prints it.
#[derive(Serialize, Deserialize)]
pub struct SnapshotRow {
    pub id: String,
    pub time: String,
    pub tags: Vec<String>,
}

async fn snapshots(State(agent): State<Arc<Agent>>, Query(q): Query<SnapshotsQuery>) -> Result<Json<Vec<SnapshotRow>>, ApiError> {
    let volume = checked(&q.volume)?.to_owned();
    let key = agent
        .cluster
        .with_state(|s| s.volumes.key.clone())
        .ok_or_else(|| ApiError::not_found(format!("this node holds no snapshots of {volume}: the cluster has no volume repositories yet")))?;
    let repo = Paths::of(&agent.data_dir, &volume).repo();
    if !repo.join("config").exists() {
        return Err(ApiError::not_found(format!("this node holds no snapshots of {volume}")));
    }
    let listed = tokio::task::spawn_blocking(move || roost_volumes::Repo::open(&repo, &key).and_then(|r| r.snapshots()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(listed.into_iter().map(|s| SnapshotRow { id: s.id, time: s.time, tags: s.tags }).collect()))
}

/// The repositories' password, for restic by hand (`roost volume password`).
async fn password(State(agent): State<Arc<Agent>>) -> Result<Json<serde_json::Value>, ApiError> {
    let key = agent.cluster.with_state(|s| s.volumes.key.clone()).ok_or_else(|| ApiError::not_found("the cluster has no volume repositories yet"))?;
    Ok(Json(serde_json::json!({ "password": key })))
}
