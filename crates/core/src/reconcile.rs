//! The reconciler: desired stacks + observed containers + now → actions.
//!
//! It is a plain struct with no IO. The agent feeds it what Docker shows, applies the
//! [`Action`]s it returns, reports failures back with [`Reconciler::record_error`],
//! and asks again. The only state it keeps between calls is per-slot restart memory
//! (failure count, when to retry, the last error), which is what makes restarts back off
//! and what `roost ps` shows as the reason a replica is not running. Losing that memory
//! (an agent restart) is harmless: the next plan starts from what Docker shows.
//!
//! Decisions, per replica slot `(stack, service, slot)`:
//! - no container: create it, once its `depends_on` conditions hold and any backoff passed;
//! - a container from another config hash: remove it (the next plan creates the new one);
//! - running but unhealthy: remove it and count a failure;
//! - exited: restart it per the restart policy, after a backoff that doubles per
//!   consecutive failure (first restart immediately) and resets after 10 s of running;
//! - created but not running (never started, or the start failed): start it;
//! - several containers for one slot: keep the best, remove the others.
//!
//! Containers of stacks, services or slots not desired are removed. Networks are created
//! before containers, only on a node that runs a replica attached to them (each takes a
//! subnet from the engine's limited address pools), and removed when nothing here wants
//! them. Volumes are created but never removed here: only an explicit
//! `roost down --volumes` deletes data.
//!
//! Some failures are not the container's doing and are not counted as failures (so
//! neither backoff nor `max_attempts` ever holds the slot back once they are resolved):
//! a network of the slot that could not be created ([`Reconciler::record_network_error`]),
//! and a container name another agent's or a user's container holds
//! ([`Reconciler::record_blocked`]). The slot shows the cause and is retried every
//! [`BLOCKED_RETRY`].

use crate::hash::config_hash;
use crate::observed::{ContainerState, Health, Observed, ObservedContainer};
use roost_spec::{DependencyCondition, RestartCondition, Service, Stack};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Milliseconds on the agent's monotonic clock; the reconciler only compares them.
pub type Millis = u64;

/// Desired state: stacks by name.
pub type Desired = BTreeMap<String, Stack>;

/// A running replica resets its failure count after this long.
pub const RESET_AFTER: Millis = 10_000;
/// Backoff never waits longer than this between restarts.
pub const MAX_BACKOFF: Millis = 30_000;
/// The delay unit from the second consecutive failure on, when the policy gives none.
pub const BACKOFF_UNIT: Millis = 500;
/// How often a slot blocked by something outside roost (a taken name) is tried again:
/// soon after the user resolves it, the slot converges by itself.
pub const BLOCKED_RETRY: Millis = 1_000;

/// One replica of one service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotKey {
    pub stack: String,
    pub service: String,
    pub slot: u32,
}

impl SlotKey {
    pub fn new(stack: &str, service: &str, slot: u32) -> Self {
        SlotKey { stack: stack.to_owned(), service: service.to_owned(), slot }
    }
}

impl std::fmt::Display for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}#{}", self.stack, self.service, self.slot)
    }
}

/// What the agent must do. Apply in [`Action::phase`] order: networks and volumes
/// first, then containers, then network removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    EnsureNetwork { stack: String, network: String },
    EnsureVolume { stack: String, volume: String },
    /// Create and start the container of a slot.
    Create { slot: SlotKey, config_hash: String },
    /// Start an existing container again (a restart, or a start that failed before).
    Start { slot: SlotKey, container_id: String },
    Remove { slot: SlotKey, container_id: String, reason: RemoveReason },
    RemoveNetwork { name: String },
}

