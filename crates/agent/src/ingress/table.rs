//! Building the proxy's routing table from the desired stacks and what every node
//! runs: a pure function, tested as data.
//!
//! Nothing is published for the ingress. A replica on this node is reached at its
//! container address; a replica on another node through the cluster network's
//! encrypted tunnel, under a made-up IPv6 address (in `fd72:6f6f:7374::/48`) that the
//! agent's [`super::dial::MeshDial`] recognizes. A replica is a healthy backend when it
//! runs and its healthcheck passes (or it has none).

use roost_core::observed::{ContainerState, ObservedContainer};
use roost_proxy::{Backend, ProxyRoute, Table};
use roost_spec::Stack;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The containers one node runs.
pub struct NodeContainers<'a> {
    /// `None` for this node.
    pub node: Option<u64>,
    pub containers: &'a [ObservedContainer],
}

/// A replica on another node, reached through a tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub node: u64,
    pub stack: String,
    pub service: String,
    pub slot: u32,
    pub port: u16,
}

/// The table, the made-up addresses of remote replicas, and what cannot be routed
/// (for logs).
#[derive(Debug, Default, PartialEq)]
pub struct Built {
    pub table: Table,
    pub remotes: BTreeMap<SocketAddr, Remote>,
    pub problems: Vec<String>,
}

/// The table for `stacks`, given every node's containers.
pub fn build<'a>(
    stacks: impl IntoIterator<Item = (&'a str, &'a Stack)>,
    nodes: &[NodeContainers<'_>],
) -> Built {
    let mut out = Built::default();
    for (stack_name, stack) in stacks {
        for (service_name, service) in &stack.services {
            for route in &service.routes {
                let mut backends = Vec::new();
                for node in nodes {
                    let replicas = node.containers.iter().filter(|c| {
                        c.stack == stack_name
                            && c.service == *service_name
                            && !matches!(
                                c.state,
                                ContainerState::Exited { .. } | ContainerState::Dead
                            )
                    });
                    for c in replicas {
                        let port = match target_port(c, route.port) {
                            Ok(Some(p)) => p,
                            Ok(None) => continue,
                            Err(e) => {
                                out.problems.push(format!(
                                    "{stack_name}/{service_name} route {}: {e}",
                                    route.name
                                ));
                                continue;
                            }
                        };
                        let addr = match node.node {
                            None => match c.ipv4()
                            {
                                Some(ip) => SocketAddr::new(IpAddr::V4(ip), port),
                                None => continue,
                            },
                            Some(id) => {
                                let remote = Remote {
                                    node: id,
                                    stack: stack_name.into(),
                                    service: service_name.clone(),
                                    slot: c.slot,
                                    port,
                                };
                                let addr = remote_addr(&remote);
                                out.remotes.insert(addr, remote);
                                addr
                            }
                        };
                        backends.push(Backend {
                            addr,
                            healthy: c.serving(),
                        });
                    }
                }
                backends.sort_by_key(|b| b.addr);
                backends.dedup_by_key(|b| b.addr);
                out.table.routes.push(ProxyRoute {
                    id: format!("{stack_name}/{service_name}/{}", route.name),
                    rule: route.rule.clone(),
                    http: route.entrypoints.http,
                    https: route.entrypoints.https,
                    backends,
                });
            }
        }
    }
    out
}

/// The route's port, or the container's single exposed TCP port; `Ok(None)` while the
/// container exposes none (it is being created).
fn target_port(c: &ObservedContainer, port: Option<u16>) -> Result<Option<u16>, String> {
    match (port, c.exposed.as_slice()) {
        (Some(p), _) => Ok(Some(p)),
        (None, []) => Ok(None),
        (None, [one]) => Ok(Some(*one)),
        (None, many) => Err(format!(
            "the container exposes several ports ({many:?}): name one in the route"
        )),
    }
}

