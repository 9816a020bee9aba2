//! What the cluster network adds to a stack before its containers are made: the
//! agent's DNS as every networked service's first resolver (Docker's embedded DNS
//! forwards names it does not know there), and the `SERVICE.STACK` and
//! `container_name` aliases on every network, so those names resolve on the replica's
//! own node as they do elsewhere.
//!
//! Pure and the same on every node, so the config hash (which covers these fields)
//! agrees across nodes; a service that already has the fields is left as it is.

use crate::DNS_ADDR;
use roost_spec::Stack;

pub fn wire(stack: &Stack) -> Stack {
    let mut out = stack.clone();
    for (name, svc) in &mut out.services {
        if svc.network_mode.is_some() || svc.networks.is_empty() {
            continue;
        }
        let dns = DNS_ADDR.to_string();
        if !svc.dns.contains(&dns) {
            svc.dns.insert(0, dns);
        }
        let mut names = vec![format!("{name}.{}", stack.name)];
        names.extend(svc.container_name.clone());
        for net in svc.networks.values_mut() {
            for n in &names {
                if !net.aliases.contains(n) {
                    net.aliases.push(n.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_spec::{Service, ServiceNetwork};

    #[test]
    fn networked_services_get_the_agent_dns_first_and_a_qualified_alias() {
        let stack = Stack {
            name: "app".into(),
            services: [
                (
                    "db".to_string(),
                    Service {
                        dns: vec!["1.1.1.1".into()],
                        container_name: Some("pg".into()),
                        networks: [("default".to_string(), ServiceNetwork::default())].into(),
                        ..Default::default()
                    },
                ),
                (
                    "tool".to_string(),
                    Service {
                        network_mode: Some("host".into()),
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            ..Default::default()
        };
        let wired = wire(&stack);
        let db = &wired.services["db"];
        assert_eq!(db.dns, vec!["10.213.0.53".to_string(), "1.1.1.1".into()]);
        assert_eq!(db.networks["default"].aliases, vec!["db.app".to_string(), "pg".into()]);
        assert_eq!(wired.services["tool"], stack.services["tool"]);
        assert_eq!(wire(&wired), wired, "wiring twice changes nothing");
    }
}
