//! Building the proxy's routing table from the desired stacks and what every node
//! runs: a pure function, tested as data.
//!
//! Every routed target port is published on a port the engine picks (see
//! `roost_docker::config`), so a replica is reached at `NODE_IP:HOST_PORT` from any
//! node, and at `127.0.0.1:HOST_PORT` from its own. A replica is a healthy backend when
//! it runs and its healthcheck passes (or it has none).

use roost_core::observed::{ContainerState, Health, ObservedContainer};
use roost_proxy::{Backend, ProxyRoute, Table};
use roost_spec::Stack;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The containers one node runs, and how other nodes reach it.
pub struct NodeContainers<'a> {
    /// `None` for this node (reached on loopback).
    pub ip: Option<IpAddr>,
    pub containers: &'a [ObservedContainer],
}

/// The table for `stacks`, given every node's containers. Also returns what cannot be
/// routed (a route without a port whose replica publishes several), for logs.
pub fn build<'a>(stacks: impl IntoIterator<Item = (&'a str, &'a Stack)>, nodes: &[NodeContainers<'_>]) -> (Table, Vec<String>) {
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for (stack_name, stack) in stacks {
        for (service_name, service) in &stack.services {
            for route in &service.routes {
                let mut backends = Vec::new();
                for node in nodes {
                    let replicas = node.containers.iter().filter(|c| {
                        c.stack == stack_name
                            && c.service == *service_name
                            && !matches!(c.state, ContainerState::Exited { .. } | ContainerState::Dead)
                    });
                    for c in replicas {
                        match reach(c, route.port, node.ip) {
                            Ok(Some(addr)) => backends.push(Backend { addr, healthy: serving(c) }),
                            Ok(None) => {}
                            Err(e) => problems.push(format!("{stack_name}/{service_name} route {}: {e}", route.name)),
                        }
                    }
                }
                backends.sort_by_key(|b| b.addr);
                routes.push(ProxyRoute {
                    id: format!("{stack_name}/{service_name}/{}", route.name),
                    rule: route.rule.clone(),
                    http: route.entrypoints.http,
                    https: route.entrypoints.https,
                    backends,
                });
            }
        }
    }
    (Table { routes }, problems)
}

fn serving(c: &ObservedContainer) -> bool {
    c.state == ContainerState::Running && matches!(c.health, Health::Healthy | Health::None)
}

/// Where to reach `port` (or the single published TCP port) of `c`: `Ok(None)` when it
/// is not published where `ip` can reach it (yet: a container being created).
fn reach(c: &ObservedContainer, port: Option<u16>, ip: Option<IpAddr>) -> Result<Option<SocketAddr>, String> {
    let published: Vec<(IpAddr, u16, u16)> = c.ports.iter().filter_map(|p| parse_binding(p)).collect();
    let candidates: Vec<&(IpAddr, u16, u16)> = published
        .iter()
        .filter(|(host_ip, _, target)| {
            port.is_none_or(|p| p == *target) && (ip.is_none() || host_ip.is_unspecified())
        })
        .collect();
    let targets: std::collections::BTreeSet<u16> = candidates.iter().map(|(_, _, t)| *t).collect();
    if port.is_none() && targets.len() > 1 {
        return Err(format!("the container publishes several ports ({targets:?}): name one in the route"));
    }
    Ok(candidates.first().map(|(host_ip, host_port, _)| {
        let ip = ip.unwrap_or(if host_ip.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { *host_ip });
        SocketAddr::new(ip, *host_port)
    }))
}

