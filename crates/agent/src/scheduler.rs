//! The leader's scheduler: places replica slots on nodes and moves them off nodes
//! that are down or draining, without ever running a stateful replica twice.
//!
//! Every [`TICK`] (and on a wake-up) the leader gathers what it knows (when each node
//! last answered a probe and renewed its lease, each node's latest report), and the
//! pure [`roost_core::handoff::schedule`] decides: [`roost_core::placement::place`],
//! then the stateful hand-off (a stateful slot waits while another node may still run
//! it; see that module for the rules). Changes are written through Raft in one
//! `SetPlacement`; the decision's events are logged.

use crate::probe::{NEW_LEADER_WAIT, REASSIGN_AFTER};
use crate::sync::MutexExt as _;
use crate::Agent;
use roost_cluster::state::PlacementState;
use roost_cluster::types::Command;
use roost_core::handoff::{liveness, majority_heard, schedule, HandoffTiming, Heard, Hold, Member, Schedule, ScheduleInput};
use roost_core::placement::{NodeView, Placement};
use roost_core::reconcile::{Millis, SlotKey};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Short, so a slot is moved soon after its holder's lease expires (the decision is
/// a pure function over a few maps: cheap).
const TICK: Duration = Duration::from_millis(100);

pub async fn run(agent: Arc<Agent>) {
    // The term this node leads and when it took over (the agent's clock).
    let mut leading: Option<(u64, Millis)> = None;
    // The last decision's holds, so only new ones are logged.
    let mut holds: BTreeMap<SlotKey, Hold> = BTreeMap::new();
    // Since when this node has heard a majority of voters without a break (rule 1a of
    // `handoff`); kept as a follower too, so a new leader starts with it.
    let mut whole_since: Option<Millis> = None;
    loop {
        tokio::select! {
            _ = agent.schedule.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
        let node = agent.cluster.node();
        let metrics = node.metrics();
        let now = agent.now_ms();
        let voters: BTreeSet<u64> = metrics.membership_config.membership().voter_ids().collect();
        let probes: BTreeMap<u64, Millis> =
            agent.seen.locked().iter().map(|(id, at)| (*id, agent_millis(&agent, *at))).collect();
        if majority_heard(&voters, agent.cluster.id, &probes, now, millis(agent.down_after)) {
            whole_since.get_or_insert(now);
        } else {
            if whole_since.take().is_some() && metrics.current_leader == Some(agent.cluster.id) {
                tracing::info!("this leader hears no majority of the cluster: it moves nothing until it does");
            }
            continue;
        }
        if metrics.current_leader != Some(agent.cluster.id) {
            leading = None;
            holds.clear();
            continue;
        }
        // Just woken from a freeze (SIGSTOP, a VM pause): every peer's last probe answer
        // is as old as the freeze, so all would look down and every replica would move
        // here. Decide again once the probes and openraft have caught up (see `stall`).
        if !agent.stall.locked().trusted(Instant::now()) {
            continue;
        }
        let leading_since = match leading {
            Some((term, since)) if term == metrics.current_term => since,
            _ => {
                let since = agent_millis(&agent, Instant::now());
                leading = Some((metrics.current_term, since));
                holds.clear();
                since
            }
        };
        let view_since = whole_since.unwrap_or(now);
        let decision = decide(&agent, leading_since, view_since, &holds);
        for event in &decision.events {
            tracing::info!("{event}");
        }
        holds = decision.holds;
        let Placement { assignments, unplaceable, volume_bound } = decision.placement;
        let placement = PlacementState { assignments, unplaceable, volume_bound };
        let state = node.state();
        if placement != state.placement {
            if let Err(e) = agent.cluster.write_as_leader(Command::SetPlacement { placement: placement.clone() }).await {
                tracing::warn!("cannot write the new placement: {e}");
            }
        }
        for service in moves_done(&state, &placement, &agent.cluster_rows()) {
            tracing::info!("{service}: moved as asked");
            if let Err(e) = agent.cluster.write_as_leader(Command::SetMove { service, node: None }).await {
                tracing::warn!("cannot record a finished move: {e}");
            }
        }
    }
}

/// The moves whose every slot is assigned to, and ready on, the node asked for.
fn moves_done(state: &roost_cluster::state::ClusterState, placement: &PlacementState, rows: &[roost_api::ReplicaStatus]) -> Vec<String> {
    state
        .moves
        .iter()
        .filter(|(service, node)| {
            let Some((stack, svc)) = service.split_once('/') else { return true };
            let Some(replicas) = state.stacks.get(stack).and_then(|s| s.spec.services.get(svc)).map(|s| s.replicas) else { return true };
            let name = state.nodes.get(node).map(|n| n.name.as_str());
            (1..=replicas).all(|slot| {
                placement.assignments.get(&SlotKey::new(stack, svc, slot)) == Some(node)
                    && rows.iter().any(|r| r.stack == stack && r.service == svc && r.slot == slot && r.ready && Some(r.node.as_str()) == name)
            })
        })
        .map(|(service, _)| service.clone())
        .collect()
}

/// `at` on the agent's clock ([`Agent::now_ms`]), rounded up: a renewal or an election
/// then counts as a little later than it was, so a lease is never judged expired early.
fn agent_millis(agent: &Agent, at: Instant) -> Millis {
    let nanos = at.saturating_duration_since(agent.started).as_nanos();
    u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Gathers the leader's view from the agent and runs the pure decision.
fn decide(agent: &Agent, leading_since: Millis, view_since: Millis, previous_holds: &BTreeMap<SlotKey, Hold>) -> Schedule {
    let state = agent.cluster.state();
    let now = agent.now_ms();
    let seen = agent.seen.locked().clone();
    let leases = agent.leases.locked().clone();
    let reports = agent.reports.locked().clone();
    let own = agent.report();
    let voters: BTreeSet<u64> = agent.cluster.node().metrics().membership_config.membership().voter_ids().collect();
    let timing = HandoffTiming {
        down_after: millis(agent.down_after),
        reassign_after: millis(REASSIGN_AFTER),
        new_leader_wait: millis(NEW_LEADER_WAIT),
    };

    let members: Vec<Member> = state
        .nodes
        .values()
        .map(|n| {
            let is_self = n.id == agent.cluster.id;
            let heard = Heard {
                probe: seen.get(&n.id).map(|t| agent_millis(agent, *t)),
                renewal: leases.get(&n.id).map(|t| agent_millis(agent, *t)),
            }
            .judged_from(view_since);
            let life = liveness(is_self, heard, now, leading_since, &timing);
            let report = if is_self { Some(&own) } else { reports.get(&n.id).map(|(_, r)| r) };
            Member {
                view: NodeView {
                    id: n.id,
                    name: n.name.clone(),
                    labels: n.labels.clone(),
                    role: if voters.contains(&n.id) { "manager".into() } else { "worker".into() },
                    witness: n.witness,
                    up: life.up,
                    draining: state.draining.contains(&n.id),
                    cpus: f64::from(n.resources.cpus),
                    memory_bytes: n.resources.memory_bytes,
                    gpus: n.resources.gpus.clone(),
                    devices: n.resources.devices.clone(),
                    volumes: report.map(|r| r.volumes.iter().cloned().collect()).unwrap_or_default(),
                    snapshots: state.volumes.held.iter().filter_map(|(v, holders)| Some((v.clone(), holders.get(&n.id)?.taken_ms))).collect(),
                },
                lease: life.lease,
                containers: report.map(|r| r.containers.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let mut stacks: BTreeMap<String, roost_spec::Stack> =
        state.stacks.iter().map(|(k, v)| (k.clone(), v.spec.clone())).collect();
    // `roost move`: the service may go only to the node asked for while the move is
    // under way; the hand-off then moves it as any other (a stateful one with its data).
    for (service, node) in &state.moves {
        let (Some((stack, svc)), Some(target)) = (service.split_once('/'), state.nodes.get(node)) else { continue };
        if let Some(svc) = stacks.get_mut(stack).and_then(|s| s.services.get_mut(svc)) {
            svc.placement.constraints.push(format!("node.hostname=={}", target.name));
        }
    }
    let current = Placement {
        assignments: state.placement.assignments.clone(),
        unplaceable: state.placement.unplaceable.clone(),
        volume_bound: state.placement.volume_bound.clone(),
    };
    schedule(&ScheduleInput { stacks: &stacks, members: &members, current: &current, previous_holds })
}
