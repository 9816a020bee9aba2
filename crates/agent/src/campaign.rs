//! A node cut off from the majority does not campaign (a pre-vote, done by the agent).
//!
//! openraft 0.9 has no pre-vote: a follower that loses its link keeps starting
//! elections, each with a higher term, and when the link comes back its higher term
//! makes the healthy leader step down. The cluster then has no leader for about a
//! second, grants no leases, and a stateful replica elsewhere could be fenced for
//! nothing (the failover benchmark saw exactly that after every heal).
//!
//! So the agent turns openraft's elections off while this node cannot reach a
//! majority of voters by probe (it could not win anyway), and back on only after the
//! majority has been reachable for [`REARM_AFTER`], long enough for a live leader's
//! heartbeats to reset the election timer first.

use crate::sync::MutexExt as _;
use std::time::{Duration, Instant};

/// A voter unheard for this long counts as unreachable here: above the probe interval,
/// below the shortest election timeout (500 ms), so a cut-off node is stopped before
/// its first campaign.
pub const UNREACHABLE_AFTER: Duration = Duration::from_millis(400);
/// How long a majority must have been reachable before elections are allowed again.
pub const REARM_AFTER: Duration = Duration::from_millis(1000);
/// How often the gate is evaluated.
pub const EVERY: Duration = Duration::from_millis(50);

/// Pure state: whether elections are on, and since when a majority is reachable.
#[derive(Debug, Clone, Copy)]
pub struct CampaignGate {
    enabled: bool,
    reachable_since: Option<Instant>,
}

impl Default for CampaignGate {
    fn default() -> Self {
        CampaignGate { enabled: true, reachable_since: None }
    }
}

impl CampaignGate {
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Feeds whether a majority of voters (this node included) is reachable at `now`;
    /// returns the new setting when it changes.
    pub fn update(&mut self, now: Instant, majority_reachable: bool) -> Option<bool> {
        let want = if majority_reachable {
            let since = *self.reachable_since.get_or_insert(now);
            self.enabled || now.duration_since(since) >= REARM_AFTER
        } else {
            self.reachable_since = None;
            false
        };
        (want != self.enabled).then(|| {
            self.enabled = want;
            want
        })
    }
}

/// Whether `reachable` voters (this node counted) out of `voters` are a majority.
pub fn is_majority(reachable: usize, voters: usize) -> bool {
    reachable * 2 > voters
}

/// Runs the [`campaign`] gate: openraft elections only while a majority is reachable.
pub async fn run(agent: std::sync::Arc<crate::Agent>) {
    let mut gate = CampaignGate::default();
    loop {
        tokio::time::sleep(EVERY).await;
        let node = agent.cluster.node();
        let voters: Vec<u64> = node.metrics().membership_config.membership().voter_ids().collect();
        let now = Instant::now();
        let seen = agent.seen.locked().clone();
        let reachable = voters
            .iter()
            .filter(|id| **id == agent.cluster.id || seen.get(id).is_some_and(|t| now.duration_since(*t) < UNREACHABLE_AFTER))
            .count();
        if let Some(enabled) = gate.update(now, is_majority(reachable, voters.len())) {
            tracing::info!(enabled, "elections {}", if enabled { "re-armed: a majority is reachable" } else { "off: no majority reachable" });
        }
        // Set every time: after a join the node is a new Raft instance.
        node.raft().runtime_config().elect(gate.enabled());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_off_stops_campaigns_at_once_and_rearms_only_after_a_steady_second() {
        let t0 = Instant::now();
        let mut g = CampaignGate::default();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(g.update(ms(0), true), None, "on by default");
        assert_eq!(g.update(ms(50), false), Some(false), "off as soon as the majority is gone");
        assert_eq!(g.update(ms(100), false), None);
        assert_eq!(g.update(ms(150), true), None, "back, but not yet for long");
        assert_eq!(g.update(ms(600), false), None, "a flap restarts the wait");
        assert_eq!(g.update(ms(650), true), None);
        assert_eq!(g.update(ms(1600), true), None);
        assert_eq!(g.update(ms(1650), true), Some(true), "a steady second later");
    }

    #[test]
    fn majority_counts() {
        assert!(is_majority(1, 1));
        assert!(!is_majority(1, 2));
        assert!(is_majority(2, 3));
        assert!(!is_majority(2, 4));
        assert!(is_majority(3, 5));
    }
}
