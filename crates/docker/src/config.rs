//! The pure mapping from roost's normalized [`Stack`] to Docker API bodies.
//!
//! Nothing here does IO, so every decision about how a Compose key becomes a Docker
//! field is visible in the snapshot tests (`config_tests.rs`). The driver only sends
//! what these functions return.
//!
//! Choices worth knowing:
//! - Docker's restart policy is always `no`: roost restarts containers itself, and a
//!   daemon-side restart would race the reconciler.
//! - API 1.41 accepts a single endpoint in `NetworkingConfig`, so a replica joins its
//!   first network (in name order) at create time and [`extra_networks`] afterwards.
//! - Binds that may create their host path use `Binds` (`src:dst[:ro]`), which makes
//!   the engine create a missing source directory, like Compose's short syntax. Binds
//!   with `create_host_path: false` use a `Mounts` entry of type `bind`, which fails
//!   when the source is missing. API 1.41 has no `CreateMountpoint`, and creating the
//!   directory from the driver would be wrong when the engine is remote.
//! - File-based secrets and configs are read-only binds of the file at the target;
//!   `mode` cannot be applied to a bind and is ignored. `environment:`/`content`
//!   secrets are rejected ([`DriverError::Unsupported`]).

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, EndpointIpamConfig, EndpointSettings,
    HealthConfig, HostConfig, HostConfigLogConfig, Mount, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use roost_core::labels;
use roost_spec::{FileRef, MountKind, Service, Stack};

use crate::DriverError;

/// Compose marks non-`run` containers with this; `docker compose ps` filters on it.
const COMPOSE_ONEOFF: &str = "com.docker.compose.oneoff";
/// Compose's label naming the network on networks it created.
const COMPOSE_NETWORK: &str = "com.docker.compose.network";
/// Compose's label naming the volume on volumes it created.
const COMPOSE_VOLUME: &str = "com.docker.compose.volume";

/// Looks a service up, as an [`DriverError::InvalidSpec`] when it is not in the stack.
pub(crate) fn service<'a>(stack: &'a Stack, name: &str) -> Result<&'a Service, DriverError> {
    stack.services.get(name).ok_or_else(|| DriverError::InvalidSpec {
        detail: format!("stack `{}` has no service `{name}`", stack.name),
    })
}

