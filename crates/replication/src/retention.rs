//! Which snapshots a volume's repository keeps (rule 9 of the crate docs).
//!
//! Replication keeps a short history: enough to survive a failover, to restore the
//! volume to minutes or hours ago after a mistake, and to keep what an old primary
//! held (`diverged`). Long history is what backups are for. Without this a repository
//! grows by every change forever: 1 MB/s of writes is 86 GB a day.

/// How long every snapshot is kept: at a 10 s interval, the last 90 of them.
pub const KEEP_ALL_MS: u64 = 15 * 60 * 1000;
/// How long the newest snapshot of each clock hour (UTC) is kept.
pub const KEEP_HOURLY_MS: u64 = 24 * 60 * 60 * 1000;
const HOUR_MS: u64 = 60 * 60 * 1000;

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotAge {
    pub id: String,
    /// When it was taken (Unix ms).
    pub taken_ms: u64,
    /// Tagged `diverged`: what an old primary held that no standby had.
    pub diverged: bool,
}

/// The ids of the snapshots to forget at `now_ms`, oldest first. Kept, first match:
/// a `diverged` snapshot (only a user forgets those); the newest other snapshot; one
/// taken less than [`KEEP_ALL_MS`] ago (or in the future: a clock that went back must
/// not cost data); the newest of its clock hour if taken less than [`KEEP_HOURLY_MS`]
/// ago. The rest is forgotten. Ties in time are broken by id, so the answer depends
/// only on the set of snapshots, not on their order.
#[must_use]
pub fn to_forget(snapshots: &[SnapshotAge], now_ms: u64) -> Vec<String> {
    let mut ordinary: Vec<&SnapshotAge> = snapshots.iter().filter(|s| !s.diverged).collect();
    // Newest first.
    ordinary.sort_by(|a, b| b.taken_ms.cmp(&a.taken_ms).then_with(|| b.id.cmp(&a.id)));
    let mut hours_kept = std::collections::BTreeSet::new();
    let mut forget: Vec<&SnapshotAge> = Vec::new();
    for (i, s) in ordinary.into_iter().enumerate() {
        let age = now_ms.saturating_sub(s.taken_ms);
        let keep = i == 0 || age < KEEP_ALL_MS || (age < KEEP_HOURLY_MS && hours_kept.insert(s.taken_ms / HOUR_MS));
        if !keep {
            forget.push(s);
        }
    }
    forget.sort_by(|a, b| a.taken_ms.cmp(&b.taken_ms).then_with(|| a.id.cmp(&b.id)));
    forget.into_iter().map(|s| s.id.clone()).collect()
}
