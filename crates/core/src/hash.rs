//! The config hash: what decides whether a container is still what its service asks for.
//!
//! Only what changes the container itself goes in: the service with its replica count
//! rollout settings and restart policy blanked (scaling, tuning a rollout or the restart
//! policy, which roost applies itself, must not replace running containers), plus the definitions of the networks and volumes it uses (a renamed
//! volume is a different container). The hash is short hex of SHA-256 over canonical
//! JSON; `BTreeMap`s make the JSON canonical.

use roost_spec::{Placement, Stack};
use sha2::{Digest, Sha256};

/// The hash of `service` in `stack`, or `None` when the stack has no such service.
pub fn config_hash(stack: &Stack, service: &str) -> Option<String> {
    let mut svc = stack.services.get(service)?.clone();
    svc.replicas = 0;
    svc.update_config = None;
    svc.restart = Default::default();
    svc.placement = Placement::default();
    let networks: Vec<_> = svc
        .networks
        .keys()
        .map(|n| (n.clone(), stack.networks.get(n).cloned(), stack.docker_network_name(n)))
        .collect();
    let volumes: Vec<_> = svc
        .volumes
        .iter()
        .filter_map(|m| m.source.as_ref().filter(|_| m.kind == roost_spec::MountKind::Volume))
        .map(|v| (v.clone(), stack.volumes.get(v).cloned(), stack.docker_volume_name(v)))
        .collect();
    let canonical = serde_json::to_vec(&(&stack.name, service, &svc, networks, volumes))
        .expect("the spec serializes to JSON");
    Some(hex::encode(&Sha256::digest(&canonical)[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_spec::Service;

    fn stack() -> Stack {
        let mut s = Stack { name: "app".into(), ..Default::default() };
        s.services.insert(
            "web".into(),
            Service { image: "nginx".into(), replicas: 1, ..Default::default() },
        );
        s
    }

    #[test]
    fn scaling_does_not_change_the_hash_but_environment_does() {
        let a = stack();
        let mut scaled = a.clone();
        scaled.services.get_mut("web").unwrap().replicas = 5;
        assert_eq!(config_hash(&a, "web"), config_hash(&scaled, "web"));

        let mut env = a.clone();
        env.services.get_mut("web").unwrap().environment.insert("A".into(), "1".into());
        assert_ne!(config_hash(&a, "web"), config_hash(&env, "web"));
        assert_eq!(config_hash(&a, "nope"), None);
    }
}