impl Action {
    /// 0: prepare networks and volumes; 1: containers; 2: clean up networks.
    pub fn phase(&self) -> u8 {
        match self {
            Action::EnsureNetwork { .. } | Action::EnsureVolume { .. } => 0,
            Action::Create { .. } | Action::Start { .. } | Action::Remove { .. } => 1,
            Action::RemoveNetwork { .. } => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveReason {
    /// Created from an older config of its service.
    Outdated,
    Unhealthy,
    /// Its stack or service is no longer desired, or the slot is above `replicas`.
    NotDesired,
    /// Another container serves the same slot.
    Duplicate,
    Dead,
    /// This node's lease lapsed: a stateful replica stops at once (no grace period),
    /// so it is gone before the cluster starts its replacement elsewhere.
    Fenced,
}

/// Which slots run on this node, and what the rest of the cluster runs.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The slots assigned to this node; `None` means every slot (a lone node).
    pub slots: Option<BTreeSet<SlotKey>>,
    /// Containers other nodes reported, so `depends_on` sees dependencies anywhere.
    pub remote: Vec<ObservedContainer>,
    /// This node holds no valid lease: stateful slots must not run here.
    pub fenced: bool,
    /// Slots of services with `update_config` that may move to a new config now (the
    /// leader's rolling update lets them through in batches); `None`: all may.
    pub updatable: Option<BTreeSet<SlotKey>>,
}

impl Scope {
    fn may_update(&self, key: &SlotKey, service: &Service) -> bool {
        service.update_config.is_none() || self.updatable.as_ref().is_none_or(|u| u.contains(key))
    }

    fn runs_here(&self, key: &SlotKey, service: &Service) -> bool {
        !(self.fenced && is_stateful(service)) && self.slots.as_ref().is_none_or(|s| s.contains(key))
    }
}

/// Start-first updates: asked for by `update_config.order`, never for stateful services.
fn start_first(service: &Service) -> bool {
    crate::rollout::UpdateOrder::of(service) == Some(crate::rollout::UpdateOrder::StartFirst)
}

/// A service whose two copies must never run at once: it mounts a named volume, or
/// says `x-roost: {singleton: true}`. Stateless replicas may run on both sides of a
/// partition for a moment; stateful ones are fenced.
pub fn is_stateful(service: &Service) -> bool {
    let singleton = service.x_roost.as_ref().and_then(|x| x.get("singleton")).and_then(|v| v.as_bool()).unwrap_or(false);
    singleton || service.volumes.iter().any(|m| m.kind == roost_spec::MountKind::Volume && m.source.is_some())
}

/// What the reconciler remembers about a slot between plans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMemory {
    /// Consecutive failures: exits, unhealthy replacements, failed creates and starts.
    pub failures: u32,
    /// No create or restart before this time.
    pub retry_at: Millis,
    /// The exit or unhealthy container already counted, so a plan that sees it again
    /// while backing off does not count it twice.
    pub counted: Option<String>,
    /// The last error and when it happened.
    pub last_error: Option<(Millis, String)>,
    /// Why the slot is not being started right now (dependencies).
    pub waiting: Option<String>,
    /// The container seen running, and since when.
    pub running_since: Option<(String, Millis)>,
    /// `max_attempts` reached: roost stopped restarting it.
    pub gave_up: bool,
    /// The config hash this memory is about; a new config starts with a clean slate,
    /// so an error of the old config neither delays nor fails the new one.
    pub config_hash: String,
}

/// The reconciler and its per-slot memory.
#[derive(Debug, Default, Clone)]
pub struct Reconciler {
    slots: BTreeMap<SlotKey, SlotMemory>,
    /// Networks that could not be created, by stack and Compose name, with the error.
    /// The slots attached to one wait and show this cause: Docker itself would only
    /// say "network … not found" when the container is created.
    network_errors: BTreeMap<(String, String), String>,
}

impl Reconciler {
    pub fn new() -> Self {
        Self::default()
    }

    /// The memory of one slot, if the reconciler has any.
    pub fn slot(&self, key: &SlotKey) -> Option<&SlotMemory> {
        self.slots.get(key)
    }

