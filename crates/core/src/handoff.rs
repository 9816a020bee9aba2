//! The leader's scheduling decision: [`place`] plus the stateful hand-off, so a
//! stateful replica never runs on two nodes at once. Pure: times are milliseconds the
//! caller passes in (any monotonic epoch, the same for every value), nothing here reads
//! a clock.
//!
//! # The rules
//!
//! 1. **Liveness** ([`liveness`]). The leader itself is up; another node is up while
//!    it answered a probe less than `down_after` ago. A node's lease may still be
//!    valid until `reassign_after` after the last renewal this leader received
//!    ([`Lease::Renewed`]); a node not heard renewing since this leader took over may
//!    hold a lease of the old term until `new_leader_wait` after the election
//!    ([`Lease::OldTerm`]).
//!    **1a.** The leader decides only while it hears a majority of voters
//!    ([`majority_heard`]), and judges a node down only from a whole view: a node
//!    counts as heard no earlier than when that majority was last regained
//!    ([`Heard::judged_from`]), so a leader back from a cut does not take its peers'
//!    old answers for their death.
//! 2. **Stateless slots** go where [`place`] says.
//! 3. **A stateful slot already on its target** stays: a stale copy elsewhere stops by
//!    itself (the slot is not its node's), and unassigning would only stop the good
//!    copy.
//! 4. **A stateful slot moving to a new node** waits for any other node that may still
//!    run a copy ([`HoldReason`]):
//!    - a node that is up and reports a live copy (not exited, not dead) is stopping
//!      it: the slot is unassigned until the report shows the copy gone;
//!    - a node that is down and ran it (or was assigned it) while its lease may be
//!      valid: the slot stays assigned to it (nothing else may start it), or stays
//!      unassigned if it was not assigned there, until the lease certainly expired;
//!    - a node that is down and not heard renewing since this leader took over, while
//!      an old-term lease may be live, whatever its last report said: the previous
//!      leader may have unassigned the slot from it while its copy was stopping, and
//!      this leader has no report of that (found by the hand-off simulation in
//!      `tests/handoff.rs`). Stateful moves wait at most `new_leader_wait` after an
//!      election for it.
//!
//! [`schedule`] also returns typed [`ScheduleEvent`]s, the changes against the previous
//! placement and the previous holds, for logs, alerts and the dashboard.

use crate::observed::{ContainerState, ObservedContainer};
use crate::placement::{place, NodeId, NodeView, Placement};
use crate::reconcile::{is_stateful, Millis, SlotKey};
use roost_spec::Stack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The timing rules of leases and failure detection, in milliseconds (the agent's
/// constants, derived and checked in its `probe` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffTiming {
    /// A node unheard for this long is down.
    pub down_after: Millis,
    /// A silent node's lease has certainly expired this long after its last renewal
    /// reached the leader.
    pub reassign_after: Millis,
    /// Every lease of the previous leader's term has expired this long after the
    /// election.
    pub new_leader_wait: Millis,
}

/// When the leader last heard from a node (its clock, in milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    /// The node's last probe answer.
    pub probe: Option<Millis>,
    /// The node's last lease renewal that reached the leader.
    pub renewal: Option<Millis>,
}

impl Heard {
    /// Rule 1a: a node counts as heard no earlier than `view_since`, when the leader's
    /// own view became whole ([`majority_heard`] without a break). A leader that was
    /// cut off heard nobody; right after the heal, its peers' last answers are as old
    /// as the cut, and without this it would move every replica to itself. Only the
    /// probe is adjusted: a lease renewal is never assumed.
    #[must_use]
    pub fn judged_from(self, view_since: Millis) -> Heard {
        Heard { probe: Some(self.probe.map_or(view_since, |p| p.max(view_since))), renewal: self.renewal }
    }
}

/// Rule 1a: whether the node `me` hears a majority of `voters` (itself included): a
/// probe answer less than `down_after` old. Without it, the node is the one cut off,
/// and it decides nothing (nobody would learn its decision before a new leader, and
/// a stale decision must not be applied later).
pub fn majority_heard(
    voters: &BTreeSet<NodeId>,
    me: NodeId,
    probes: &BTreeMap<NodeId, Millis>,
    now: Millis,
    down_after: Millis,
) -> bool {
    let heard = voters
        .iter()
        .filter(|id| **id == me || probes.get(id).is_some_and(|at| now.saturating_sub(*at) < down_after))
        .count();
    heard * 2 > voters.len()
}

