//! Placement: which node runs each replica slot. Pure: stacks, node views and the
//! current assignment in, a new assignment out; no IO, no clocks. The leader runs it
//! and replicates the result; it must therefore be deterministic (same input, same
//! output, independent of the order of `nodes`) and stable, because every move stops a
//! container somewhere and starts one elsewhere.
//!
//! # The contract
//!
//! 1. **Eligibility.** A node may run a service's slot when it is not a witness, is up
//!    (the caller decides: reachable with a valid lease) and is not draining, and
//!    - every `deploy.placement.constraints` entry holds: `node.hostname` (the node
//!      name), `node.id`, `node.role` (`manager` for Raft voters, `worker` otherwise) or
//!      `node.labels.KEY`, with `==` or `!=`, spaces allowed around the parts, values
//!      compared case-insensitively. A missing label never equals and always differs,
//!      as in Swarm. A constraint roost cannot parse makes every slot of the service
//!      unplaceable with a reason naming it (the loader should have rejected it; the
//!      agent must not guess);
//!    - every `devices[].host` path is among the node's `devices` or `gpus`;
//!    - every device request fits: one with capability `gpu` needs `count` GPUs (`-1`,
//!      or no count and no ids: at least one) and each of its `device_ids`, matched by
//!      full name or by trailing number (`"0"` is `/dev/nvidia0`). Requests for other
//!      capabilities only need the node to have some device, since nodes do not report
//!      capabilities; Docker makes the real check when it creates the container.
//! 2. **Stability.** A slot stays on its `current` node while that node is eligible and
//!    its reservations fit there. Nothing moves because a better node appears or a node
//!    comes back: moving a healthy replica costs a restart and buys nothing.
//! 3. **Reservations.** On every node, the summed `resources.reservations.memory` and
//!    `.cpus` of its slots stay within the node's `memory_bytes` and `cpus`. Kept slots
//!    are placed first, in slot order, so a slot only loses its node when the node
//!    really cannot hold it (a bigger reservation, a smaller node); then new and moved
//!    slots, in slot order.
//! 4. **Choice** for a new or moved slot, among eligible nodes with room, in this order:
//!    a node holding one of the service's local volumes (rule 5); for each
//!    `placement.preferences` entry (`node.labels.zone` or `spread=node.labels.zone`;
//!    others are ignored) the label value with the fewest replicas of the service, nodes
//!    without the label forming one group of their own (as in Swarm; several preferences
//!    compare in order rather than as Swarm's tree); the fewest replicas of the service
//!    on the node (spread one per node); the fewest slots on the node overall; the most
//!    free memory; the lowest node name, then id.
//! 5. **Local volumes.** A named, non-external volume lives on the node(s) whose
//!    `volumes` hold its Docker name ([`Stack::docker_volume_name`]). A service mounting
//!    it prefers such a node, and each slot that lands there is listed in
//!    [`Placement::volume_bound`] ("volume demo_data is on h1"). With `x-roost:
//!    pin_to_volume: true` the slot may only run on a node holding each of its volumes
//!    that exists somewhere (none yet: anywhere, and the first node creates them), and is
//!    unplaceable while those nodes are not eligible. Among nodes holding the volume, the
//!    one whose replicated copy is freshest (`snapshots`) comes first, so a failover
//!    loses the least. Without the pin, a slot whose volume is on no eligible node
//!    moves and starts with an empty volume: failover beats data locality, and the pin
//!    is the opt-out.
//! 6. **Unplaceable** slots get a reason for `roost ps`. Filters run in the order
//!    availability, constraints (as listed), devices, device requests, pinned volumes,
//!    reservations, and the reason comes from the filter that eliminated the last
//!    candidates, so it is the most specific one ("no node matches
//!    node.labels.zone==eu"). Reservation reasons are computed against the final
//!    assignment, which keeps them stable from one run to the next.
//!
//! 7. **Kept together** (see `groups`). `x-roost: {together: [b, c]}` on `a` keeps a, b
//!    and c on one node (groups are the transitive closure, within a stack);
//!    `network_mode: service:X` on `d` makes `d` follow X. Slots pair by number: slot
//!    `i` goes with slot `i` of a partner that has that many, else with its slot 1
//!    ([`partner_slot`]); so a one-replica member gathers every slot of its group on
//!    its node. The slots so bound form a unit, placed as a whole on a node eligible
//!    for every member (rule 1) with room for their summed reservations; otherwise
//!    every slot is unplaceable ("with db (x-roost together): no node suits all of
//!    them (…)", or a member's own reason and "waits for M (x-roost together)" for the
//!    rest). A follower goes where the partner slot of X went, if eligible there and
//!    with room, else it is unplaceable saying so; X never moves or waits for it, but
//!    among X's candidates a node where its followers fit too comes first. If X is
//!    unplaced: "waits for X (network_mode: service:X)". A unit is kept (rule 2) when
//!    all its slots are on one eligible node with room (and a follower's, where X is);
//!    a unit that must move prefers, before rule 4, the node holding most of its
//!    stateful slots, then most of its slots, then room for its followers; rule 4 is
//!    then judged by the unit's first slot. `network_mode: container:NAME` is left to
//!    the engine of whichever node runs the slot.
//!
//! Each slot `1..=replicas` of each service ends up in exactly one of
//! [`Placement::assignments`] and [`Placement::unplaceable`]. Running `place` again with
//! `current` set to its own `assignments` returns the same [`Placement`].

