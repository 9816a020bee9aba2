//! The primary's loop for one volume: snapshot every `interval`, ship to the standbys.

use super::{api::RestoreRequest, unix_ms, Paths};
use crate::sync::MutexExt as _;
use crate::Agent;
use roost_cluster::types::NodeId;
use roost_core::observed::ContainerState;
use roost_docker::Driver;
use roost_replication::ReplicatedVolume;
use roost_spec::Consistency;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A hook runs at most this long.
const HOOK_TIMEOUT: Duration = Duration::from_secs(120);
/// A new primary prunes this soon (a repository it takes over may have grown while
/// nobody pruned), then every [`PRUNE_EVERY`].
const FIRST_PRUNE: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Files modified less than this long ago are left to the frozen staging pass (see
/// `roost_volumes::stage_older_than`).
const SETTLED: Duration = Duration::from_secs(1);

pub(super) async fn run(agent: Arc<Agent>, volume: ReplicatedVolume) {
    let name = volume.docker_name.clone();
    // What each standby is known to hold, so only new files travel; forgotten after
    // a failure, then asked again.
    let mut shipped: HashMap<NodeId, Vec<String>> = HashMap::new();
    let mut failing = false;
    let mut prune_due = Instant::now() + FIRST_PRUNE;
    loop {
        let started = Instant::now();
        match round(&agent, &volume, &mut shipped).await {
            Ok(Some(Round { snapshot: taken, paused })) => {
                if failing {
                    tracing::info!(volume = %name, "snapshots work again");
                    failing = false;
                }
                if Instant::now() >= prune_due {
                    prune_due = Instant::now() + PRUNE_EVERY;
                    match prune(&agent, &volume).await {
                        Ok(summary) if summary.forgotten > 0 || summary.packs_deleted > 0 || summary.packs_repacked > 0 => {
                            tracing::info!(volume = %name, ?summary, "old snapshots forgotten and the repository pruned");
                            // The standbys' copies change too: ask them again.
                            shipped.clear();
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(volume = %name, "cannot prune the volume's repository: {e:#}"),
                    }
                }
                // `bench/volumes.sh` reads these figures (ROOST_LOG=roost_agent::volumes=debug).
                tracing::debug!(volume = %name, snapshot = %taken, took_ms = started.elapsed().as_millis(), paused_ms = paused.map(|p| p.as_millis()), "snapshot shipped");
            }
            Ok(None) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(volume = %name, "volume snapshot failed: {e:#}");
                    failing = true;
                }
            }
        }
        // The interval is the recovery point promised: the newest snapshot a standby
        // holds must never be older than it. A round takes `took` from the moment it
        // captures the data to the moment the standbys hold it, so the next one starts
        // `took` early (assuming it takes as long).
        let took = started.elapsed();
        tokio::time::sleep(volume.settings.interval.saturating_sub(took * 2).max(Duration::from_millis(200))).await;
    }
}

/// What a round did: the snapshot it took and shipped, and how long the writers were
/// frozen for it (`pause` consistency only).
struct Round {
    snapshot: String,
    paused: Option<Duration>,
}