/// The create body (config, host config and the first network's endpoint) for replica
/// `slot` of `service`.
///
/// # Errors
/// [`DriverError::InvalidSpec`] when the service, or a secret/config it uses, is not
/// in the stack; [`DriverError::Unsupported`] for `content` (environment) secrets.
pub fn container_config(
    stack: &Stack,
    service_name: &str,
    slot: u32,
    config_hash: &str,
) -> Result<ContainerCreateBody, DriverError> {
    let svc = service(stack, service_name)?;

    let mut labels: HashMap<String, String> =
        svc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in [
        (labels::MANAGED, "true".to_string()),
        (labels::STACK, stack.name.clone()),
        (labels::SERVICE, service_name.to_string()),
        (labels::SLOT, slot.to_string()),
        (labels::CONFIG_HASH, config_hash.to_string()),
        (labels::COMPOSE_PROJECT, stack.name.clone()),
        (labels::COMPOSE_SERVICE, service_name.to_string()),
        (labels::COMPOSE_NUMBER, slot.to_string()),
        (COMPOSE_ONEOFF, "False".to_string()),
    ] {
        labels.insert(k.to_string(), v);
    }

    let (exposed_ports, port_bindings) = ports(svc);
    let (binds, mounts, anonymous, tmpfs) = mounts(stack, svc)?;

    let network_mode = svc.network_mode.as_ref().map(|m| match m.strip_prefix("service:") {
        // Placement puts slot i beside the other service's slot i (or its slot 1).
        Some(other) => format!(
            "container:{}",
            labels::container_name(
                &stack.name,
                other,
                roost_core::placement::partner_slot(slot, stack.services.get(other).map_or(1, |x| x.replicas))
            )
        ),
        None => m.clone(),
    });
    let networking_config = if network_mode.is_some() {
        None
    } else {
        svc.networks.iter().next().map(|(net, sn)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                stack.docker_network_name(net),
                endpoint(service_name, sn),
            )])),
        })
    };

    let host_config = HostConfig {
        binds: some_vec(binds),
        mounts: some_vec(mounts),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        network_mode,
        cap_add: some_vec(svc.cap_add.clone()),
        cap_drop: some_vec(svc.cap_drop.clone()),
        privileged: svc.privileged.then_some(true),
        devices: some_vec(
            svc.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.host.clone()),
                    path_in_container: Some(d.container.clone()),
                    cgroup_permissions: Some(d.permissions.clone()),
                })
                .collect(),
        ),
        device_requests: some_vec(
            svc.device_requests
                .iter()
                .map(|r| DeviceRequest {
                    driver: r.driver.clone(),
                    count: r.count,
                    device_ids: some_vec(r.device_ids.clone()),
                    capabilities: Some(r.capabilities.clone()),
                    options: (!r.options.is_empty())
                        .then(|| r.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                })
                .collect(),
        ),
        security_opt: some_vec(svc.security_opt.clone()),
        sysctls: (!svc.sysctls.is_empty())
            .then(|| svc.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ulimits: some_vec(
            svc.ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect(),
        ),
        shm_size: svc.shm_size.map(saturating_i64),
        init: svc.init,
        log_config: svc.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: l.driver.clone(),
            config: (!l.options.is_empty())
                .then(|| l.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }),
        nano_cpus: svc.resources.limits.cpus.map(|c| (c * 1e9).round() as i64),
        memory: svc.resources.limits.memory.map(saturating_i64),
        pids_limit: svc.resources.limits.pids,
        memory_reservation: svc.resources.reservations.memory.map(saturating_i64),
        extra_hosts: some_vec(svc.extra_hosts.clone()),
        dns: some_vec(svc.dns.clone()),
        dns_search: some_vec(svc.dns_search.clone()),
        readonly_rootfs: svc.read_only.then_some(true),
        group_add: some_vec(svc.group_add.clone()),
        runtime: svc.runtime.clone(),
        pid_mode: svc.pid.clone(),
        ipc_mode: svc.ipc.clone(),
        ..Default::default()
    };

    Ok(ContainerCreateBody {
        image: Some(svc.image.clone()),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        env: some_vec(svc.environment.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        exposed_ports: some_vec(exposed_ports),
        volumes: some_vec(anonymous),
        hostname: svc.hostname.clone(),
        user: svc.user.clone(),
        working_dir: svc.working_dir.clone(),
        labels: Some(labels),
        stop_signal: svc.stop_signal.clone(),
        // Docker takes whole seconds; round up so a grace period is never shortened.
        stop_timeout: svc.stop_grace_period.map(|d| {
            (d.as_secs() + u64::from(d.subsec_nanos() > 0)).min(i64::MAX as u64) as i64
        }),
        healthcheck: svc.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval.map(nanos),
            timeout: h.timeout.map(nanos),
            retries: h.retries.map(i64::from),
            start_period: h.start_period.map(nanos),
            // API ≥ 1.44 only; older engines ignore the field.
            start_interval: h.start_interval.map(nanos),
        }),
        tty: svc.tty.then_some(true),
        open_stdin: svc.stdin_open.then_some(true),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    })
}

/// The networks a replica joins after create (all but the first), as Docker network
/// name and endpoint settings for `POST /networks/{id}/connect`. Empty with
/// `network_mode`.
///
/// # Errors
/// [`DriverError::InvalidSpec`] when the service is not in the stack.
pub fn extra_networks(
    stack: &Stack,
    service_name: &str,
) -> Result<Vec<(String, EndpointSettings)>, DriverError> {
    let svc = service(stack, service_name)?;
    if svc.network_mode.is_some() {
        return Ok(Vec::new());
    }
    Ok(svc
        .networks
        .iter()
        .skip(1)
        .map(|(net, sn)| (stack.docker_network_name(net), endpoint(service_name, sn)))
        .collect())
}

/// Endpoint with the service name first among the aliases, so replicas resolve each
/// other (and other services resolve them) by service name, as in Compose.
fn endpoint(service_name: &str, sn: &roost_spec::ServiceNetwork) -> EndpointSettings {
    let mut aliases = vec![service_name.to_string()];
    aliases.extend(sn.aliases.iter().filter(|a| *a != service_name).cloned());
    EndpointSettings {
        aliases: Some(aliases),
        ipam_config: sn.ipv4_address.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `ExposedPorts` keys and `PortBindings`. A port without `published` gets an empty
/// `HostPort` (the engine picks one); a range is passed through for the engine to
/// choose from. `expose` entries (`80`, `80/udp`, `8000-8002`) are exposed only.
fn ports(svc: &Service) -> (Vec<String>, HashMap<String, Option<Vec<PortBinding>>>) {
    let mut exposed: Vec<String> = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(
            PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: Some(p.published.clone().unwrap_or_default()),
            },
        );
    }
    // Routed ports are exposed (not published): every node's proxy reaches replicas over
    // the cluster network, so nothing is open on the LAN that the file does not publish.
    for port in svc.routes.iter().filter_map(|r| r.port) {
        let key = format!("{port}/tcp");
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    for e in &svc.expose {
        let (range, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let keys: Vec<String> = match range.split_once('-') {
            Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) if a <= b => (a..=b).map(|p| format!("{p}/{proto}")).collect(),
                _ => vec![format!("{range}/{proto}")],
            },
            None => vec![format!("{range}/{proto}")],
        };
        for k in keys {
            if !exposed.contains(&k) {
                exposed.push(k);
            }
        }
    }
    (exposed, bindings)
}

