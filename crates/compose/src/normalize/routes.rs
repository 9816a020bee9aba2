//! A service's ingress routes: [`roost_routes::from_service`] reads them from the
//! labels and `x-roost`; this module places its findings in the Compose file (a label's
//! line, an `x-roost` key's line, a rule's syntax error at its exact column) and
//! rejects two routes of one file claiming the same requests.

use super::Ctx;
use crate::diag::Pos;
use crate::yaml::{Node, Value};
use roost_routes::{conflicts, from_service, Claim, Seg, ServiceInput, Severity, Subject};
use roost_spec::{Service, Stack};
use std::collections::{BTreeMap, BTreeSet};

/// Keys of a service's `x-roost` mapping roost reads; others are warned about.
pub const X_ROOST_KEYS: &[&str] = &["singleton", "pin_to_volume", "routes", "together"];

/// Where one label is written.
#[derive(Clone, Copy)]
struct Spot {
    key: Pos,
    value: Pos,
    /// `- key=value` rather than `key: value`.
    list: bool,
}

/// Label key → where it is, for each `labels:` node in order of precedence (a key
/// found earlier wins, as `labels:` wins over `deploy.labels`).
fn spots(nodes: &[&Node]) -> BTreeMap<String, Spot> {
    let mut out = BTreeMap::new();
    for n in nodes {
        match &n.v {
            Value::Seq(items) => {
                for it in items {
                    if let Some(s) = it.scalar() {
                        let key = s.split_once('=').map_or(s.as_str(), |(k, _)| k).to_string();
                        out.entry(key).or_insert(Spot { key: it.pos, value: it.pos, list: true });
                    }
                }
            }
            _ => {
                for (k, v) in n.entries() {
                    out.entry(k.name.clone()).or_insert(Spot { key: k.pos, value: v.pos, list: false });
                }
            }
        }
    }
    out
}

/// The exact column of byte `offset` of a label's value when the file holds the label
/// verbatim on one line (no escapes or variables), else the value's start.
fn column_of(ctx: &Ctx<'_>, spot: Spot, key: &str, value: &str, offset: usize) -> Pos {
    let Some(line) = ctx.sources.files[spot.value.src].text.lines().nth(spot.value.line.saturating_sub(1)) else { return spot.value };
    let rest: String = line.chars().skip(spot.value.col.saturating_sub(1)).collect();
    let (quote, rest) = rest.strip_prefix(['"', '\'']).map_or((0, rest.as_str()), |r| (1, r));
    let lead = if spot.list { format!("{key}=") } else { String::new() };
    match value.get(..offset) {
        Some(before) if rest.starts_with(&format!("{lead}{value}")) => Pos { col: spot.value.col + quote + lead.chars().count() + before.chars().count(), ..spot.value },
        _ => spot.value,
    }
}

/// The node at `path` under `x-roost`, or the deepest one that exists.
fn x_roost_pos(node: &Node, path: &[Seg]) -> Pos {
    let mut n = node;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => n.get(k),
            Seg::Index(i) => n.items().get(*i),
        };
        match next {
            Some(x) => n = x,
            None => break,
        }
    }
    n.pos
}

/// Distinct TCP container ports the file names: `ports:` targets and `expose:`.
fn container_ports(s: &Service) -> Vec<u16> {
    let mut set: BTreeSet<u16> = s.ports.iter().filter(|p| p.protocol == "tcp").map(|p| p.target).collect();
    for e in &s.expose {
        let (range, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b), "tcp") = (a.trim().parse::<u16>(), b.trim().parse::<u16>(), proto) {
            set.extend(a..=b);
        }
    }
    set.into_iter().collect()
}

/// Fills `s.routes` from its labels and `x-roost`, reporting at the source.
pub(crate) fn service(ctx: &mut Ctx<'_>, name: &str, s: &mut Service, labels: &[&Node], x_roost: Option<&Node>) {
    let base = format!("services.{name}");
    if let Some(x) = x_roost {
        for (k, _) in x.entries().iter().filter(|(k, _)| !X_ROOST_KEYS.contains(&k.name.as_str())) {
            ctx.warn(k.pos, &format!("{base}.x-roost.{}", k.name), format!("unknown x-roost key `{}` (roost reads {}); ignored", k.name, X_ROOST_KEYS.join(", ")));
        }
    }
    let spots = spots(labels);
    let at = |subject: &Subject, error: bool| match subject {
        Subject::Label(k) => spots.get(k).map_or(Pos::default(), |s| if error { s.value } else { s.key }),
        Subject::XRoost(path) => x_roost.map_or(Pos::default(), |x| x_roost_pos(x, path)),
    };
    let ports = container_ports(s);
    let read = from_service(&ServiceInput { labels: &s.labels, x_roost: s.x_roost.as_ref(), ports: &ports });
    for f in &read.findings {
        let error = f.severity == Severity::Error;
        let mut pos = at(&f.subject, error);
        if let (Subject::Label(k), Some(off)) = (&f.subject, f.offset) {
            if let (Some(spot), Some(v)) = (spots.get(k), s.labels.get(k)) {
                pos = column_of(ctx, *spot, k, v, off);
            }
        }
        let path = format!("{base}.{}", f.subject);
        if error { ctx.err(pos, &path, f.message.clone()) } else { ctx.warn(pos, &path, f.message.clone()) }
    }
    s.routes = Vec::new();
    for (subject, route) in read.routes {
        let p = at(&subject, true);
        let origin = format!("{}:{}:{}", ctx.sources.files[p.src].path.display(), p.line, p.col);
        ctx.route_pos.insert((name.to_string(), route.name.clone()), (p, format!("{base}.{subject}")));
        s.routes.push(roost_routes::Route { origin: Some(origin), ..route });
    }
}

/// Two routes of one project claiming the same requests is an error at the later one.
pub(crate) fn duplicates(ctx: &mut Ctx<'_>, st: &Stack) {
    let claims: Vec<Claim<'_>> = st.services.iter().flat_map(|(svc, s)| s.routes.iter().map(move |route| Claim { stack: &st.name, service: svc, route })).collect();
    for c in conflicts(&[], &claims) {
        let (pos, path) = ctx.route_pos.get(&(c.new.service.clone(), c.new.route.clone())).cloned().unwrap_or_default();
        let msg = format!("route `{}`: {c}", c.new.route);
        ctx.err(pos, &path, msg);
    }
}