/// One snapshot and its shipping; `None` while there is nothing to snapshot (the
/// service is not running here yet, or the cluster has no password yet).
async fn round(agent: &Agent, volume: &ReplicatedVolume, shipped: &mut HashMap<NodeId, Vec<String>>) -> anyhow::Result<Option<Round>> {
    let Some(key) = agent.cluster.with_state(|s| s.volumes.key.clone()) else { return Ok(None) };
    let standbys = super::plans(agent)
        .into_iter()
        .find(|(v, _)| v.docker_name == volume.docker_name)
        .map(|(_, p)| p.standbys)
        .unwrap_or_default();
    if standbys.is_empty() {
        // One node, or every other one down or a witness: a copy here would protect
        // nothing (backups are another matter), and costs the volume's size twice.
        return Ok(None);
    }
    let driver = agent.driver().await.map_err(anyhow::Error::msg)?;
    let writers: Vec<String> = agent
        .view
        .locked()
        .observed
        .containers
        .iter()
        .filter(|c| c.stack == volume.stack && volume.services.contains(&c.service) && c.state == ContainerState::Running)
        .map(|c| c.id.clone())
        .collect();
    if writers.is_empty() {
        return Ok(None);
    }
    let Some(data) = driver.volume_mountpoint(&volume.docker_name).await? else { return Ok(None) };
    let paths = Paths::of(&agent.data_dir, &volume.docker_name);
    std::fs::write(paths.primary_mark(), b"")
        .or_else(|_| std::fs::create_dir_all(&paths.dir).and_then(|()| std::fs::write(paths.primary_mark(), b"")))?;
    let taken_ms = unix_ms();
    let mut paused = None;
    let snapshot = {
        let _exclusive = agent.volumes.lock(&volume.docker_name).lock_owned().await;
        let source = if volume.settings.consistency == Consistency::Pause {
            // Frozen only while the changes since the last round are copied aside; the
            // snapshot then reads the copy at leisure. A first pass while the writers
            // run copies what settled, so the frozen one copies only what is fresh.
            let (live, staging) = (data.clone(), paths.staging());
            let cutoff = std::time::SystemTime::now() - SETTLED;
            let early = tokio::task::spawn_blocking(move || roost_volumes::stage_older_than(&live, &staging, Some(cutoff))).await?;
            if let Err(e) = early {
                tracing::debug!(volume = %volume.docker_name, "staging before the freeze failed (the frozen pass redoes it): {e}");
            }
            let froze_at = Instant::now();
            let frozen = freeze_all(&driver, volume, &writers).await?;
            let (live, staging) = (data.clone(), paths.staging());
            let staged = tokio::task::spawn_blocking(move || roost_volumes::stage(&live, &staging)).await;
            for f in frozen {
                if let Err(e) = f.thaw() {
                    tracing::warn!(volume = %volume.docker_name, "cannot thaw a container after the snapshot: {e}");
                }
            }
            paused = Some(froze_at.elapsed());
            staged??;
            paths.staging()
        } else {
            if let Consistency::Hook(command) = &volume.settings.consistency {
                run_hook(&driver, volume, &writers[0], command).await;
            }
            data
        };
        let repo = agent.volumes.repo(&paths, &volume.docker_name, &key, true)?;
        let (host, name) = (agent.node.clone(), volume.docker_name.clone());
        tokio::task::spawn_blocking(move || repo.snapshot(&source, &name, &host, &[])).await??
    };
    for standby in standbys {
        if let Err(e) = ship(agent, volume, &paths, standby, &snapshot.id, taken_ms, shipped).await {
            shipped.remove(&standby);
            tracing::debug!(volume = %volume.docker_name, standby, "shipping failed: {e:#}");
        }
    }
    Ok(Some(Round { snapshot: snapshot.id, paused }))
}

/// Forgets the snapshots retention lets go (rule 9 of `roost-replication`) and
/// prunes, while no snapshot is taken and no file is received.
async fn prune(agent: &Agent, volume: &ReplicatedVolume) -> anyhow::Result<roost_volumes::PruneSummary> {
    let key = agent.cluster.with_state(|s| s.volumes.key.clone()).ok_or_else(|| anyhow::anyhow!("no volume password yet"))?;
    let paths = Paths::of(&agent.data_dir, &volume.docker_name);
    let repo = agent.volumes.repo(&paths, &volume.docker_name, &key, false)?;
    let _exclusive = agent.volumes.lock(&volume.docker_name).lock_owned().await;
    let _no_writes = agent.volumes.repo_write_lock(&volume.docker_name).lock_owned().await;
    let now = unix_ms();
    tokio::task::spawn_blocking(move || {
        let ages: Vec<roost_replication::SnapshotAge> = repo
            .snapshots()?
            .into_iter()
            .map(|s| roost_replication::SnapshotAge {
                taken_ms: u64::try_from(s.unix_ms).unwrap_or(0),
                diverged: s.tags.iter().any(|t| t == "diverged"),
                id: s.id,
            })
            .collect();
        Ok(repo.forget_and_prune(&roost_replication::to_forget(&ages, now))?)
    })
    .await?
}

