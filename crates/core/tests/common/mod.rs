//! Builders and a tiny simulated engine for reconciler tests.
#![allow(dead_code)]

use roost_core::hash::config_hash;
use roost_core::observed::{ContainerState, Health, Observed, ObservedContainer, ObservedResource};
use roost_core::placement::{NodeId, NodeView};
use roost_core::reconcile::{Action, Desired};
use roost_spec::{Dependency, DependencyCondition, Healthcheck, Mount, MountKind, Service, ServiceNetwork, Stack};
use std::fmt::Write;

/// A named volume `source` mounted at `target`.
pub fn volume_mount(source: &str, target: &str) -> Mount {
    Mount {
        kind: MountKind::Volume,
        source: Some(source.into()),
        target: target.into(),
        read_only: false,
        create_host_path: false,
        tmpfs_size: None,
    }
}

/// An up, undrained manager with 4 CPUs and 8 GiB, no labels or devices.
pub fn node_view(id: NodeId, name: &str) -> NodeView {
    NodeView {
        id,
        name: name.into(),
        labels: Default::default(),
        role: "manager".into(),
        witness: false,
        up: true,
        draining: false,
        cpus: 4.0,
        memory_bytes: 8 << 30,
        gpus: vec![],
        devices: vec![],
        volumes: Default::default(),
        snapshots: Default::default(),
    }
}

pub fn service(image: &str, replicas: u32) -> Service {
    let mut s = Service { image: image.into(), replicas, ..Default::default() };
    s.networks.insert("default".into(), ServiceNetwork::default());
    s
}

/// web (healthcheck, named volume), worker (depends on web healthy), api ×2.
pub fn demo_stack() -> Stack {
    let mut stack = Stack { name: "demo".into(), ..Default::default() };
    stack.networks.insert("default".into(), Default::default());
    stack.volumes.insert("data".into(), Default::default());
    let mut web = service("busybox", 1);
    web.healthcheck = Some(Healthcheck {
        test: vec!["CMD".into(), "true".into()],
        interval: None,
        timeout: None,
        retries: None,
        start_period: None,
        start_interval: None,
    });
    web.volumes.push(volume_mount("data", "/data"));
    let mut worker = service("busybox", 1);
    worker.depends_on.insert(
        "web".into(),
        Dependency { condition: DependencyCondition::ServiceHealthy, required: true },
    );
    stack.services.insert("web".into(), web);
    stack.services.insert("worker".into(), worker);
    stack.services.insert("api".into(), service("busybox", 2));
    stack
}

pub fn desired(stacks: &[Stack]) -> Desired {
    stacks.iter().map(|s| (s.name.clone(), s.clone())).collect()
}

pub fn container(stack: &Stack, service: &str, slot: u32, state: ContainerState, health: Health) -> ObservedContainer {
    ObservedContainer {
        id: format!("{service}{slot}"),
        name: format!("{}-{service}-{slot}", stack.name),
        stack: stack.name.clone(),
        service: service.into(),
        slot,
        config_hash: config_hash(stack, service).unwrap(),
        state,
        health,
        ports: vec![],
        created: 100,
        addresses: Default::default(),
        exposed: vec![],
    }
}

pub fn running(stack: &Stack, service: &str, slot: u32) -> ObservedContainer {
    let health = if stack.services[service].healthcheck.is_some() { Health::Healthy } else { Health::None };
    container(stack, service, slot, ContainerState::Running, health)
}

/// Everything in `stack` running and healthy, with its network and volumes.
pub fn converged(stack: &Stack) -> Observed {
    let mut o = Observed::default();
    for (name, s) in &stack.services {
        for slot in 1..=s.replicas {
            o.containers.push(running(stack, name, slot));
        }
    }
    resources(stack, &mut o);
    o
}

pub fn resources(stack: &Stack, o: &mut Observed) {
    for n in stack.networks.keys() {
        o.networks.push(ObservedResource {
            name: stack.docker_network_name(n),
            stack: stack.name.clone(),
            resource: n.clone(), interface: None, subnet: None
        });
    }
    for v in stack.volumes.keys() {
        o.volumes.push(ObservedResource {
            name: stack.docker_volume_name(v),
            stack: stack.name.clone(),
            resource: v.clone(), interface: None, subnet: None
        });
    }
}

/// One action per line, compact, for snapshots.
pub fn render(actions: &[Action]) -> String {
    let mut out = String::new();
    for a in actions {
        let line = match a {
            Action::EnsureNetwork { stack, network } => format!("ensure network {stack}/{network}"),
            Action::EnsureVolume { stack, volume } => format!("ensure volume {stack}/{volume}"),
            Action::Create { slot, .. } => format!("create {slot}"),
            Action::Start { slot, container_id } => format!("start {slot} ({container_id})"),
            Action::Remove { slot, container_id, reason } => format!("remove {slot} ({container_id}): {reason:?}"),
            Action::RemoveNetwork { name } => format!("remove network {name}"),
        };
        writeln!(out, "{line}").unwrap();
    }
    if out.is_empty() {
        out.push_str("(nothing)\n");
    }
    out
}
