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

/// The filter chain every agent on a host shares: traffic to [`crate::RANGE`] that no
/// redirect took (a container on a network the service is not on) is refused at once
/// rather than routed on towards the LAN, where nothing of the cluster's lives.
pub const GUARD_CHAIN: &str = "ROOST-GUARD";

/// The `iptables-restore --noflush` input for [`GUARD_CHAIN`] (the same on every agent).
pub fn guard_input() -> String {
    let range = crate::RANGE;
    format!(
        "*filter\n:{GUARD_CHAIN} - [0:0]\n-F {GUARD_CHAIN}\n\
         -A {GUARD_CHAIN} -d {range} -p tcp -j REJECT --reject-with tcp-reset\n\
         -A {GUARD_CHAIN} -d {range} -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steer::SteeredNetwork;
    use crate::Subnet;
    use expect_test::expect;

    #[test]
    fn traffic_to_the_range_that_no_redirect_took_is_refused() {
        expect![[r#"
            *filter
            :ROOST-GUARD - [0:0]
            -F ROOST-GUARD
            -A ROOST-GUARD -d 10.213.0.0/16 -p tcp -j REJECT --reject-with tcp-reset
            -A ROOST-GUARD -d 10.213.0.0/16 -j REJECT --reject-with icmp-port-unreachable
            COMMIT
        "#]]
        .assert_eq(&guard_input());
    }

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

/// Chains of other agents that are left over: in `listing` (`iptables -t nat -S`),
/// every `ROOST-*` chain but `own` whose rules all name interfaces that no longer
/// exist (or that has none). An agent killed with `-9` cannot remove its chain; a
/// live agent's chain always names its live bridges.
pub fn stale_chains(
    listing: &str,
    own: &str,
    interface_exists: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut chains: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for line in listing.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("-N"), Some(c)) if c.starts_with("ROOST-") && c != own => {
                chains.entry(c).or_default();
            }
            (Some("-A"), Some(c)) if c.starts_with("ROOST-") && c != own => {
                let mut rest = line.split_whitespace().skip_while(|w| *w != "-i").skip(1);
                chains.entry(c).or_default().extend(rest.next());
            }
            _ => {}
        }
    }
    chains
        .into_iter()
        .filter(|(_, ifaces)| !ifaces.iter().any(|i| interface_exists(i)))
        .map(|(c, _)| c.to_owned())
        .collect()
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn only_other_agents_chains_whose_bridges_are_all_gone_are_stale() {
        let listing = "-P PREROUTING ACCEPT
-N DOCKER
-N ROOST-aaaa
-N ROOST-bbbb
-N ROOST-cccc
-N ROOST-mine
-A PREROUTING -j ROOST-aaaa
-A ROOST-aaaa -d 10.213.0.53/32 -i br-gone1 -p udp -m udp --dport 53 -j REDIRECT --to-ports 1
-A ROOST-bbbb -d 10.213.0.53/32 -i br-gone2 -p udp -m udp --dport 53 -j REDIRECT --to-ports 1
-A ROOST-bbbb -d 10.213.1.1/32 -i br-live -p tcp -j REDIRECT --to-ports 2
-A ROOST-mine -d 10.213.1.1/32 -i br-gone3 -p tcp -j REDIRECT --to-ports 2
-A DOCKER -i docker0 -j RETURN
";
        let stale = stale_chains(listing, "ROOST-mine", |i| i == "br-live" || i == "docker0");
        assert_eq!(stale, vec!["ROOST-aaaa".to_string(), "ROOST-cccc".into()]);
    }
}