/// Freezes every writer's processes (all or none: one that cannot be frozen thaws
/// the others and fails the round).
async fn freeze_all(driver: &Driver, volume: &ReplicatedVolume, writers: &[String]) -> anyhow::Result<Vec<super::freeze::Frozen>> {
    let mut frozen = Vec::new();
    for id in writers {
        let Some(pid) = driver.container_pid(id).await? else { continue };
        match super::freeze::freeze(pid).await {
            Ok(f) => frozen.push(f),
            Err(e) => anyhow::bail!("cannot freeze container {id} of {} for the snapshot: {e}", volume.docker_name),
        }
    }
    Ok(frozen)
}

/// The `hook` consistency: the command runs in the service's container first.
async fn run_hook(driver: &Driver, volume: &ReplicatedVolume, container: &str, command: &str) {
    match driver.exec_sh(container, command, HOOK_TIMEOUT).await {
        Ok((0, _)) => {}
        Ok((code, output)) => tracing::warn!(volume = %volume.docker_name, "the snapshot hook exited with {code}: {}", output.trim()),
        Err(e) => tracing::warn!(volume = %volume.docker_name, "the snapshot hook could not run: {e}"),
    }
}

/// Sends `standby` the repository files it lacks, then asks it to restore `snapshot`.
async fn ship(
    agent: &Agent,
    volume: &ReplicatedVolume,
    paths: &Paths,
    standby: NodeId,
    snapshot: &str,
    taken_ms: u64,
    shipped: &mut HashMap<NodeId, Vec<String>>,
) -> anyhow::Result<()> {
    let (have, primary_files) = send_files(agent, &volume.docker_name, paths, standby, shipped.remove(&standby)).await?;
    shipped.insert(standby, have);
    let addr = address(agent, standby)?;
    let request = RestoreRequest {
        volume: volume.docker_name.clone(),
        stack: volume.stack.clone(),
        key: volume.volume.clone(),
        snapshot: snapshot.to_owned(),
        taken_ms,
        from: agent.cluster.id,
        primary_files,
    };
    crate::peer::post_bulk(&agent.cluster.transport, &addr, super::api::RESTORE, serde_json::to_vec(&request)?).await?;
    Ok(())
}

fn address(agent: &Agent, node: NodeId) -> anyhow::Result<String> {
    agent.cluster.with_state(|s| s.nodes.get(&node).map(|n| n.addr.clone())).ok_or_else(|| anyhow::anyhow!("node {node} is gone"))
}

/// Sends `to` every file of this node's repository copy of `volume` it lacks: `have`
/// when known from an earlier round, else asked first. Returns what it holds now, and
/// how many files this node's copy holds.
///
/// # Errors
/// `to` cannot be reached, refuses a file, or the repository cannot be read.
pub(super) async fn send_files(agent: &Agent, volume: &str, paths: &Paths, to: NodeId, have: Option<Vec<String>>) -> anyhow::Result<(Vec<String>, usize)> {
    let addr = address(agent, to)?;
    let transport = &agent.cluster.transport;
    let mut have = match have {
        Some(have) => have,
        None => {
            let body = serde_json::to_vec(&super::api::FilesRequest { volume: volume.to_owned() })?;
            serde_json::from_slice(&crate::peer::post_bulk(transport, &addr, super::api::FILES, body).await?)?
        }
    };
    let repo_dir = paths.repo();
    let ours = tokio::task::spawn_blocking(move || roost_volumes::ship::files(&repo_dir)).await??;
    let known: std::collections::HashSet<String> = have.iter().cloned().collect();
    for file in ours.iter().filter(|f| !known.contains(&f.path)) {
        let bytes = tokio::fs::read(paths.repo().join(&file.path)).await?;
        let path = format!("{}?volume={volume}&path={}", super::api::PUT, file.path);
        crate::peer::post_bulk(transport, &addr, &path, bytes).await?;
        have.push(file.path.clone());
    }
    Ok((have, ours.len()))
}
