//! What each of this node's stack networks may reach, and by which names: a pure
//! function of the desired stacks, the service addresses and the node's networks.
//!
//! Compose's rule holds across nodes: a container reaches a service only on a network
//! they share. A network here is one of this node's Docker networks of a stack; its
//! containers get answers for the services attached to it (by service name,
//! `SERVICE.STACK` and their aliases on that network) and nothing else.

use crate::addr::{key, Subnet};
use roost_spec::Stack;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One of this node's Docker networks, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNetwork {
    /// Docker-side name (`app_default`).
    pub docker_name: String,
    /// Host interface (`br-1a2b3c4d5e6f`).
    pub interface: String,
    pub subnet: Subnet,
}

/// A stack network on this node and what its containers may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteeredNetwork {
    pub interface: String,
    pub subnet: Subnet,
    pub stack: String,
    /// Compose name of the network (`default`).
    pub network: String,
    /// Lower-case name → service address.
    pub names: BTreeMap<String, Ipv4Addr>,
    /// Service address → service name, for the services attached to this network.
    pub services: BTreeMap<Ipv4Addr, String>,
}

/// Everything this node steers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Steering {
    pub networks: Vec<SteeredNetwork>,
}

/// The steering for `networks` (this node's), given every desired stack and the
/// replicated service addresses. Networks of no stack (external ones, Docker's
/// defaults) are left alone; a service without an address yet has no cross-node name.
pub fn plan<'a>(
    stacks: impl IntoIterator<Item = &'a Stack>,
    addrs: &BTreeMap<String, Ipv4Addr>,
    networks: &[LocalNetwork],
) -> Steering {
    let by_docker_name: BTreeMap<&str, &LocalNetwork> = networks
        .iter()
        .map(|n| (n.docker_name.as_str(), n))
        .collect();
    let mut out = Vec::new();
    for stack in stacks {
        for (net_name, net) in &stack.networks {
            if net.external {
                continue;
            }
            let Some(local) = by_docker_name.get(stack.docker_network_name(net_name).as_str())
            else {
                continue;
            };
            let mut names = BTreeMap::new();
            let mut services = BTreeMap::new();
            for (svc_name, svc) in &stack.services {
                let Some(attached) = svc.networks.get(net_name) else {
                    continue;
                };
                if svc.network_mode.is_some() {
                    continue;
                }
                let Some(ip) = addrs.get(&key(&stack.name, svc_name)) else {
                    continue;
                };
                services.insert(*ip, svc_name.clone());
                let mut add = |n: &str| {
                    names.entry(n.to_ascii_lowercase()).or_insert(*ip);
                };
                add(svc_name);
                add(&format!("{svc_name}.{}", stack.name));
                for alias in attached.aliases.iter().chain(&svc.container_name) {
                    add(alias);
                }
            }
            out.push(SteeredNetwork {
                interface: local.interface.clone(),
                subnet: local.subnet,
                stack: stack.name.clone(),
                network: net_name.clone(),
                names,
                services,
            });
        }
    }
    out.sort_by(|a, b| a.interface.cmp(&b.interface));
    Steering { networks: out }
}

impl Steering {
    /// The networks a container at `src` is on (by subnet).
    fn from(&self, src: Ipv4Addr) -> impl Iterator<Item = &SteeredNetwork> {
        self.networks.iter().filter(move |n| n.subnet.contains(src))
    }

    /// Whether `src` is a container of a steered network at all.
    pub fn knows(&self, src: Ipv4Addr) -> bool {
        self.from(src).next().is_some()
    }

