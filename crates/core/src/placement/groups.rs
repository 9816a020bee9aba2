//! Co-location: which slots must share a node. Two relations bind services of one stack:
//!
//! - `x-roost: {together: [b, c]}` on `a`: a symmetric group; groups are the transitive
//!   closure (a with b and b with c puts a, b and c on one node);
//! - `network_mode: service:X` on `d`: `d` joins X's network namespace, so it *follows*
//!   X: X is placed on its own merits and `d` goes where X went, or nowhere.
//!
//! Slots pair up by number: slot `i` of a service is kept with slot `i` of a partner that
//! has that many slots, else with the partner's slot 1 ([`partner_slot`]). Slots bound
//! by `together` form a *unit*, placed on one node as a whole; a unit holding a
//! `service:X` slot follows the unit of X's partner slot.

use roost_spec::{Service, Stack};
use std::collections::BTreeMap;

/// The service whose network namespace `svc` joins (`network_mode: service:X`).
pub fn network_anchor(svc: &Service) -> Option<&str> {
    svc.network_mode.as_deref().and_then(|m| m.strip_prefix("service:")).map(str::trim).filter(|s| !s.is_empty())
}

/// The services `svc` names in `x-roost: {together: [...]}`. Whether they exist is for
/// the caller to check (the loader rejects unknown names; placement ignores them).
pub fn together(svc: &Service) -> Vec<&str> {
    match svc.x_roost.as_ref().and_then(|x| x.get("together")) {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(serde_json::Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The slot of a partner with `replicas` slots that slot `slot` is kept with: the same
/// number if the partner has that many, else its slot 1.
pub fn partner_slot(slot: u32, replicas: u32) -> u32 {
    if slot <= replicas {
        slot
    } else {
        1
    }
}

/// The `together` groups of a stack: each service's group, as the sorted list of its
/// members (a service in no group is alone in its own).
pub fn together_groups(stack: &Stack) -> BTreeMap<&str, Vec<&str>> {
    let names: Vec<&str> = stack.services.keys().map(String::as_str).collect();
    let index = |n: &str| names.iter().position(|x| *x == n);
    let mut uf = UnionFind::new(names.len());
    for (i, svc) in stack.services.values().enumerate() {
        for other in together(svc) {
            if let Some(j) = index(other) {
                uf.union(i, j);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let members = names.iter().enumerate().filter(|(j, _)| uf.find(*j) == uf.find(i)).map(|(_, m)| *m).collect();
        out.insert(*n, members);
    }
    out
}

/// Union-find over `0..n`, smallest index as the root so results do not depend on the
/// order of unions.
pub(super) struct UnionFind(Vec<usize>);

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind((0..n).collect())
    }
    pub fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    pub fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        self.0[hi] = lo;
    }
}

/// Why a slot's `service:X` cannot be followed at all.
#[derive(Debug, Clone)]
pub(super) enum Missing {
    /// X is not a service of the stack (the loader rejects this).
    NoService(String),
    /// X has no replicas.
    NoReplicas(String),
    /// The `service:` references form a cycle.
    Cycle(String),
}

/// A set of slots placed on one node as a whole.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    /// Indices into the slot list, ascending.
    pub slots: Vec<usize>,
    /// Units this one follows (`network_mode: service:X`), ascending, without itself.
    pub anchors: Vec<usize>,
    /// For each follower slot of the unit: its index, the service it follows and the
    /// unit of its partner slot there (none when that cannot be followed).
    pub follows: Vec<(usize, String, Option<usize>)>,
    /// A follower slot whose anchor cannot be followed.
    pub missing: Option<(usize, Missing)>,
}

/// The units of the slots, in order of their first slot, and the order to decide them
/// in: anchors before their followers (units in a `service:` cycle are left out and
/// marked [`Missing::Cycle`]).
pub(super) fn units(stacks: &BTreeMap<String, Stack>, slots: &[(crate::reconcile::SlotKey, usize)]) -> (Vec<Unit>, Vec<usize>) {
    let pos: BTreeMap<(&str, &str, u32), usize> =
        slots.iter().enumerate().map(|(i, (k, _))| ((k.stack.as_str(), k.service.as_str(), k.slot), i)).collect();
    let mut uf = UnionFind::new(slots.len());
    for (stack_name, stack) in stacks {
        let groups = together_groups(stack);
        for (name, svc) in &stack.services {
            for other in groups[name.as_str()].iter().filter(|o| **o != name.as_str()) {
                let replicas = stack.services[*other].replicas;
                if replicas == 0 {
                    continue;
                }
                for i in 1..=svc.replicas {
                    let a = pos[&(stack_name.as_str(), name.as_str(), i)];
                    let b = pos[&(stack_name.as_str(), *other, partner_slot(i, replicas))];
                    uf.union(a, b);
                }
            }
        }
    }
    let mut unit_of = vec![usize::MAX; slots.len()];
    let mut units: Vec<Unit> = Vec::new();
    for s in 0..slots.len() {
        let root = uf.find(s);
        if unit_of[root] == usize::MAX {
            unit_of[root] = units.len();
            units.push(Unit { slots: Vec::new(), anchors: Vec::new(), follows: Vec::new(), missing: None });
        }
        unit_of[s] = unit_of[root];
        units[unit_of[s]].slots.push(s);
    }
    for (s, (key, _)) in slots.iter().enumerate() {
        let svc = &stacks[&key.stack].services[&key.service];
        let Some(x) = network_anchor(svc) else { continue };
        let u = unit_of[s];
        let mut anchor = None;
        let missing = match stacks[&key.stack].services.get(x) {
            None => Some(Missing::NoService(x.to_owned())),
            Some(_) if x == key.service => Some(Missing::Cycle(x.to_owned())),
            Some(xs) if xs.replicas == 0 => Some(Missing::NoReplicas(x.to_owned())),
            Some(xs) => {
                let a = unit_of[pos[&(key.stack.as_str(), x, partner_slot(key.slot, xs.replicas))]];
                anchor = Some(a);
                if a != u && !units[u].anchors.contains(&a) {
                    units[u].anchors.push(a);
                    units[u].anchors.sort_unstable();
                }
                None
            }
        };
        units[u].follows.push((s, x.to_owned(), anchor));
        if let (Some(m), None) = (missing, &units[u].missing) {
            units[u].missing = Some((s, m));
        }
    }
    // Anchors first (Kahn's algorithm, lowest unit first among the ready ones).
    let mut waiting: Vec<usize> = units.iter().map(|u| u.anchors.len()).collect();
    let mut done = vec![false; units.len()];
    let mut order = Vec::new();
    loop {
        let Some(next) = (0..units.len()).find(|&u| !done[u] && waiting[u] == 0) else { break };
        done[next] = true;
        order.push(next);
        for (u, unit) in units.iter().enumerate() {
            if unit.anchors.contains(&next) {
                waiting[u] -= 1;
            }
        }
    }
    for u in 0..units.len() {
        if !done[u] && units[u].missing.is_none() {
            let (s, x) = units[u].follows.first().map_or((units[u].slots[0], String::new()), |f| (f.0, f.1.clone()));
            units[u].missing = Some((s, Missing::Cycle(x)));
        }
    }
    (units, order)
}
