//! The standby's side: restore each shipped snapshot into the warm copy, and bring a
//! volume up to date before this node starts a container on it.

use super::{api::RestoreRequest, Paths};
use crate::sync::MutexExt as _;
use crate::Agent;
use roost_cluster::types::Command;
use roost_cluster::volumes::VolumeCommand;
use roost_core::observed::ContainerState;
use roost_replication::Held;
use roost_volumes::Repo;
use std::path::PathBuf;
use std::sync::Arc;

/// The newest snapshot asked for a volume, and whether a worker is restoring it.
#[derive(Default)]
pub struct Wanted {
    next: Option<RestoreRequest>,
    working: bool,
}

/// Records that the primary wants `request` restored here, and starts a worker unless
/// one runs (it takes the newest request when it is done with the current one).
///
/// # Errors
/// This node runs (or is assigned) the service itself: it is the primary, not a standby.
pub(crate) fn want(agent: &Arc<Agent>, request: RestoreRequest) -> Result<(), String> {
    if runs_here(agent, &request) {
        return Err(format!("this node runs the service of {}: it is not a standby", request.volume));
    }
    let mut wanted = agent.volumes.wanted.locked();
    let entry = wanted.entry(request.volume.clone()).or_default();
    let start = !entry.working;
    entry.next = Some(request.clone());
    entry.working = true;
    if start {
        tokio::spawn(work(agent.clone(), request.volume));
    }
    Ok(())
}

/// Whether a container of a service mounting the volume exists here, or a slot of one
/// is assigned to this node.
fn runs_here(agent: &Agent, request: &RestoreRequest) -> bool {
    let services = agent.cluster.with_state(|s| {
        let stacks = s.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
        roost_replication::replicated(&stacks).into_iter().find(|v| v.docker_name == request.volume).map(|v| v.services).unwrap_or_default()
    });
    let assigned = agent.cluster.with_state(|s| {
        s.placement.assignments.iter().any(|(k, n)| *n == agent.cluster.id && k.stack == request.stack && services.contains(&k.service))
    });
    let running = agent.view.locked().observed.containers.iter().any(|c| {
        c.stack == request.stack && services.contains(&c.service) && !matches!(c.state, ContainerState::Exited { .. } | ContainerState::Dead)
    });
    assigned || running
}

async fn work(agent: Arc<Agent>, volume: String) {
    loop {
        let next = {
            let mut wanted = agent.volumes.wanted.locked();
            let entry = wanted.entry(volume.clone()).or_default();
            match entry.next.take() {
                Some(next) => next,
                None => {
                    entry.working = false;
                    return;
                }
            }
        };
        match restore(&agent, &next).await {
            Ok(()) => {
                let held = Held { snapshot: next.snapshot.clone(), taken_ms: next.taken_ms };
                let report = Command::Volumes(VolumeCommand::Held { volume: volume.clone(), node: agent.cluster.id, held });
                if let Err(e) = agent.cluster.write(report).await {
                    tracing::debug!(%volume, "cannot report the restored snapshot: {e}");
                }
            }
            Err(e) => tracing::warn!(%volume, snapshot = %next.snapshot, "cannot restore the volume's snapshot: {e:#}"),
        }
    }
}

