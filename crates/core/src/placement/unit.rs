//! Placing a [`Unit`] (slots kept on one node) and saying why one cannot be placed.

use super::filter::{parse_constraint, service_stages, unavailable};
use super::groups::{Missing, Unit};
use super::{bytes, cpus, Load, Need, NodeId, NodeView, State, CPU_EPSILON};
use crate::reconcile::{is_stateful, SlotKey};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// Where a unit stands while placing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decided {
    Pending,
    At(usize),
    Unplaced,
}

/// Where the units a unit follows went.
pub(super) enum AnchorAt {
    /// It follows nobody.
    Root,
    /// All on this node.
    Node(usize),
    /// Some are not decided yet.
    NotYet,
    /// One is unplaced; the follower slot of this unit that follows it.
    Unplaced(usize),
    /// On different nodes.
    Split,
}

/// Per slot, why a unit cannot be placed at all.
pub(super) type Reasons = Vec<(usize, String)>;

pub(super) struct Groups<'a, 'n> {
    pub slots: &'a [(SlotKey, usize)],
    pub needs: &'a [Need<'n>],
    pub nodes: &'a [NodeView],
    pub units: &'a [Unit],
    pub current: &'a BTreeMap<SlotKey, NodeId>,
    /// Per unit: the nodes eligible for every member, or each slot's reason.
    pub eligible: Vec<Result<Vec<usize>, Reasons>>,
}

impl Groups<'_, '_> {
    fn si(&self, s: usize) -> usize {
        self.slots[s].1
    }

    fn service(&self, s: usize) -> &str {
        &self.slots[s].0.service
    }

    /// The distinct services of a unit, in slot order, as need indices.
    fn services(&self, u: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for &s in &self.units[u].slots {
            if !out.contains(&self.si(s)) {
                out.push(self.si(s));
            }
        }
        out
    }

