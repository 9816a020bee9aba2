//! Noticing that this process was frozen, so a leader never grants leases on stale news.
//!
//! The leader grants leases while openraft says a majority acknowledged it recently
//! (`millis_since_quorum_ack`). openraft computes that figure when it publishes its
//! metrics, so inside a process that was paused (SIGSTOP, a VM freeze, a long stall)
//! the last published value is as old as the pause and still looks fresh. A resumed
//! leader would then renew its own lease and restart a stateful copy the rest of the
//! cluster has already moved.
//!
//! A ticker records the time every [`TICK`]. The guard distrusts the metrics when the
//! last tick is older than [`GAP`] (the process, or at least its runtime, is frozen or
//! just woke and the ticker has not run yet), and for [`RECOVER`] after a tick that
//! saw such a gap: by then openraft has run a heartbeat round and either republished
//! fresh figures or learned of a newer leader.

use crate::sync::MutexExt as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TICK: Duration = Duration::from_millis(50);
/// A tick later than this means the process did not run for a while.
pub const GAP: Duration = Duration::from_millis(250);
/// How long the guard stays distrustful after a gap (several Raft heartbeats).
pub const RECOVER: Duration = Duration::from_millis(600);

/// Pure state of the guard; time comes in as an argument.
#[derive(Debug, Clone, Copy)]
pub struct StallGuard {
    last_tick: Instant,
    distrust_until: Instant,
}

impl StallGuard {
    pub fn new(now: Instant) -> Self {
        StallGuard { last_tick: now, distrust_until: now }
    }

    /// Records a tick at `now`.
    pub fn tick(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_tick) > GAP {
            self.distrust_until = now + RECOVER;
        }
        self.last_tick = self.last_tick.max(now);
    }

    /// Whether figures published before `now` can be trusted: the process has been
    /// running without a gap for at least [`RECOVER`].
    pub fn trusted(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_tick) <= GAP && now >= self.distrust_until
    }
}

/// Runs the ticker for `guard` forever.
pub async fn run(guard: std::sync::Arc<Mutex<StallGuard>>) {
    loop {
        tokio::time::sleep(TICK).await;
        guard.locked().tick(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn trusted_while_ticking_steadily() {
        let t0 = Instant::now();
        let mut g = StallGuard::new(t0);
        for i in 1..=20 {
            g.tick(t0 + TICK * i);
            assert!(g.trusted(t0 + TICK * i + ms(10)));
        }
    }

    #[test]
    fn a_missed_tick_is_distrusted_before_the_ticker_runs_again() {
        let t0 = Instant::now();
        let g = StallGuard::new(t0);
        // The process was frozen for 5 s; a request handler runs before the ticker.
        assert!(!g.trusted(t0 + ms(5000)));
    }

    #[test]
    fn after_a_gap_trust_returns_only_after_recover() {
        let t0 = Instant::now();
        let mut g = StallGuard::new(t0);
        let resumed = t0 + ms(5000);
        g.tick(resumed);
        assert!(!g.trusted(resumed + ms(10)));
        let mut t = resumed;
        while t < resumed + RECOVER {
            t += TICK;
            g.tick(t);
        }
        assert!(g.trusted(t));
    }

    #[test]
    fn a_short_hiccup_below_the_gap_changes_nothing() {
        let t0 = Instant::now();
        let mut g = StallGuard::new(t0);
        g.tick(t0 + ms(200));
        assert!(g.trusted(t0 + ms(210)));
    }
}
