//! `deploy:`, `restart:`, `healthcheck:` and `gpus:`: the keys whose Compose and Swarm
//! meanings overlap and need reconciling into one roost policy.

use super::Ctx;
use crate::yaml::{Node, Value};
use roost_spec::{DeviceRequest, Healthcheck, Placement, RestartCondition, RestartPolicy, Service, UpdateConfig};

const NOT_YET: &str = "not honoured by roost yet";

/// `deploy.update_config.failure_action` values, as `docker stack deploy` takes them.
const FAILURE_ACTIONS: &[&str] = &["continue", "rollback", "pause"];
/// `deploy.update_config.order` values (also an enum in the Compose schema).
const ORDERS: &[&str] = &["start-first", "stop-first"];
/// `deploy.restart_policy.condition` values as the Compose spec names them (the engine
/// aliases no, always and unless-stopped are accepted too but not advertised).
const RESTART_CONDITIONS: &[&str] = &["none", "on-failure", "any"];

pub(crate) fn restart(ctx: &mut Ctx<'_>, v: &Node, p: &str) -> RestartPolicy {
    let s = ctx.string(v, p).unwrap_or_default();
    let (cond, max) = match s.split_once(':') {
        Some((c, n)) => (c.to_string(), n.parse::<u32>().ok()),
        None => (s.clone(), None),
    };
    let condition = match cond.as_str() {
        "no" | "" => RestartCondition::None,
        "always" | "unless-stopped" => RestartCondition::Any,
        "on-failure" => RestartCondition::OnFailure,
        other => {
            ctx.err(v.pos, p, format!("invalid restart policy `{other}` (no, always, on-failure[:N], unless-stopped)"));
            RestartCondition::Any
        }
    };
    RestartPolicy { condition, delay: None, max_attempts: max }
}

pub(crate) fn healthcheck(ctx: &mut Ctx<'_>, v: &Node, p: &str) -> Option<Healthcheck> {
    let mut h = Healthcheck { test: vec![], interval: None, timeout: None, retries: None, start_period: None, start_interval: None };
    for (k, x) in v.entries() {
        let kp = format!("{p}.{}", k.name);
        match k.name.as_str() {
            "test" => {
                h.test = match &x.v {
                    Value::Seq(_) => ctx.strings(x, &kp),
                    _ => vec!["CMD-SHELL".into(), ctx.string(x, &kp).unwrap_or_default()],
                }
            }
            "interval" => h.interval = ctx.duration(x, &kp),
            "timeout" => h.timeout = ctx.duration(x, &kp),
            "start_period" => h.start_period = ctx.duration(x, &kp),
            "start_interval" => h.start_interval = ctx.duration(x, &kp),
            "retries" => h.retries = ctx.uint(x, &kp),
            "disable" => {
                if ctx.bool(x, &kp) == Some(true) {
                    h.test = vec!["NONE".into()];
                }
            }
            o if o.starts_with("x-") => {}
            o => ctx.warn(k.pos, &kp, format!("`{o}` is not supported by roost yet and is ignored")),
        }
    }
    if v.get("disable").is_some_and(|d| matches!(d.v, Value::Bool(true))) {
        h.test = vec!["NONE".into()];
    }
    Some(h)
}

fn count(ctx: &mut Ctx<'_>, x: &Node, p: &str) -> Option<i64> {
    if x.scalar().as_deref() == Some("all") {
        Some(-1)
    } else {
        ctx.int(x, p)
    }
}

fn device_request(ctx: &mut Ctx<'_>, it: &Node, p: &str, default_caps: bool) -> DeviceRequest {
    let mut r = DeviceRequest { driver: None, count: None, device_ids: vec![], capabilities: vec![], options: Default::default() };
    let mut caps = Vec::new();
    for (k, x) in it.entries() {
        let kp = format!("{p}.{}", k.name);
        match k.name.as_str() {
            "driver" => r.driver = ctx.string(x, &kp),
            "count" => r.count = count(ctx, x, &kp),
            "device_ids" => r.device_ids = ctx.strings(x, &kp),
            "capabilities" => caps = ctx.strings(x, &kp),
            "options" => r.options = ctx.labels(x, &kp),
            o if o.starts_with("x-") => {}
            o => ctx.warn(k.pos, &kp, format!("`{o}` is not supported by roost yet and is ignored")),
        }
    }
    if caps.is_empty() && default_caps {
        caps.push("gpu".into());
    }
    r.capabilities = vec![caps];
    r
}

pub(crate) fn gpus(ctx: &mut Ctx<'_>, v: &Node, p: &str) -> Vec<DeviceRequest> {
    match &v.v {
        Value::Seq(items) => items.iter().enumerate().map(|(i, it)| device_request(ctx, it, &format!("{p}[{i}]"), true)).collect(),
        _ => {
            let s = ctx.string(v, p).unwrap_or_default();
            if s != "all" {
                ctx.err(v.pos, p, format!("invalid gpus value `{s}` (use `all` or a list)"));
            }
            vec![DeviceRequest { driver: None, count: Some(-1), device_ids: vec![], capabilities: vec![vec!["gpu".into()]], options: Default::default() }]
        }
    }
}