    /// The address `name` means for a container at `src`, if a service on one of its
    /// networks has that name. Case and a trailing dot do not matter.
    pub fn resolve(&self, src: Ipv4Addr, name: &str) -> Option<Ipv4Addr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.from(src).find_map(|n| n.names.get(&name).copied())
    }

    /// The service (`(stack, service)`) a connection from `src` to `dst` is for, when
    /// `dst` is the address of a service on one of the networks `src` is on.
    pub fn service(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Option<(&str, &str)> {
        self.from(src)
            .find_map(|n| n.services.get(&dst).map(|s| (n.stack.as_str(), s.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::allocate;
    use expect_test::expect;
    use roost_spec::{Network, Service, ServiceNetwork};

    fn svc(networks: &[(&str, &[&str])]) -> Service {
        Service {
            networks: networks
                .iter()
                .map(|(n, aliases)| {
                    (
                        n.to_string(),
                        ServiceNetwork {
                            aliases: aliases.iter().map(|a| a.to_string()).collect(),
                            ipv4_address: None,
                        },
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    fn stacks() -> Vec<Stack> {
        let app = Stack {
            name: "app".into(),
            services: [
                ("web".to_string(), svc(&[("front", &[]), ("back", &[])])),
                ("db".to_string(), Service { container_name: Some("app-db".into()), ..svc(&[("back", &["postgres"])]) }),
                ("proxy".to_string(), svc(&[("front", &[])])),
            ]
            .into(),
            networks: [
                ("front".to_string(), Network::default()),
                ("back".to_string(), Network::default()),
            ]
            .into(),
            ..Default::default()
        };
        let blog = Stack {
            name: "blog".into(),
            services: [("db".to_string(), svc(&[("default", &[])]))].into(),
            networks: [("default".to_string(), Network::default())].into(),
            ..Default::default()
        };
        vec![app, blog]
    }

    fn local() -> Vec<LocalNetwork> {
        let n = |d: &str, i: &str, s: &str| LocalNetwork {
            docker_name: d.into(),
            interface: i.into(),
            subnet: Subnet::parse(s).unwrap(),
        };
        vec![
            n("app_front", "br-front", "172.20.0.0/16"),
            n("app_back", "br-back", "172.21.0.0/16"),
            n("blog_default", "br-blog", "172.22.0.0/16"),
            n("bridge", "docker0", "172.17.0.0/16"),
        ]
    }

    fn steering() -> Steering {
        let stacks = stacks();
        let keys = stacks
            .iter()
            .flat_map(|s| s.services.keys().map(|k| key(&s.name, k)))
            .collect();
        plan(&stacks, &allocate(&Default::default(), &keys), &local())
    }

    #[test]
    fn each_network_names_only_the_services_attached_to_it() {
        let mut out = String::new();
        for n in &steering().networks {
            out += &format!(
                "{} {} {}/{}: {:?}\n",
                n.interface, n.subnet, n.stack, n.network, n.names
            );
        }
        expect![[r#"
            br-back 172.21.0.0/16 app/back: {"app-db": 10.213.1.1, "db": 10.213.1.1, "db.app": 10.213.1.1, "postgres": 10.213.1.1, "web": 10.213.1.3, "web.app": 10.213.1.3}
            br-blog 172.22.0.0/16 blog/default: {"db": 10.213.1.4, "db.blog": 10.213.1.4}
            br-front 172.20.0.0/16 app/front: {"proxy": 10.213.1.2, "proxy.app": 10.213.1.2, "web": 10.213.1.3, "web.app": 10.213.1.3}
        "#]]
        .assert_eq(&out);
    }

    #[test]
    fn a_container_resolves_and_reaches_only_services_on_its_own_networks() {
        let s = steering();
        let on_front = Ipv4Addr::new(172, 20, 0, 5);
        let on_back = Ipv4Addr::new(172, 21, 0, 5);
        let on_blog = Ipv4Addr::new(172, 22, 0, 5);
        let stranger = Ipv4Addr::new(172, 17, 0, 5);
        // Same name, different stacks: each gets its own.
        assert_eq!(
            s.resolve(on_back, "DB."),
            Some(Ipv4Addr::new(10, 213, 1, 1))
        );
        assert_eq!(s.resolve(on_blog, "db"), Some(Ipv4Addr::new(10, 213, 1, 4)));
        // proxy is on front only: back cannot resolve or reach it.
        assert_eq!(s.resolve(on_back, "proxy"), None);
        assert_eq!(s.service(on_back, Ipv4Addr::new(10, 213, 1, 2)), None);
        assert_eq!(
            s.service(on_front, Ipv4Addr::new(10, 213, 1, 2)),
            Some(("app", "proxy"))
        );
        // Another stack's container cannot reach app's db by address either.
        assert_eq!(s.service(on_blog, Ipv4Addr::new(10, 213, 1, 1)), None);
        assert_eq!(s.resolve(stranger, "db"), None);
        assert!(!s.knows(stranger) && s.knows(on_front));
    }
}
