//! One service mapping to [`roost_spec::Service`]. The key lists at the top are the
//! contract tested against the schema: every service key is either handled or warned.

use super::{colocate, deploy, parse, routes, Ctx};
use crate::yaml::{Node, Value};
use roost_spec::{Dependency, DependencyCondition, FileRef, Mount, MountKind, PullPolicy, Service, ServiceNetwork};
use std::collections::BTreeMap;

/// Service keys mapped onto [`Service`] fields (or consumed while loading).
pub const HANDLED_KEYS: &[&str] = &[
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes", "networks",
    "network_mode", "depends_on", "healthcheck", "restart", "deploy", "labels", "user", "working_dir", "hostname",
    "cap_add", "cap_drop", "privileged", "devices", "gpus", "security_opt", "sysctls", "ulimits", "shm_size", "tmpfs",
    "stop_signal", "stop_grace_period", "init", "logging", "scale", "secrets", "configs", "extra_hosts", "dns", "container_name",
    "dns_search", "read_only", "tty", "stdin_open", "group_add", "runtime", "pid", "ipc", "pull_policy", "profiles",
    "extends", "cpus", "mem_limit", "mem_reservation", "pids_limit",
];

/// Service keys the schema allows that roost accepts but does not honour: a warning each.
pub const WARNED_KEYS: &[&str] = &[
    "annotations", "attach", "blkio_config", "cgroup", "cgroup_parent", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpuset", "credential_spec", "develop",
    "device_cgroup_rules", "dns_opt", "domainname", "external_links", "isolation", "label_file", "links", "mac_address",
    "mem_swappiness", "memswap_limit", "models", "oom_kill_disable", "oom_score_adj", "platform", "post_start", "pre_stop",
    "provider", "pull_refresh_after", "storage_opt", "use_api_socket", "userns_mode", "uts", "volumes_from",
];

fn warn_message(key: &str) -> String {
    match key {
        "links" | "external_links" => format!("`{key}` is ignored: services reach each other by name on shared networks"),
        _ => format!("`{key}` is not supported by roost yet and is ignored"),
    }
}

