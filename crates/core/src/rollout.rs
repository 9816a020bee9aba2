//! Rolling updates, decided by the leader. Pure: stacks, the cluster's replica rows,
//! the replicated `rollout` set and the time in milliseconds in; the next `rollout`
//! set, stacks to roll back and typed events out. The leader's memory between steps
//! ([`RolloutMemory`]) is passed in and updated.
//!
//! # The rules
//!
//! A service with `deploy.update_config` does not replace all its replicas at once:
//! reconcilers keep an outdated container until its slot is in the `rollout` set
//! ([`crate::reconcile::Scope::updatable`]).
//!
//! 1. **Batches.** Once every slot already let through is up to date and ready, and
//!    `delay` has passed since that batch finished, the next `parallelism` outdated
//!    slots go through, lowest slot first (`0`: all at once). Slots let through stay
//!    in the set until the service has no outdated replica left; then its entries go.
//! 2. **Failure.** When a replica of the new version fails (a failed row that is up to
//!    date), `failure_action` decides: `rollback` returns the whole stack to its
//!    previous version, once (not again until the next deploy, so a failing old
//!    version cannot flip-flop; at most one rollback per stack per step); `continue`
//!    goes on with rule 1; `pause` (and `rollback` without a previous version, or
//!    after the automatic one) lets no more slots through but keeps those let through.
//! 3. **Order** is the reconciler's business (a start-first slot's new copy starts
//!    beside the old one); batches count a slot done when its new copy is up to date
//!    and ready either way. Stateful services always update stop-first
//!    ([`UpdateOrder::of`]).
//! 4. **`monitor`** is not a window here: a new replica is judged by its health and
//!    restarts (the Compose loader warns that it is ignored); nor is
//!    `max_failure_ratio`: one failed new replica triggers `failure_action`.

