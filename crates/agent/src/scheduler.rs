//! The leader's scheduler: places replica slots on nodes and moves them off nodes
//! that are down or draining, without ever running a stateful replica twice.
//!
//! Every [`TICK`] (and on a wake-up) the leader builds a view of the nodes (up = it
//! answered a probe within its `--down-after`, 1.2 s by default), runs the pure
//! [`roost_core::placement::place`], then holds back any stateful slot that another node
//! may still run: a node that is up and still reports a live copy (it is stopping it),
//! or a node that is down but whose lease has not certainly expired
//! ([`REASSIGN_AFTER`] after its last renewal, or after this leader took over).
//! Changes are written through Raft in one `SetPlacement`.

use crate::sync::MutexExt as _;
use crate::probe::{NEW_LEADER_WAIT, REASSIGN_AFTER};
use crate::Agent;
use roost_cluster::state::PlacementState;
use roost_cluster::types::Command;
use roost_core::observed::ContainerState;
use roost_core::placement::{place, NodeView};
use roost_core::reconcile::{is_stateful, SlotKey};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Short, so a slot is moved soon after its holder's lease expires (the decision is
/// a pure function over a few maps: cheap).
const TICK: Duration = Duration::from_millis(100);

pub async fn run(agent: Arc<Agent>) {
    let mut leading_since: Option<(u64, Instant)> = None;
    loop {
        tokio::select! {
            _ = agent.schedule.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
        let node = agent.cluster.node();
        let metrics = node.metrics();
        if metrics.current_leader != Some(agent.cluster.id) {
            leading_since = None;
            continue;
        }
        if leading_since.is_none_or(|(term, _)| term != metrics.current_term) {
            leading_since = Some((metrics.current_term, Instant::now()));
        }
        let since = leading_since.expect("set above").1;
        let placement = decide(&agent, since);
        if placement != node.state().placement {
            if let Err(e) = agent.cluster.write(Command::SetPlacement { placement }).await {
                tracing::warn!("cannot write the new placement: {e}");
            }
        }
    }
}

fn decide(agent: &Agent, leading_since: Instant) -> PlacementState {
    let state = agent.cluster.state();
    let now = Instant::now();
    let seen = agent.seen.locked().clone();
    let leases = agent.leases.locked().clone();
    let reports = agent.reports.locked().clone();
    let own = agent.report();
    let voters: std::collections::BTreeSet<u64> =
        agent.cluster.node().metrics().membership_config.membership().voter_ids().collect();
    let up = |id: u64| id == agent.cluster.id || seen.get(&id).is_some_and(|t| now.duration_since(*t) < agent.down_after);
    // A down node may still run stateful replicas until its lease certainly expired.
    let may_hold_lease = |id: u64| match leases.get(&id).filter(|t| **t >= leading_since) {
        Some(renewed) => now.duration_since(*renewed) < REASSIGN_AFTER,
        // Not renewed with this leader yet: only a lease of the old term can be live.
        None => now.duration_since(leading_since) < NEW_LEADER_WAIT,
    };
    let report_of = |id: u64| if id == agent.cluster.id { Some(&own) } else { reports.get(&id).map(|(_, r)| r) };

    let views: Vec<NodeView> = state
        .nodes
        .values()
        .map(|n| NodeView {
            id: n.id,
            name: n.name.clone(),
            labels: n.labels.clone(),
            role: if voters.contains(&n.id) { "manager".into() } else { "worker".into() },
            witness: n.witness,
            up: up(n.id),
            draining: state.draining.contains(&n.id),
            cpus: f64::from(n.resources.cpus),
            memory_bytes: n.resources.memory_bytes,
            gpus: n.resources.gpus.clone(),
            devices: n.resources.devices.clone(),
            volumes: report_of(n.id).map(|r| r.volumes.iter().cloned().collect()).unwrap_or_default(),
        })
        .collect();
    let stacks: BTreeMap<String, roost_spec::Stack> =
        state.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
    let current = &state.placement.assignments;
    let proposed = place(&stacks, &views, current);

    let mut out = PlacementState { assignments: BTreeMap::new(), unplaceable: proposed.unplaceable, volume_bound: proposed.volume_bound };
    for (slot, target) in proposed.assignments {
        let service = stacks.get(&slot.stack).and_then(|s| s.services.get(&slot.service));
        // Stateless slots move freely; a stateful slot already on its target stays:
        // a stale copy elsewhere stops by itself (the slot is not its node's), and
        // unassigning here would only stop the good copy.
        if !service.is_some_and(is_stateful) || current.get(&slot) == Some(&target) {
            out.assignments.insert(slot, target);
            continue;
        }
        match holder(&slot, target, &state.nodes, &report_of, &up, &may_hold_lease, current) {
            None => {
                out.assignments.insert(slot, target);
            }
            // A node that is up stops its copy once the slot is no longer its own:
            // leave the slot unassigned until its report shows the copy gone.
            Some((other, reason)) if up(other) => {
                out.unplaceable.insert(slot.clone(), reason);
            }
            // A silent node keeps the slot (nothing else may start it) until its lease
            // has certainly expired.
            Some((other, reason)) => {
                if current.get(&slot) == Some(&other) {
                    out.assignments.insert(slot.clone(), other);
                } else {
                    out.unplaceable.insert(slot.clone(), reason);
                }
            }
        }
    }
    out
}

/// Another node that may still run a copy of stateful `slot`, and why.
fn holder<'a>(
    slot: &SlotKey,
    target: u64,
    nodes: &BTreeMap<u64, roost_cluster::state::NodeInfo>,
    report_of: &impl Fn(u64) -> Option<&'a crate::probe::Report>,
    up: &impl Fn(u64) -> bool,
    may_hold_lease: &impl Fn(u64) -> bool,
    current: &BTreeMap<SlotKey, u64>,
) -> Option<(u64, String)> {
    for n in nodes.values().filter(|n| n.id != target) {
        let runs = report_of(n.id).is_some_and(|r| {
            r.containers.iter().any(|c| {
                c.stack == slot.stack
                    && c.service == slot.service
                    && c.slot == slot.slot
                    && !matches!(c.state, ContainerState::Exited { .. } | ContainerState::Dead)
            })
        });
        let was_assigned = current.get(slot) == Some(&n.id);
        if up(n.id) && runs {
            return Some((n.id, format!("moving from {}: waiting for it to stop its copy", n.name)));
        }
        if !up(n.id) && (runs || was_assigned) && may_hold_lease(n.id) {
            return Some((n.id, format!("{} is unreachable: waiting for its lease to expire", n.name)));
        }
    }
    None
}