/// Whether a node may still hold a lease, from the leader's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lease {
    /// Renewed with this leader: valid at most until `until`.
    Renewed { until: Millis },
    /// Not renewed with this leader: a lease of the previous term may last until
    /// `until`.
    OldTerm { until: Millis },
    /// Certainly expired: the node runs no stateful replica any more.
    Expired,
}

impl Lease {
    pub fn may_be_valid(self) -> bool {
        !matches!(self, Lease::Expired)
    }
}

/// A node's state as the leader sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    pub up: bool,
    pub lease: Lease,
}

/// Rule 1: whether a node is up and whether its lease may still be valid at `now`.
/// `is_leader` is the node making the decision (always up). `leading_since` is when
/// it became leader of the current term; renewals before it are ignored, since they
/// were received in an older term and say nothing about this term's grants.
pub fn liveness(is_leader: bool, heard: Heard, now: Millis, leading_since: Millis, timing: &HandoffTiming) -> Liveness {
    let up = is_leader || heard.probe.is_some_and(|at| now.saturating_sub(at) < timing.down_after);
    let lease = match heard.renewal.filter(|at| *at >= leading_since) {
        Some(renewed) => {
            let until = renewed.saturating_add(timing.reassign_after);
            if now < until {
                Lease::Renewed { until }
            } else {
                Lease::Expired
            }
        }
        None => {
            let until = leading_since.saturating_add(timing.new_leader_wait);
            if now < until {
                Lease::OldTerm { until }
            } else {
                Lease::Expired
            }
        }
    };
    Liveness { up, lease }
}

/// Why a stateful slot does not go to its new node yet. `Display` gives the text
/// `roost ps` shows (stored in the replicated placement as such).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldReason {
    /// `node` is up and still reports a live copy: it stops it since the slot is no
    /// longer its own.
    WaitingForCopyToStop { node: String },
    /// `node` is down, renewed its lease with this leader, and may run the slot until
    /// `until`.
    LeaseNotExpired { node: String, until: Millis },
    /// `node` is down and not heard since this leader took over: a lease of the old
    /// term may last until `until`.
    NewLeaderWait { node: String, until: Millis },
}

const MOVING_FROM: &str = "moving from ";
const STOPPING: &str = ": waiting for it to stop its copy";
const UNREACHABLE: &str = " is unreachable: waiting for its lease to expire";

impl HoldReason {
    /// The node that may still run the slot.
    pub fn node(&self) -> &str {
        match self {
            HoldReason::WaitingForCopyToStop { node }
            | HoldReason::LeaseNotExpired { node, .. }
            | HoldReason::NewLeaderWait { node, .. } => node,
        }
    }

    /// Whether `text` is the [`Display`](fmt::Display) text of some hold reason (what
    /// the replicated placement stores).
    pub fn is_hold_text(text: &str) -> bool {
        text.strip_prefix(MOVING_FROM).is_some_and(|rest| rest.ends_with(STOPPING)) || text.ends_with(UNREACHABLE)
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::WaitingForCopyToStop { node } => write!(f, "{MOVING_FROM}{node}{STOPPING}"),
            // The two lease waits read the same to a user: which leader granted the
            // lease is not theirs to care about.
            HoldReason::LeaseNotExpired { node, .. } | HoldReason::NewLeaderWait { node, .. } => {
                write!(f, "{node}{UNREACHABLE}")
            }
        }
    }
}

/// A stateful slot held back from its new node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub reason: HoldReason,
    /// The node that may still run it.
    pub holder: NodeId,
    /// The slot stays assigned to `holder` (a silent node keeps its slot until its
    /// lease expired); otherwise it is unassigned meanwhile.
    pub kept: bool,
}

/// What `roost ps` makes of an unassigned slot's reason. The replicated placement
/// stores reasons as text (so every node shows them without knowing their types);
/// this recovers the kind from the texts [`HoldReason`] and [`place`] produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnplacedKind {
    /// A stateful hand-off under way ([`HoldReason`]): a normal wait.
    Held,
    /// Kept with a partner that is not placed yet (`waits for X (x-roost together)`,
    /// `waits for X (network_mode: service:X)`): a normal wait.
    WaitsForPartner,
    /// No node suits the slot: it stays pending until the user changes something.
    NoSuitableNode,
}

