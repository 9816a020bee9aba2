//! Rule 1: which volumes of the desired stacks are replicated.

use roost_core::reconcile::is_stateful;
use roost_spec::{MountKind, Replication, Service, Stack};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One volume roost replicates between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatedVolume {
    /// The Docker-side name ([`Stack::docker_volume_name`]): what snapshots are tagged
    /// with and what [`VolumePlan`](crate::VolumePlan)s are keyed by.
    pub docker_name: String,
    /// The stack it belongs to.
    pub stack: String,
    /// Its Compose key in [`Stack::volumes`].
    pub volume: String,
    /// The stateful services mounting it, sorted (the containers a `pause` snapshot
    /// pauses, the one a `hook` runs in).
    pub services: Vec<String>,
    /// Its `x-roost:` settings, as written (see [`copies`](crate::copies) for the
    /// clamped number of copies).
    pub settings: Replication,
}

/// Rule 1: every named, non-external, plain `local` top-level volume with
/// `replicate: true` that at
/// least one stateful service mounts by name, sorted by Docker name (then stack and
/// Compose key, should two stacks name the same Docker volume).
pub fn replicated(stacks: &BTreeMap<String, Stack>) -> Vec<ReplicatedVolume> {
    let mut out: Vec<ReplicatedVolume> = stacks
        .values()
        .flat_map(|stack| {
            stack.volumes.iter().filter(|(_, v)| replicable(v)).filter_map(move |(key, v)| {
                let services: Vec<String> = stack
                    .services
                    .iter()
                    .filter(|(_, s)| is_stateful(s) && mounts(s, key))
                    .map(|(name, _)| name.clone())
                    .collect();
                (!services.is_empty()).then(|| ReplicatedVolume {
                    docker_name: stack.docker_volume_name(key),
                    stack: stack.name.clone(),
                    volume: key.clone(),
                    services,
                    settings: v.replication.clone(),
                })
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.docker_name, &a.stack, &a.volume).cmp(&(&b.docker_name, &b.stack, &b.volume)));
    out
}

/// A volume roost can copy file by file: not external, not opted out, and on the
/// plain `local` driver without options. Another driver (NFS, a cloud plugin) or
/// `driver_opts` (a tmpfs, a bind of a host path) keep the data somewhere a standby's
/// copy would not be the same thing; such volumes stay where they are.
fn replicable(v: &roost_spec::Volume) -> bool {
    let local = v.driver.as_deref().is_none_or(|d| d == "local") && v.driver_opts.is_empty();
    !v.external && v.replication.replicate && local
}

/// Whether `service` mounts the stack's volume `key` by name.
fn mounts(service: &Service, key: &str) -> bool {
    service.volumes.iter().any(|m| m.kind == MountKind::Volume && m.source.as_deref() == Some(key))
}
