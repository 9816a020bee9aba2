//! Property: from any mix of containers on the engine, applying the reconciler's plans
//! to a simulated engine converges to exactly one up-to-date running container per
//! desired slot and nothing else, and never removes a volume.

mod common;

use common::*;
use proptest::prelude::*;
use roost_core::hash::config_hash;
use roost_core::observed::{ContainerState, Health, Observed, ObservedContainer, ObservedResource};
use roost_core::reconcile::{Action, Reconciler};

fn apply(stack: &roost_spec::Stack, observed: &mut Observed, actions: &[Action], next_id: &mut u32) {
    for a in actions {
        match a {
            Action::EnsureNetwork { stack: s, network } => observed.networks.push(ObservedResource {
                name: stack.docker_network_name(network),
                stack: s.clone(),
                resource: network.clone(), interface: None, subnet: None
            }),
            Action::EnsureVolume { stack: s, volume } => observed.volumes.push(ObservedResource {
                name: stack.docker_volume_name(volume),
                stack: s.clone(),
                resource: volume.clone(), interface: None, subnet: None
            }),
            Action::Create { slot, config_hash } => {
                *next_id += 1;
                let mut c = running(stack, &slot.service, slot.slot);
                c.id = format!("new{next_id}");
                c.config_hash = config_hash.clone();
                observed.containers.push(c);
            }
            Action::Start { container_id, .. } => {
                let c = observed.containers.iter_mut().find(|c| c.id == *container_id).unwrap();
                c.state = ContainerState::Running;
                c.health = Health::Healthy;
            }
            Action::Remove { container_id, .. } => observed.containers.retain(|c| c.id != *container_id),
            Action::RemoveNetwork { name } => observed.networks.retain(|n| n.name != *name),
        }
    }
}

fn arb_container() -> impl Strategy<Value = (u8, u8, u32, bool, u8, i64)> {
    (0u8..3, 0u8..4, 0u32..5, any::<bool>(), 0u8..6, 0i64..1000)
}

proptest! {
    #[test]
    fn plans_converge_from_any_engine_state(
        raw in proptest::collection::vec(arb_container(), 0..12),
        api_replicas in 0u32..4,
    ) {
        let mut stack = demo_stack();
        stack.services.get_mut("api").unwrap().replicas = api_replicas;
        let desired = desired(&[stack.clone()]);
        let stacks = ["demo", "old", "demo"];
        let services = ["web", "worker", "api", "gone"];
        let mut observed = Observed::default();
        for (i, (st, sv, slot, fresh, state, created)) in raw.into_iter().enumerate() {
            let service = services[sv as usize];
            let hash = if fresh { config_hash(&stack, service).unwrap_or_default() } else { "stale".into() };
            observed.containers.push(ObservedContainer {
                id: format!("c{i}"),
                name: String::new(),
                stack: stacks[st as usize].into(),
                service: service.into(),
                slot,
                config_hash: hash,
                state: match state {
                    0 => ContainerState::Created,
                    1 => ContainerState::Exited { code: Some(1) },
                    2 => ContainerState::Dead,
                    _ => ContainerState::Running,
                },
                health: if state == 5 { Health::Unhealthy } else { Health::Healthy },
                ports: vec![],
                created,
                addresses: Default::default(),
                exposed: vec![],
            });
        }
        observed.networks.push(ObservedResource { name: "old_default".into(), stack: "old".into(), resource: "default".into() , interface: None, subnet: None});
        observed.volumes.push(ObservedResource { name: "old_data".into(), stack: "old".into(), resource: "data".into() , interface: None, subnet: None});

        let mut r = Reconciler::new();
        let mut next_id = 0;
        let mut now = 0;
        for _ in 0..12 {
            let plan = r.plan(&desired, &observed, now);
            if plan.is_empty() { break; }
            apply(&stack, &mut observed, &plan, &mut next_id);
            now += 60_000;
        }
        prop_assert!(r.plan(&desired, &observed, now).is_empty(), "did not converge");
        for (name, svc) in &stack.services {
            let hash = config_hash(&stack, name).unwrap();
            for slot in 1..=svc.replicas {
                let n = observed.containers.iter().filter(|c| c.stack == "demo" && c.service == *name && c.slot == slot).count();
                prop_assert_eq!(n, 1, "{}#{}", name, slot);
            }
            prop_assert!(observed.containers.iter().filter(|c| c.service == *name).all(|c| c.config_hash == hash && c.state == ContainerState::Running));
        }
        let expected: usize = stack.services.values().map(|s| s.replicas as usize).sum();
        prop_assert_eq!(observed.containers.len(), expected);
        prop_assert!(observed.volumes.iter().any(|v| v.name == "old_data"), "volumes are never removed");
        prop_assert!(!observed.networks.iter().any(|n| n.name == "old_default"));
    }
}
