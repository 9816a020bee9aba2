//! Volume snapshots in the restic repository format, on `rustic_core`.
//!
//! This is the engine layer of volume replication (issue 11) and backups (issue 12): a
//! [`Repo`] takes snapshots of a volume's directory, tagged with the volume's name,
//! lists them and restores one into a directory. It records which repository files
//! each snapshot wrote ([`Snapshot::new_files`]: its new packs, then its index, then the
//! snapshot file, the order a copy must be shipped in), so a standby can be sent
//! exactly what it lacks. Debian's `restic` 0.14 reads, checks and restores every
//! repository this writes (`tests/restic_peer.rs`).
//!
//! To replicate, a primary ships the repository files a standby lacks
//! ([`ship::missing`], in [`Repo::files`] order) and the standby stores each with
//! [`ship::receive`], which checks it against its name, then brings its warm copy of
//! the volume up to a snapshot with [`Repo::restore_in_place`].
//!
//! A primary's repository shrinks with [`Repo::forget_and_prune`]; a standby then
//! deletes what the primary no longer holds ([`ship::extra`], [`ship::remove`]).
//!
//! What to snapshot when, and where, is decided elsewhere (`roost-replication`); this
//! crate only does it. The agent's `volumes` room wires it.
#![forbid(unsafe_code)]

mod recording;
mod repo;
mod restore;
pub mod ship;
mod stage;

pub use repo::{FileKind, PruneSummary, Repo, RepoFile, Snapshot, VolumeError};
pub use restore::RestoreStats;
pub use ship::Received;
pub use stage::{stage, stage_older_than, StageStats};
