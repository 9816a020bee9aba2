//! Rolling updates and rollback, driven by the leader.
//!
//! A service with `deploy.update_config` does not replace all its replicas at once:
//! reconcilers keep an outdated container running until its slot is in the cluster's
//! `rollout` set. Every [`EVERY`] the leader runs the pure
//! [`roost_core::rollout::step`] over the cluster's replica rows (batches of
//! `parallelism`, `delay` between them, `failure_action` on a failed new replica; see
//! that module for the rules), writes an automatic rollback and the new set through
//! Raft, and logs the step's events. With `order: start-first` a slot's new copy
//! starts (under a name with its config hash) and the old one stops once the new one
//! serves; stateful services always update stop-first.

use crate::Agent;
use roost_cluster::types::Command;
use roost_core::rollout::{step, RolloutInput, RolloutMemory, RolloutStack};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(300);

pub async fn run(agent: Arc<Agent>) {
    // Leader memory: a new leader starts with none and lets the next batch through at once.
    let mut memory = RolloutMemory::default();
    loop {
        tokio::time::sleep(EVERY).await;
        let node = agent.cluster.node();
        if node.leader() != Some(agent.cluster.id) {
            memory = RolloutMemory::default();
            continue;
        }
        let state = node.state();
        let rows = agent.cluster_rows();
        let stacks: BTreeMap<String, RolloutStack<'_>> = state
            .stacks
            .iter()
            .map(|(name, stored)| {
                let stack = RolloutStack {
                    spec: &stored.spec,
                    has_previous: stored.previous.is_some(),
                    auto_rolled_back: stored.auto_rolled_back,
                };
                (name.clone(), stack)
            })
            .collect();
        let input = RolloutInput { stacks: &stacks, rows: &rows, rollout: &state.rollout, now: agent.now_ms() };
        let decision = step(&input, &mut memory);
        for event in &decision.events {
            if event.is_problem() {
                tracing::warn!("{event}");
            } else {
                tracing::info!("{event}");
            }
        }
        for name in &decision.rollbacks {
            if let Err(e) = agent.cluster.write_as_leader(Command::Rollback { name: name.clone(), automatic: true }).await {
                tracing::warn!("automatic rollback of {name} failed: {e}");
            }
            agent.wake.notify_one();
            agent.schedule.notify_one();
        }
        if decision.allowed != state.rollout {
            let slots = decision.allowed.into_iter().collect();
            if let Err(e) = agent.cluster.write_as_leader(Command::SetRollout { slots }).await {
                tracing::warn!("cannot write the rolling update state: {e}");
            }
            agent.wake.notify_one();
        }
    }
}