pub(crate) fn service(ctx: &mut Ctx<'_>, name: &str, n: &Node) -> Option<Service> {
    let base = format!("services.{name}");
    let mut s = Service { replicas: 1, ..Service::default() };
    let mut image = None;
    let mut build: Option<&Node> = None;
    let mut env_files: Vec<(String, bool, &Node)> = Vec::new();
    let mut environment = BTreeMap::new();
    let mut scale = None;
    let mut deploy_node = None;
    let mut restart_node = None;
    let mut networks_given = false;
    let (mut labels_node, mut x_roost_node, mut network_mode_node) = (None, None, None);
    for (k, v) in n.entries() {
        let p = format!("{base}.{}", k.name);
        let p = p.as_str();
        match k.name.as_str() {
            "image" => image = ctx.string(v, p),
            "build" => build = Some(v),
            "command" => s.command = command(ctx, v, p),
            "entrypoint" => s.entrypoint = command(ctx, v, p),
            "environment" => environment = ctx.dict(v, p),
            "env_file" => {
                let items: Vec<&Node> = match &v.v { Value::Seq(i) => i.iter().collect(), _ => vec![v] };
                for it in items {
                    match &it.v {
                        Value::Map(_) => {
                            let path = it.get("path").and_then(Node::scalar).unwrap_or_default();
                            let req = it.get("required").map(|r| ctx.bool(r, p).unwrap_or(true)).unwrap_or(true);
                            env_files.push((path, req, it));
                        }
                        _ => env_files.push((it.scalar().unwrap_or_default(), true, it)),
                    }
                }
            }
            "ports" => {
                for (i, it) in v.items().iter().enumerate() {
                    port(ctx, it, &format!("{p}[{i}]"), &mut s.ports);
                }
            }
            "expose" => s.expose = ctx.strings(v, p),
            "volumes" => {
                for (i, it) in v.items().iter().enumerate() {
                    if let Some(m) = mount(ctx, it, &format!("{p}[{i}]")) {
                        s.volumes.push(m);
                    }
                }
            }
            "networks" => {
                networks_given = true;
                networks(ctx, v, p, &mut s.networks);
            }
            "network_mode" => {
                network_mode_node = Some(v);
                s.network_mode = ctx.string(v, p);
            }
            "depends_on" => depends_on(ctx, name, v, p, &mut s.depends_on),
            "healthcheck" => s.healthcheck = deploy::healthcheck(ctx, v, p),
            "restart" => restart_node = Some(v),
            "deploy" => deploy_node = Some(v),
            "labels" => {
                labels_node = Some(v);
                s.labels.extend(ctx.labels(v, p));
            }
            "user" => s.user = ctx.string(v, p),
            "working_dir" => s.working_dir = ctx.string(v, p),
            "hostname" => s.hostname = ctx.string(v, p),
            "container_name" => {
                s.container_name = ctx.string(v, p);
                ctx.warn(k.pos, p, "`container_name` resolves as a name of the service on its networks, on every node; the container itself is named by roost (replicas cannot share a name)");
            }
            "cap_add" => s.cap_add = ctx.strings(v, p),
            "cap_drop" => s.cap_drop = ctx.strings(v, p),
            "privileged" => s.privileged = ctx.bool(v, p).unwrap_or(false),
            "devices" => {
                for (i, it) in v.items().iter().enumerate() {
                    let ip = format!("{p}[{i}]");
                    let spec = match &it.v {
                        Value::Map(_) => {
                            let src = it.get("source").and_then(Node::scalar).unwrap_or_default();
                            let tgt = it.get("target").and_then(Node::scalar).unwrap_or_else(|| src.clone());
                            let perm = it.get("permissions").and_then(Node::scalar).unwrap_or_else(|| "rwm".into());
                            format!("{src}:{tgt}:{perm}")
                        }
                        _ => it.scalar().unwrap_or_default(),
                    };
                    match parse::device(&spec) {
                        Ok(d) => s.devices.push(d),
                        Err(e) => ctx.err(it.pos, &ip, e),
                    }
                }
            }
            "gpus" => s.device_requests.extend(deploy::gpus(ctx, v, p)),
            "security_opt" => s.security_opt = ctx.strings(v, p),
            "sysctls" => s.sysctls = ctx.labels(v, p),
            "ulimits" => {
                for (uk, uv) in v.entries() {
                    let up = format!("{p}.{}", uk.name);
                    let (soft, hard) = match &uv.v {
                        Value::Map(_) => {
                            let soft = uv.get("soft").and_then(|x| ctx.int(x, &up)).unwrap_or(0);
                            (soft, uv.get("hard").and_then(|x| ctx.int(x, &up)).unwrap_or(soft))
                        }
                        _ => {
                            let x = ctx.int(uv, &up).unwrap_or(0);
                            (x, x)
                        }
                    };
                    s.ulimits.insert(uk.name.clone(), roost_spec::Ulimit { soft, hard });
                }
            }
            "shm_size" => s.shm_size = ctx.size(v, p),
            "tmpfs" => s.tmpfs = ctx.strings(v, p),
            "stop_signal" => s.stop_signal = ctx.string(v, p),
            "stop_grace_period" => s.stop_grace_period = ctx.duration(v, p),
            "init" => s.init = ctx.bool(v, p),
            "logging" => {
                let driver = v.get("driver").and_then(|d| ctx.string(d, p));
                let options = v.get("options").map(|o| ctx.labels(o, p)).unwrap_or_default();
                s.logging = Some(roost_spec::Logging { driver, options });
            }
            "scale" => scale = ctx.uint(v, p),
            "secrets" => s.secrets = file_refs(ctx, v, p, true),
            "configs" => s.configs = file_refs(ctx, v, p, false),
            "extra_hosts" => {
                s.extra_hosts = match &v.v {
                    Value::Map(m) => m
                        .iter()
                        .flat_map(|(hk, hv)| {
                            let ips: Vec<String> = match &hv.v { Value::Seq(i) => i.iter().filter_map(Node::scalar).collect(), _ => hv.scalar().into_iter().collect() };
                            ips.into_iter().map(move |ip| format!("{}:{ip}", hk.name))
                        })
                        .collect(),
                    _ => ctx.strings(v, p).into_iter().map(|h| h.replacen('=', ":", 1)).collect(),
                }
            }
            "dns" => s.dns = ctx.strings(v, p),
            "dns_search" => s.dns_search = ctx.strings(v, p),
            "read_only" => s.read_only = ctx.bool(v, p).unwrap_or(false),
            "tty" => s.tty = ctx.bool(v, p).unwrap_or(false),
            "stdin_open" => s.stdin_open = ctx.bool(v, p).unwrap_or(false),
            "group_add" => s.group_add = ctx.strings(v, p),
            "runtime" => s.runtime = ctx.string(v, p),
            "pid" => s.pid = ctx.string(v, p),
            "ipc" => s.ipc = ctx.string(v, p),
            "pull_policy" => {
                s.pull_policy = match ctx.string(v, p).as_deref() {
                    Some("always") => PullPolicy::Always,
                    Some("never") => PullPolicy::Never,
                    Some("build") => {
                        ctx.warn(v.pos, p, "`pull_policy: build`: roost does not build images; the image must already exist");
                        PullPolicy::Build
                    }
                    Some("missing" | "if_not_present") | None => PullPolicy::Missing,
                    Some(other) => {
                        ctx.warn(v.pos, p, format!("pull_policy `{other}` is not supported yet; using `missing`"));
                        PullPolicy::Missing
                    }
                }
            }
            "cpus" => s.resources.limits.cpus = ctx.float(v, p),
            "mem_limit" => s.resources.limits.memory = ctx.size(v, p),
            "mem_reservation" => s.resources.reservations.memory = ctx.size(v, p),
            "pids_limit" => s.resources.limits.pids = ctx.int(v, p),
            "profiles" | "extends" => {}
            "x-roost" => {
                x_roost_node = Some(v);
                s.x_roost = Some(v.to_json());
            }
            x if x.starts_with("x-") => {}
            x => ctx.warn(k.pos, p, warn_message(x)),
        }
    }
    // Environment: env_file first, then `environment` over it.
    for (path, required, node) in env_files {
        let file = ctx.host_path(node, &path);
        match std::fs::read_to_string(&file) {
            Ok(text) => match crate::dotenv::parse(&text, ctx.env) {
                Ok(vars) => s.environment.extend(vars),
                Err(e) => ctx.err(node.pos, &format!("{base}.env_file"), format!("{file}:{}:{}: {}", e.line, e.column, e.message)),
            },
            Err(e) if required => ctx.err(node.pos, &format!("{base}.env_file"), format!("cannot read env file {file}: {e}")),
            Err(_) => {}
        }
    }
    for (k, v) in environment {
        match v.or_else(|| ctx.env.get(&k).cloned()) {
            Some(v) => {
                s.environment.insert(k, v);
            }
            None => {
                s.environment.remove(&k);
            }
        }
    }
    if let Some(d) = deploy_node {
        deploy::deploy(ctx, d, &format!("{base}.deploy"), &mut s);
    } else if let Some(sc) = scale {
        s.replicas = sc;
    }
    if deploy_node.and_then(|d| d.get("replicas")).is_none() {
        if let Some(sc) = scale {
            s.replicas = sc;
        }
    }
    let has_policy = deploy_node.and_then(|d| d.get("restart_policy")).is_some();
    if let (Some(r), false) = (restart_node, has_policy) {
        s.restart = deploy::restart(ctx, r, &format!("{base}.restart"));
    }
    if s.network_mode.is_some() {
        if networks_given {
            ctx.warn(n.pos, &base, "`networks` is ignored because `network_mode` is set");
        }
        s.networks.clear();
    } else if s.networks.is_empty() {
        s.networks.insert("default".into(), ServiceNetwork::default());
    }
    // After `deploy` (its labels count too, below `labels:`) and `ports`/`expose`.
    let label_nodes: Vec<&Node> = labels_node.into_iter().chain(deploy_node.and_then(|d| d.get("labels"))).collect();
    routes::service(ctx, name, &mut s, &label_nodes, x_roost_node);
    colocate::service(ctx, name, x_roost_node, network_mode_node);
    s.image = match (image, build) {
        (Some(img), Some(b)) => {
            ctx.warn(b.pos, &format!("{base}.build"), format!("roost does not build images; image `{img}` is used as is"));
            img
        }
        (Some(img), None) => img,
        (None, Some(b)) => {
            let img = format!("{}-{name}", ctx.project);
            let context = match &b.v { Value::Map(_) => b.get("context").and_then(Node::scalar), _ => b.scalar() }.unwrap_or_else(|| ".".into());
            ctx.warn(
                b.pos,
                &format!("{base}.build"),
                format!("roost does not build images; using `{img}`, the name Compose gives the built image: build it first with `docker compose build` or `docker build -t {img} {context}`"),
            );
            img
        }
        (None, None) => {
            ctx.err(n.pos, &base, "service has neither an image nor a build context specified");
            String::new()
        }
    };
    Some(s)
}

