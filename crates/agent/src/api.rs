//! The HTTP API the CLI calls (see `roost_api` for the contract).

use crate::sync::MutexExt as _;
use crate::reconcile_loop::stop_settings;
use crate::Agent;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use roost_api::{DeployRequest, DeployResponse, ErrorBody, Info, PsResponse, RemoveResponse, StackSummary};
use roost_core::handoff::UnplacedKind;
use roost_core::hash::config_hash;
use roost_core::reconcile::{Desired, Scope, SlotKey};
use roost_api::ReplicaStatus;
use roost_core::status::replica_status;
use serde::Deserialize;
use std::sync::Arc;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/stacks", get(list_stacks))
        .route("/v1/stacks/{name}", axum::routing::put(deploy).delete(remove))
        .route("/v1/stacks/{name}/rollback", axum::routing::post(rollback))
        .route("/v1/ps", get(ps))
        .route("/v1/logs", get(crate::logs::logs))
        .merge(crate::cluster_api::local_routes())
        .merge(crate::volumes::api::cli_routes())
        .merge(crate::ingress::cert_api::routes())
        .with_state(agent)
}

/// An error answer: a status and a message for the user.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl ApiError {
    pub(crate) fn bad_request(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
    pub(crate) fn forbidden(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::FORBIDDEN, msg.into())
    }
    pub(crate) fn conflict(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::CONFLICT, msg.into())
    }
    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::NOT_FOUND, msg.into())
    }
    pub(crate) fn unavailable(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, msg.into())
    }
    pub(crate) fn internal(msg: impl std::fmt::Display) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, msg.to_string())
    }
}

