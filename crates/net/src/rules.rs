//! The firewall rules that steer a node's containers to its agent, as the text
//! `iptables-restore --noflush` takes: one chain per agent, replaced whole in one
//! atomic commit, so a change never leaves a moment without rules.
//!
//! Traffic to [`crate::DNS_ADDR`] port 53 and to the addresses of services attached to a
//! network is redirected (nat `PREROUTING`, `REDIRECT`) to the agent's DNS and
//! service ports, matched by the network's bridge interface: a container on another
//! network has no rule for those addresses, and its packets go nowhere.

use crate::steer::Steering;
use crate::DNS_ADDR;
use std::fmt::Write;

/// Where the agent listens for what the rules redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub dns: u16,
    pub service: u16,
}

/// The chain name for an agent (several agents may share one kernel in tests).
pub fn chain(agent_id: &str) -> String {
    let short: String = agent_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("ROOST-{short}")
}

/// The `iptables-restore --noflush` input that makes `chain` exactly these rules.
pub fn restore_input(chain: &str, steering: &Steering, ports: Ports) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "*nat");
    let _ = writeln!(out, ":{chain} - [0:0]");
    let _ = writeln!(out, "-F {chain}");
    for n in &steering.networks {
        let i = &n.interface;
        for proto in ["udp", "tcp"] {
            let _ = writeln!(out, "-A {chain} -i {i} -d {DNS_ADDR}/32 -p {proto} --dport 53 -j REDIRECT --to-ports {}", ports.dns);
        }
        for addr in n.services.keys() {
            let _ = writeln!(
                out,
                "-A {chain} -i {i} -d {addr}/32 -p tcp -j REDIRECT --to-ports {}",
                ports.service
            );
        }
    }
    let _ = writeln!(out, "COMMIT");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steer::SteeredNetwork;
    use crate::Subnet;
    use expect_test::expect;

    #[test]
    fn each_network_is_steered_to_its_own_services_and_the_dns() {
        let steering = Steering {
            networks: vec![SteeredNetwork {
                interface: "br-0123456789ab".into(),
                subnet: Subnet::parse("172.20.0.0/16").unwrap(),
                stack: "app".into(),
                network: "default".into(),
                names: Default::default(),
                services: [
                    ("10.213.1.1".parse().unwrap(), "db".into()),
                    ("10.213.1.2".parse().unwrap(), "web".into()),
                ]
                .into(),
            }],
        };
        expect![[r#"
            *nat
            :ROOST-0f3a9c2b11de - [0:0]
            -F ROOST-0f3a9c2b11de
            -A ROOST-0f3a9c2b11de -i br-0123456789ab -d 10.213.0.53/32 -p udp --dport 53 -j REDIRECT --to-ports 40053
            -A ROOST-0f3a9c2b11de -i br-0123456789ab -d 10.213.0.53/32 -p tcp --dport 53 -j REDIRECT --to-ports 40053
            -A ROOST-0f3a9c2b11de -i br-0123456789ab -d 10.213.1.1/32 -p tcp -j REDIRECT --to-ports 40080
            -A ROOST-0f3a9c2b11de -i br-0123456789ab -d 10.213.1.2/32 -p tcp -j REDIRECT --to-ports 40080
            COMMIT
        "#]]
        .assert_eq(&restore_input(&chain("0f3a9c2b11de77aa"), &steering, Ports { dns: 40053, service: 40080 }));
    }
}