fn command(ctx: &mut Ctx<'_>, v: &Node, p: &str) -> Option<Vec<String>> {
    match &v.v {
        Value::Null => None,
        Value::Seq(_) => Some(ctx.strings(v, p)),
        _ => {
            let s = ctx.string(v, p)?;
            match shell_words::split(&s) {
                Ok(w) => Some(w),
                Err(e) => {
                    ctx.err(v.pos, p, format!("cannot split command: {e}"));
                    None
                }
            }
        }
    }
}

fn port(ctx: &mut Ctx<'_>, it: &Node, p: &str, out: &mut Vec<roost_spec::Port>) {
    match &it.v {
        Value::Map(_) => {
            let target = it.get("target").and_then(|t| ctx.int(t, p)).unwrap_or(0);
            let Ok(target) = u16::try_from(target) else { return ctx.err(it.pos, p, format!("invalid port {target}")) };
            let published = it.get("published").and_then(Node::scalar);
            let host_ip = it.get("host_ip").and_then(Node::scalar);
            let protocol = it.get("protocol").and_then(Node::scalar).unwrap_or_else(|| "tcp".into());
            if let Some(m) = it.get("mode").and_then(Node::scalar).filter(|m| m == "ingress") {
                ctx.warn(it.pos, p, format!("port mode `{m}`: roost publishes on the host running the container"));
            }
            out.push(roost_spec::Port { target, published, host_ip, protocol });
        }
        _ => match it.scalar().map(|s| parse::ports(&s)) {
            Some(Ok(ps)) => out.extend(ps),
            Some(Err(e)) => ctx.err(it.pos, p, e),
            None => {}
        },
    }
}

