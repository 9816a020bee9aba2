//! Service addresses: one stable IPv4 address per service of every stack.
//!
//! They come from [`RANGE`], a range that is never on a wire: a container sends to it
//! through its default gateway (the node), where the agent's rules catch it. The
//! leader's Raft log decides them ([`allocate`] runs in the state machine's apply), so
//! every node answers the same address for a name, and a client that cached it keeps
//! working when the service moves.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// An IPv4 subnet, `ADDR/PREFIX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// Parses `172.18.0.0/16`; `None` for anything else (IPv6 included).
    pub fn parse(s: &str) -> Option<Subnet> {
        let (addr, prefix) = s.split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= 32).then_some(())?;
        Some(Subnet {
            addr: addr.parse().ok()?,
            prefix,
        })
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Where service addresses come from. Docker's default pools are 172.17-31.x and
/// 192.168.x; k3s uses 10.42/10.43 and Tailscale 100.64/10, so this stays clear of
/// all of them.
pub const RANGE: Subnet = Subnet {
    addr: Ipv4Addr::new(10, 213, 0, 0),
    prefix: 16,
};

/// The agent's DNS server as containers see it (their `dns:` upstream).
pub const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 53);

/// Service addresses start here; `10.213.0.x` is kept for the agent's own addresses.
const FIRST: Ipv4Addr = Ipv4Addr::new(10, 213, 1, 1);
const LAST: Ipv4Addr = Ipv4Addr::new(10, 213, 255, 254);

/// The key of a service in the address map: `STACK/SERVICE`.
pub fn key(stack: &str, service: &str) -> String {
    format!("{stack}/{service}")
}

/// The address map after a change of stacks: every key in `wanted` keeps the address
/// it has, new keys get the lowest free ones, and keys no longer wanted are freed.
/// Deterministic, so every Raft member computes the same map. A key that finds no free
/// address (over 65 000 services) is left out: its name does not resolve across nodes.
pub fn allocate(
    current: &BTreeMap<String, Ipv4Addr>,
    wanted: &BTreeSet<String>,
) -> BTreeMap<String, Ipv4Addr> {
    let mut out: BTreeMap<String, Ipv4Addr> = current
        .iter()
        .filter(|(k, _)| wanted.contains(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let used: BTreeSet<Ipv4Addr> = out.values().copied().collect();
    let mut free = (u32::from(FIRST)..=u32::from(LAST))
        .map(Ipv4Addr::from)
        .filter(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255 && !used.contains(ip));
    for k in wanted {
        if !out.contains_key(k) {
            match free.next() {
                Some(ip) => {
                    out.insert(k.clone(), ip);
                }
                None => break,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn addresses_are_stable_reused_after_removal_and_never_shared() {
        let a = allocate(&BTreeMap::new(), &set(&["app/web", "app/db"]));
        assert_eq!(a["app/db"], Ipv4Addr::new(10, 213, 1, 1));
        assert_eq!(a["app/web"], Ipv4Addr::new(10, 213, 1, 2));
        // Adding a service keeps the others where they are.
        let b = allocate(&a, &set(&["app/web", "app/db", "app/cache"]));
        assert_eq!((b["app/db"], b["app/web"]), (a["app/db"], a["app/web"]));
        assert_eq!(b["app/cache"], Ipv4Addr::new(10, 213, 1, 3));
        // Removing one frees its address for the next newcomer only.
        let c = allocate(&b, &set(&["app/web", "app/cache", "blog/web"]));
        assert_eq!(c["blog/web"], Ipv4Addr::new(10, 213, 1, 1));
        assert_eq!(c["app/web"], b["app/web"]);
        let distinct: BTreeSet<_> = c.values().collect();
        assert_eq!(distinct.len(), c.len());
    }

    #[test]
    fn addresses_skip_network_and_broadcast_like_octets_and_stay_in_range() {
        let keys: BTreeSet<String> = (0..300).map(|i| format!("s/{i:03}")).collect();
        let a = allocate(&BTreeMap::new(), &keys);
        assert_eq!(a.len(), 300);
        assert!(a
            .values()
            .all(|ip| RANGE.contains(*ip) && ip.octets()[3] != 0 && ip.octets()[3] != 255));
        assert!(a.values().all(|ip| *ip != DNS_ADDR));
    }

    #[test]
    fn subnets_parse_and_contain() {
        let s = Subnet::parse("172.18.0.0/16").unwrap();
        assert!(s.contains(Ipv4Addr::new(172, 18, 3, 4)));
        assert!(!s.contains(Ipv4Addr::new(172, 19, 0, 1)));
        assert_eq!(s.to_string(), "172.18.0.0/16");
        assert!(Subnet::parse("fd00::/64").is_none());
        assert!(Subnet::parse("10.0.0.0/33").is_none());
        assert!(Subnet::parse("0.0.0.0/0")
            .unwrap()
            .contains(Ipv4Addr::new(1, 2, 3, 4)));
    }
}
