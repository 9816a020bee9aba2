//! Routes from Traefik Docker-provider labels, so a Compose file written for Traefik
//! is routed by roost unchanged.
//!
//! Honoured: `traefik.enable`, `traefik.http.routers.R.{rule, entrypoints, tls,
//! tls.certresolver, service}` and `traefik.http.services.S.loadbalancer.server.port`.
//! Every other `traefik.*` label is a warning naming it (never dropped silently).
//! Option names compare case-insensitively, as Traefik's label parser does.
//!
//! Decisions where Traefik depends on its static configuration, which roost cannot see:
//! - A router on `websecure` without TLS labels relies on TLS configured on the
//!   entrypoint; roost serves it with TLS, [`Tls::default_for`] its hosts. The same for
//!   `tls=true` without a resolver (Traefik's default or entrypoint certificate).
//! - `traefik.enable=true` with no router: Traefik would invent a rule from the
//!   container name (`defaultRule`), which nobody would type into a browser; roost
//!   routes nothing and says so.
//! - A rule using a matcher roost does not serve (`Path`, `HostRegexp`, ...) is a
//!   warning and the router is skipped: the file may be meant for a Traefik the stack
//!   runs itself. A rule with bad syntax or an unknown matcher is an error.

use crate::parse::{parse, Reason};
use crate::service::{port, Finding, FromService, ServiceInput, Severity, Subject};
use crate::{Entrypoints, Route, Tls};
use std::collections::BTreeMap;

/// The labels of one router, each as (key, value).
#[derive(Default)]
struct Router<'a> {
    first: &'a str,
    rule: Option<(&'a str, &'a str)>,
    entrypoints: Option<(&'a str, &'a str)>,
    tls: Option<(&'a str, &'a str)>,
    resolver: Option<(&'a str, &'a str)>,
    service: Option<(&'a str, &'a str)>,
}

fn label(key: &str) -> Subject {
    Subject::Label(key.to_string())
}

fn boolean(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

const IGNORED: &str = "is not supported by roost's proxy and is ignored";

fn router_option_message(opt: &str) -> String {
    match opt {
        "middlewares" => "middlewares are not supported by roost's proxy: the router is served without them".into(),
        "priority" => "roost orders routes by rule length (Traefik's default priority); ignored".into(),
        _ => format!("router option `{opt}` {IGNORED}"),
    }
}

fn other_message(kind: &str) -> String {
    match kind {
        "tcp" | "udp" => format!("{} routing {IGNORED}", kind.to_uppercase()),
        "docker" | "swarm" => "settings of Traefik's Docker provider do not apply to roost; ignored".into(),
        _ => format!("this Traefik label {IGNORED}"),
    }
}

pub(crate) fn read(input: &ServiceInput<'_>, out: &mut FromService) {
    let enable_key = "traefik.enable";
    match input.labels.get(enable_key).map(|v| (v, boolean(v))) {
        Some((_, Some(false))) => return,
        Some((v, None)) => return out.err(label(enable_key), format!("expected true or false, found `{v}`")),
        _ => {}
    }
    let mut routers: BTreeMap<&str, Router<'_>> = BTreeMap::new();
    // Service name → its port label's key and parsed port (None: invalid, reported).
    let mut services: BTreeMap<&str, Option<(&str, Option<u16>)>> = BTreeMap::new();
    for (k, v) in input.labels.iter().filter(|(k, _)| k.starts_with("traefik.")) {
        let parts: Vec<&str> = k["traefik.".len()..].splitn(4, '.').collect();
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let (k, v) = (k.as_str(), v.as_str());
        match (lower.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), parts.get(2).copied()) {
            (["enable"], _) => {}
            (["http", "routers", _, opt], Some(name)) => {
                let r = routers.entry(name).or_insert_with(|| Router { first: k, ..Router::default() });
                match *opt {
                    "rule" => r.rule = Some((k, v)),
                    "entrypoints" => r.entrypoints = Some((k, v)),
                    "tls" => r.tls = Some((k, v)),
                    "tls.certresolver" => r.resolver = Some((k, v)),
                    "service" => r.service = Some((k, v)),
                    o => out.warn(label(k), router_option_message(o)),
                }
            }
            (["http", "services", _, opt], Some(name)) => {
                let s = services.entry(name).or_default();
                if *opt == "loadbalancer.server.port" {
                    let p = v.trim().parse::<u16>().ok().filter(|p| *p > 0);
                    if p.is_none() {
                        out.err(label(k), format!("expected a port number (1-65535), found `{v}`"));
                    }
                    *s = Some((k, p));
                } else {
                    out.warn(label(k), format!("service option `{opt}` {IGNORED}"));
                }
            }
            (["http", "middlewares", ..], _) => out.warn(label(k), "HTTP middlewares are not supported by roost's proxy; ignored"),
            ([kind, ..], _) => out.warn(label(k), other_message(kind)),
            ([], _) => {}
        }
    }
    if routers.is_empty() {
        let enabled = input.labels.get(enable_key).is_some_and(|v| boolean(v) == Some(true));
        if let Some(at) = enabled.then_some(enable_key).or_else(|| services.values().flatten().next().map(|(k, _)| *k)) {
            out.warn(label(at), "no router is defined (traefik.http.routers.NAME.rule): Traefik would make up a rule from the container name; roost routes nothing for this service");
        }
        return;
    }
    for (name, r) in &routers {
        if let (Some(route), Some((k, _))) = (router(input, name, r, &services, out), r.rule) {
            out.routes.push((label(k), route));
        }
    }
}