/// `0.0.0.0:32768->80/tcp` → (0.0.0.0, 32768, 80); other protocols → `None`.
fn parse_binding(s: &str) -> Option<(IpAddr, u16, u16)> {
    let (host, target) = s.split_once("->")?;
    let target = target.strip_suffix("/tcp")?.parse().ok()?;
    let (ip, port) = host.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    Some((ip, port.parse().ok()?, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use std::collections::BTreeMap;

    fn container(stack: &str, service: &str, slot: u32, ports: &[&str], health: Health) -> ObservedContainer {
        ObservedContainer {
            id: format!("{service}{slot}"),
            name: format!("{stack}-{service}-{slot}"),
            stack: stack.into(),
            service: service.into(),
            slot,
            config_hash: "h".into(),
            state: ContainerState::Running,
            health,
            ports: ports.iter().map(|p| p.to_string()).collect(),
            created: 0,
            addresses: Default::default(),
        }
    }

    fn stacks() -> BTreeMap<String, Stack> {
        let stack = |name: &str, service: &str, route: &str| {
            let route: roost_routes::Route = serde_json::from_str(route).unwrap();
            let svc = roost_spec::Service { routes: vec![route], ..Default::default() };
            Stack { name: name.into(), services: BTreeMap::from([(service.into(), svc)]), ..Default::default() }
        };
        BTreeMap::from([
            ("blog".into(), stack("blog", "web", r#"{"name":"x-roost-0","rule":"Host(`blog.lan`)","port":80,"tls":"off","entrypoints":{"http":true}}"#)),
            ("shop".into(), stack("shop", "api", r#"{"name":"api","rule":"Host(`shop.lan`) && PathPrefix(`/api`)","tls":"internal","entrypoints":{"https":true}}"#)),
        ])
    }

    fn show(t: &(Table, Vec<String>)) -> String {
        let mut out = String::new();
        for r in &t.0.routes {
            out += &format!("{} [{}] http={} https={}\n", r.id, r.rule, r.http, r.https);
            for b in &r.backends {
                out += &format!("  {} healthy={}\n", b.addr, b.healthy);
            }
        }
        for p in &t.1 {
            out += &format!("problem: {p}\n");
        }
        out
    }

    #[test]
    fn replicas_on_every_node_are_backends_local_on_loopback_remote_on_the_node_ip() {
        let local = [
            container("blog", "web", 1, &["0.0.0.0:32768->80/tcp"], Health::Healthy),
            container("shop", "api", 1, &["0.0.0.0:32770->8080/tcp"], Health::Starting),
        ];
        let remote = [
            container("blog", "web", 2, &["0.0.0.0:32771->80/tcp", "127.0.0.1:8081->80/tcp"], Health::None),
            // Published on loopback only: other nodes cannot reach it.
            container("blog", "web", 3, &["127.0.0.1:8082->80/tcp"], Health::Healthy),
        ];
        let nodes = [
            NodeContainers { ip: None, containers: &local },
            NodeContainers { ip: Some("10.77.0.12".parse().unwrap()), containers: &remote },
        ];
        expect![[r#"
            blog/web/x-roost-0 [Host(`blog.lan`)] http=true https=false
              10.77.0.12:32771 healthy=true
              127.0.0.1:32768 healthy=true
            shop/api/api [Host(`shop.lan`) && PathPrefix(`/api`)] http=false https=true
              127.0.0.1:32770 healthy=false
        "#]]
        .assert_eq(&show(&build(stacks().iter().map(|(k, v)| (k.as_str(), v)), &nodes)));
    }

    #[test]
    fn a_portless_route_needs_a_single_published_port() {
        let local = [container("shop", "api", 1, &["0.0.0.0:1->8080/tcp", "0.0.0.0:2->9090/tcp", "0.0.0.0:3->53/udp"], Health::None)];
        let nodes = [NodeContainers { ip: None, containers: &local }];
        expect![[r#"
            blog/web/x-roost-0 [Host(`blog.lan`)] http=true https=false
            shop/api/api [Host(`shop.lan`) && PathPrefix(`/api`)] http=false https=true
            problem: shop/api route api: the container publishes several ports ({8080, 9090}): name one in the route
        "#]]
        .assert_eq(&show(&build(stacks().iter().map(|(k, v)| (k.as_str(), v)), &nodes)));
    }
}