fn mount(ctx: &mut Ctx<'_>, it: &Node, p: &str) -> Option<Mount> {
    let mut m = Mount { kind: MountKind::Volume, source: None, target: String::new(), read_only: false, create_host_path: false, tmpfs_size: None };
    match &it.v {
        Value::Map(_) => {
            let ty = it.get("type").and_then(Node::scalar).unwrap_or_default();
            m.kind = match ty.as_str() {
                "volume" => MountKind::Volume,
                "bind" => MountKind::Bind,
                "tmpfs" => MountKind::Tmpfs,
                other => {
                    ctx.err(it.pos, p, format!("mount type `{other}` is not supported by roost"));
                    return None;
                }
            };
            m.target = it.get("target").and_then(Node::scalar).unwrap_or_default();
            m.source = it.get("source").and_then(Node::scalar);
            m.read_only = it.get("read_only").and_then(|r| ctx.bool(r, p)).unwrap_or(false);
            if m.kind == MountKind::Bind {
                let src = m.source.clone().unwrap_or_default();
                m.source = Some(ctx.host_path(it, &src));
                m.create_host_path = it.get("bind").and_then(|b| b.get("create_host_path")).and_then(|c| ctx.bool(c, p)).unwrap_or(true);
            }
            if m.kind == MountKind::Tmpfs {
                m.tmpfs_size = it.get("tmpfs").and_then(|t| t.get("size")).and_then(|sz| ctx.size(sz, p));
            }
        }
        _ => {
            let spec = it.scalar()?;
            let (src, tgt, opts) = match parse::volume_short(&spec) {
                Ok(x) => x,
                Err(e) => {
                    ctx.err(it.pos, p, e);
                    return None;
                }
            };
            m.target = tgt;
            m.read_only = opts.iter().any(|o| o == "ro");
            match src {
                Some(s) if s.starts_with(['/', '.', '~']) => {
                    m.kind = MountKind::Bind;
                    m.source = Some(ctx.host_path(it, &s));
                    m.create_host_path = true;
                }
                other => m.source = other,
            }
        }
    }
    if let (MountKind::Volume, Some(src)) = (m.kind, &m.source) {
        if !ctx.volumes.contains(src) {
            ctx.err(it.pos, p, format!("refers to undefined volume `{src}`: declare it under the top-level `volumes:`"));
            return None;
        }
    }
    Some(m)
}