impl UnplacedKind {
    /// The kind of a stored unplaceable reason.
    pub fn of_stored(text: &str) -> Self {
        if HoldReason::is_hold_text(text) {
            UnplacedKind::Held
        } else if text.starts_with("waits for ") {
            UnplacedKind::WaitsForPartner
        } else {
            UnplacedKind::NoSuitableNode
        }
    }

    /// Whether the slot will not be placed without a change (shown as failed).
    pub fn is_error(self) -> bool {
        self == UnplacedKind::NoSuitableNode
    }
}

/// Why a slot left the node it was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    NodeDown,
    NodeDraining,
    /// The node is no longer a member of the cluster.
    NodeRemoved,
    /// Up and not draining, but its constraints, devices or room no longer suit.
    NoLongerSuits,
}

impl fmt::Display for MoveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MoveReason::NodeDown => "is down",
            MoveReason::NodeDraining => "is draining",
            MoveReason::NodeRemoved => "left the cluster",
            MoveReason::NoLongerSuits => "no longer suits the service",
        })
    }
}

/// A change the scheduler made, for logs (and later alerts and the dashboard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ScheduleEvent {
    /// A slot without a node got one.
    SlotAssigned { slot: SlotKey, node: String },
    SlotMoved { slot: SlotKey, from: String, to: String, reason: MoveReason },
    /// A stateful slot started waiting for another node (or waits for another reason).
    SlotHeld { slot: SlotKey, reason: HoldReason, kept: bool },
    /// A slot fits nowhere (newly, or for a new reason); `from` is the node it left.
    SlotUnplaceable { slot: SlotKey, from: Option<String>, reason: String },
}

impl fmt::Display for ScheduleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleEvent::SlotAssigned { slot, node } => write!(f, "{slot}: assigned to {node}"),
            ScheduleEvent::SlotMoved { slot, from, to, reason } => {
                write!(f, "{slot}: moved from {from} to {to} ({from} {reason})")
            }
            ScheduleEvent::SlotHeld { slot, reason, kept: true } => {
                write!(f, "{slot}: stays assigned to {}: {reason}", reason.node())
            }
            ScheduleEvent::SlotHeld { slot, reason, kept: false } => write!(f, "{slot}: held: {reason}"),
            ScheduleEvent::SlotUnplaceable { slot, from: Some(from), reason } => {
                write!(f, "{slot}: left {from} and fits nowhere: {reason}")
            }
            ScheduleEvent::SlotUnplaceable { slot, from: None, reason } => write!(f, "{slot}: unplaceable: {reason}"),
        }
    }
}

/// One member of the cluster as the leader sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// What placement needs; `up` comes from [`liveness`].
    pub view: NodeView,
    /// From [`liveness`].
    pub lease: Lease,
    /// The containers of the node's latest report (empty without one).
    pub containers: Vec<ObservedContainer>,
}

/// Everything [`schedule`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleInput<'a> {
    pub stacks: &'a BTreeMap<String, Stack>,
    pub members: &'a [Member],
    /// The placement in force (the replicated one).
    pub current: &'a Placement,
    /// The holds of the previous decision (leader memory; empty for a new leader), so
    /// events name only new holds.
    pub previous_holds: &'a BTreeMap<SlotKey, Hold>,
}

/// The result of [`schedule`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    /// What to replicate. A held slot that is unassigned has its [`HoldReason`] text in
    /// `unplaceable`.
    pub placement: Placement,
    /// Stateful slots held back from their new node.
    pub holds: BTreeMap<SlotKey, Hold>,
    /// What changed against `current` and `previous_holds`, in slot order.
    pub events: Vec<ScheduleEvent>,
}

