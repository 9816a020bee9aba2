//! Automatic rollback: when a service whose `deploy.update_config.failure_action` is
//! `rollback` fails after a change (a replica of the new version keeps crashing, turns
//! unhealthy, or cannot start), the leader returns the whole stack to its previous
//! version, once. `roost rollback -p NAME` does the same by hand.

use crate::Agent;
use roost_cluster::types::Command;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(500);

pub async fn run(agent: Arc<Agent>) {
    loop {
        tokio::time::sleep(EVERY).await;
        let node = agent.cluster.node();
        if node.leader() != Some(agent.cluster.id) {
            continue;
        }
        let rows = agent.cluster_rows();
        for (name, stored) in node.state().stacks {
            if stored.previous.is_none() || stored.auto_rolled_back {
                continue;
            }
            let failing = rows.iter().find(|r| {
                r.stack == name
                    && r.failed
                    && r.up_to_date
                    && stored.spec.services.get(&r.service).and_then(|s| s.update_config.as_ref()).is_some_and(|u| u.failure_action == "rollback")
            });
            if let Some(r) = failing {
                tracing::warn!(
                    stack = %name,
                    "{}-{} failed after the update ({}): rolling the stack back",
                    r.service,
                    r.slot,
                    r.note.as_deref().unwrap_or("failed")
                );
                if let Err(e) = agent.cluster.write(Command::Rollback { name: name.clone(), automatic: true }).await {
                    tracing::warn!("automatic rollback of {name} failed: {e}");
                }
                agent.wake.notify_one();
                agent.schedule.notify_one();
            }
        }
    }
}