impl From<roost_cluster::node::WriteError> for ApiError {
    fn from(e: roost_cluster::node::WriteError) -> Self {
        match e {
            roost_cluster::node::WriteError::NoQuorum(_) | roost_cluster::node::WriteError::NotLeader => {
                ApiError::unavailable(e.to_string())
            }
            roost_cluster::node::WriteError::Other(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

async fn info(State(agent): State<Arc<Agent>>) -> Json<Info> {
    let engine = match agent.driver().await {
        Ok(d) => d.ping().await.map(|()| format!("reachable at {}", d.host())).map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    Json(Info { node: agent.node.clone(), version: env!("CARGO_PKG_VERSION").into(), engine })
}

async fn list_stacks(State(agent): State<Arc<Agent>>) -> Result<Json<Vec<StackSummary>>, ApiError> {
    let state = agent.cluster.state();
    let node_name = |id: u64| state.nodes.get(&id).map_or_else(|| format!("{id:016x}"), |n| n.name.clone());
    Ok(Json(
        state
            .stacks
            .values()
            .map(|s| StackSummary {
                name: s.spec.name.clone(),
                generation: s.generation,
                services: s.spec.services.len(),
                node: node_name(s.node),
            })
            .collect(),
    ))
}

async fn deploy(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
    body: Result<Json<DeployRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DeployResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(format!("invalid deploy request: {}", e.body_text())))?;
    if req.stack.name != name {
        return Err(ApiError::bad_request(format!("the path names stack `{name}` but the body holds `{}`", req.stack.name)));
    }
    roost_core::validate::validate_stack(&req.stack).map_err(ApiError::bad_request)?;
    if agent.cluster.info.witness {
        return Err(ApiError::bad_request(
            "this node is a witness and runs no workloads: run `roost up` on another node",
        ));
    }
    route_conflicts(&agent.cluster.state(), &req.stack)?;
    let previous = agent.cluster.state().stacks.remove(&name);
    let changed_services = req
        .stack
        .services
        .keys()
        .filter(|svc| {
            let old = previous.as_ref().and_then(|p| config_hash(&p.spec, svc));
            old != config_hash(&req.stack, svc)
        })
        .cloned()
        .collect();
    let command = roost_cluster::types::Command::PutStack { stack: req.stack.clone(), node: agent.cluster.id };
    let stored = agent.cluster.write(command).await?.stack.ok_or_else(|| ApiError::internal("no stack in the answer"))?;
    agent.wake.notify_one();
    agent.schedule.notify_one();
    Ok(Json(DeployResponse { stack: name, generation: stored.generation, changed_services }))
}

/// Refuses a stack whose routes claim requests another stack's routes already claim
/// (same host, prefix and listener), naming both routes and where they were defined.
fn route_conflicts(state: &roost_cluster::state::ClusterState, stack: &roost_spec::Stack) -> Result<(), ApiError> {
    let claims = |s: &roost_spec::Stack| -> Vec<(String, String, roost_routes::Route)> {
        s.services.iter().flat_map(|(svc, spec)| spec.routes.iter().map(move |r| (s.name.clone(), svc.clone(), r.clone()))).collect()
    };
    let existing: Vec<_> = state.stacks.values().filter(|s| s.spec.name != stack.name).flat_map(|s| claims(&s.spec)).collect();
    let new = claims(stack);
    fn as_claims(v: &[(String, String, roost_routes::Route)]) -> Vec<roost_routes::Claim<'_>> {
        v.iter().map(|(stack, service, route)| roost_routes::Claim { stack, service, route }).collect()
    }
    let found = roost_routes::conflicts(&as_claims(&existing), &as_claims(&new));
    if found.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = found.iter().map(|c| format!("{}: {c}", c.new)).collect();
    Err(ApiError(StatusCode::CONFLICT, format!("routes clash with another stack's:\n  {}", lines.join("\n  "))))
}

/// `roost rollback`: the whole stack returns to its previous version.
async fn rollback(State(agent): State<Arc<Agent>>, Path(name): Path<String>) -> Result<Json<DeployResponse>, ApiError> {
    let state = agent.cluster.state();
    let Some(stored) = state.stacks.get(&name) else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no stack named `{name}`")));
    };
    let Some(previous) = &stored.previous else {
        return Err(ApiError::bad_request(format!("stack `{name}` has no previous version to roll back to")));
    };
    let changed_services = previous
        .services
        .keys()
        .chain(stored.spec.services.keys())
        .filter(|svc| config_hash(previous, svc) != config_hash(&stored.spec, svc))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let command = roost_cluster::types::Command::Rollback { name: name.clone(), automatic: false };
    let stored = agent.cluster.write(command).await?.stack.ok_or_else(|| ApiError::internal("no stack in the answer"))?;
    agent.wake.notify_one();
    agent.schedule.notify_one();
    Ok(Json(DeployResponse { stack: name, generation: stored.generation, changed_services }))
}

#[derive(Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    volumes: bool,
}

/// Removes the stack from desired state, then tears down its containers, networks and,
/// when asked, volumes, before answering, so `down` returning means they are gone.
async fn remove(
    State(agent): State<Arc<Agent>>,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<Json<RemoveResponse>, ApiError> {
    let _pass = agent.pass.lock().await;
    let command = roost_cluster::types::Command::RemoveStack { name: name.clone() };
    let removed = agent.cluster.write(command).await?.stack;
    let driver = agent.driver().await.map_err(|e| {
        ApiError::unavailable(format!(
            "stack `{name}` is no longer desired, but its containers cannot be removed now: container engine unreachable: {e}"
        ))
    })?;
    let observed = driver.observe().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
    if removed.is_none() && !observed.containers.iter().any(|c| c.stack == name) && !observed.networks.iter().any(|n| n.stack == name) {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no stack named `{name}`")));
    }
    let spec = removed.as_ref().map(|s| &s.spec);
    let containers: Vec<_> = observed.containers.iter().filter(|c| c.stack == name).collect();
    let results = futures_util::future::join_all(containers.iter().map(|c| {
        let (signal, grace) = stop_settings(spec, &c.service);
        let driver = driver.clone();
        async move { driver.remove_container(&c.id, signal.as_deref(), grace).await }
    }))
    .await;
    for r in results {
        r.map_err(|e| ApiError::internal(format!("removing a container of `{name}`: {e}")))?;
    }
    let mut removed_networks = Vec::new();
    for n in observed.networks.iter().filter(|n| n.stack == name) {
        driver.remove_network(&n.name).await.map_err(|e| ApiError::internal(format!("network {}: {e}", n.name)))?;
        removed_networks.push(n.name.clone());
    }
    let mut removed_volumes = Vec::new();
    if q.volumes {
        for v in observed.volumes.iter().filter(|v| v.stack == name) {
            driver.remove_volume(&v.name).await.map_err(|e| ApiError::internal(format!("volume {}: {e}", v.name)))?;
            removed_volumes.push(v.name.clone());
        }
    }
    agent.wake.notify_one();
    Ok(Json(RemoveResponse { stack: name, removed_containers: containers.len(), removed_networks, removed_volumes }))
}

#[derive(Deserialize)]
struct PsQuery {
    stack: Option<String>,
}

/// This node's rows: its own slots, plus its containers that are not desired here.
pub(crate) fn local_rows(node: &str, desired: &Desired, scope: &Scope, view: &crate::View) -> Vec<ReplicaStatus> {
    let mut rows = replica_status(node, desired, &view.observed, &view.reconciler, view.engine_error.as_deref());
    rows.retain(|r| {
        let key = SlotKey::new(&r.stack, &r.service, r.slot);
        let here = scope.slots.as_ref().is_none_or(|s| s.contains(&key));
        (here && !(scope.fenced && r.desired && desired.get(&r.stack).and_then(|s| s.services.get(&r.service)).is_some_and(roost_core::reconcile::is_stateful)))
            || r.container_id.is_some()
    });
    if scope.slots.is_some() {
        for r in rows.iter_mut().filter(|r| r.container_id.is_some()) {
            let key = SlotKey::new(&r.stack, &r.service, r.slot);
            if !scope.slots.as_ref().is_some_and(|s| s.contains(&key)) {
                r.desired = false;
                r.ready = false;
                r.note = Some("assigned to another node; being removed".into());
            }
        }
    }
    rows
}

/// `roost ps` from any node: this node's rows, every peer's latest report, and a row
/// for each slot nobody reported (unplaceable, or not started yet).
async fn ps(State(agent): State<Arc<Agent>>, Query(q): Query<PsQuery>) -> Result<Json<PsResponse>, ApiError> {
    let desired: Desired = agent.desired_here();
    let scope = agent.scope();
    let state = agent.cluster.state();
    let (mut replicas, engine_error) = {
        let view = agent.view.locked();
        (local_rows(&agent.node, &desired, &scope, &view), view.engine_error.clone())
    };
    agent.volumes.annotate(&desired, &mut replicas);
    if scope.slots.is_some() {
        replicas.extend(agent.peer_rows());
        let node_name = |id: &u64| state.nodes.get(id).map_or_else(|| format!("{id:016x}"), |n| n.name.clone());
        for (name, stored) in &state.stacks {
            for (svc_name, svc) in &stored.spec.services {
                for slot in 1..=svc.replicas {
                    let key = SlotKey::new(name, svc_name, slot);
                    if replicas.iter().any(|r| r.desired && SlotKey::new(&r.stack, &r.service, r.slot) == key) {
                        continue;
                    }
                    let (node, note, failed) = match (state.placement.assignments.get(&key), state.placement.unplaceable.get(&key)) {
                        (Some(n), _) => (node_name(n), format!("assigned to {}", node_name(n)), false),
                        // The reason travels as text in the replicated placement; its kind
                        // (a hand-off or a partner under way, or no node suits) is recovered
                        // by the core, which also produces the texts.
                        (None, Some(why)) => ("-".into(), why.clone(), UnplacedKind::of_stored(why).is_error()),
                        (None, None) => ("-".into(), "not placed yet".into(), false),
                    };
                    replicas.push(ReplicaStatus {
                        stack: name.clone(),
                        service: svc_name.clone(),
                        slot,
                        node,
                        container_id: None,
                        state: "pending".into(),
                        health: "none".into(),
                        ports: vec![],
                        up_to_date: false,
                        desired: true,
                        ready: false,
                        failed,
                        note: Some(note),
                    });
                }
            }
        }
        replicas.sort_by(|a, b| (&a.stack, &a.service, a.slot, !a.desired).cmp(&(&b.stack, &b.service, b.slot, !b.desired)));
        for r in replicas.iter_mut().filter(|r| r.desired && r.note.is_none()) {
            if let Some(why) = state.placement.volume_bound.get(&SlotKey::new(&r.stack, &r.service, r.slot)) {
                r.note = Some(why.clone());
            }
        }
    }
    if let Some(stack) = &q.stack {
        replicas.retain(|r| &r.stack == stack);
    }
    let stacks: std::collections::BTreeMap<String, roost_spec::Stack> = state
        .stacks
        .iter()
        .filter(|(name, _)| q.stack.as_ref().is_none_or(|s| s == *name))
        .map(|(k, v)| (k.clone(), v.spec.clone()))
        .collect();
    let links = roost_core::placement::links::links(&stacks, &replicas);
    Ok(Json(PsResponse { node: agent.node.clone(), engine_error, replicas, links }))
}
