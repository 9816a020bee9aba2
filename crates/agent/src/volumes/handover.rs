//! Planned moves lose nothing: when a stateful service moves while its old node is up
//! (a drain, an update that places it elsewhere), the new node, before it starts the
//! service, asks the other nodes for a final snapshot. The old primary, whose copy of
//! the service is stopped by then (the hand-off waits for that), snapshots the volume
//! as it was left and sends the files; the new node then starts from it. A failover
//! cannot do this (the old node is gone), so it starts from the last shipped snapshot.

use super::{api::FinalRequest, Paths};
use crate::sync::MutexExt as _;
use crate::Agent;
use roost_core::observed::ContainerState;
use std::sync::Arc;

/// Why a final snapshot was not given.
pub(crate) enum Refusal {
    /// This node was not the volume's last primary.
    NotPrimary,
    /// The service still runs here.
    StillRunning,
    Failed(String),
}

/// On the old primary: snapshots `volume` as its stopped service left it and sends it
/// to the node `to`. Returns the snapshot id.
pub(crate) async fn give_final(agent: &Arc<Agent>, request: &FinalRequest) -> Result<String, Refusal> {
    let volume = request.volume.as_str();
    let paths = Paths::of(&agent.data_dir, volume);
    if !paths.primary_mark().exists() {
        return Err(Refusal::NotPrimary);
    }
    let _exclusive = agent.volumes.lock(volume).lock_owned().await;
    let services = agent.cluster.with_state(|s| {
        let stacks = s.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
        roost_replication::replicated(&stacks).into_iter().find(|v| v.docker_name == volume)
    });
    let Some(replicated) = services else { return Err(Refusal::Failed(format!("{volume} is not a replicated volume"))) };
    let running = agent.view.locked().observed.containers.iter().any(|c| {
        c.stack == replicated.stack && replicated.services.contains(&c.service) && !matches!(c.state, ContainerState::Exited { .. } | ContainerState::Dead)
    });
    if running {
        return Err(Refusal::StillRunning);
    }
    let fail = |e: &dyn std::fmt::Display| Refusal::Failed(e.to_string());
    let key = agent.cluster.with_state(|s| s.volumes.key.clone()).ok_or_else(|| fail(&"no volume password yet"))?;
    let driver = agent.driver().await.map_err(|e| fail(&e))?;
    let data = driver.volume_mountpoint(volume).await.map_err(|e| fail(&e))?.ok_or_else(|| fail(&format!("volume {volume} is gone")))?;
    let repo = agent.volumes.repo(&paths, volume, &key, false).map_err(|e| fail(&e))?;
    let (name, host) = (volume.to_owned(), agent.node.clone());
    let snapshot = tokio::task::spawn_blocking(move || repo.snapshot(&data, &name, &host, &[]))
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?;
    super::primary::send_files(agent, volume, &paths, request.to, None).await.map_err(|e| fail(&format!("{e:#}")))?;
    // This copy is the final snapshot now: a standby's, with nothing of its own.
    let _ = std::fs::write(paths.restored(), &snapshot.id);
    let _ = std::fs::remove_file(paths.primary_mark());
    tracing::info!(volume, snapshot = %snapshot.id, to = request.to, "final snapshot handed over to the service's new node");
    Ok(snapshot.id)
}

/// On the new node, before the service starts: asks every other reachable member for
/// the final snapshot of `volume` (only its last primary gives one). Whether one came.
pub(crate) async fn take_final(agent: &Agent, volume: &str) -> bool {
    let me = agent.cluster.id;
    let peers: Vec<String> = {
        let reports = agent.reports.locked().clone();
        agent.cluster.with_state(|s| {
            s.nodes
                .values()
                .filter(|n| n.id != me && reports.get(&n.id).is_some_and(|(at, _)| at.elapsed() < agent.down_after))
                .map(|n| n.addr.clone())
                .collect()
        })
    };
    let Ok(body) = serde_json::to_vec(&FinalRequest { volume: volume.to_owned(), to: me }) else { return false };
    let asks = peers.iter().map(|addr| crate::peer::post_bulk(&agent.cluster.transport, addr, super::api::FINAL, body.clone()));
    let answers = futures_util::future::join_all(asks).await;
    let given = answers.iter().any(Result::is_ok);
    if given {
        tracing::info!(volume, "took the final snapshot from the service's old node");
    }
    given
}
