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
//! What to snapshot when, and where, is decided elsewhere; this crate only does it.
//! Not wired into the agent yet.
#![forbid(unsafe_code)]

mod recording;
mod repo;
mod restore;
pub mod ship;
mod stage;

pub use repo::{FileKind, Repo, RepoFile, Snapshot, VolumeError};
pub use restore::RestoreStats;
pub use ship::Received;
pub use stage::{stage, StageStats};