fn networks(ctx: &mut Ctx<'_>, v: &Node, p: &str, out: &mut BTreeMap<String, ServiceNetwork>) {
    let entries: Vec<(String, Option<&Node>, crate::diag::Pos)> = match &v.v {
        Value::Seq(items) => items.iter().filter_map(|i| i.scalar().map(|s| (s, None, i.pos))).collect(),
        _ => v.entries().iter().map(|(k, n)| (k.name.clone(), Some(n), k.pos)).collect(),
    };
    for (name, cfg, pos) in entries {
        let np = format!("{p}.{name}");
        if name != "default" && !ctx.networks.contains(&name) {
            ctx.err(pos, &np, format!("refers to undefined network `{name}`: declare it under the top-level `networks:`"));
            continue;
        }
        let mut sn = ServiceNetwork::default();
        if let Some(c) = cfg {
            for (k, x) in c.entries() {
                let kp = format!("{np}.{}", k.name);
                match k.name.as_str() {
                    "aliases" => sn.aliases = ctx.strings(x, &kp),
                    "ipv4_address" => sn.ipv4_address = ctx.string(x, &kp),
                    o if o.starts_with("x-") => {}
                    o => ctx.warn(k.pos, &kp, format!("`{o}` is not supported by roost yet and is ignored")),
                }
            }
        }
        out.insert(name, sn);
    }
}

fn depends_on(ctx: &mut Ctx<'_>, me: &str, v: &Node, p: &str, out: &mut BTreeMap<String, Dependency>) {
    let dict = crate::merge::to_dict(v.clone(), &["depends_on"]);
    for (k, d) in dict.entries() {
        let dp = format!("{p}.{}", k.name);
        let condition = match d.get("condition").and_then(Node::scalar).as_deref() {
            Some("service_healthy") => DependencyCondition::ServiceHealthy,
            Some("service_completed_successfully") => DependencyCondition::ServiceCompletedSuccessfully,
            _ => DependencyCondition::ServiceStarted,
        };
        let required = d.get("required").and_then(|r| ctx.bool(r, &dp)).unwrap_or(true);
        if let Some(r) = d.key_of("restart") {
            ctx.warn(r.pos, &format!("{dp}.restart"), "`restart` on a dependency is not supported by roost yet and is ignored");
        }
        if ctx.inactive.contains(&k.name) {
            if required {
                ctx.err(k.pos, &dp, format!("service `{me}` depends on service `{}`, which is not enabled by the active profiles", k.name));
            }
            continue;
        }
        if !ctx.active.contains(&k.name) {
            if required {
                ctx.err(k.pos, &dp, format!("service `{me}` depends on undefined service `{}`", k.name));
            }
            continue;
        }
        out.insert(k.name.clone(), Dependency { condition, required });
    }
}

fn file_refs(ctx: &mut Ctx<'_>, v: &Node, p: &str, secret: bool) -> Vec<FileRef> {
    let mut out = Vec::new();
    for (i, it) in v.items().iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let (source, target, mode) = match &it.v {
            Value::Map(_) => (
                it.get("source").and_then(Node::scalar).unwrap_or_default(),
                it.get("target").and_then(Node::scalar),
                it.get("mode").and_then(|m| ctx.int(m, &ip)).and_then(|m| u32::try_from(m).ok()),
            ),
            _ => (it.scalar().unwrap_or_default(), None, None),
        };
        for key in ["uid", "gid"] {
            if let Some(k) = it.key_of(key) {
                ctx.warn(k.pos, &format!("{ip}.{key}"), format!("`{key}` is not supported by roost yet and is ignored"));
            }
        }
        let declared = if secret { ctx.secrets.contains(&source) } else { ctx.configs.contains(&source) };
        if !declared {
            let kind = if secret { "secret" } else { "config" };
            ctx.err(it.pos, &ip, format!("refers to undefined {kind} `{source}`: declare it under the top-level `{kind}s:`"));
            continue;
        }
        let target = match (target, secret) {
            (Some(t), true) if !t.starts_with('/') => format!("/run/secrets/{t}"),
            (Some(t), _) => t,
            (None, true) => format!("/run/secrets/{source}"),
            (None, false) => format!("/{source}"),
        };
        out.push(FileRef { source, target, mode });
    }
    out
}