/// A stable made-up address for a remote replica: FNV-1a of what it is, under
/// `fd72:6f6f:7374::/48` (`r o o s t`), so the proxy's per-backend health follows
/// the replica, not a node.
pub fn remote_addr(r: &Remote) -> SocketAddr {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{:016x}/{}/{}/{}", r.node, r.stack, r.service, r.slot).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let ip = Ipv6Addr::new(
        0xfd72,
        0x6f6f,
        0x7374,
        0,
        (h >> 48) as u16,
        (h >> 32) as u16,
        (h >> 16) as u16,
        h as u16,
    );
    SocketAddr::new(IpAddr::V6(ip), r.port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use roost_core::observed::Health;

    fn container(
        stack: &str,
        service: &str,
        slot: u32,
        ip: &str,
        exposed: &[u16],
        health: Health,
    ) -> ObservedContainer {
        ObservedContainer {
            id: format!("{service}{slot}"),
            name: format!("{stack}-{service}-{slot}"),
            stack: stack.into(),
            service: service.into(),
            slot,
            config_hash: "h".into(),
            state: ContainerState::Running,
            health,
            ports: vec![],
            created: 0,
            addresses: if ip.is_empty() {
                Default::default()
            } else {
                [(format!("{stack}_default"), ip.to_string())].into()
            },
            exposed: exposed.to_vec(),
        }
    }

    fn stacks() -> BTreeMap<String, Stack> {
        let stack = |name: &str, service: &str, route: &str| {
            let route: roost_routes::Route = serde_json::from_str(route).unwrap();
            let svc = roost_spec::Service {
                routes: vec![route],
                ..Default::default()
            };
            Stack {
                name: name.into(),
                services: BTreeMap::from([(service.into(), svc)]),
                ..Default::default()
            }
        };
        BTreeMap::from([
            (
                "blog".into(),
                stack(
                    "blog",
                    "web",
                    r#"{"name":"x-roost-0","rule":"Host(`blog.lan`)","port":80,"tls":"off","entrypoints":{"http":true}}"#,
                ),
            ),
            (
                "shop".into(),
                stack(
                    "shop",
                    "api",
                    r#"{"name":"api","rule":"Host(`shop.lan`) && PathPrefix(`/api`)","tls":"internal","entrypoints":{"https":true}}"#,
                ),
            ),
        ])
    }

    fn show(b: &Built) -> String {
        let mut out = String::new();
        for r in &b.table.routes {
            out += &format!("{} [{}] http={} https={}\n", r.id, r.rule, r.http, r.https);
            for backend in &r.backends {
                let via = b
                    .remotes
                    .get(&backend.addr)
                    .map(|r| format!(" via tunnel to {:x} slot {}", r.node, r.slot))
                    .unwrap_or_default();
                out += &format!("  {} healthy={}{via}\n", backend.addr, backend.healthy);
            }
        }
        for p in &b.problems {
            out += &format!("problem: {p}\n");
        }
        out
    }

    #[test]
    fn local_replicas_are_reached_at_their_container_address_remote_ones_through_tunnels() {
        let local = [
            container("blog", "web", 1, "172.18.0.2", &[80], Health::Healthy),
            container("shop", "api", 1, "172.19.0.2", &[8080], Health::Starting),
        ];
        let remote = [
            container("blog", "web", 2, "172.18.0.2", &[80], Health::None),
            // Not on a network yet: no local address, but a tunnel does not need one.
            container("blog", "web", 3, "", &[80], Health::Healthy),
        ];
        let nodes = [
            NodeContainers {
                node: None,
                containers: &local,
            },
            NodeContainers {
                node: Some(0xb2),
                containers: &remote,
            },
        ];
        expect![[r#"
            blog/web/x-roost-0 [Host(`blog.lan`)] http=true https=false
              172.18.0.2:80 healthy=true
              [fd72:6f6f:7374:0:932a:da8a:3800:641a]:80 healthy=true via tunnel to b2 slot 2
              [fd72:6f6f:7374:0:932a:db8a:3800:65cd]:80 healthy=true via tunnel to b2 slot 3
            shop/api/api [Host(`shop.lan`) && PathPrefix(`/api`)] http=false https=true
              172.19.0.2:8080 healthy=false
        "#]]
        .assert_eq(&show(&build(
            stacks().iter().map(|(k, v)| (k.as_str(), v)),
            &nodes,
        )));
    }

    #[test]
    fn a_portless_route_needs_a_single_exposed_port() {
        let local = [container(
            "shop",
            "api",
            1,
            "172.19.0.2",
            &[8080, 9090],
            Health::None,
        )];
        let nodes = [NodeContainers {
            node: None,
            containers: &local,
        }];
        expect![[r#"
            blog/web/x-roost-0 [Host(`blog.lan`)] http=true https=false
            shop/api/api [Host(`shop.lan`) && PathPrefix(`/api`)] http=false https=true
            problem: shop/api route api: the container exposes several ports ([8080, 9090]): name one in the route
        "#]]
        .assert_eq(&show(&build(stacks().iter().map(|(k, v)| (k.as_str(), v)), &nodes)));
    }
}