    /// "b and c": the other services of `s`'s unit.
    fn others(&self, u: usize, s: usize) -> String {
        let names: Vec<&str> = self.services(u).into_iter().filter(|&si| si != self.si(s)).map(|si| self.needs[si].service).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The nodes eligible for every member of the unit, or why there are none.
    pub fn static_eligible(&self, u: usize) -> Result<Vec<usize>, Reasons> {
        let sis = self.services(u);
        let slots = &self.units[u].slots;
        if let Some(bad) = sis.iter().copied().find(|&si| self.needs[si].eligible.is_err()) {
            return Err(slots
                .iter()
                .map(|&s| match &self.needs[self.si(s)].eligible {
                    Err(why) => (s, why.clone()),
                    Ok(_) => (s, format!("waits for {} (x-roost together)", self.needs[bad].service)),
                })
                .collect());
        }
        let lists: Vec<&Vec<usize>> = sis.iter().filter_map(|&si| self.needs[si].eligible.as_ref().ok()).collect();
        let both: Vec<usize> = lists[0].iter().copied().filter(|i| lists.iter().all(|l| l.contains(i))).collect();
        if !both.is_empty() {
            return Ok(both);
        }
        let each: Vec<String> = sis
            .iter()
            .zip(&lists)
            .map(|(&si, l)| format!("{}: {}", self.needs[si].service, l.iter().map(|&i| self.nodes[i].name.as_str()).collect::<Vec<_>>().join(", ")))
            .collect();
        let each = each.join("; ");
        Err(slots.iter().map(|&s| (s, format!("with {} (x-roost together): no node suits all of them ({each})", self.others(u, s)))).collect())
    }

    pub fn missing_reason(&self, m: &Missing) -> String {
        match m {
            Missing::NoService(x) => format!("network_mode: service:{x} names no service of this stack"),
            Missing::NoReplicas(x) => format!("waits for {x} (network_mode: service:{x}), which has no replicas"),
            Missing::Cycle(x) => format!("network_mode: service:{x}: the service: references form a cycle"),
        }
    }

    /// Marks every slot of `u` unplaced: those of `s`'s service with `why`, the others
    /// as waiting for it.
    pub fn unplace(&self, st: &mut State, u: usize, s: usize, why: &str) {
        for &t in &self.units[u].slots {
            let reason = if self.si(t) == self.si(s) { why.to_owned() } else { format!("waits for {} (x-roost together)", self.service(s)) };
            st.out.unplaceable.insert(self.slots[t].0.clone(), reason);
        }
    }

    pub fn anchor_node(&self, u: usize, decided: &[Decided]) -> AnchorAt {
        let unit = &self.units[u];
        let mut at = None;
        for &a in &unit.anchors {
            match decided[a] {
                Decided::Pending => return AnchorAt::NotYet,
                Decided::Unplaced => {
                    let s = unit.follows.iter().find(|f| f.2 == Some(a)).map_or(unit.slots[0], |f| f.0);
                    return AnchorAt::Unplaced(s);
                }
                Decided::At(n) if at.is_some_and(|m| m != n) => return AnchorAt::Split,
                Decided::At(n) => at = Some(n),
            }
        }
        at.map_or(AnchorAt::Root, AnchorAt::Node)
    }

    /// Summed reservations of the slots of some units.
    fn demand(&self, units: &[usize]) -> (f64, u64) {
        let mut sum = (0.0, 0u64);
        for &u in units {
            for &s in &self.units[u].slots {
                let n = &self.needs[self.si(s)];
                sum.0 += n.cpus;
                sum.1 = sum.1.saturating_add(n.memory);
            }
        }
        sum
    }

    fn fits_demand(&self, (cpus, memory): (f64, u64), i: usize, load: &Load) -> bool {
        let node = &self.nodes[i];
        (memory == 0 || load.memory.saturating_add(memory) <= node.memory_bytes) && (cpus <= 0.0 || load.cpus + cpus <= node.cpus + CPU_EPSILON)
    }

    pub fn fits(&self, u: usize, i: usize, load: &[Load]) -> bool {
        self.fits_demand(self.demand(&[u]), i, &load[i])
    }

    pub fn assign(&self, st: &mut State, u: usize, i: usize) {
        for &s in &self.units[u].slots {
            st.assign(&self.needs[self.si(s)], self.nodes, self.slots[s].0.clone(), self.si(s), i);
        }
    }

    /// The pending units that follow `u`, directly or through others.
    pub fn followers(&self, u: usize, order: &[usize], decided: &[Decided]) -> Vec<usize> {
        let mut set = vec![u];
        for &v in order {
            if v != u && decided[v] == Decided::Pending && self.eligible[v].is_ok() && self.units[v].anchors.iter().any(|a| set.contains(a)) {
                set.push(v);
            }
        }
        set
    }

    /// The choice key for root unit `u` on node `i` (lowest wins): its stateful slots
    /// already there, its slots already there, room for its followers too, then the
    /// single-slot rules of the module documentation, judged by the unit's first slot.
    #[allow(clippy::type_complexity)]
    pub fn rank(&self, u: usize, i: usize, with_followers: &[usize], st: &State) -> (Reverse<usize>, Reverse<usize>, bool, bool, Reverse<u64>, Vec<u32>, u32, u32, Reverse<u64>, String, NodeId) {
        let node = &self.nodes[i];
        let slots = &self.units[u].slots;
        let here: Vec<usize> = slots.iter().copied().filter(|&s| self.current.get(&self.slots[s].0) == Some(&node.id)).collect();
        let stateful = here.iter().filter(|&&s| is_stateful(self.needs[self.si(s)].svc)).count();
        let whole = with_followers.iter().all(|&v| self.eligible[v].as_ref().is_ok_and(|e| e.contains(&i)))
            && self.fits_demand(self.demand(with_followers), i, &st.load[i]);
        let volume = slots.iter().any(|&s| self.needs[self.si(s)].holds_volume(node).is_some());
        let fresh = slots.iter().map(|&s| self.needs[self.si(s)].freshness(node)).max().unwrap_or(0);
        let rep = self.si(slots[0]);
        let groups: Vec<u32> = self.needs[rep]
            .spread
            .iter()
            .map(|k| {
                let value = node.labels.get(*k);
                (0..self.nodes.len()).filter(|&j| self.nodes[j].labels.get(*k) == value).map(|j| st.per_service[rep][j]).sum()
            })
            .collect();
        let per_service = self.services(u).into_iter().map(|si| st.per_service[si][i]).sum();
        let free = node.memory_bytes.saturating_sub(st.load[i].memory);
        (Reverse(stateful), Reverse(here.len()), !whole, !volume, Reverse(fresh), groups, per_service, st.load[i].slots, Reverse(free), node.name.clone(), node.id)
    }

    /// Why a follower unit cannot go to node `n`, where its anchor went.
    pub fn not_there_reason(&self, u: usize, s: usize, n: usize) -> String {
        let node = &self.nodes[n];
        let rejecting = self.services(u).into_iter().find(|&si| self.needs[si].eligible.as_ref().is_ok_and(|e| !e.contains(&n)));
        let why = rejecting.map_or_else(|| "not eligible".to_owned(), |si| node_rejection(&self.needs[si], node, self.nodes));
        let who = match rejecting {
            Some(si) if si != self.si(s) => format!(" for {}", self.needs[si].service),
            _ => String::new(),
        };
        format!("{}, so it must run on {}, which is {why}{who}", self.must_follow(u, s), node.name)
    }

    /// "shares db's network (network_mode: service:db)", or for a together peer of a
    /// follower "is kept with vpn (x-roost together), which shares db's network".
    fn must_follow(&self, u: usize, s: usize) -> String {
        let follows = &self.units[u].follows;
        match follows.iter().find(|f| self.si(f.0) == self.si(s)).or(follows.first()) {
            Some((f, x, _)) if self.si(*f) == self.si(s) => format!("shares {x}'s network (network_mode: service:{x})"),
            Some((f, x, _)) => format!("is kept with {} (x-roost together), which shares {x}'s network", self.service(*f)),
            None => "follows another service".to_owned(),
        }
    }

    /// Why unit `u` found no room, judged against the final load: on any eligible node,
    /// or on `at`, where its anchor went.
    pub fn room_reason(&self, u: usize, s: usize, at: Option<usize>, load: &[Load]) -> String {
        let (cpu, mem) = self.demand(&[u]);
        let group = self.services(u).len() > 1;
        let need = if group { "together they need" } else { "needs" };
        match at {
            Some(n) => {
                let text = room_reason(mem, cpu, &[n], self.nodes, load, need, &self.nodes[n].name);
                format!("{}, so it must run on {}: {text}", self.must_follow(u, s), self.nodes[n].name)
            }
            None => {
                let eligible = self.eligible[u].as_deref().unwrap_or_default();
                if group {
                    let text = room_reason(mem, cpu, eligible, self.nodes, load, need, "a node eligible for all of them");
                    format!("with {} (x-roost together): {text}", self.others(u, s))
                } else {
                    room_reason(mem, cpu, eligible, self.nodes, load, need, "an eligible node")
                }
            }
        }
    }
}

/// Why `node` fails the static filters of `need` ("down", "excluded by …").
fn node_rejection(need: &Need, node: &NodeView, nodes: &[NodeView]) -> String {
    if let Some(why) = unavailable(node) {
        return why.to_owned();
    }
    let constraints: Vec<_> = need.svc.placement.constraints.iter().filter_map(|c| parse_constraint(c).ok()).collect();
    if let Some(stage) = service_stages(need.svc, &constraints).into_iter().find(|st| !(st.check)(node)) {
        return stage.node_is;
    }
    if need.pin {
        for v in &need.volumes {
            if nodes.iter().any(|n| n.volumes.contains(v)) && !node.volumes.contains(v) {
                return format!("without volume {v}");
            }
        }
    }
    "not eligible".to_owned()
}

/// Why no node of `eligible` has room, judged against the final load; `need` is the
/// verb ("needs"), `on` names where the most free was looked for.
pub(super) fn room_reason(memory: u64, cpu: f64, eligible: &[usize], nodes: &[NodeView], load: &[Load], need: &str, on: &str) -> String {
    let most_mem = eligible.iter().map(|&i| nodes[i].memory_bytes.saturating_sub(load[i].memory)).max().unwrap_or(0);
    let most_cpu = eligible.iter().map(|&i| (nodes[i].cpus - load[i].cpus).max(0.0)).fold(0.0, f64::max);
    if memory > most_mem {
        format!("{need} {} of memory, the most free on {on} is {}", bytes(memory), bytes(most_mem))
    } else if cpu > most_cpu + CPU_EPSILON {
        format!("{need} {} CPUs, the most free on {on} is {}", cpus(cpu), cpus(most_cpu))
    } else {
        let none = match on.strip_prefix("an ").or_else(|| on.strip_prefix("a ")) {
            Some(kind) => format!("no {kind} has both free"),
            None => format!("{on} has not both free"),
        };
        format!("{need} {} of memory and {} CPUs; {none}", bytes(memory), cpus(cpu))
    }
}
