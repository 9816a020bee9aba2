//! roost's own route form, under the service's `x-roost` key:
//!
//! ```yaml
//! x-roost:
//!   routes:
//!     - host: app.home.arpa        # or hosts: [a.example.com, b.example.com]
//!       path: /api                 # optional prefix
//!       port: 8080                 # optional: the container port
//!       tls: internal              # acme | internal | off
//! ```
//!
//! `tls` defaults to `internal` when every host is local (`.lan`, `.home.arpa`,
//! `.local`, `.internal`, `.test`, a name without a dot, ...: no public CA signs them)
//! and to `acme` when none is; a route mixing both must say, since either default would
//! fail for some of its names. A route with TLS is served on HTTPS only; `off` on HTTP
//! only. This is roost's own syntax, so anything unexpected is an error, not a warning.

use crate::parse::check_arg;
use crate::route::{is_local, DEFAULT_RESOLVER};
use crate::service::{port, FromService, Seg, ServiceInput, Severity, Subject};
use crate::{Entrypoints, Route, Rule, Tls};
use serde_json::Value;

const KEYS: &str = "host, hosts, path, port, tls";

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn at(base: &[Seg], key: &str) -> Subject {
    let mut p = base.to_vec();
    p.push(Seg::Key(key.to_string()));
    Subject::XRoost(p)
}

pub(crate) fn read(input: &ServiceInput<'_>, out: &mut FromService) {
    let Some(x) = input.x_roost else { return };
    let Some(map) = x.as_object() else {
        return out.err(Subject::XRoost(vec![]), format!("expected a mapping, found {}", kind(x)));
    };
    let Some(routes) = map.get("routes") else { return };
    let Some(items) = routes.as_array() else {
        return out.err(at(&[], "routes"), format!("expected a list of routes, found {}", kind(routes)));
    };
    for (i, item) in items.iter().enumerate() {
        let base = vec![Seg::Key("routes".into()), Seg::Index(i)];
        if let Some(route) = entry(input, i, item, &base, out) {
            out.routes.push((Subject::XRoost(base), route));
        }
    }
}

fn entry(input: &ServiceInput<'_>, i: usize, item: &Value, base: &[Seg], out: &mut FromService) -> Option<Route> {
    let Some(m) = item.as_object() else {
        out.err(Subject::XRoost(base.to_vec()), format!("expected a mapping with {KEYS}, found {}", kind(item)));
        return None;
    };
    let errors = |out: &FromService| out.findings.iter().filter(|f| f.severity == Severity::Error).count();
    let before = errors(out);
    let (mut hosts, mut path, mut given, mut tls) = (Vec::new(), None, None, None);
    for (k, v) in m {
        let here = at(base, k);
        match (k.as_str(), v) {
            ("host", Value::String(h)) => hosts.push((here, h.clone())),
            ("hosts", Value::Array(list)) if !list.is_empty() => {
                for (j, h) in list.iter().enumerate() {
                    let mut p = base.to_vec();
                    p.extend([Seg::Key("hosts".into()), Seg::Index(j)]);
                    match h.as_str() {
                        Some(h) => hosts.push((Subject::XRoost(p), h.to_string())),
                        None => out.err(Subject::XRoost(p), format!("expected a host name, found {}", kind(h))),
                    }
                }
            }
            ("host", _) => out.err(here, format!("expected a host name, found {}", kind(v))),
            ("hosts", _) => out.err(here, format!("expected a non-empty list of host names, found {}", kind(v))),
            ("path", Value::String(p)) => match check_arg(false, p) {
                Ok(()) => path = Some(p.clone()),
                Err(e) => out.err(here, e.to_string()),
            },
            ("port", _) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) {
                Some(p) => given = Some(p),
                None => out.err(here, format!("expected a port number (1-65535), found {v}")),
            },
            ("tls", _) => match v.as_str() {
                Some("acme") => tls = Some(Tls::Acme { resolver: DEFAULT_RESOLVER.into() }),
                Some("internal") => tls = Some(Tls::Internal),
                Some("off") => tls = Some(Tls::Off),
                _ => out.err(here, format!("expected acme, internal or off, found {v}")),
            },
            ("path", _) => out.err(here, format!("expected a path prefix, found {}", kind(v))),
            (other, _) => out.err(here, format!("unknown key `{other}` (a route has {KEYS})")),
        }
    }
    if m.contains_key("host") && m.contains_key("hosts") {
        out.err(at(base, "hosts"), "give `host` or `hosts`, not both");
    }
    for (subject, h) in &hosts {
        if let Err(e) = check_arg(true, h) {
            out.err(subject.clone(), e.to_string());
        }
    }
    if errors(out) > before {
        return None;
    }
    let base_subject = Subject::XRoost(base.to_vec());
    let hosts: Vec<String> = hosts.into_iter().map(|(_, h)| h).collect();
    if hosts.is_empty() {
        out.err(base_subject, "a route needs `host` or `hosts`");
        return None;
    }
    let local = hosts.iter().filter(|h| is_local(h)).count();
    if tls.is_none() && local > 0 && local < hosts.len() {
        out.err(base_subject, "the hosts mix local and public names, so neither internal nor acme TLS works for all: set `tls` or split the route");
        return None;
    }
    let tls = tls.unwrap_or_else(|| Tls::default_for(&hosts));
    let port = port(given, input.ports, "`port`").map_err(|e| out.err(base_subject, e)).ok()?;
    let host_rule = Rule::Host(hosts);
    let rule = match path {
        Some(p) => Rule::And(Box::new(host_rule), Box::new(Rule::PathPrefix(vec![p]))),
        None => host_rule,
    };
    let entrypoints = Entrypoints::for_tls(&tls);
    Some(Route { name: format!("x-roost-{i}"), rule, port, tls, entrypoints, origin: None })
}