    /// Records that applying an action for `slot` failed: counts a failure, backs off,
    /// and keeps the message for `roost ps` and `roost up --wait`.
    ///
    /// Returns whether the message differs from the slot's last error, so the caller
    /// logs an error once rather than at every retry.
    pub fn record_error(&mut self, slot: &SlotKey, now: Millis, message: String, policy: Option<&Service>) -> bool {
        let mem = self.slots.entry(slot.clone()).or_default();
        count_failure(mem, now, policy.map(|s| &s.restart));
        replace_error(mem, now, message)
    }

    /// Records that the slot cannot be created for a cause outside its container (its
    /// name is taken by a container this agent may not touch). Not a failure: no
    /// backoff, no `max_attempts`; tried again after [`BLOCKED_RETRY`], so the slot
    /// converges by itself once the user resolves it. Returns whether the message is
    /// new, as [`Reconciler::record_error`] does.
    pub fn record_blocked(&mut self, slot: &SlotKey, now: Millis, message: String) -> bool {
        let mem = self.slots.entry(slot.clone()).or_default();
        mem.retry_at = now + BLOCKED_RETRY;
        replace_error(mem, now, message)
    }

    /// Records that the stack's network `network` (Compose name) could not be created:
    /// the slots attached to it wait and show `message` until it exists. Returns
    /// whether the message is new (for logging it once).
    pub fn record_network_error(&mut self, stack: &str, network: &str, message: String) -> bool {
        let key = (stack.to_owned(), network.to_owned());
        let new = self.network_errors.get(&key) != Some(&message);
        self.network_errors.insert(key, message);
        new
    }

    /// Plans the actions that move `observed` toward `desired`, for a lone node.
    pub fn plan(&mut self, desired: &Desired, observed: &Observed, now: Millis) -> Vec<Action> {
        self.plan_scoped(desired, &Scope::default(), observed, now)
    }

    /// Plans for the slots `scope` puts on this node.
    pub fn plan_scoped(&mut self, desired: &Desired, scope: &Scope, observed: &Observed, now: Millis) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut kept: BTreeSet<&str> = BTreeSet::new();

        let mut by_slot: BTreeMap<SlotKey, Vec<&ObservedContainer>> = BTreeMap::new();
        for c in &observed.containers {
            by_slot.entry(SlotKey::new(&c.stack, &c.service, c.slot)).or_default().push(c);
        }

        // A network error is stale once the network exists or is no longer wanted here.
        self.network_errors.retain(|(stack, network), _| {
            desired.get(stack).is_some_and(|s| {
                let name = s.docker_network_name(network);
                network_needed_here(s, network, scope) && !network_exists(observed, &name)
            })
        });
        for stack in desired.values() {
            plan_resources(stack, scope, observed, &mut actions);
            for (name, service) in &stack.services {
                let hash = config_hash(stack, name).expect("service exists");
                for slot in 1..=service.replicas {
                    let key = SlotKey::new(&stack.name, name, slot);
                    if !scope.runs_here(&key, service) {
                        continue;
                    }
                    let found = by_slot.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                    let best = pick_best(found, &hash);
                    for c in found.iter().filter(|c| Some(c.id.as_str()) != best.map(|b| b.id.as_str())) {
                        // Start-first: the old copy serves until the new one does.
                        let new_not_serving = best.is_some_and(|b| b.config_hash == hash && !b.serving());
                        if new_not_serving && c.config_hash != hash && c.state == ContainerState::Running {
                            kept.insert(c.id.as_str());
                            continue;
                        }
                        actions.push(remove(&key, c, RemoveReason::Duplicate));
                    }
                    if let Some(b) = best {
                        kept.insert(b.id.as_str());
                    }
                    let may_update = scope.may_update(&key, service);
                    let network_error = service.networks.keys().find_map(|n| {
                        let error = self.network_errors.get(&(stack.name.clone(), n.clone()))?;
                        Some(format!("network {} could not be created: {error}", stack.docker_network_name(n)))
                    });
                    let ctx = SlotContext {
                        stack,
                        service,
                        key: &key,
                        hash: &hash,
                        observed,
                        remote: &scope.remote,
                        now,
                        may_update,
                        network_error,
                    };
                    let mem = self.slots.entry(key.clone()).or_default();
                    if mem.config_hash != hash {
                        *mem = SlotMemory { config_hash: hash.clone(), ..SlotMemory::default() };
                    }
                    if let Some(action) = plan_slot(&ctx, best, mem) {
                        actions.push(action);
                    }
                }
            }
        }

