//! The pure decisions of volume replication (issue 11: stateful services keep their
//! data when they move, with a stated recovery point). No IO, no clocks, no async:
//! every time is a Unix timestamp in milliseconds the caller passes in. The leader runs
//! these; the agents take and ship the snapshots (`roost-volumes`) and report what they
//! hold back as [`Held`].
//!
//! # The rules
//!
//! 1. **What is replicated** ([`replicated`]). A top-level volume of a stack, not
//!    `external`, on the plain `local` driver without `driver_opts`, whose
//!    `x-roost: {replicate: …}` is true (the default), mounted by name
//!    (`MountKind::Volume`, `source` = its Compose key) by at least one service that
//!    [`is_stateful`](roost_core::reconcile::is_stateful). A volume nobody mounts,
//!    mounted only as a bind path, external or opted out stays where it is. Each is
//!    known by its Docker name ([`Stack::docker_volume_name`](roost_spec::Stack::docker_volume_name)).
//! 2. **How many copies.** `copies` counts the nodes holding the data, the primary
//!    included, clamped to `1..=3` (`0` reads as 1): at most `copies - 1` standbys
//!    ([`copies`]).
//! 3. **Who may be a standby** ([`plan_volume`]). A node that is up, not a witness, not
//!    draining and not the primary (the node running the service).
//! 4. **Which standbys.** Among those, nodes holding a snapshot of the volume come
//!    first, newest (`taken_ms`) first; then nodes holding none; ties by name, then id.
//!    So the choice depends only on the set of nodes, never on their order, and a node
//!    that already holds data keeps its role over one that would start from nothing.
//!    Standbys are chosen even while the service is not running: they hold its data.
//! 5. **Recovery point.** `rpo_ms` is `now_ms` minus the newest `taken_ms` among the
//!    chosen standbys (0 if that lies in the future); `None` while none holds anything.
//!    It is what a failover now would lose at most.
//! 6. **State** ([`VolumeState`]), first match: no primary → *not running*; no chosen
//!    standby holds a snapshot (none chosen, `copies: 1`, or none restored yet) →
//!    *single copy*; `rpo_ms > 3 × interval` → *lagging*; else *replicated*.
//! 7. **Failover target** ([`freshest_holder`]). A stateful service that must move
//!    goes to the eligible node holding the newest snapshot (ties: lowest id), so the
//!    least data is lost.
//! 8. **Listing** ([`rows`]). `roost volume ls --json` prints [`VolumeRow`]s, one per
//!    replicated volume in Docker-name order; ages and the recovery point are whole
//!    seconds, rounded down, at the `now_ms` given.
//! 9. **Retention** ([`to_forget`]). A repository keeps every `diverged` snapshot,
//!    the newest snapshot, every snapshot of the last 15 minutes and the newest of
//!    each clock hour (UTC) of the last 24 hours; the primary forgets the rest and
//!    prunes, and standbys mirror it.
#![forbid(unsafe_code)]

mod plan;
mod retention;
mod rows;
mod volumes;

pub use plan::{copies, freshest_holder, plan_volume, Candidate, Held, VolumePlan, VolumeState};
pub use retention::{to_forget, SnapshotAge, KEEP_ALL_MS, KEEP_HOURLY_MS};
pub use rows::{rows, StandbyRow, VolumeRow};
pub use volumes::{replicated, ReplicatedVolume};

/// The Raft node id (re-exported from `roost-core`).
pub use roost_core::placement::NodeId;