fn resource_set(ctx: &mut Ctx<'_>, v: &Node, p: &str, set: &mut roost_spec::ResourceSet, s_devices: &mut Vec<DeviceRequest>) {
    for (k, x) in v.entries() {
        let kp = format!("{p}.{}", k.name);
        match k.name.as_str() {
            "cpus" => set.cpus = ctx.float(x, &kp),
            "memory" => set.memory = ctx.size(x, &kp),
            "pids" => set.pids = ctx.int(x, &kp),
            "devices" => {
                for (i, it) in x.items().iter().enumerate() {
                    let r = device_request(ctx, it, &format!("{kp}[{i}]"), false);
                    s_devices.push(r);
                }
            }
            o if o.starts_with("x-") => {}
            o => ctx.warn(k.pos, &kp, format!("`{o}` is not supported by roost yet and is ignored")),
        }
    }
}

pub(crate) fn deploy(ctx: &mut Ctx<'_>, d: &Node, p: &str, s: &mut Service) {
    for (k, x) in d.entries() {
        let kp = format!("{p}.{}", k.name);
        match k.name.as_str() {
            "mode" => {
                if let Some(m) = ctx.string(x, &kp).filter(|m| m != "replicated") {
                    ctx.warn(x.pos, &kp, format!("mode `{m}` is {NOT_YET}; running `replicas` containers"));
                }
            }
            "replicas" => s.replicas = ctx.uint(x, &kp).unwrap_or(1),
            "labels" => {
                for (lk, lv) in ctx.labels(x, &kp) {
                    s.labels.entry(lk).or_insert(lv);
                }
            }
            "resources" => {
                for (rk, rv) in x.entries() {
                    let rp = format!("{kp}.{}", rk.name);
                    match rk.name.as_str() {
                        "limits" => resource_set(ctx, rv, &rp, &mut s.resources.limits, &mut Vec::new()),
                        "reservations" => resource_set(ctx, rv, &rp, &mut s.resources.reservations, &mut s.device_requests),
                        o if o.starts_with("x-") => {}
                        o => ctx.warn(rk.pos, &rp, format!("`{o}` is not supported by roost yet and is ignored")),
                    }
                }
            }
            "restart_policy" => {
                let mut r = RestartPolicy::default();
                for (rk, rv) in x.entries() {
                    let rp = format!("{kp}.{}", rk.name);
                    match rk.name.as_str() {
                        "condition" => {
                            // The spec's none / on-failure / any; Docker Compose also takes the
                            // engine's names (no, always, unless-stopped), as `restart:` does.
                            r.condition = match ctx.string(rv, &rp).as_deref() {
                                Some("none" | "no") => RestartCondition::None,
                                Some("on-failure") => RestartCondition::OnFailure,
                                Some("any" | "always" | "unless-stopped") | None => RestartCondition::Any,
                                Some(o) => {
                                    ctx.err(rv.pos, &rp, crate::diag::unknown_value(o, RESTART_CONDITIONS));
                                    RestartCondition::Any
                                }
                            }
                        }
                        "delay" => r.delay = ctx.duration(rv, &rp),
                        "max_attempts" => r.max_attempts = ctx.uint(rv, &rp),
                        o if o.starts_with("x-") => {}
                        o => ctx.warn(rk.pos, &rp, format!("`{o}` is not supported by roost yet and is ignored")),
                    }
                }
                s.restart = r;
            }
            "update_config" => {
                let mut u = UpdateConfig { parallelism: 1, delay: None, failure_action: "pause".into(), monitor: None, max_failure_ratio: None, order: "stop-first".into() };
                for (uk, uv) in x.entries() {
                    let up = format!("{kp}.{}", uk.name);
                    match uk.name.as_str() {
                        "parallelism" => u.parallelism = ctx.uint(uv, &up).unwrap_or(1),
                        "delay" => u.delay = ctx.duration(uv, &up),
                        // Checked here: the schema takes any string, and the agent treats an
                        // unknown action as `pause`, so a typo would silently change behaviour.
                        "failure_action" => u.failure_action = ctx.choice(uv, &up, FAILURE_ACTIONS).unwrap_or_else(|| "pause".into()),
                        "monitor" => {
                            ctx.warn(uk.pos, &up, "roost judges a new replica by its health and restarts, not by a monitor window; ignored");
                            u.monitor = ctx.duration(uv, &up);
                        }
                        "max_failure_ratio" => {
                            ctx.warn(uk.pos, &up, "roost acts on the first failed replica; ignored");
                            u.max_failure_ratio = ctx.float(uv, &up);
                        }
                        "order" => {
                            // The schema already rejects other values; checked again so nothing
                            // else ever reaches the reconciler, which only knows these two.
                            u.order = ctx.choice(uv, &up, ORDERS).unwrap_or_else(|| "stop-first".into());
                            if u.order == "start-first" {
                                ctx.warn(uv.pos, &up, "start-first applies to stateless services only: one with a named volume or x-roost singleton always updates stop-first, so two copies never run");
                            }
                        }
                        _ => {}
                    }
                }
                s.update_config = Some(u);
            }
            "placement" => {
                let mut pl = Placement::default();
                if let Some(c) = x.get("constraints") {
                    pl.constraints = ctx.strings(c, &format!("{kp}.constraints"));
                }
                if let Some(pr) = x.get("preferences") {
                    pl.preferences = pr.items().iter().filter_map(|i| i.get("spread").and_then(Node::scalar)).collect();
                }
                s.placement = pl;
            }
            "rollback_config" => ctx.warn(k.pos, &kp, format!("{NOT_YET}: `roost rollback` returns the whole stack to its previous version at once")),
            "endpoint_mode" => ctx.warn(k.pos, &kp, format!("{NOT_YET}: roost has no virtual IPs; service names resolve to replicas")),
            o if o.starts_with("x-") => {}
            o => ctx.warn(k.pos, &kp, format!("`{o}` is not supported by roost yet and is ignored")),
        }
    }
}
