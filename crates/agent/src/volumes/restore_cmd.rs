//! `roost volume restore STACK/VOLUME SNAPSHOT`: the service stops, its volume becomes
//! the snapshot where the service runs, and it starts again. Run on any node whose
//! repository copy holds the snapshot (`roost volume snapshots` lists them; a
//! `diverged` snapshot is on the node that kept it, and on the primary once that node
//! could send it): that node first sends the primary whatever files it lacks.

use super::Paths;
use crate::sync::MutexExt as _;
use crate::Agent;
use roost_core::observed::ContainerState;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreCommand {
    /// The Docker volume name.
    pub volume: String,
    /// A snapshot id (or a unique prefix, as restic takes).
    pub snapshot: String,
}

/// Where the command runs: sends the primary what it lacks, then has it restore.
///
/// # Errors
/// No such replicated volume, no primary (the service runs nowhere), the files cannot
/// be sent, or the primary's restore failed.
pub(crate) async fn run(agent: &Arc<Agent>, command: &RestoreCommand) -> anyhow::Result<String> {
    let plan = super::plans(agent).into_iter().find(|(v, _)| v.docker_name == command.volume);
    let Some((_, plan)) = plan else { anyhow::bail!("no replicated volume {}", command.volume) };
    let Some(primary) = plan.primary else { anyhow::bail!("{} has no primary: its service runs nowhere", command.volume) };
    if primary == agent.cluster.id {
        return here(agent, command).await;
    }
    let paths = Paths::of(&agent.data_dir, &command.volume);
    if paths.repo().join("config").exists() {
        super::primary::send_files(agent, &command.volume, &paths, primary, None).await?;
    }
    let addr = agent.cluster.with_state(|s| s.nodes.get(&primary).map(|n| n.addr.clone())).ok_or_else(|| anyhow::anyhow!("the primary left"))?;
    let answer = crate::peer::post_bulk(&agent.cluster.transport, &addr, super::api::RESTORE_HERE, serde_json::to_vec(command)?).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// On the primary: under the volume's lock (a start waits for it), stops the service's
/// containers here, restores the snapshot into the volume and lets the reconciler start
/// the service again from it.
///
/// # Errors
/// No such snapshot here, or the volume cannot be written.
pub(crate) async fn here(agent: &Arc<Agent>, command: &RestoreCommand) -> anyhow::Result<String> {
    let volume = command.volume.as_str();
    let replicated = agent.cluster.with_state(|s| {
        let stacks = s.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
        roost_replication::replicated(&stacks).into_iter().find(|v| v.docker_name == volume)
    });
    let Some(replicated) = replicated else { anyhow::bail!("no replicated volume {volume}") };
    let paths = Paths::of(&agent.data_dir, volume);
    let key = agent.cluster.with_state(|s| s.volumes.key.clone()).filter(|_| paths.repo().join("config").exists());
    let Some(key) = key else {
        anyhow::bail!("no snapshot {} of {volume} here: the node running its service holds no snapshots of it yet", command.snapshot)
    };
    let repo = agent.volumes.repo(&paths, volume, &key, false)?;
    let driver = agent.driver().await.map_err(anyhow::Error::msg)?;
    let _exclusive = agent.volumes.lock(volume).lock_owned().await;
    let running: Vec<(String, String)> = agent
        .view
        .locked()
        .observed
        .containers
        .iter()
        .filter(|c| c.stack == replicated.stack && replicated.services.contains(&c.service) && !matches!(c.state, ContainerState::Dead))
        .map(|c| (c.id.clone(), c.service.clone()))
        .collect();
    let stack = agent.cluster.with_state(|s| s.stacks.get(&replicated.stack).map(|s| s.spec.clone()));
    for (id, service) in &running {
        let (signal, grace) = crate::reconcile_loop::stop_settings(stack.as_ref(), service);
        driver.remove_container(id, signal.as_deref(), grace).await?;
    }
    let data = driver.volume_mountpoint(volume).await?.ok_or_else(|| anyhow::anyhow!("volume {volume} is gone"))?;
    let (id, name, marker) = (command.snapshot.clone(), volume.to_owned(), paths.marker());
    let stats = tokio::task::spawn_blocking(move || repo.restore_in_place(&id, &name, &data, &marker)).await??;
    // The restored data is this primary's now: the next snapshot carries it to the standbys.
    std::fs::write(paths.primary_mark(), b"")?;
    tracing::warn!(volume, snapshot = %command.snapshot, ?stats, "volume restored by hand; the service starts again from it");
    agent.wake.notify_one();
    Ok(format!("{volume} restored to snapshot {} ({} files written, {} removed); {} started again", command.snapshot, stats.files_restored, stats.deleted, replicated.services.join(", ")))
}