type MountParts = (Vec<String>, Vec<Mount>, Vec<String>, HashMap<String, String>);

/// Splits volumes, binds, tmpfs, secrets and configs into `Binds`, `Mounts`,
/// anonymous `Volumes` and `Tmpfs`.
fn mounts(stack: &Stack, svc: &Service) -> Result<MountParts, DriverError> {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    let mut anonymous = Vec::new();
    let mut tmpfs = HashMap::new();
    let ro = |r: bool| if r { ":ro" } else { "" };
    for m in &svc.volumes {
        match (m.kind, &m.source) {
            (MountKind::Volume, Some(vol)) => binds.push(format!(
                "{}:{}{}",
                stack.docker_volume_name(vol),
                m.target,
                ro(m.read_only)
            )),
            (MountKind::Volume, None) => anonymous.push(m.target.clone()),
            (MountKind::Bind, Some(src)) if m.create_host_path => {
                binds.push(format!("{src}:{}{}", m.target, ro(m.read_only)))
            }
            (MountKind::Bind, Some(src)) => mounts.push(Mount {
                typ: Some(MountType::BIND),
                source: Some(src.clone()),
                target: Some(m.target.clone()),
                read_only: m.read_only.then_some(true),
                ..Default::default()
            }),
            (MountKind::Bind, None) => {
                return Err(DriverError::InvalidSpec {
                    detail: format!("bind mount at `{}` has no source path", m.target),
                })
            }
            (MountKind::Tmpfs, _) => {
                let mut opts = Vec::new();
                if let Some(size) = m.tmpfs_size {
                    opts.push(format!("size={size}"));
                }
                if m.read_only {
                    opts.push("ro".to_string());
                }
                tmpfs.insert(m.target.clone(), opts.join(","));
            }
        }
    }
    for t in &svc.tmpfs {
        let (path, opts) = t.split_once(':').unwrap_or((t.as_str(), ""));
        tmpfs.insert(path.to_string(), opts.to_string());
    }
    for (kind, refs, objects) in
        [("secret", &svc.secrets, &stack.secrets), ("config", &svc.configs, &stack.configs)]
    {
        for FileRef { source, target, .. } in refs {
            let obj = objects.get(source).ok_or_else(|| DriverError::InvalidSpec {
                detail: format!("{kind} `{source}` is not defined in stack `{}`", stack.name),
            })?;
            match &obj.file {
                Some(file) => binds.push(format!("{file}:{target}:ro")),
                None => {
                    return Err(DriverError::Unsupported {
                        detail: format!(
                            "{kind} `{source}` comes from the environment (content); only file-based {kind}s are supported yet"
                        ),
                    })
                }
            }
        }
    }
    Ok((binds, mounts, anonymous, tmpfs))
}

/// Labels roost and Compose put on a network or volume of a stack.
fn resource_labels(
    stack: &Stack,
    resource: &str,
    compose_key: &str,
    own: &std::collections::BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in [
        (labels::MANAGED, "true"),
        (labels::STACK, stack.name.as_str()),
        (labels::RESOURCE, resource),
        (labels::COMPOSE_PROJECT, stack.name.as_str()),
        (compose_key, resource),
    ] {
        l.insert(k.to_string(), v.to_string());
    }
    l
}

/// The create body of a (non-external) Compose network. A network the stack does not
/// declare is created with defaults (a bridge), as Compose does for `default`.
pub fn network_config(stack: &Stack, network: &str) -> NetworkCreateRequest {
    let spec = stack.networks.get(network).cloned().unwrap_or_default();
    NetworkCreateRequest {
        name: stack.docker_network_name(network),
        driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".to_string())),
        internal: spec.internal.then_some(true),
        options: (!spec.driver_opts.is_empty())
            .then(|| spec.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        labels: Some(resource_labels(stack, network, COMPOSE_NETWORK, &spec.labels)),
        ..Default::default()
    }
}

/// The create body of a (non-external) Compose volume.
pub fn volume_config(stack: &Stack, volume: &str) -> VolumeCreateRequest {
    let spec = stack.volumes.get(volume).cloned().unwrap_or_default();
    VolumeCreateRequest {
        name: Some(stack.docker_volume_name(volume)),
        driver: spec.driver.clone(),
        driver_opts: (!spec.driver_opts.is_empty())
            .then(|| spec.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        labels: Some(resource_labels(stack, volume, COMPOSE_VOLUME, &spec.labels)),
        ..Default::default()
    }
}

fn some_vec<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
