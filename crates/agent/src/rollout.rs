//! Rolling updates and rollback, driven by the leader.
//!
//! A service with `deploy.update_config` does not replace all its replicas at once:
//! reconcilers keep an outdated container running until its slot is in the cluster's
//! `rollout` set. Every [`EVERY`] the leader lets the next `parallelism` outdated slots
//! through (lowest slot first; `0` = all at once) once the previous batch is up to date
//! and ready, and `delay` has passed. When a replica of the new version fails (keeps
//! crashing, turns unhealthy, cannot start), `failure_action` decides: `pause` stops
//! letting slots through, `continue` goes on, `rollback` returns the whole stack to its
//! previous version, once. With `order: start-first` a slot's new copy starts (under a
//! name with its config hash) and the old one stops once the new one serves; stateful
//! services always update stop-first.

use crate::Agent;
use roost_api::ReplicaStatus;
use roost_cluster::types::Command;
use roost_core::reconcile::SlotKey;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(300);

pub async fn run(agent: Arc<Agent>) {
    // When each service may start its next batch (leader memory; a new leader starts at once).
    let mut next_batch: BTreeMap<(String, String), Instant> = BTreeMap::new();
    // Services with a batch under way (its delay starts when it finishes).
    let mut started: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        tokio::time::sleep(EVERY).await;
        let node = agent.cluster.node();
        if node.leader() != Some(agent.cluster.id) {
            next_batch.clear();
            started.clear();
            continue;
        }
        let state = node.state();
        let rows = agent.cluster_rows();
        let mut allowed: BTreeSet<SlotKey> = BTreeSet::new();
        for (name, stored) in &state.stacks {
            for (svc_name, svc) in &stored.spec.services {
                let Some(update) = &svc.update_config else { continue };
                let mine: Vec<&ReplicaStatus> =
                    rows.iter().filter(|r| r.stack == *name && r.service == *svc_name && r.desired).collect();
                let failed = mine.iter().find(|r| r.failed && r.up_to_date);
                if let Some(r) = failed {
                    match update.failure_action.as_str() {
                        "rollback" if stored.previous.is_some() && !stored.auto_rolled_back => {
                            tracing::warn!(
                                stack = %name,
                                "{svc_name}-{} failed after the update ({}): rolling the stack back",
                                r.slot,
                                r.note.as_deref().unwrap_or("failed")
                            );
                            if let Err(e) = agent.cluster.write(Command::Rollback { name: name.clone(), automatic: true }).await {
                                tracing::warn!("automatic rollback of {name} failed: {e}");
                            }
                            agent.wake.notify_one();
                            agent.schedule.notify_one();
                            continue;
                        }
                        "continue" => {}
                        // pause (and rollback without a previous version): let no more through.
                        _ => {
                            allowed.extend(state.rollout.iter().filter(|k| k.stack == *name && k.service == *svc_name).cloned());
                            continue;
                        }
                    }
                }
                let outdated: Vec<SlotKey> = mine
                    .iter()
                    .filter(|r| r.container_id.is_some() && !r.up_to_date)
                    .map(|r| SlotKey::new(name, svc_name, r.slot))
                    .collect();
                if outdated.is_empty() {
                    continue; // done (or nothing to roll): clear this service's set
                }
                let already: Vec<SlotKey> =
                    state.rollout.iter().filter(|k| k.stack == *name && k.service == *svc_name).cloned().collect();
                let in_flight = already
                    .iter()
                    .filter(|k| !mine.iter().any(|r| r.slot == k.slot && r.up_to_date && r.ready))
                    .count();
                allowed.extend(already.iter().cloned());
                let key = (name.clone(), svc_name.clone());
                let batch = if update.parallelism == 0 { usize::MAX } else { update.parallelism as usize };
                if in_flight == 0 && started.remove(&key) {
                    next_batch.insert(key.clone(), Instant::now() + update.delay.unwrap_or_default());
                }
                if in_flight == 0 && next_batch.get(&key).is_none_or(|t| Instant::now() >= *t) {
                    let take: Vec<SlotKey> = outdated.into_iter().filter(|k| !already.contains(k)).take(batch).collect();
                    if !take.is_empty() {
                        tracing::info!(stack = %name, service = %svc_name, slots = ?take.iter().map(|k| k.slot).collect::<Vec<_>>(), "rolling update: next batch");
                        allowed.extend(take);
                        started.insert(key);
                    }
                }
            }
        }
        if allowed != state.rollout {
            let slots = allowed.into_iter().collect();
            if let Err(e) = agent.cluster.write(Command::SetRollout { slots }).await {
                tracing::warn!("cannot write the rolling update state: {e}");
            }
            agent.wake.notify_one();
        }
    }
}
