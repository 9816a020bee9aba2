//! Replica status: one row per desired slot (and per container not desired), merged
//! from the desired state, what Docker shows and the reconciler's memory. `roost ps`
//! prints these rows and `roost up --wait` decides from them when a stack is ready
//! or has failed.

use crate::hash::config_hash;
use crate::observed::{ContainerState, Health, Observed};
use crate::reconcile::{Desired, Reconciler, SlotKey};
use roost_spec::RestartCondition;
use serde::{Deserialize, Serialize};

/// One row of `roost ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    pub stack: String,
    pub service: String,
    pub slot: u32,
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// `running`, `created`, `exited (CODE)`, `pending`, `paused`, `restarting`, `dead`.
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` without a healthcheck.
    pub health: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// The container was created from the current config of its service.
    pub up_to_date: bool,
    /// The slot is part of the desired state (false: about to be removed).
    pub desired: bool,
    /// Running (and healthy where checked), or completed as a one-shot service wants.
    pub ready: bool,
    /// Will not become ready without a change: an error is recorded, or roost gave up.
    pub failed: bool,
    /// Why it is not ready: the last error, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Status rows for every desired slot and every observed container, sorted by
/// stack, service, slot. `engine_error` is set when Docker could not be observed.
pub fn replica_status(
    node: &str,
    desired: &Desired,
    observed: &Observed,
    reconciler: &Reconciler,
    engine_error: Option<&str>,
) -> Vec<ReplicaStatus> {
    let mut rows = Vec::new();
    for stack in desired.values() {
        for (name, service) in &stack.services {
            let hash = config_hash(stack, name).expect("service exists");
            for slot in 1..=service.replicas {
                let key = SlotKey::new(&stack.name, name, slot);
                let mem = reconciler.slot(&key);
                let container = observed
                    .containers
                    .iter()
                    .filter(|c| c.stack == stack.name && c.service == *name && c.slot == slot)
                    .min_by_key(|c| (c.config_hash != hash, c.state != ContainerState::Running));
                let mut row = ReplicaStatus {
                    stack: stack.name.clone(),
                    service: name.clone(),
                    slot,
                    node: node.to_owned(),
                    container_id: None,
                    state: "pending".into(),
                    health: "none".into(),
                    ports: Vec::new(),
                    up_to_date: false,
                    desired: true,
                    ready: false,
                    failed: false,
                    note: None,
                };
                if let Some(c) = container {
                    row.container_id = Some(short_id(&c.id));
                    row.state = state_text(c.state);
                    row.health = health_text(c.health).into();
                    row.ports = c.ports.clone();
                    row.up_to_date = c.config_hash == hash;
                    let one_shot_done = c.state == (ContainerState::Exited { code: Some(0) })
                        && service.restart.condition != RestartCondition::Any;
                    let serving = c.serving();
                    row.ready = row.up_to_date && (serving || one_shot_done);
                    let exit_is_final = matches!(c.state, ContainerState::Exited { code: Some(code) } if code != 0)
                        && service.restart.condition == RestartCondition::None;
                    if exit_is_final {
                        row.failed = true;
                        row.note = Some(format!("{}, and its restart policy is \"no\"", row.state));
                    }
                }
                if let Some(mem) = mem.filter(|m| !row.ready && m.config_hash == hash) {
                    if let Some((_, err)) = &mem.last_error {
                        row.note = Some(err.clone());
                        row.failed = true;
                    } else if let Some(w) = &mem.waiting {
                        row.note.get_or_insert_with(|| w.clone());
                    }
                    if mem.gave_up {
                        row.failed = true;
                        let why = row.note.take().map(|n| format!(": {n}")).unwrap_or_default();
                        row.note = Some(format!("gave up after {} failures{why}", mem.failures));
                    }
                }
                if let Some(err) = engine_error {
                    row.failed = true;
                    row.ready = false;
                    row.note = Some(format!("container engine unreachable: {err}"));
                }
                rows.push(row);
            }
        }
    }
    for c in &observed.containers {
        let wanted = desired
            .get(&c.stack)
            .and_then(|s| s.services.get(&c.service))
            .is_some_and(|s| c.slot >= 1 && c.slot <= s.replicas);
        if !wanted {
            rows.push(ReplicaStatus {
                stack: c.stack.clone(),
                service: c.service.clone(),
                slot: c.slot,
                node: node.to_owned(),
                container_id: Some(short_id(&c.id)),
                state: state_text(c.state),
                health: health_text(c.health).into(),
                ports: c.ports.clone(),
                up_to_date: false,
                desired: false,
                ready: false,
                failed: false,
                note: Some("not desired; being removed".into()),
            });
        }
    }
    rows.sort_by(|a, b| (&a.stack, &a.service, a.slot).cmp(&(&b.stack, &b.service, b.slot)));
    rows
}

fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

fn state_text(state: ContainerState) -> String {
    match state {
        ContainerState::Created => "created".into(),
        ContainerState::Running => "running".into(),
        ContainerState::Paused => "paused".into(),
        ContainerState::Restarting => "restarting".into(),
        ContainerState::Exited { code: Some(code) } => format!("exited ({code})"),
        ContainerState::Exited { code: None } => "exited".into(),
        ContainerState::Dead => "dead".into(),
    }
}

fn health_text(health: Health) -> &'static str {
    match health {
        Health::None => "none",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}
