//! Which replica a connection to a service address goes to.
//!
//! Healthy replicas first (running, and their healthcheck passes or they have none);
//! replicas on this node before others (no tunnel, no second host); spread by a turn
//! counter among equals. Replicas that run but are not healthy yet come last, so a
//! service whose healthcheck is still starting is reached rather than refused, as a
//! Compose name would be.

use roost_core::observed::{ContainerState, Health, ObservedContainer};
use std::net::Ipv4Addr;

/// The containers of one node.
pub struct NodeContainers<'a> {
    /// `None` for this node.
    pub node: Option<u64>,
    pub containers: &'a [ObservedContainer],
}

/// Where one attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A replica on this node, at its address on one of its networks.
    Local { ip: Ipv4Addr, slot: u32 },
    /// A replica on node `node`, through a tunnel.
    Remote { node: u64, slot: u32 },
}

/// The replicas of `stack/service` in the order to try them.
pub fn targets(
    stack: &str,
    service: &str,
    nodes: &[NodeContainers<'_>],
    turn: usize,
) -> Vec<Target> {
    // (rank, target): 0 healthy here, 1 healthy elsewhere, 2 and 3 the same not yet healthy.
    let mut ranked: Vec<Vec<Target>> = vec![Vec::new(); 4];
    for n in nodes {
        for c in n
            .containers
            .iter()
            .filter(|c| c.stack == stack && c.service == service)
        {
            if c.state != ContainerState::Running || c.health == Health::Unhealthy {
                continue;
            }
            let healthy = c.serving();
            let (rank, target) = match n.node {
                None => {
                    let Some(ip) = c.ipv4() else {
                        continue;
                    };
                    (0, Target::Local { ip, slot: c.slot })
                }
                Some(node) => (1, Target::Remote { node, slot: c.slot }),
            };
            ranked[rank + if healthy { 0 } else { 2 }].push(target);
        }
    }
    ranked
        .into_iter()
        .flat_map(|mut group| {
            if !group.is_empty() {
                let k = turn % group.len();
                group.rotate_left(k);
            }
            group
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(
        service: &str,
        slot: u32,
        state: ContainerState,
        health: Health,
        ip: &str,
    ) -> ObservedContainer {
        ObservedContainer {
            id: format!("{service}{slot}"),
            name: String::new(),
            stack: "app".into(),
            service: service.into(),
            slot,
            config_hash: "h".into(),
            state,
            health,
            ports: vec![],
            created: 0,
            addresses: if ip.is_empty() {
                Default::default()
            } else {
                [("app_default".to_string(), ip.to_string())].into()
            },
            exposed: vec![],
        }
    }

    #[test]
    fn healthy_local_replicas_come_first_then_remote_then_starting_ones() {
        use ContainerState::*;
        let here = [
            c("db", 1, Running, Health::Starting, "172.20.0.2"),
            c("db", 2, Running, Health::Healthy, "172.20.0.3"),
            c("web", 1, Running, Health::Healthy, "172.20.0.4"),
        ];
        let there = [
            c("db", 3, Running, Health::None, ""),
            c("db", 4, Exited { code: Some(0) }, Health::None, ""),
            c("db", 5, Running, Health::Unhealthy, ""),
        ];
        let nodes = [
            NodeContainers {
                node: None,
                containers: &here,
            },
            NodeContainers {
                node: Some(7),
                containers: &there,
            },
        ];
        assert_eq!(
            targets("app", "db", &nodes, 0),
            vec![
                Target::Local {
                    ip: Ipv4Addr::new(172, 20, 0, 3),
                    slot: 2
                },
                Target::Remote { node: 7, slot: 3 },
                Target::Local {
                    ip: Ipv4Addr::new(172, 20, 0, 2),
                    slot: 1
                },
            ]
        );
        assert!(targets("app", "cache", &nodes, 0).is_empty());
    }

    #[test]
    fn the_turn_spreads_connections_over_equal_replicas() {
        let a = [c("db", 1, ContainerState::Running, Health::None, "")];
        let b = [c("db", 2, ContainerState::Running, Health::None, "")];
        let nodes = [
            NodeContainers {
                node: Some(1),
                containers: &a,
            },
            NodeContainers {
                node: Some(2),
                containers: &b,
            },
        ];
        let first: Vec<Target> = (0..4)
            .map(|t| targets("app", "db", &nodes, t)[0].clone())
            .collect();
        assert_eq!(first[0], first[2]);
        assert_ne!(first[0], first[1]);
    }
}