mod filter;
mod groups;
pub mod links;
mod unit;

pub use filter::{parse_constraint, Constraint, Field};
pub use groups::{network_anchor, partner_slot, together, together_groups};

use crate::reconcile::SlotKey;
use filter::{bytes, cpus, nobody_available, service_stages, unavailable};
use unit::{AnchorAt, Decided, Groups};
use roost_spec::{MountKind, Service, Stack};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The Raft node id.
pub type NodeId = u64;

/// What placement needs to know about one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub id: NodeId,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// "manager" for Raft voters, "worker" for non-voters (Swarm's node.role vocabulary).
    pub role: String,
    /// A witness votes but never gets replicas.
    pub witness: bool,
    /// Reachable and holding a valid lease (decided by the caller).
    pub up: bool,
    /// `roost drain`: gets no replicas; its current ones move.
    pub draining: bool,
    pub cpus: f64,
    pub memory_bytes: u64,
    /// GPU device paths, e.g. `/dev/nvidia0`.
    pub gpus: Vec<String>,
    /// Other device paths, e.g. `/dev/dri/renderD128`.
    pub devices: Vec<String>,
    /// Docker names of named volumes present on this node (`<stack>_<volume>`).
    pub volumes: BTreeSet<String>,
    /// For replicated volumes this node holds a standby copy of: when the snapshot it
    /// holds was taken (Unix ms), by Docker name. Among nodes holding a volume, the
    /// freshest copy wins (rule 5).
    #[serde(default)]
    pub snapshots: BTreeMap<String, u64>,
}

/// The result of [`place`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Placement {
    pub assignments: BTreeMap<SlotKey, NodeId>,
    /// Slots that fit nowhere, with a reason a user understands.
    pub unplaceable: BTreeMap<SlotKey, String>,
    /// Slots kept on the node holding their local volume (shown in `roost ps`).
    pub volume_bound: BTreeMap<SlotKey, String>,
}

/// What one service asks of a node.
struct Need<'a> {
    service: &'a str,
    svc: &'a Service,
    /// `x-roost: {pin_to_volume: true}`.
    pin: bool,
    spread: Vec<&'a str>,
    cpus: f64,
    memory: u64,
    /// Docker names of the local named volumes it mounts, in mount order.
    volumes: Vec<String>,
    /// Indices of the nodes passing the static filters, or why none does.
    eligible: Result<Vec<usize>, String>,
}

/// Reservations and slot count placed on one node so far.
#[derive(Debug, Clone, Default)]
struct Load {
    cpus: f64,
    memory: u64,
    slots: u32,
}

/// The assignment being built.
struct State {
    out: Placement,
    load: Vec<Load>,
    /// Replicas per service (index into the needs) per node.
    per_service: Vec<Vec<u32>>,
}

impl State {
    fn assign(&mut self, n: &Need, nodes: &[NodeView], key: SlotKey, si: usize, i: usize) {
        self.load[i].cpus += n.cpus;
        self.load[i].memory = self.load[i].memory.saturating_add(n.memory);
        self.load[i].slots += 1;
        self.per_service[si][i] += 1;
        self.out.assignments.insert(key, nodes[i].id);
    }
}

/// Float sums differ in the last bits depending on order; stability must not.
const CPU_EPSILON: f64 = 1e-6;

impl Need<'_> {
    fn holds_volume<'n>(&self, node: &'n NodeView) -> Option<&'n String> {
        self.volumes.iter().find_map(|v| node.volumes.get(v))
    }

    /// How fresh the node's copy of this service's volumes is: the newest snapshot it
    /// holds of any of them (0 for none, or for a volume that is not replicated).
    fn freshness(&self, node: &NodeView) -> u64 {
        self.volumes.iter().filter_map(|v| node.snapshots.get(v)).copied().max().unwrap_or(0)
    }
}