/// Restores `request` into this node's copy of the volume, under the volume's lock;
/// first keeps what the copy holds if this node wrote it as the primary, and sends
/// that to the primary. Then deletes what the primary's prune deleted.
async fn restore(agent: &Agent, request: &RestoreRequest) -> anyhow::Result<()> {
    let _exclusive = agent.volumes.lock(&request.volume).lock_owned().await;
    if runs_here(agent, request) {
        anyhow::bail!("the service runs here now");
    }
    let key = agent.cluster.with_state(|s| s.volumes.key.clone()).ok_or_else(|| anyhow::anyhow!("the cluster has no volume password yet"))?;
    let driver = agent.driver().await.map_err(anyhow::Error::msg)?;
    let stack = agent.cluster.with_state(|s| s.stacks.get(&request.stack).map(|s| s.spec.clone()));
    let stack = stack.ok_or_else(|| anyhow::anyhow!("stack {} is gone", request.stack))?;
    driver.ensure_volume(&stack, &request.key).await?;
    let data = driver.volume_mountpoint(&request.volume).await?.ok_or_else(|| anyhow::anyhow!("volume {} vanished", request.volume))?;
    let paths = Paths::of(&agent.data_dir, &request.volume);
    let repo = agent.volumes.repo(&paths, &request.volume, &key, false)?;
    let (blocking_request, host, blocking_paths) = (request.clone(), agent.node.clone(), Paths::of(&agent.data_dir, &request.volume));
    tokio::task::spawn_blocking(move || restore_blocking(&repo, &blocking_paths, &blocking_request, &data, &host)).await??;
    if request.from == 0 {
        return Ok(());
    }
    if paths.unpushed_mark().exists() {
        // The primary keeps it from now on (retention never forgets it), so it is
        // listed there and survives this copy mirroring the primary's prunes.
        match super::primary::send_files(agent, &request.volume, &paths, request.from, None).await {
            Ok(_) => {
                std::fs::remove_file(paths.unpushed_mark())?;
                tracing::info!(volume = %request.volume, "the `diverged` snapshot is on the primary too");
            }
            Err(e) => tracing::warn!(volume = %request.volume, "cannot send the `diverged` snapshot to the primary yet: {e:#}"),
        }
    } else if request.primary_files > 0 {
        mirror_prune(agent, request, &paths).await?;
    }
    Ok(())
}

/// Deletes the files of this copy the primary no longer holds, if it holds more files
/// than the primary did when it sent `request` (files that arrived since only cost a
/// look).
async fn mirror_prune(agent: &Agent, request: &RestoreRequest, paths: &Paths) -> anyhow::Result<()> {
    let repo_dir = paths.repo();
    // Listed before the primary's list is asked for: see `ship::extra`.
    let have = tokio::task::spawn_blocking(move || roost_volumes::ship::files(&repo_dir)).await??;
    if have.len() <= request.primary_files {
        return Ok(());
    }
    let addr = agent.cluster.with_state(|s| s.nodes.get(&request.from).map(|n| n.addr.clone()));
    let addr = addr.ok_or_else(|| anyhow::anyhow!("the primary left"))?;
    let body = serde_json::to_vec(&super::api::FilesRequest { volume: request.volume.clone() })?;
    let keep: Vec<String> = serde_json::from_slice(&crate::peer::post_bulk(&agent.cluster.transport, &addr, super::api::FILES, body).await?)?;
    let extra = roost_volumes::ship::extra(&have, &keep);
    if extra.is_empty() {
        return Ok(());
    }
    let repo_dir = paths.repo();
    let removed = tokio::task::spawn_blocking(move || roost_volumes::ship::remove(&repo_dir, &extra)).await??;
    tracing::info!(volume = %request.volume, removed, "deleted the files the primary's prune deleted");
    Ok(())
}

fn restore_blocking(repo: &Repo, paths: &Paths, request: &RestoreRequest, data: &std::path::Path, host: &str) -> anyhow::Result<()> {
    if paths.primary_mark().exists() && !paths.marker().exists() {
        // This copy took writes as the primary that no standby may have: keep them.
        let kept = repo.snapshot(data, &request.volume, host, &["diverged"])?;
        tracing::warn!(volume = %request.volume, snapshot = %kept.id, "this node was the volume's primary: what it held is kept as a `diverged` snapshot before it becomes a standby");
        std::fs::write(paths.unpushed_mark(), &kept.id)?;
        std::fs::remove_file(paths.primary_mark())?;
    }
    let stats = repo.restore_in_place(&request.snapshot, &request.volume, data, &paths.marker())?;
    std::fs::write(paths.restored(), &request.snapshot)?;
    tracing::debug!(volume = %request.volume, snapshot = %request.snapshot, ?stats, "standby copy restored");
    Ok(())
}