/// The new placement: [`place`], then the stateful hand-off (rules 2-4 of the module).
pub fn schedule(input: &ScheduleInput<'_>) -> Schedule {
    let mut members: Vec<&Member> = input.members.iter().collect();
    members.sort_by_key(|m| m.view.id);
    let views: Vec<NodeView> = members.iter().map(|m| m.view.clone()).collect();
    let current = &input.current.assignments;
    let proposed = place(input.stacks, &views, current);

    let mut placement =
        Placement { assignments: BTreeMap::new(), unplaceable: proposed.unplaceable, volume_bound: proposed.volume_bound };
    let mut holds = BTreeMap::new();
    for (slot, target) in proposed.assignments {
        let stateful = input.stacks.get(&slot.stack).and_then(|s| s.services.get(&slot.service)).is_some_and(is_stateful);
        if !stateful || current.get(&slot) == Some(&target) {
            placement.assignments.insert(slot, target);
            continue;
        }
        let Some(hold) = holder(&slot, target, &members, current) else {
            placement.assignments.insert(slot, target);
            continue;
        };
        if hold.kept {
            placement.assignments.insert(slot.clone(), hold.holder);
        } else {
            placement.unplaceable.insert(slot.clone(), hold.reason.to_string());
        }
        holds.insert(slot, hold);
    }
    let events = events(input, &members, &placement, &holds);
    Schedule { placement, holds, events }
}

/// Another node that may still run a copy of stateful `slot` (rule 4), the first by id.
fn holder(slot: &SlotKey, target: NodeId, members: &[&Member], current: &BTreeMap<SlotKey, NodeId>) -> Option<Hold> {
    for m in members.iter().filter(|m| m.view.id != target) {
        let node = &m.view;
        let runs = m.containers.iter().any(|c| {
            c.stack == slot.stack
                && c.service == slot.service
                && c.slot == slot.slot
                && !matches!(c.state, ContainerState::Exited { .. } | ContainerState::Dead)
        });
        let was_assigned = current.get(slot) == Some(&node.id);
        if node.up && runs {
            let reason = HoldReason::WaitingForCopyToStop { node: node.name.clone() };
            return Some(Hold { reason, holder: node.id, kept: false });
        }
        // A witness runs no replicas at all.
        if node.up || node.witness {
            continue;
        }
        let reason = match m.lease {
            Lease::Renewed { until } if runs || was_assigned => HoldReason::LeaseNotExpired { node: node.name.clone(), until },
            // This leader has no trustworthy record of what a node silent since the
            // election runs: the previous leader may have unassigned the slot from it
            // while its copy was still stopping. Any of its old-term leases may be live.
            Lease::OldTerm { until } => HoldReason::NewLeaderWait { node: node.name.clone(), until },
            Lease::Renewed { .. } | Lease::Expired => continue,
        };
        return Some(Hold { reason, holder: node.id, kept: was_assigned });
    }
    None
}

/// The changes from `input.current` (and its holds) to `next`.
fn events(input: &ScheduleInput<'_>, members: &[&Member], next: &Placement, holds: &BTreeMap<SlotKey, Hold>) -> Vec<ScheduleEvent> {
    let before = input.current;
    let name = |id: NodeId| {
        members.iter().find(|m| m.view.id == id).map_or_else(|| format!("{id:016x}"), |m| m.view.name.clone())
    };
    let why_left = |id: NodeId| match members.iter().find(|m| m.view.id == id) {
        None => MoveReason::NodeRemoved,
        Some(m) if !m.view.up => MoveReason::NodeDown,
        Some(m) if m.view.draining => MoveReason::NodeDraining,
        Some(_) => MoveReason::NoLongerSuits,
    };
    let slots: BTreeSet<&SlotKey> =
        before.assignments.keys().chain(next.assignments.keys()).chain(next.unplaceable.keys()).collect();
    let mut out = Vec::new();
    for slot in slots {
        let hold = holds.get(slot);
        if let Some(h) = hold.filter(|h| input.previous_holds.get(slot) != Some(*h)) {
            out.push(ScheduleEvent::SlotHeld { slot: slot.clone(), reason: h.reason.clone(), kept: h.kept });
        }
        match (before.assignments.get(slot), next.assignments.get(slot)) {
            (Some(from), Some(to)) if from != to => out.push(ScheduleEvent::SlotMoved {
                slot: slot.clone(),
                from: name(*from),
                to: name(*to),
                reason: why_left(*from),
            }),
            (None, Some(to)) => out.push(ScheduleEvent::SlotAssigned { slot: slot.clone(), node: name(*to) }),
            (from, None) if hold.is_none() => {
                let Some(reason) = next.unplaceable.get(slot) else { continue };
                if from.is_some() || before.unplaceable.get(slot) != Some(reason) {
                    out.push(ScheduleEvent::SlotUnplaceable { slot: slot.clone(), from: from.map(|id| name(*id)), reason: reason.clone() });
                }
            }
            _ => {}
        }
    }
    out
}