/// Assigns every replica slot (`1..=replicas`) of every service of every stack. See the
/// module documentation for the rules.
pub fn place(stacks: &BTreeMap<String, Stack>, nodes: &[NodeView], current: &BTreeMap<SlotKey, NodeId>) -> Placement {
    // Work on nodes sorted by name and id so the caller's order cannot matter.
    let mut sorted: Vec<NodeView> = nodes.to_vec();
    sorted.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let nodes = &sorted[..];

    let mut needs = Vec::new();
    let mut slots = Vec::new();
    for (stack_name, stack) in stacks {
        for (service, svc) in &stack.services {
            let si = needs.len();
            needs.push(need(stack, service, svc, nodes));
            slots.extend((1..=svc.replicas).map(|slot| (SlotKey::new(stack_name, service, slot), si)));
        }
    }

    let mut st = State {
        out: Placement::default(),
        load: vec![Load::default(); nodes.len()],
        per_service: vec![vec![0; nodes.len()]; needs.len()],
    };
    let (units, order) = groups::units(stacks, &slots);
    let mut decided: Vec<Decided> = vec![Decided::Pending; units.len()];
    let mut g = Groups { slots: &slots, needs: &needs, nodes, units: &units, current, eligible: Vec::new() };
    g.eligible = (0..units.len()).map(|u| g.static_eligible(u)).collect();

    // Units that cannot be placed whatever else happens, and what each slot says.
    for u in 0..units.len() {
        if let Err(reasons) = &g.eligible[u] {
            for (s, why) in reasons {
                st.out.unplaceable.insert(slots[*s].0.clone(), why.clone());
            }
            decided[u] = Decided::Unplaced;
        } else if let Some((s, m)) = &units[u].missing {
            let why = g.missing_reason(m);
            g.unplace(&mut st, u, *s, &why);
            decided[u] = Decided::Unplaced;
        }
    }

    // Kept units first: every slot on one current node that is still eligible, where
    // the unit fits (and its anchors went).
    for &u in &order {
        if decided[u] != Decided::Pending {
            continue;
        }
        let Ok(eligible) = &g.eligible[u] else { continue };
        let anchor = match g.anchor_node(u, &decided) {
            AnchorAt::Root => None,
            AnchorAt::Node(n) => Some(n),
            AnchorAt::NotYet | AnchorAt::Unplaced(_) | AnchorAt::Split => continue,
        };
        let ids: BTreeSet<Option<&NodeId>> = units[u].slots.iter().map(|&s| current.get(&slots[s].0)).collect();
        let here = match ids.into_iter().collect::<Vec<_>>()[..] {
            [Some(id)] => eligible.iter().copied().find(|&i| nodes[i].id == *id),
            _ => None,
        };
        if let Some(i) = here.filter(|&i| anchor.is_none_or(|n| n == i) && g.fits(u, i, &st.load)) {
            g.assign(&mut st, u, i);
            decided[u] = Decided::At(i);
        }
    }

    // Then new and moved units, anchors before followers; those without room get their
    // reason at the end.
    let mut no_room = Vec::new();
    for &u in &order {
        if decided[u] != Decided::Pending {
            continue;
        }
        let Ok(eligible) = &g.eligible[u] else { continue };
        match g.anchor_node(u, &decided) {
            AnchorAt::Unplaced(s) => {
                let x = units[u].follows.iter().find(|f| f.0 == s).map_or("", |f| f.1.as_str()).to_owned();
                let why = format!("waits for {x} (network_mode: service:{x})");
                g.unplace(&mut st, u, s, &why);
                decided[u] = Decided::Unplaced;
            }
            AnchorAt::Split | AnchorAt::NotYet => {
                let s = units[u].follows.first().map_or(units[u].slots[0], |f| f.0);
                let why = "the services whose network it shares (network_mode: service:) run on different nodes".to_owned();
                g.unplace(&mut st, u, s, &why);
                decided[u] = Decided::Unplaced;
            }
            AnchorAt::Node(n) => {
                if !eligible.contains(&n) {
                    for &s in &units[u].slots {
                        st.out.unplaceable.insert(slots[s].0.clone(), g.not_there_reason(u, s, n));
                    }
                    decided[u] = Decided::Unplaced;
                } else if g.fits(u, n, &st.load) {
                    g.assign(&mut st, u, n);
                    decided[u] = Decided::At(n);
                } else {
                    no_room.push((u, Some(n)));
                    decided[u] = Decided::Unplaced;
                }
            }
            AnchorAt::Root => {
                let followers = g.followers(u, &order, &decided);
                let best = eligible.iter().copied().filter(|&i| g.fits(u, i, &st.load)).min_by_key(|&i| g.rank(u, i, &followers, &st));
                match best {
                    Some(i) => {
                        g.assign(&mut st, u, i);
                        decided[u] = Decided::At(i);
                    }
                    None => {
                        no_room.push((u, None));
                        decided[u] = Decided::Unplaced;
                    }
                }
            }
        }
    }
    let mut out = std::mem::take(&mut st.out);
    for (u, at) in no_room {
        for &s in &units[u].slots {
            out.unplaceable.insert(slots[s].0.clone(), g.room_reason(u, s, at, &st.load));
        }
    }

    let si_of: BTreeMap<(&str, &str), usize> = stacks
        .iter()
        .flat_map(|(st, s)| s.services.keys().map(move |sv| (st.as_str(), sv.as_str())))
        .zip(0..)
        .collect();
    for (key, id) in &out.assignments {
        let n = &needs[si_of[&(key.stack.as_str(), key.service.as_str())]];
        if let Some(node) = nodes.iter().find(|x| x.id == *id) {
            if let Some(v) = n.holds_volume(node) {
                out.volume_bound.insert(key.clone(), format!("volume {v} is on {}", node.name));
            }
        }
    }
    out
}