        for c in &observed.containers {
            if kept.contains(c.id.as_str()) {
                continue;
            }
            let key = SlotKey::new(&c.stack, &c.service, c.slot);
            let service = desired.get(&c.stack).and_then(|s| s.services.get(&c.service));
            let fenced = scope.fenced && service.is_some_and(is_stateful);
            if fenced {
                actions.push(remove(&key, c, RemoveReason::Fenced));
            } else if !is_desired_slot(desired, c) || service.is_some_and(|s| !scope.runs_here(&key, s)) {
                actions.push(remove(&key, c, RemoveReason::NotDesired));
            }
        }
        for n in &observed.networks {
            // A container of the stack still here may be attached: the network goes in a
            // later pass, once the containers are gone (Docker refuses before).
            let wanted = desired.get(&n.stack).is_some_and(|s| {
                network_needed_here(s, &n.resource, scope)
                    || (network_in_use(s, &n.resource) && observed.containers.iter().any(|c| c.stack == n.stack))
            });
            if !wanted {
                actions.push(Action::RemoveNetwork { name: n.name.clone() });
            }
        }
        self.slots.retain(|k, _| {
            desired
                .get(&k.stack)
                .and_then(|s| s.services.get(&k.service))
                .is_some_and(|s| k.slot <= s.replicas && scope.runs_here(k, s))
        });
        actions.sort_by_key(Action::phase);
        actions
    }
}

struct SlotContext<'a> {
    stack: &'a Stack,
    service: &'a Service,
    key: &'a SlotKey,
    hash: &'a str,
    observed: &'a Observed,
    remote: &'a [ObservedContainer],
    now: Millis,
    /// A rolling update lets this slot move to the new config now.
    may_update: bool,
    /// Why a network of the slot is missing: it could not be created.
    network_error: Option<String>,
}

fn plan_slot(ctx: &SlotContext<'_>, current: Option<&ObservedContainer>, mem: &mut SlotMemory) -> Option<Action> {
    let now = ctx.now;
    let Some(c) = current else {
        mem.running_since = None;
        return create_when_ready(ctx, mem);
    };
    if c.config_hash != ctx.hash {
        if !ctx.may_update {
            // Waiting for its turn in a rolling update: the old version keeps serving.
            return None;
        }
        if start_first(ctx.service) {
            // Start the new copy beside the old one; the old goes once the new serves.
            mem.running_since = None;
            return create_when_ready(ctx, mem);
        }
        mem.running_since = None;
        return Some(remove(ctx.key, c, RemoveReason::Outdated));
    }
    match c.state {
        ContainerState::Running if c.health == Health::Unhealthy => {
            mem.running_since = None;
            if mem.counted.as_deref() != Some(&c.id) {
                count_failure(mem, now, Some(&ctx.service.restart));
                mem.last_error = Some((now, "container became unhealthy; replacing it".into()));
            }
            mem.counted = None;
            Some(remove(ctx.key, c, RemoveReason::Unhealthy))
        }
        ContainerState::Running => {
            let since = match &mem.running_since {
                Some((id, t)) if *id == c.id => *t,
                _ => {
                    mem.running_since = Some((c.id.clone(), now));
                    now
                }
            };
            // A copy whose healthcheck has not passed yet has not proven the last
            // failure fixed: the error stays shown until it serves.
            if c.health != Health::Starting {
                mem.last_error = None;
            }
            mem.waiting = None;
            mem.counted = None;
            if now.saturating_sub(since) >= RESET_AFTER && c.health != Health::Starting {
                mem.failures = 0;
                mem.gave_up = false;
            }
            None
        }
        ContainerState::Exited { code } => {
            mem.running_since = None;
            let failed = code != Some(0);
            let restart = match ctx.service.restart.condition {
                RestartCondition::None => false,
                RestartCondition::OnFailure => failed,
                RestartCondition::Any => true,
            };
            if !restart {
                return None;
            }
            if mem.counted.as_deref() != Some(&c.id) {
                count_failure(mem, now, Some(&ctx.service.restart));
                mem.counted = Some(c.id.clone());
                if failed {
                    let code = code.map_or("unknown".into(), |c| c.to_string());
                    mem.last_error = Some((now, format!("exited with code {code}")));
                }
            }
            if mem.gave_up || now < mem.retry_at {
                return None;
            }
            mem.counted = None;
            Some(Action::Start { slot: ctx.key.clone(), container_id: c.id.clone() })
        }
        ContainerState::Created => {
            if mem.gave_up || now < mem.retry_at || !dependencies_ready(ctx, mem) {
                return None;
            }
            Some(Action::Start { slot: ctx.key.clone(), container_id: c.id.clone() })
        }
        ContainerState::Dead => Some(remove(ctx.key, c, RemoveReason::Dead)),
        ContainerState::Paused | ContainerState::Restarting => None,
    }
}

