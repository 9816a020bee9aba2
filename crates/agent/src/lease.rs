//! This node's side of the lease protocol (see [`crate::probe`] for the whole of it):
//! whether it may grant (as leader), take and renew grants, whether it may run stateful
//! replicas now, and the deadline it publishes for the fence watchdog.

use crate::sync::MutexExt as _;
use crate::{fence, probe, Agent};
use std::time::Instant;

impl Agent {
    /// Whether this node may grant leases: it leads and a majority confirmed that
    /// recently (or it is the only voter).
    pub(crate) fn grants_leases(&self) -> bool {
        let m = self.cluster.node().metrics();
        if m.current_leader != Some(self.cluster.id) {
            return false;
        }
        let voters = m.membership_config.membership().voter_ids().count();
        if voters <= 1 {
            return true;
        }
        // The published figure is only as fresh as the process: after a freeze it is
        // stale (see `stall`).
        let awake = self.stall.locked().trusted(Instant::now());
        awake && m.millis_since_quorum_ack.is_some_and(|ms| ms < probe::QUORUM_FRESH)
    }

    /// A lease grant from the leader, sent at `sent`, valid once this node has applied
    /// the leader's log up to `applied`; kept pending until then.
    pub(crate) fn grant(&self, sent: Instant, applied: u64) {
        let mut pending = self.pending_grant.locked();
        if pending.is_none_or(|(s, _)| s < sent) {
            *pending = Some((sent, applied));
        }
        drop(pending);
        self.take_pending_grant();
    }

    /// Takes a pending grant once this node has applied far enough.
    pub(crate) fn take_pending_grant(&self) {
        let applied = self.cluster.node().metrics().last_applied.map_or(0, |l| l.index);
        let mut pending = self.pending_grant.locked();
        if let Some((sent, needed)) = *pending {
            if applied >= needed {
                *pending = None;
                drop(pending);
                self.renew_lease(sent);
            }
        }
    }

    pub(crate) fn renew_lease(&self, sent: Instant) {
        let mut until = self.lease_until.locked();
        *until = (*until).max(sent + probe::FENCE_AFTER);
    }

    /// This node may run stateful replicas.
    pub(crate) fn lease_valid(&self) -> bool {
        self.take_pending_grant();
        self.grants_leases() || Instant::now() < *self.lease_until.locked()
    }

    /// This node may not run stateful replicas now: it is in a cluster and holds no
    /// valid lease.
    pub(crate) fn fenced(&self) -> bool {
        self.cluster.node_count() > 1 && !self.lease_valid()
    }

    /// Publishes the fencing deadline for the watchdog: none on a lone node.
    pub(crate) fn publish_deadline(&self) {
        let alone = self.cluster.node_count() <= 1;
        let deadline = (!alone).then(|| {
            let left = self.lease_until.locked().saturating_duration_since(Instant::now());
            fence::since_boot() + left
        });
        // Off the runtime, one write at a time: a disk that hangs must neither stall the
        // probe loop nor pile up threads. A write that never lands leaves the watchdog
        // an older deadline, so it fences early, never late.
        if self.deadline_writing.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let (dir, writing) = (self.data_dir.clone(), self.deadline_writing.clone());
        tokio::task::spawn_blocking(move || {
            fence::write_deadline(&dir, deadline);
            writing.store(false, std::sync::atomic::Ordering::Release);
        });
    }
}

/// The lease a starting agent may assume: one fence period, but never past the deadline
/// a previous run of this agent published (it may have lost its lease meanwhile).
pub(crate) fn initial(dir: &std::path::Path) -> Instant {
    let grace = Instant::now() + probe::FENCE_AFTER;
    match fence::read_deadline(dir) {
        Some(Some(deadline)) => {
            let left = deadline.saturating_sub(fence::since_boot());
            grace.min(Instant::now() + left)
        }
        _ => grace,
    }
}
