//! The loop that keeps the engine matching desired state.
//!
//! One pass: observe the engine, plan with [`Reconciler::plan`], apply the actions
//! (networks and volumes first, then all container actions concurrently, then network
//! removal) and record failures in the reconciler so they back off and show in `ps`.
//! Passes repeat at once while they change something, else on a wake-up (Docker event,
//! new desired state) or after a second.
//!
//! [`Reconciler::plan`]: roost_core::reconcile::Reconciler::plan

use crate::Agent;
use futures_util::StreamExt;
use roost_core::reconcile::{Action, Desired, SlotKey};
use roost_docker::Driver;
use roost_spec::Stack;
use std::sync::Arc;
use std::time::Duration;

const IDLE_WAKE: Duration = Duration::from_secs(1);

pub async fn run(agent: Arc<Agent>) {
    let mut events: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let outcome = {
            let _pass = agent.pass.lock().await;
            pass(&agent, &mut events).await
        };
        let wait = match outcome {
            Outcome::Changed => Duration::ZERO,
            Outcome::Idle | Outcome::Failed => IDLE_WAKE,
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = agent.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

enum Outcome {
    /// Actions were applied: look again at once.
    Changed,
    Idle,
    /// The engine or store failed; retry after a pause.
    Failed,
}

async fn pass(agent: &Arc<Agent>, events: &mut Option<tokio::task::JoinHandle<()>>) -> Outcome {
    let driver = match agent.driver().await {
        Ok(d) => d,
        Err(e) => return engine_failed(agent, e).await,
    };
    if events.as_ref().is_none_or(|t| t.is_finished()) {
        *events = Some(tokio::spawn(forward_events(agent.clone(), driver.clone())));
    }
    let observed = match driver.observe().await {
        Ok(o) => o,
        Err(e) => return engine_failed(agent, e.to_string()).await,
    };
    let desired: Desired = agent.desired_here();
    let scope = agent.scope();
    let now = agent.now_ms();
    let actions = {
        let mut view = agent.view.lock().expect("view lock");
        view.engine_error = None;
        view.observed = observed.clone();
        let actions = view.reconciler.plan_scoped(&desired, &scope, &observed, now);
        view.rows = crate::api::local_rows(&agent.node, &desired, &scope, &view);
        actions
    };
    if actions.is_empty() {
        return Outcome::Idle;
    }
    let mut failed = false;
    for phase in 0..=2 {
        // A pass can outlive its lease (the process froze between plan and apply):
        // look again right before starting anything stateful.
        let fenced = agent.fenced();
        let batch = actions
            .iter()
            .filter(|a| a.phase() == phase && !(fenced && starts_stateful(&desired, a)))
            .map(|a| apply(&driver, &desired, a));
        let results = futures_util::future::join_all(batch).await;
        for (slot, err) in results.into_iter().filter_map(Result::err) {
            failed = true;
            let now = agent.now_ms();
            let mut view = agent.view.lock().expect("view lock");
            match slot {
                Some(slot) => {
                    tracing::warn!(%slot, "{err}");
                    let svc = desired.get(&slot.stack).and_then(|s| s.services.get(&slot.service));
                    view.reconciler.record_error(&slot, now, err, svc);
                }
                None => tracing::warn!("{err}"),
            }
        }
    }
    if failed {
        Outcome::Failed
    } else {
        Outcome::Changed
    }
}

/// Whether `action` starts a container of a stateful service.
fn starts_stateful(desired: &Desired, action: &Action) -> bool {
    let slot = match action {
        Action::Create { slot, .. } | Action::Start { slot, .. } => slot,
        _ => return false,
    };
    desired.get(&slot.stack).and_then(|s| s.services.get(&slot.service)).is_some_and(roost_core::reconcile::is_stateful)
}

async fn engine_failed(agent: &Agent, error: String) -> Outcome {
    tracing::warn!("container engine unreachable: {error}");
    agent.view.lock().expect("view lock").engine_error = Some(error);
    agent.drop_driver().await;
    Outcome::Failed
}

/// Wakes the loop on every Docker event about a managed container, until the stream
/// ends (the next pass starts a new one).
async fn forward_events(agent: Arc<Agent>, driver: Arc<Driver>) {
    let mut stream = std::pin::pin!(driver.events());
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => agent.wake.notify_one(),
            Err(e) => {
                tracing::debug!("docker event stream ended: {e}");
                break;
            }
        }
    }
}

type ApplyError = (Option<SlotKey>, String);

async fn apply(driver: &Driver, desired: &Desired, action: &Action) -> Result<(), ApplyError> {
    let stack_of = |name: &str| desired.get(name).ok_or_else(|| (None, format!("stack {name} vanished")));
    match action {
        Action::EnsureNetwork { stack, network } => {
            let s = stack_of(stack)?;
            driver.ensure_network(s, network).await.map_err(|e| (None, format!("network {network} of {stack}: {e}")))
        }
        Action::EnsureVolume { stack, volume } => {
            let s = stack_of(stack)?;
            driver.ensure_volume(s, volume).await.map_err(|e| (None, format!("volume {volume} of {stack}: {e}")))
        }
        Action::Create { slot, config_hash } => {
            let s = stack_of(&slot.stack).map_err(|(_, e)| (Some(slot.clone()), e))?;
            let fail = |e: roost_docker::DriverError| (Some(slot.clone()), e.to_string());
            let id = match driver.create_container(s, &slot.service, slot.slot, config_hash).await {
                // An older copy still holds the name: a start-first update runs both
                // for a moment, the new one under a name with its config hash.
                Err(roost_docker::DriverError::Conflict { .. }) => {
                    let name = format!("{}-{config_hash}", roost_core::labels::container_name(&slot.stack, &slot.service, slot.slot));
                    driver.create_container_named(s, &slot.service, slot.slot, config_hash, &name).await.map_err(fail)?
                }
                other => other.map_err(fail)?,
            };
            driver.start_container(&id).await.map_err(fail)
        }
        Action::Start { slot, container_id } => {
            driver.start_container(container_id).await.map_err(|e| (Some(slot.clone()), e.to_string()))
        }
        Action::Remove { slot, container_id, reason } => {
            tracing::info!(%slot, ?reason, "removing container {container_id}");
            let (signal, grace) = match reason {
                // Fencing cannot wait for a grace period: the lease is running out.
                roost_core::reconcile::RemoveReason::Fenced => (Some("SIGKILL".to_owned()), Some(Duration::ZERO)),
                _ => stop_settings(desired.get(&slot.stack), &slot.service),
            };
            driver
                .remove_container(container_id, signal.as_deref(), grace)
                .await
                .map_err(|e| (Some(slot.clone()), e.to_string()))
        }
        Action::RemoveNetwork { name } => {
            driver.remove_network(name).await.map_err(|e| (None, format!("network {name}: {e}")))
        }
    }
}

/// The stop signal and grace period of a service, if its stack is known.
pub(crate) fn stop_settings(stack: Option<&Stack>, service: &str) -> (Option<String>, Option<Duration>) {
    match stack.and_then(|s| s.services.get(service)) {
        Some(svc) => (svc.stop_signal.clone(), svc.stop_grace_period),
        None => (None, None),
    }
}
