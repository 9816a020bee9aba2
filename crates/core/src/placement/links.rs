//! Links between services and whether they cross nodes, for `roost ps`: `depends_on`
//! pairs whose replicas run on different nodes (traffic then crosses the network), and
//! the pairs placement keeps together (`network_mode: service:X`, `x-roost together`),
//! which should never be split; a move under way may split them for a moment.

use super::groups::{network_anchor, partner_slot, together_groups};
use crate::status::ReplicaStatus;
use roost_spec::Stack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// `from` has `depends_on: [to]`.
    DependsOn,
    /// `from` has `network_mode: service:to`.
    NetworkMode,
    /// `from` and `to` are in one `x-roost together` group.
    Together,
}

/// One link between two services of a stack, with where their replicas run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub stack: String,
    pub from: String,
    pub to: String,
    pub kind: LinkKind,
    /// Nodes running a desired replica of `from`, sorted.
    pub from_nodes: Vec<String>,
    pub to_nodes: Vec<String>,
    /// `depends_on`: a node runs `from` without a replica of `to`. Kept-together kinds:
    /// a slot runs on another node than its partner slot.
    pub cross_node: bool,
}

impl std::fmt::Display for Link {
    /// `app (h1) -> db (h3)`, with what is wrong for a split pair.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (from, to) = (self.from_nodes.join(", "), self.to_nodes.join(", "));
        match self.kind {
            LinkKind::DependsOn => write!(f, "{} ({from}) -> {} ({to})", self.from, self.to),
            LinkKind::NetworkMode if self.cross_node => {
                write!(f, "{} ({from}) -> {} ({to}): split, but network_mode: service:{} needs one node", self.from, self.to, self.to)
            }
            LinkKind::NetworkMode => write!(f, "{} ({from}) shares {}'s network", self.from, self.to),
            LinkKind::Together if self.cross_node => {
                write!(f, "{} ({from}) <-> {} ({to}): split, but x-roost together needs one node", self.from, self.to)
            }
            LinkKind::Together => write!(f, "{} ({from}) <-> {} ({to}): together", self.from, self.to),
        }
    }
}

/// Every `depends_on`, `network_mode: service:X` and `together` pair of `stacks` (each
/// together pair once, in name order), with the nodes of the desired rows of `rows`
/// (rows without a node, `-`, are not running anywhere and do not count).
pub fn links(stacks: &BTreeMap<String, Stack>, rows: &[ReplicaStatus]) -> Vec<Link> {
    let mut at: BTreeMap<(&str, &str, u32), &str> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.desired && !r.node.is_empty() && r.node != "-") {
        at.entry((r.stack.as_str(), r.service.as_str(), r.slot)).or_insert(r.node.as_str());
    }
    let mut out = Vec::new();
    for (name, stack) in stacks {
        let nodes_of = |svc: &str| -> BTreeSet<&str> { at.range((name.as_str(), svc, 0)..=(name.as_str(), svc, u32::MAX)).map(|(_, n)| *n).collect() };
        // Some slot of `a` and its partner slot of `b` run on different nodes.
        let split = |a: &str, b: &str| {
            let (ra, rb) = (stack.services[a].replicas, stack.services[b].replicas);
            rb > 0
                && (1..=ra).any(|i| match (at.get(&(name.as_str(), a, i)), at.get(&(name.as_str(), b, partner_slot(i, rb)))) {
                    (Some(x), Some(y)) => x != y,
                    _ => false,
                })
        };
        let link = |from: &str, to: &str, kind: LinkKind, cross_node: bool| Link {
            stack: name.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
            from_nodes: nodes_of(from).into_iter().map(str::to_owned).collect(),
            to_nodes: nodes_of(to).into_iter().map(str::to_owned).collect(),
            cross_node,
        };
        for (svc_name, svc) in &stack.services {
            for dep in svc.depends_on.keys().filter(|d| stack.services.contains_key(*d)) {
                let to = nodes_of(dep);
                let cross = nodes_of(svc_name).iter().any(|n| !to.contains(n));
                out.push(link(svc_name, dep, LinkKind::DependsOn, cross));
            }
            if let Some(x) = network_anchor(svc).filter(|x| stack.services.contains_key(*x) && *x != svc_name) {
                out.push(link(svc_name, x, LinkKind::NetworkMode, split(svc_name, x)));
            }
        }
        for (a, group) in together_groups(stack) {
            for &b in group.iter().filter(|b| **b > a) {
                out.push(link(a, b, LinkKind::Together, split(a, b) || split(b, a)));
            }
        }
    }
    out
}