fn create_when_ready(ctx: &SlotContext<'_>, mem: &mut SlotMemory) -> Option<Action> {
    if let Some(error) = &ctx.network_error {
        // Not the container's failure: nothing counted, created once the network is.
        replace_error(mem, ctx.now, error.clone());
        return None;
    }
    if mem.gave_up || ctx.now < mem.retry_at || !dependencies_ready(ctx, mem) {
        return None;
    }
    Some(Action::Create { slot: ctx.key.clone(), config_hash: ctx.hash.to_owned() })
}

/// Whether every `depends_on` condition holds; sets `mem.waiting` to the first that does not.
fn dependencies_ready(ctx: &SlotContext<'_>, mem: &mut SlotMemory) -> bool {
    mem.waiting = None;
    for (dep, rule) in &ctx.service.depends_on {
        let Some(dep_service) = ctx.stack.services.get(dep) else {
            if rule.required {
                mem.waiting = Some(format!("waiting for {dep}: not in the stack"));
                return false;
            }
            continue;
        };
        let dep_hash = config_hash(ctx.stack, dep).expect("service exists");
        let replicas: Vec<_> = (1..=dep_service.replicas)
            .map(|slot| {
                ctx.observed.containers.iter().chain(ctx.remote).find(|c| {
                    c.stack == ctx.stack.name && c.service == *dep && c.slot == slot && c.config_hash == dep_hash
                })
            })
            .collect();
        let holds = |c: &Option<&ObservedContainer>| match (rule.condition, c) {
            (_, None) => false,
            (DependencyCondition::ServiceStarted, Some(c)) => c.state == ContainerState::Running,
            (DependencyCondition::ServiceHealthy, Some(c)) => c.serving(),
            (DependencyCondition::ServiceCompletedSuccessfully, Some(c)) => {
                c.state == (ContainerState::Exited { code: Some(0) })
            }
        };
        if !replicas.iter().all(holds) {
            let what = match rule.condition {
                DependencyCondition::ServiceStarted => "to start",
                DependencyCondition::ServiceHealthy => "to be healthy",
                DependencyCondition::ServiceCompletedSuccessfully => "to complete successfully",
            };
            mem.waiting = Some(format!("waiting for {dep} {what}"));
            return false;
        }
    }
    true
}

/// Sets the slot's last error; returns whether the message differs from the one before.
fn replace_error(mem: &mut SlotMemory, now: Millis, message: String) -> bool {
    let new = mem.last_error.as_ref().is_none_or(|(_, m)| *m != message);
    mem.last_error = Some((now, message));
    new
}