/// The requirements of one service and the nodes passing its static filters.
fn need<'a>(stack: &'a Stack, service: &'a str, svc: &'a Service, nodes: &[NodeView]) -> Need<'a> {
    let mut volumes: Vec<String> = Vec::new();
    for m in &svc.volumes {
        if let (MountKind::Volume, Some(v)) = (m.kind, &m.source) {
            let name = stack.docker_volume_name(v);
            if !stack.volumes.get(v).is_some_and(|v| v.external) && !volumes.contains(&name) {
                volumes.push(name);
            }
        }
    }
    let spread = svc
        .placement
        .preferences
        .iter()
        .filter_map(|p| {
            let p = p.trim();
            let p = p.strip_prefix("spread").map_or(p, |r| r.trim_start().trim_start_matches('=').trim_start());
            p.strip_prefix("node.labels.").filter(|k| !k.is_empty())
        })
        .collect();
    let pin = svc.x_roost.as_ref().and_then(|x| x.get("pin_to_volume")).and_then(serde_json::Value::as_bool) == Some(true);
    let mut n = Need {
        service,
        svc,
        pin,
        spread,
        cpus: svc.resources.reservations.cpus.unwrap_or(0.0),
        memory: svc.resources.reservations.memory.unwrap_or(0),
        volumes,
        eligible: Ok(Vec::new()),
    };
    n.eligible = eligible(svc, &n, pin, nodes);
    n
}

/// Runs the static filters in order; on elimination of the last candidate, says why.
fn eligible(svc: &Service, need: &Need, pin: bool, nodes: &[NodeView]) -> Result<Vec<usize>, String> {
    let constraints = svc.placement.constraints.iter().map(|c| parse_constraint(c)).collect::<Result<Vec<_>, _>>()?;
    // Why each eliminated node was eliminated ("down", "excluded by …").
    let mut rejected: BTreeMap<usize, String> = BTreeMap::new();
    let mut cands = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        match unavailable(node) {
            Some(why) => drop(rejected.insert(i, why.to_owned())),
            None => cands.push(i),
        }
    }
    if cands.is_empty() {
        return Err(nobody_available(nodes));
    }
    let stages = service_stages(svc, &constraints);
    for (k, stage) in stages.iter().enumerate() {
        let (keep, gone): (Vec<usize>, Vec<usize>) = cands.iter().partition(|&&i| (stage.check)(&nodes[i]));
        if keep.is_empty() {
            // A node that is only unavailable would have qualified: say so, it is
            // usually the actual problem.
            let would = nodes.iter().find(|n| unavailable(n).is_some() && stages[..=k].iter().all(|s| (s.check)(n)));
            return Err(match would {
                Some(n) => format!("{} ({} would, but is {})", stage.empty, n.name, unavailable(n).unwrap_or("")),
                None => stage.empty.clone(),
            });
        }
        rejected.extend(gone.into_iter().map(|i| (i, stage.node_is.clone())));
        cands = keep;
    }
    if pin {
        for v in &need.volumes {
            let holders: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].volumes.contains(v)).collect();
            if holders.is_empty() {
                continue;
            }
            let keep: Vec<usize> = cands.iter().copied().filter(|i| holders.contains(i)).collect();
            if keep.is_empty() {
                let state = |i: usize| rejected.get(&i).map_or("without its other pinned volumes", String::as_str);
                let on = match holders[..] {
                    [i] => format!("{}, which is {}", nodes[i].name, state(i)),
                    _ => holders.iter().map(|&i| format!("{} ({})", nodes[i].name, state(i))).collect::<Vec<_>>().join(" and "),
                };
                return Err(format!("volume {v} lives on {on}; x-roost pin_to_volume keeps {} there", need.service));
            }
            for &i in &cands {
                if !holders.contains(&i) {
                    rejected.insert(i, format!("without volume {v}"));
                }
            }
            cands = keep;
        }
    }
    Ok(cands)
}