/// One router to a route, or `None` when it has errors or cannot be routed (reported).
fn router(input: &ServiceInput<'_>, name: &str, r: &Router<'_>, services: &BTreeMap<&str, Option<(&str, Option<u16>)>>, out: &mut FromService) -> Option<Route> {
    let Some((rule_key, text)) = r.rule else {
        out.warn(label(r.first), format!("router `{name}` has no rule: Traefik would make one up from the container name; roost does not route it (add traefik.http.routers.{name}.rule)"));
        return None;
    };
    let rule = match parse(text) {
        Ok(rule) => rule,
        Err(e) if matches!(e.reason, Reason::Unsupported(_)) => {
            out.warn(label(rule_key), format!("{}; router `{name}` is not routed by roost", e.reason));
            return None;
        }
        Err(e) => {
            out.findings.push(Finding { severity: Severity::Error, subject: label(rule_key), offset: Some(e.offset), message: e.to_string() });
            return None;
        }
    };
    let service = match r.service {
        Some((k, s)) if s.contains('@') || !services.contains_key(s) => {
            out.warn(label(k), format!("service `{s}` is not defined by this service's labels; roost routes a router only to its own containers, so router `{name}` is not routed"));
            return None;
        }
        Some((_, s)) => Some(s),
        None if services.len() > 1 => {
            let names: Vec<&str> = services.keys().copied().collect();
            out.err(label(rule_key), format!("router `{name}` does not say which service it uses ({}): add traefik.http.routers.{name}.service", names.join(", ")));
            return None;
        }
        None => services.keys().next().copied(),
    };
    let given = match service.and_then(|s| services[s]) {
        Some((_, None)) => return None,
        Some((_, p)) => p,
        None => None,
    };
    let how = format!("traefik.http.services.{}.loadbalancer.server.port", service.unwrap_or(name));
    let port = port(given, input.ports, &how).map_err(|e| out.err(label(rule_key), e)).ok()?;
    let flag = match r.tls {
        Some((k, v)) => match boolean(v) {
            None => {
                out.err(label(k), format!("expected true or false, found `{v}`"));
                return None;
            }
            b => b,
        },
        None => None,
    };
    let hosts = rule.hosts();
    let mut tls = match (flag, r.resolver) {
        (_, Some((_, res))) => Tls::Acme { resolver: res.trim().to_string() },
        (Some(true), None) => Tls::default_for(&hosts),
        _ => Tls::Off,
    };
    let mut eps = Entrypoints::for_tls(&tls);
    if let Some((k, list)) = r.entrypoints {
        let (mut web, mut secure) = (false, false);
        for ep in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match ep {
                "web" => web = true,
                "websecure" => secure = true,
                other => out.warn(label(k), format!("entrypoint `{other}` is unknown to roost, which serves `web` (port 80) and `websecure` (port 443); ignored")),
            }
        }
        if web && tls != Tls::Off {
            out.warn(label(k), format!("router `{name}` has TLS: roost serves it on `websecure` (port 443) only"));
        } else if web || secure {
            if secure && tls == Tls::Off {
                tls = Tls::default_for(&hosts);
            }
            eps = Entrypoints { http: web, https: secure };
        }
    }
    Some(Route { name: name.to_string(), rule, port, tls, entrypoints: eps, origin: None })
}