/// Counts one failure and sets when the next attempt may happen: the first retry is
/// immediate (or after the policy's delay), then the delay doubles up to [`MAX_BACKOFF`].
fn count_failure(mem: &mut SlotMemory, now: Millis, policy: Option<&roost_spec::RestartPolicy>) {
    mem.failures = mem.failures.saturating_add(1);
    let base = policy.and_then(|p| p.delay).map_or(0, |d| d.as_millis() as Millis);
    let delay = if mem.failures == 1 {
        base
    } else {
        let exp = (mem.failures - 2).min(16);
        (base.max(BACKOFF_UNIT) << exp).min(MAX_BACKOFF.max(base))
    };
    mem.retry_at = now + delay;
    if let Some(max) = policy.and_then(|p| p.max_attempts) {
        if mem.failures > max {
            mem.gave_up = true;
        }
    }
}

/// Among the containers of one slot, the one to keep: up to date beats outdated,
/// running beats stopped, older beats newer (so a restarted agent keeps what it had).
fn pick_best<'a>(found: &[&'a ObservedContainer], hash: &str) -> Option<&'a ObservedContainer> {
    found.iter().copied().min_by_key(|c| {
        let state_rank = match c.state {
            ContainerState::Running => 0,
            ContainerState::Restarting | ContainerState::Paused => 1,
            ContainerState::Created | ContainerState::Exited { .. } => 2,
            ContainerState::Dead => 3,
        };
        (c.config_hash != hash, state_rank, c.created, c.id.clone())
    })
}

fn remove(key: &SlotKey, c: &ObservedContainer, reason: RemoveReason) -> Action {
    Action::Remove { slot: key.clone(), container_id: c.id.clone(), reason }
}

fn is_desired_slot(desired: &Desired, c: &ObservedContainer) -> bool {
    desired
        .get(&c.stack)
        .and_then(|s| s.services.get(&c.service))
        .is_some_and(|s| c.slot >= 1 && c.slot <= s.replicas)
}

fn network_in_use(stack: &Stack, network: &str) -> bool {
    stack.networks.get(network).is_some_and(|n| !n.external)
        && stack.services.values().any(|s| s.networks.contains_key(network))
}

/// Whether a replica attached to `network` is assigned to this node. Fencing does not
/// count: a fenced node gets its lease back soon, and its networks should still be there.
fn network_needed_here(stack: &Stack, network: &str, scope: &Scope) -> bool {
    network_in_use(stack, network)
        && stack.services.iter().any(|(name, service)| {
            service.networks.contains_key(network)
                && (1..=service.replicas)
                    .any(|slot| scope.slots.as_ref().is_none_or(|s| s.contains(&SlotKey::new(&stack.name, name, slot))))
        })
}

/// Whether a network of this Docker name exists: this agent's, or one it reuses
/// (another agent's, a former data dir's, or one made by hand).
fn network_exists(observed: &Observed, name: &str) -> bool {
    observed.networks.iter().any(|n| n.name == name) || observed.unowned_networks.iter().any(|n| n == name)
}

/// Networks a replica here needs, and volumes, when they do not exist yet. Networks
/// only where a replica attached to them runs: a stack placed elsewhere must not use
/// up this node's address pools.
fn plan_resources(stack: &Stack, scope: &Scope, observed: &Observed, actions: &mut Vec<Action>) {
    for network in stack.networks.keys().filter(|n| network_needed_here(stack, n, scope)) {
        if !network_exists(observed, &stack.docker_network_name(network)) {
            actions.push(Action::EnsureNetwork { stack: stack.name.clone(), network: network.clone() });
        }
    }
    for (volume, spec) in &stack.volumes {
        let name = stack.docker_volume_name(volume);
        let exists = observed.volumes.iter().any(|v| v.name == name) || observed.unowned_volumes.contains(&name);
        if !spec.external && !exists {
            actions.push(Action::EnsureVolume { stack: stack.name.clone(), volume: volume.clone() });
        }
    }
}
