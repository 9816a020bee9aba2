//! Volume replication: the data of a stateful service follows it to another node.
//!
//! The decisions are pure, in `roost-replication` (which volumes, which standbys, the
//! recovery point); the snapshots are `roost-volumes` (restic format). This room wires
//! them to the engine and the cluster port:
//!
//! - **Primary** ([`primary`]): the node running the service snapshots each of its
//!   replicated volumes every `interval` into its local repository
//!   (`DATA/volumes/NAME/repo`), pausing the containers that write it (`pause`), running
//!   a hook in one (`hook`) or neither (`none`); then it sends every standby the
//!   repository files it lacks and asks it to restore the new snapshot.
//! - **Standby** ([`standby`]): keeps a file-for-file copy of the primary's repository
//!   and restores each snapshot into the Docker volume of the same name on its own
//!   engine (no container mounts it there), then reports through Raft which snapshot it
//!   holds. The warm copy is what placement prefers when the service must move, so a
//!   failover starts from the last snapshot, not from an empty volume.
//! - **Taking over** ([`standby::before_start`]): before this node starts a container
//!   mounting a replicated volume, the volume is brought to the newest snapshot the
//!   local repository holds (an interrupted restore is finished first; a volume whose
//!   restore cannot be finished is not started from).
//! - **Never dropped silently**: a node that was primary and is asked to be a standby
//!   again first snapshots what its volume holds, tagged `diverged`, into its
//!   repository and sends the primary every file of it the primary lacks;
//!   `roost volume snapshots` lists it on both.
//! - **Retention** ([`primary`]): the primary forgets what rule 9 of
//!   `roost-replication` lets go and prunes, a minute after it takes the role and
//!   every 10 minutes after; each standby then deletes the files the primary no longer
//!   holds (never while it keeps a `diverged` snapshot the primary lacks).
//!
//! Snapshots travel as repository files on the cluster port (mutual TLS, members only),
//! never through Raft; Raft carries the repositories' password and who holds what
//! ([`roost_cluster::volumes`]).

pub mod api;
mod freeze;
mod handover;
mod primary;
pub mod restore_cmd;
pub mod standby;

use crate::sync::MutexExt as _;
use crate::Agent;
use roost_cluster::volumes::VolumeCommand;
use roost_replication::{Candidate, ReplicatedVolume, VolumePlan};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the room looks at which volumes this node is primary for.
const EVERY: Duration = Duration::from_secs(1);

/// This node's part of volume replication.
#[derive(Default)]
pub struct Room {
    /// One lock per volume: a restore and a container start never overlap.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// One lock per volume on writes into its repository from outside (a received
    /// file) and the prune that deletes: a pack received without its index yet would
    /// look unreferenced to the prune.
    repo_writes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The snapshot each volume should be restored to next, and whether a worker runs.
    pub(crate) wanted: Mutex<HashMap<String, standby::Wanted>>,
    /// The primary loops this node runs, by volume, with the settings each runs with.
    primaries: Mutex<HashMap<String, (tokio::task::JoinHandle<()>, roost_spec::Replication)>>,
    /// Repositories opened once (opening derives the key from the password: slow).
    repos: Mutex<HashMap<String, Arc<roost_volumes::Repo>>>,
    /// The snapshot each volume was at when this node last started its service from a
    /// standby copy (`roost ps` says so), by volume.
    started_from: Mutex<HashMap<String, String>>,
}

impl Room {
    /// The volume's repository copy on this node, opened (or made) once with `key`.
    ///
    /// # Errors
    /// It cannot be opened or made.
    pub(crate) fn repo(&self, paths: &Paths, volume: &str, key: &str, create: bool) -> Result<Arc<roost_volumes::Repo>, roost_volumes::VolumeError> {
        if let Some(repo) = self.repos.locked().get(volume) {
            return Ok(repo.clone());
        }
        let dir = paths.repo();
        let repo = if dir.join("config").exists() || !create {
            roost_volumes::Repo::open(&dir, key)?
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| roost_volumes::VolumeError::Invalid(format!("cannot make {}: {e}", dir.display())))?;
            roost_volumes::Repo::init(&dir, key)?
        };
        let repo = Arc::new(repo);
        self.repos.locked().insert(volume.to_owned(), repo.clone());
        Ok(repo)
    }

    /// Drops the opened repository of `volume` (its directory was set aside).
    pub(crate) fn forget_repo(&self, volume: &str) {
        self.repos.locked().remove(volume);
    }

    pub(crate) fn started_from(&self, volume: &str, what: Option<String>) {
        let mut from = self.started_from.locked();
        match what {
            Some(what) => from.insert(volume.to_owned(), what),
            None => from.remove(volume),
        };
    }

    /// Notes on `ps` rows of services this node started from a standby copy: from which
    /// snapshot, so a user sees how old the data it came back with is.
    pub(crate) fn annotate(&self, desired: &roost_core::reconcile::Desired, rows: &mut [roost_api::ReplicaStatus]) {
        let from = self.started_from.locked();
        if from.is_empty() {
            return;
        }
        for v in roost_replication::replicated(desired) {
            let Some(what) = from.get(&v.docker_name) else { continue };
            for row in rows.iter_mut().filter(|r| r.stack == v.stack && v.services.contains(&r.service) && r.container_id.is_some()) {
                if row.note.as_deref().is_none_or(|n| n.starts_with("volume ")) {
                    row.note = Some(format!("{} started from {what}", v.volume));
                }
            }
        }
    }

    pub(crate) fn lock(&self, volume: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.locked().entry(volume.to_owned()).or_default().clone()
    }

    pub(crate) fn repo_write_lock(&self, volume: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.repo_writes.locked().entry(volume.to_owned()).or_default().clone()
    }
}