/// Before this node starts a container mounting `volumes` (Docker names): each one is
/// brought to the newest snapshot this node's repository holds, unless the volume
/// already is at it. An interrupted restore (its marker left) is finished first.
///
/// # Errors
/// A volume whose restore was interrupted and cannot be finished: it is not a
/// consistent copy, and starting from it would hide that.
pub(crate) async fn before_start(agent: &Agent, volumes: &[(String, PathBuf)]) -> Result<(), String> {
    let Some(key) = agent.cluster.with_state(|s| s.volumes.key.clone()) else { return Ok(()) };
    for (volume, data) in volumes {
        let _exclusive = agent.volumes.lock(volume).lock_owned().await;
        let paths = Paths::of(&agent.data_dir, volume);
        if paths.primary_mark().exists() {
            // This node's copy is the newest: it was the primary.
            continue;
        }
        // A planned move: the old node, up, hands over what its stopped service left.
        super::handover::take_final(agent, volume).await;
        if !paths.repo().join("config").exists() {
            // Nothing replicated here.
            continue;
        }
        let interrupted = paths.marker().exists();
        let caught_up = match agent.volumes.repo(&paths, volume, &key, false) {
            Ok(repo) => {
                let (name, data) = (volume.clone(), data.clone());
                tokio::task::spawn_blocking(move || catch_up(&repo, &paths, &name, &data)).await.map_err(|e| e.to_string())?
            }
            Err(e) => Err(e.into()),
        };
        let at = describe(agent, volume, &Paths::of(&agent.data_dir, volume));
        tracing::info!(%volume, "the service starts here from {}", at.as_deref().unwrap_or("an unknown snapshot"));
        agent.volumes.started_from(volume, at);
        match caught_up {
            Ok(Some(id)) => tracing::info!(%volume, snapshot = %id, "volume brought to its newest snapshot before the service starts here"),
            Ok(None) => {}
            Err(e) if interrupted => return Err(format!("volume {volume}: an interrupted restore cannot be finished: {e:#}")),
            Err(e) => tracing::warn!(%volume, "cannot bring the volume to its newest snapshot; starting from the last one restored: {e:#}"),
        }
    }
    Ok(())
}

/// "snapshot 1a2b3c4d (taken 3 s before this start)": the snapshot the volume was restored to
/// last, from this node's records.
fn describe(agent: &Agent, volume: &str, paths: &Paths) -> Option<String> {
    let id = std::fs::read_to_string(paths.restored()).ok()?;
    let held = agent.cluster.with_state(|s| s.volumes.held.get(volume).and_then(|h| h.get(&agent.cluster.id)).cloned());
    let age = held.filter(|h| h.snapshot == id).map(|h| format!(" (taken {} s before this start)", super::unix_ms().saturating_sub(h.taken_ms) / 1000));
    Some(format!("snapshot {}{}", id.get(..8).unwrap_or(&id), age.unwrap_or_default()))
}

/// Restores the repository's newest snapshot of `volume` into `data` unless it is
/// there already; returns its id when it restored.
fn catch_up(repo: &Repo, paths: &Paths, volume: &str, data: &std::path::Path) -> anyhow::Result<Option<String>> {
    // A `diverged` snapshot is what an old primary kept aside: never started from
    // unless restored by hand. (One repository holds one volume.)
    let Some(latest) = repo.snapshots()?.into_iter().rfind(|s| !s.tags.iter().any(|t| t == "diverged")) else {
        return Ok(None);
    };
    let restored = std::fs::read_to_string(paths.restored()).unwrap_or_default();
    if restored == latest.id && !paths.marker().exists() {
        return Ok(None);
    }
    repo.restore_in_place(&latest.id, volume, data, &paths.marker())?;
    std::fs::write(paths.restored(), &latest.id)?;
    Ok(Some(latest.id))
}
