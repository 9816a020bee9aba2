//! Conflicts: the same requests claimed by two routes of different owners.
//!
//! A route claims (host, path prefix, listener) triples, derived from its rule. Two
//! routes conflict when they claim the same triple: the same host with the same prefix
//! (or both without one) on the same listener. Different prefixes on one host are fine
//! (the longer one wins, as in Traefik), and so are the same host on `http` in one
//! route and `https` in another (the usual redirect-router pair).
//!
//! Claims over-approximate: a rule without `Host` claims every host (written `*`), and
//! `!x` claims every host and path, so two negated rules conflict. `a && b` claims only
//! what both allow: `Host(`a`) && Host(`b`)` claims nothing.

use crate::{Route, Rule};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// A route with its owner.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub stack: &'a str,
    pub service: &'a str,
    pub route: &'a Route,
}

/// One thing a route claims. `host` is lowercase; `None` means any host, and a path
/// of `None` means no prefix (`/` is the same).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub host: Option<String>,
    pub path: Option<String>,
    /// `true` for the HTTPS listener.
    pub https: bool,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{} ({})", self.host.as_deref().unwrap_or("*"), self.path.as_deref().unwrap_or(""), if self.https { "https" } else { "http" })
    }
}

/// Who claims: stack, service, route name and where it was defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub stack: String,
    pub service: String,
    pub route: String,
    pub origin: Option<String>,
}

impl Owner {
    fn of(c: &Claim<'_>) -> Owner {
        Owner { stack: c.stack.into(), service: c.service.into(), route: c.route.name.clone(), origin: c.route.origin.clone() }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} (route {}", self.stack, self.service, self.route)?;
        if let Some(o) = &self.origin {
            write!(f, ", {o}")?;
        }
        f.write_str(")")
    }
}

/// Two routes claiming the same requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// What both claim, sorted.
    pub keys: Vec<Key>,
    /// The route being added.
    pub new: Owner,
    /// The route already there (or, within one stack, the earlier one).
    pub existing: Owner,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(Key::to_string).collect();
        write!(f, "{} is also claimed by {}", keys.join(", "), self.existing)
    }
}

/// (host, path) pairs a rule may match, as described in the module docs.
fn pairs(rule: &Rule) -> BTreeSet<(Option<String>, Option<String>)> {
    match rule {
        Rule::Host(v) => v.iter().map(|h| (Some(h.to_ascii_lowercase()), None)).collect(),
        Rule::PathPrefix(v) => v.iter().map(|p| (None, Some(p.clone()).filter(|p| p != "/"))).collect(),
        Rule::Or(a, b) => pairs(a).into_iter().chain(pairs(b)).collect(),
        Rule::Not(_) => [(None, None)].into(),
        Rule::And(a, b) => {
            let (a, b) = (pairs(a), pairs(b));
            let narrower = |x: &Option<String>, y: &Option<String>, prefix: bool| match (x, y) {
                (None, v) | (v, None) => Some(v.clone()),
                (Some(x), Some(y)) if x == y => Some(Some(x.clone())),
                (Some(x), Some(y)) if prefix && y.starts_with(x.as_str()) => Some(Some(y.clone())),
                (Some(x), Some(y)) if prefix && x.starts_with(y.as_str()) => Some(Some(x.clone())),
                _ => None,
            };
            let mut out = BTreeSet::new();
            for (ha, pa) in &a {
                for (hb, pb) in &b {
                    if let (Some(h), Some(p)) = (narrower(ha, hb, false), narrower(pa, pb, true)) {
                        out.insert((h, p));
                    }
                }
            }
            out
        }
    }
}

/// Everything `route` claims.
pub fn keys(route: &Route) -> BTreeSet<Key> {
    let listeners = [(route.entrypoints.http, false), (route.entrypoints.https, true)];
    pairs(&route.rule)
        .into_iter()
        .flat_map(|(host, path)| listeners.iter().filter(|(on, _)| *on).map(move |&(_, https)| Key { host: host.clone(), path: path.clone(), https }))
        .collect()
}

/// The conflicts `new` routes would bring. Claims in `existing` of a stack that also
/// appears in `new` are skipped: the new version of a stack replaces the old. New
/// routes are also checked against each other (two routes of one Compose file
/// claiming the same requests is an error at load), each pair reported once.
pub fn conflicts(existing: &[Claim<'_>], new: &[Claim<'_>]) -> Vec<Conflict> {
    let replaced: BTreeSet<&str> = new.iter().map(|c| c.stack).collect();
    let kept: Vec<(&Claim<'_>, BTreeSet<Key>)> = existing.iter().filter(|c| !replaced.contains(c.stack)).map(|c| (c, keys(c.route))).collect();
    let added: Vec<(&Claim<'_>, BTreeSet<Key>)> = new.iter().map(|c| (c, keys(c.route))).collect();
    let mut out = Vec::new();
    for (i, (c, k)) in added.iter().enumerate() {
        for (other, ok) in kept.iter().chain(&added[..i]) {
            let keys: Vec<Key> = k.intersection(ok).cloned().collect();
            if !keys.is_empty() {
                out.push(Conflict { keys, new: Owner::of(c), existing: Owner::of(other) });
            }
        }
    }
    out
}