/// Where a volume's repository copy and its bookkeeping live on this node.
pub(crate) struct Paths {
    pub dir: PathBuf,
}

impl Paths {
    pub fn of(data_dir: &Path, volume: &str) -> Paths {
        Paths { dir: data_dir.join("volumes").join(volume) }
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }
    /// Present while a restore into the Docker volume runs: the volume is then not a
    /// consistent copy.
    pub fn marker(&self) -> PathBuf {
        self.dir.join("restoring")
    }
    /// The primary's staging copy of the volume, which `pause` snapshots read.
    pub fn staging(&self) -> PathBuf {
        self.dir.join("staging")
    }
    /// The snapshot id the Docker volume was last restored to.
    pub fn restored(&self) -> PathBuf {
        self.dir.join("restored")
    }
    /// Present while this node has been snapshotting the volume as its primary since it
    /// last restored it: its data may hold writes no standby has.
    pub fn primary_mark(&self) -> PathBuf {
        self.dir.join("was-primary")
    }
    /// Present from the moment this node keeps a `diverged` snapshot until the primary
    /// holds it too: until then this copy deletes nothing the primary lacks.
    pub fn unpushed_mark(&self) -> PathBuf {
        self.dir.join("diverged-unpushed")
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The replicated volumes, with this cluster's plan for each (pure, from the state).
pub(crate) fn plans(agent: &Agent) -> Vec<(ReplicatedVolume, VolumePlan)> {
    let reports = agent.reports.locked().clone();
    agent.cluster.with_state(|state| {
        let stacks: BTreeMap<String, roost_spec::Stack> = state.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
        let nodes: Vec<Candidate> = state
            .nodes
            .values()
            .map(|n| Candidate {
                id: n.id,
                name: n.name.clone(),
                up: n.id == agent.cluster.id || reports.get(&n.id).is_some_and(|(at, _)| at.elapsed() < agent.down_after),
                witness: n.witness,
                draining: state.draining.contains(&n.id),
            })
            .collect();
        let alone = state.nodes.len() <= 1;
        roost_replication::replicated(&stacks)
            .into_iter()
            .map(|v| {
                let primary = primary_of(&v, &stacks, &state.placement.assignments).or(alone.then_some(agent.cluster.id));
                let held = state.volumes.held.get(&v.docker_name).cloned().unwrap_or_default();
                let plan = roost_replication::plan_volume(&v, primary, &nodes, &held, unix_ms());
                (v, plan)
            })
            .collect()
    })
}

/// The node assigned the first replica of the first service mounting the volume.
fn primary_of(
    v: &ReplicatedVolume,
    stacks: &BTreeMap<String, roost_spec::Stack>,
    assignments: &BTreeMap<roost_core::reconcile::SlotKey, u64>,
) -> Option<u64> {
    let service = v.services.first()?;
    stacks.get(&v.stack)?;
    assignments.get(&roost_core::reconcile::SlotKey::new(&v.stack, service, 1)).copied()
}

/// Before a container of `service` starts on this node: its replicated volumes are
/// brought to the newest snapshot held here ([`standby::before_start`]).
///
/// # Errors
/// A volume whose interrupted restore cannot be finished.
pub(crate) async fn prepare(agent: &Agent, driver: &roost_docker::Driver, stack: &roost_spec::Stack, service: &str) -> Result<(), String> {
    let one = BTreeMap::from([(stack.name.clone(), stack.clone())]);
    let mut volumes = Vec::new();
    for v in roost_replication::replicated(&one).into_iter().filter(|v| v.services.iter().any(|s| s == service)) {
        if let Ok(Some(data)) = driver.volume_mountpoint(&v.docker_name).await {
            volumes.push((v.docker_name, data));
        }
    }
    if volumes.is_empty() {
        return Ok(());
    }
    standby::before_start(agent, &volumes).await
}

/// Keeps one primary loop per volume this node is primary for, and the repositories'
/// password set (the leader makes it once).
pub async fn run(agent: Arc<Agent>) {
    loop {
        tokio::time::sleep(EVERY).await;
        let node = agent.cluster.node();
        if node.leader() == Some(agent.cluster.id) && agent.cluster.with_state(|s| s.volumes.key.is_none()) {
            match roost_pki::random_secret() {
                Ok(key) => {
                    let set = roost_cluster::types::Command::Volumes(VolumeCommand::SetKey { key });
                    if let Err(e) = agent.cluster.write_as_leader(set).await {
                        tracing::warn!("cannot store the volume repositories' password: {e}");
                    }
                }
                Err(e) => tracing::warn!("cannot make the volume repositories' password: {e}"),
            }
        }
        let mine: Vec<ReplicatedVolume> =
            plans(&agent).into_iter().filter(|(_, p)| p.primary == Some(agent.cluster.id)).map(|(v, _)| v).collect();
        let mut primaries = agent.volumes.primaries.locked();
        // A loop ends when this node stops being the primary, or restarts with new
        // settings (a deploy changed the interval or the consistency).
        primaries.retain(|name, (task, settings)| {
            let keep = mine.iter().any(|v| v.docker_name == *name && v.settings == *settings) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for v in mine {
            if !primaries.contains_key(&v.docker_name) {
                tracing::info!(volume = %v.docker_name, "this node is the volume's primary: snapshots every {:?}", v.settings.interval);
                let settings = v.settings.clone();
                primaries.insert(v.docker_name.clone(), (tokio::spawn(primary::run(agent.clone(), v)), settings));
            }
        }
    }
}
