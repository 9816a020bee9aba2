//! The loop that keeps the engine matching desired state.
//!
//! One pass: observe the engine, plan with [`Reconciler::plan`], apply the actions
//! (networks and volumes first, then all container actions concurrently, then network
//! removal) and record failures in the reconciler so they back off and show in `ps`.
//! Each error is logged when it first happens, not at every retry.
//! Passes repeat at once while they change something, else on a wake-up (Docker event,
//! new desired state) or after a second.
//!
//! A replica's name held by a container this agent did not make (invariant 16: an
//! agent touches only what it created) is reported with the command that frees it,
//! judged by [`roost_core::name_clash::judge`], and tried again every second.
//!
//! [`Reconciler::plan`]: roost_core::reconcile::Reconciler::plan

use crate::sync::MutexExt as _;
use crate::Agent;
use futures_util::StreamExt;
use roost_core::name_clash::NameClash;
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
        let mut view = agent.view.locked();
        view.engine_error = None;
        view.observed = observed.clone();
        let actions = view.reconciler.plan_scoped(&desired, &scope, &observed, now);
        view.rows = crate::api::local_rows(&agent.node, &desired, &scope, &view);
        agent.volumes.annotate(&desired, &mut view.rows);
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
        // A replicated volume first catches up with the newest snapshot held here.
        let mut unprepared = Vec::new();
        for action in actions.iter().filter(|a| a.phase() == phase) {
            if let Action::Create { slot, .. } = action {
                if let Some(stack) = desired.get(&slot.stack) {
                    if let Err(error) = crate::volumes::prepare(agent, &driver, stack, &slot.service).await {
                        unprepared.push(Failure::slot(slot, error));
                    }
                }
            }
        }
        let held_back = |a: &Action| matches!(a, Action::Create { slot, .. } if unprepared.iter().any(|f| matches!(f, Failure::Slot { slot: s, .. } if s == slot)));
        let batch = actions
            .iter()
            .filter(|a| a.phase() == phase && !(fenced && starts_stateful(&desired, a)) && !held_back(a))
            .map(|a| apply(&driver, &desired, a));
        let mut results = futures_util::future::join_all(batch).await;
        results.extend(unprepared.into_iter().map(Err));
        for failure in results.into_iter().filter_map(Result::err) {
            failed = true;
            let now = agent.now_ms();
            let mut view = agent.view.locked();
            match failure {
                Failure::Slot { slot, error, blocked } => {
                    let new = if blocked {
                        view.reconciler.record_blocked(&slot, now, error.clone())
                    } else {
                        let svc = desired.get(&slot.stack).and_then(|s| s.services.get(&slot.service));
                        view.reconciler.record_error(&slot, now, error.clone(), svc)
                    };
                    if new {
                        tracing::warn!(%slot, "{error}");
                    } else {
                        tracing::debug!(%slot, "{error}");
                    }
                }
                Failure::Network { stack, network, error } => {
                    if view.reconciler.record_network_error(&stack, &network, error.clone()) {
                        tracing::warn!("network {network} of {stack}: {error}");
                    } else {
                        tracing::debug!("network {network} of {stack}: {error}");
                    }
                }
                Failure::Other(error) => tracing::warn!("{error}"),
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
    agent.view.locked().engine_error = Some(error);
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

/// What failed in applying an action, and what it is about.
enum Failure {
    /// A replica slot's action. `blocked`: not the container's failure (its name is
    /// held by a container this agent may not touch), so nothing is counted.
    Slot { slot: SlotKey, error: String, blocked: bool },
    /// A stack's network could not be created: its slots wait and show why.
    Network { stack: String, network: String, error: String },
    Other(String),
}

impl Failure {
    fn slot(slot: &SlotKey, error: impl ToString) -> Failure {
        Failure::Slot { slot: slot.clone(), error: error.to_string(), blocked: false }
    }
}

async fn apply(driver: &Driver, desired: &Desired, action: &Action) -> Result<(), Failure> {
    let stack_of = |name: &str| desired.get(name).ok_or_else(|| format!("stack {name} vanished"));
    match action {
        Action::EnsureNetwork { stack, network } => {
            let s = stack_of(stack).map_err(Failure::Other)?;
            driver.ensure_network(s, network).await.map_err(|e| Failure::Network {
                stack: stack.clone(),
                network: network.clone(),
                error: e.to_string(),
            })
        }
        Action::EnsureVolume { stack, volume } => {
            let s = stack_of(stack).map_err(Failure::Other)?;
            driver.ensure_volume(s, volume).await.map_err(|e| Failure::Other(format!("volume {volume} of {stack}: {e}")))
        }
        Action::Create { slot, config_hash } => {
            let s = stack_of(&slot.stack).map_err(|e| Failure::slot(slot, e))?;
            let id = create(driver, s, slot, config_hash).await?;
            driver.start_container(&id).await.map_err(|e| Failure::slot(slot, e))
        }
        Action::Start { slot, container_id } => {
            driver.start_container(container_id).await.map_err(|e| Failure::slot(slot, e))
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
                .map_err(|e| Failure::slot(slot, e))
        }
        Action::RemoveNetwork { name } => {
            driver.remove_network(name).await.map_err(|e| Failure::Other(format!("network {name}: {e}")))
        }
    }
}

/// Creates the container of `slot`, under its usual name, or beside this agent's own
/// older copy (a start-first update runs both for a moment) under the name with its
/// config hash. A name held by a container of someone else blocks the slot with the
/// command that frees it.
async fn create(driver: &Driver, stack: &Stack, slot: &SlotKey, config_hash: &str) -> Result<String, Failure> {
    let usual = roost_core::labels::container_name(&slot.stack, &slot.service, slot.slot);
    for name in [usual.clone(), format!("{usual}-{config_hash}")] {
        let error = match driver.create_container_named(stack, &slot.service, slot.slot, config_hash, &name).await {
            Ok(id) => return Ok(id),
            Err(e @ roost_docker::DriverError::Conflict { .. }) => e,
            Err(e) => return Err(Failure::slot(slot, e)),
        };
        let holder = match driver.name_holder(&name).await {
            Ok(Some(holder)) => holder,
            // Gone since: the next pass creates the container under this name.
            Ok(None) => return Err(Failure::slot(slot, error)),
            Err(e) => return Err(Failure::slot(slot, format!("{error}; and who holds the name is unknown: {e}"))),
        };
        match roost_core::name_clash::judge(&name, &holder, driver.owner()) {
            NameClash::Ours => continue,
            NameClash::Foreign(message) => return Err(Failure::Slot { slot: slot.clone(), error: message, blocked: true }),
        }
    }
    // Both names are this agent's: the next pass observes them and decides.
    Err(Failure::slot(slot, format!("the names {usual} and {usual}-{config_hash} are both taken by this agent's containers")))
}

/// The stop signal and grace period of a service, if its stack is known.
pub(crate) fn stop_settings(stack: Option<&Stack>, service: &str) -> (Option<String>, Option<Duration>) {
    match stack.and_then(|s| s.services.get(service)) {
        Some(svc) => (svc.stop_signal.clone(), svc.stop_grace_period),
        None => (None, None),
    }
}