use crate::reconcile::{is_stateful, Millis, SlotKey};
use crate::status::ReplicaStatus;
use roost_spec::{Service, Stack};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `update_config.failure_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    Pause,
    Continue,
    Rollback,
}

impl FailureAction {
    /// The action a spec names; anything unknown pauses (the loader admits only the
    /// three values; pausing is the choice that changes nothing).
    pub fn parse(text: &str) -> Self {
        match text {
            "rollback" => FailureAction::Rollback,
            "continue" => FailureAction::Continue,
            _ => FailureAction::Pause,
        }
    }
}

/// How a slot's old copy gives way to its new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// The old copy stops, then the new one starts.
    StopFirst,
    /// The new copy starts beside the old one, which stops once the new one serves.
    StartFirst,
}

impl UpdateOrder {
    /// The order a service updates in: start-first only when asked for and the
    /// service is not stateful (two copies of it must never run); `None` without
    /// `update_config` (every slot updates at once).
    pub fn of(service: &Service) -> Option<Self> {
        let update = service.update_config.as_ref()?;
        Some(if update.order == "start-first" && !is_stateful(service) { UpdateOrder::StartFirst } else { UpdateOrder::StopFirst })
    }
}

impl fmt::Display for UpdateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpdateOrder::StopFirst => "stop-first",
            UpdateOrder::StartFirst => "start-first",
        })
    }
}

/// One service of one stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServiceKey {
    pub stack: String,
    pub service: String,
}

impl ServiceKey {
    pub fn new(stack: &str, service: &str) -> Self {
        ServiceKey { stack: stack.to_owned(), service: service.to_owned() }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stack, self.service)
    }
}

/// The leader's memory between steps. A new leader starts with the default: it lets
/// the next batch through at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutMemory {
    /// When each service may start its next batch.
    pub next_batch: BTreeMap<ServiceKey, Millis>,
    /// Services with a batch under way (its `delay` starts when it finishes).
    pub started: BTreeSet<ServiceKey>,
    /// Services with a failed new replica, so the failure is reported once.
    pub failing: BTreeSet<ServiceKey>,
}

/// What a step needs to know of one stack.
#[derive(Debug, Clone, Copy)]
pub struct RolloutStack<'a> {
    pub spec: &'a Stack,
    /// A previous version exists to roll back to.
    pub has_previous: bool,
    /// roost rolled it back by itself since the last deploy.
    pub auto_rolled_back: bool,
}

/// Everything [`step`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct RolloutInput<'a> {
    pub stacks: &'a BTreeMap<String, RolloutStack<'a>>,
    /// Replica rows of the whole cluster (every node's latest).
    pub rows: &'a [ReplicaStatus],
    /// The replicated set of slots let through.
    pub rollout: &'a BTreeSet<SlotKey>,
    pub now: Millis,
}

/// Why a rolling update stopped letting slots through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseCause {
    /// `failure_action: pause`.
    Asked,
    /// `failure_action: rollback`, but the stack has no previous version.
    NoPreviousVersion,
    /// `failure_action: rollback`, but roost already rolled this stack back once.
    AlreadyRolledBack,
}

/// A decision of a rolling update, for logs (and later alerts and the dashboard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RolloutEvent {
    /// The next batch of slots may update.
    RolloutBatch { stack: String, service: String, slots: Vec<u32>, order: UpdateOrder },
    /// A new replica failed: the whole stack returns to its previous version.
    AutoRollback { stack: String, service: String, slot: u32, reason: String },
    /// A new replica failed: no more slots go through.
    RolloutPaused { stack: String, service: String, slot: u32, reason: String, cause: PauseCause },
    /// A new replica failed, and `failure_action: continue` goes on.
    FailureIgnored { stack: String, service: String, slot: u32, reason: String },
    /// Every replica of the service runs the new version.
    RolloutFinished { stack: String, service: String },
}

impl RolloutEvent {
    /// Whether a person should look (a failed update).
    pub fn is_problem(&self) -> bool {
        !matches!(self, RolloutEvent::RolloutBatch { .. } | RolloutEvent::RolloutFinished { .. })
    }
}

impl fmt::Display for RolloutEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolloutEvent::RolloutBatch { stack, service, slots, order } => {
                write!(f, "{stack}/{service}: rolling update: next batch, slots {slots:?} ({order})")
            }
            RolloutEvent::AutoRollback { stack, service, slot, reason } => {
                write!(f, "{stack}: {service}-{slot} failed after the update ({reason}): rolling the stack back")
            }
            RolloutEvent::RolloutPaused { stack, service, slot, reason, cause } => {
                let why = match cause {
                    PauseCause::Asked => "",
                    PauseCause::NoPreviousVersion => " (no previous version to roll back to)",
                    PauseCause::AlreadyRolledBack => " (already rolled back once since the last deploy)",
                };
                write!(f, "{stack}: {service}-{slot} failed after the update ({reason}): rolling update paused{why}")
            }
            RolloutEvent::FailureIgnored { stack, service, slot, reason } => {
                write!(f, "{stack}: {service}-{slot} failed after the update ({reason}): continuing (failure_action: continue)")
            }
            RolloutEvent::RolloutFinished { stack, service } => write!(f, "{stack}/{service}: rolling update done"),
        }
    }
}

/// The result of [`step`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolloutStep {
    /// The new `rollout` set.
    pub allowed: BTreeSet<SlotKey>,
    /// Stacks to return to their previous version (an automatic rollback each).
    pub rollbacks: Vec<String>,
    pub events: Vec<RolloutEvent>,
}

/// One step of every rolling update (the rules of the module).
pub fn step(input: &RolloutInput<'_>, memory: &mut RolloutMemory) -> RolloutStep {
    let mut out = RolloutStep::default();
    for (name, stack) in input.stacks {
        for (svc_name, svc) in &stack.spec.services {
            let (Some(update), Some(order)) = (&svc.update_config, UpdateOrder::of(svc)) else { continue };
            let key = ServiceKey::new(name, svc_name);
            let mine: Vec<&ReplicaStatus> =
                input.rows.iter().filter(|r| r.stack == *name && r.service == *svc_name && r.desired).collect();
            let already: BTreeSet<SlotKey> =
                input.rollout.iter().filter(|k| k.stack == *name && k.service == *svc_name).cloned().collect();

            if let Some(failed) = mine.iter().filter(|r| r.failed && r.up_to_date).min_by_key(|r| r.slot) {
                let new_failure = memory.failing.insert(key.clone());
                let (stack_name, service, slot) = (name.clone(), svc_name.clone(), failed.slot);
                let reason = failed.note.clone().unwrap_or_else(|| "failed".into());
                match FailureAction::parse(&update.failure_action) {
                    FailureAction::Rollback if stack.has_previous && !stack.auto_rolled_back => {
                        // The service's slots leave the set: the stack changes version.
                        if !out.rollbacks.contains(name) {
                            out.rollbacks.push(name.clone());
                            out.events.push(RolloutEvent::AutoRollback { stack: stack_name, service, slot, reason });
                        }
                        continue;
                    }
                    FailureAction::Continue => {
                        if new_failure {
                            out.events.push(RolloutEvent::FailureIgnored { stack: stack_name, service, slot, reason });
                        }
                    }
                    action => {
                        if new_failure {
                            let cause = match action {
                                FailureAction::Rollback if !stack.has_previous => PauseCause::NoPreviousVersion,
                                FailureAction::Rollback => PauseCause::AlreadyRolledBack,
                                FailureAction::Pause | FailureAction::Continue => PauseCause::Asked,
                            };
                            out.events.push(RolloutEvent::RolloutPaused { stack: stack_name, service, slot, reason, cause });
                        }
                        out.allowed.extend(already);
                        continue;
                    }
                }
            } else {
                memory.failing.remove(&key);
            }

            let outdated: BTreeSet<SlotKey> = mine
                .iter()
                .filter(|r| r.container_id.is_some() && !r.up_to_date)
                .map(|r| SlotKey::new(name, svc_name, r.slot))
                .collect();
            if outdated.is_empty() {
                // Done (or nothing to roll): the service's entries leave the set.
                let all_new = !mine.is_empty() && mine.iter().all(|r| r.up_to_date);
                if !already.is_empty() && all_new {
                    out.events.push(RolloutEvent::RolloutFinished { stack: name.clone(), service: svc_name.clone() });
                }
                continue;
            }
            let in_flight = already.iter().filter(|k| !mine.iter().any(|r| r.slot == k.slot && r.up_to_date && r.ready)).count();
            out.allowed.extend(already.iter().cloned());
            if in_flight > 0 {
                continue;
            }
            if memory.started.remove(&key) {
                let delay = update.delay.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                memory.next_batch.insert(key.clone(), input.now.saturating_add(delay));
            }
            if memory.next_batch.get(&key).is_some_and(|at| input.now < *at) {
                continue;
            }
            let size = if update.parallelism == 0 { usize::MAX } else { update.parallelism as usize };
            let take: Vec<SlotKey> = outdated.into_iter().filter(|k| !already.contains(k)).take(size).collect();
            if !take.is_empty() {
                out.events.push(RolloutEvent::RolloutBatch {
                    stack: name.clone(),
                    service: svc_name.clone(),
                    slots: take.iter().map(|k| k.slot).collect(),
                    order,
                });
                out.allowed.extend(take);
                memory.started.insert(key);
            }
        }
    }
    out
}
