//! Rule 8: the rows of `roost volume ls` and `roost volume ls --json`, whose field
//! names are a script API.

use crate::plan::rpo_ms;
use crate::{Held, ReplicatedVolume, VolumePlan, VolumeState};
use roost_core::placement::NodeId;
use roost_spec::Consistency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One replicated volume as `roost volume ls --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRow {
    /// The stack it belongs to.
    pub stack: String,
    /// Its Compose key.
    pub volume: String,
    /// Its Docker name on every node.
    pub docker_name: String,
    /// The name of the node running its service; `null` while it does not run.
    pub primary: Option<String>,
    /// The nodes receiving its snapshots, best first.
    pub standbys: Vec<StandbyRow>,
    /// Rule 5 in whole seconds (rounded down); `null` while no standby holds data.
    pub rpo_s: Option<u64>,
    /// The snapshot interval, whole seconds.
    pub interval_s: u64,
    /// `pause`, `none` or `hook` (the hook's command is not shown).
    pub consistency: String,
    /// Rule 6.
    pub state: VolumeState,
}

/// One standby of a [`VolumeRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandbyRow {
    /// The node's name.
    pub node: String,
    /// The first 8 hex digits of the snapshot it holds (as `restic snapshots` shows
    /// them); `null` while it holds none.
    pub snapshot: Option<String>,
    /// How old that snapshot is, whole seconds (rounded down); `null` without one.
    pub age_s: Option<u64>,
}

/// Rule 8: one row per volume, in the order given (that of [`replicated`](crate::replicated)).
/// `plans` and `held` are keyed by Docker name; a volume without a plan shows as not
/// running with no standbys. `names` names nodes (one missing shows as its id). Ages
/// and `rpo_s` are computed from `held` at `now_ms`, so they agree with each other.
pub fn rows(
    volumes: &[ReplicatedVolume],
    plans: &BTreeMap<String, VolumePlan>,
    held: &BTreeMap<String, BTreeMap<NodeId, Held>>,
    names: &BTreeMap<NodeId, String>,
    now_ms: u64,
) -> Vec<VolumeRow> {
    let no_plan = VolumePlan::default();
    let nothing = BTreeMap::new();
    let name = |id: NodeId| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    volumes
        .iter()
        .map(|v| {
            let plan = plans.get(&v.docker_name).unwrap_or(&no_plan);
            let held = held.get(&v.docker_name).unwrap_or(&nothing);
            let standbys = plan
                .standbys
                .iter()
                .map(|id| {
                    let h = held.get(id);
                    StandbyRow {
                        node: name(*id),
                        snapshot: h.map(|h| h.snapshot.chars().take(8).collect()),
                        age_s: h.map(|h| now_ms.saturating_sub(h.taken_ms) / 1000),
                    }
                })
                .collect();
            VolumeRow {
                stack: v.stack.clone(),
                volume: v.volume.clone(),
                docker_name: v.docker_name.clone(),
                primary: plan.primary.map(name),
                standbys,
                rpo_s: rpo_ms(&plan.standbys, held, now_ms).map(|ms| ms / 1000),
                interval_s: v.settings.interval.as_secs(),
                consistency: match v.settings.consistency {
                    Consistency::Pause => "pause",
                    Consistency::None => "none",
                    Consistency::Hook(_) => "hook",
                }
                .to_owned(),
                state: plan.state,
            }
        })
        .collect()
}
