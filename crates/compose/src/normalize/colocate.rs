//! Services kept on one node: `x-roost: {together: [svc, ...]}` and `network_mode:
//! service:X`. The loader checks that the names exist (an error at the name's line) and
//! that `service:` references form no cycle; whether a group's members can share a node
//! (their constraints, reservations and devices) depends on the nodes, so placement
//! says so in `roost ps`.

use super::Ctx;
use crate::yaml::{Node, Value};
use roost_spec::Stack;
use std::collections::BTreeSet;

/// Where a service name is checked against the project's services.
fn known(ctx: &mut Ctx<'_>, me: &str, other: &str, n: &Node, path: &str, what: &str) -> bool {
    if other == me {
        ctx.err(n.pos, path, format!("{what} names `{me}` itself"));
        false
    } else if ctx.inactive.contains(other) {
        ctx.err(n.pos, path, format!("{what} names service `{other}`, which is not enabled by the active profiles"));
        false
    } else if !ctx.active.contains(other) {
        ctx.err(n.pos, path, format!("{what} names undefined service `{other}`"));
        false
    } else {
        true
    }
}

/// Checks a service's `x-roost.together` and `network_mode: service:X`.
pub(crate) fn service(ctx: &mut Ctx<'_>, name: &str, x_roost: Option<&Node>, network_mode: Option<&Node>) {
    let base = format!("services.{name}");
    if let Some(t) = x_roost.and_then(|x| x.get("together")) {
        let path = format!("{base}.x-roost.together");
        match &t.v {
            Value::Seq(items) => {
                for (i, it) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match it.scalar().filter(|_| !matches!(it.v, Value::Map(_) | Value::Seq(_) | Value::Null)) {
                        Some(other) => drop(known(ctx, name, &other, it, &p, "x-roost together")),
                        None => ctx.err(it.pos, &p, format!("expected a service name, found {}", it.kind_name())),
                    }
                }
            }
            _ => ctx.err(t.pos, &path, format!("expected a list of service names (`together: [db, cache]`), found {}", t.kind_name())),
        }
    }
    if let Some(n) = network_mode {
        if let Some(other) = n.scalar().as_deref().and_then(|m| m.strip_prefix("service:")) {
            let other = other.trim();
            known(ctx, name, other, n, &format!("{base}.network_mode"), &format!("network_mode: service:{other}"));
        }
    }
}

/// `network_mode: service:` references that lead back to where they started: an error
/// at each service of the cycle.
pub(crate) fn cycles(ctx: &mut Ctx<'_>, root: &Node, st: &Stack) {
    let next = |s: &str| st.services.get(s).and_then(|svc| svc.network_mode.as_deref()).and_then(|m| m.strip_prefix("service:")).map(str::trim);
    for name in st.services.keys() {
        let mut seen = BTreeSet::new();
        let mut at = name.as_str();
        let mut chain = vec![name.as_str()];
        while let Some(n) = next(at) {
            if n == name {
                if chain.len() == 1 {
                    break; // `service:` naming itself, reported by `service`
                }
                let pos = root.get("services").and_then(|s| s.get(name)).and_then(|s| s.get("network_mode")).map(|n| n.pos).unwrap_or_default();
                chain.push(name);
                ctx.err(pos, &format!("services.{name}.network_mode"), format!("network_mode: service: references form a cycle: {}", chain.join(" -> ")));
                break;
            }
            if !seen.insert(n) {
                break;
            }
            chain.push(n);
            at = n;
        }
    }
}
