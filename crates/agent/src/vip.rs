//! The floating address: one virtual IP that the cluster's leader holds, so clients
//! have one front door that moves when a node dies.
//!
//! The holder is the Raft leader while it may grant leases, i.e. while a majority
//! acknowledged it within the last 250 ms ([`Agent::grants_leases`]). A leader cut off
//! from the majority drops the address within that time, and a new leader is elected
//! only after openraft's leader lease (800 ms after the last ack), so two nodes never
//! hold it at once (given links that lose the old holder before it learns). The new
//! holder announces itself with gratuitous ARP (`arping -U`, package iputils-arping)
//! so neighbours update their caches at once.
//!
//! The address is added with `ip addr add ADDR/PREFIX dev DEV` and removed on losing
//! leadership and at shutdown. A lone node (no cluster) holds it too.

use crate::Agent;
use std::sync::Arc;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(100);

/// `--vip ADDR/PREFIX` and the device to put it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub addr: std::net::Ipv4Addr,
    pub prefix: u8,
    /// `None`: the device that holds the node's advertised address.
    pub dev: Option<String>,
}

impl std::str::FromStr for Vip {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').ok_or_else(|| format!("`{s}`: write the address with its prefix, e.g. 192.168.1.250/24"))?;
        let addr = addr.parse().map_err(|e| format!("`{addr}` is not an IPv4 address: {e}"))?;
        let prefix = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(|| format!("`{prefix}` is not a prefix length (0-32)"))?;
        Ok(Vip { addr, prefix, dev: None })
    }
}

/// Holds the address while this node leads; runs until the agent stops.
pub async fn run(agent: Arc<Agent>, vip: Vip) {
    let advertised = agent.cluster.info.addr.clone();
    let found = match vip.dev.clone() {
        Some(dev) => Some(dev),
        None => tokio::task::spawn_blocking(move || device_of(&advertised)).await.ok().flatten(),
    };
    let dev = match found {
        Some(d) => d,
        None => {
            tracing::error!("no network device holds {}; give --vip-dev", agent.cluster.info.addr);
            return;
        }
    };
    let cidr = format!("{}/{}", vip.addr, vip.prefix);
    // A previous run may have been killed while holding it.
    let mut holding = None;
    loop {
        let lead = agent.grants_leases();
        if holding != Some(lead) {
            if lead {
                if ip(&["addr", "add", &cidr, "dev", &dev]).await.is_ok_and(|ok| ok) || has(&dev, &vip).await {
                    tracing::info!(%cidr, %dev, "holding the floating address");
                    announce(&dev, &vip).await;
                    holding = Some(true);
                }
            } else {
                let _ = ip(&["addr", "del", &cidr, "dev", &dev]).await;
                if holding == Some(true) {
                    tracing::info!(%cidr, "released the floating address");
                }
                holding = Some(false);
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Removes the address (at shutdown), if this node holds it.
pub fn release(vip: &Vip, advertised: &str) {
    if let Some(dev) = vip.dev.clone().or_else(|| device_of(advertised)) {
        let _ = std::process::Command::new("ip").args(["addr", "del", &format!("{}/{}", vip.addr, vip.prefix), "dev", &dev]).status();
    }
}

/// How long one `ip` call may take: a hung one must not hold the address loop.
const IP_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs `ip ARGS` with [`IP_TIMEOUT`] (killed when it runs over).
async fn ip_output(args: &[&str]) -> std::io::Result<std::process::Output> {
    let run = tokio::process::Command::new("ip").args(args).kill_on_drop(true).output();
    tokio::time::timeout(IP_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("`ip {}` took over {IP_TIMEOUT:?}", args.join(" ")))))
}

async fn ip(args: &[&str]) -> std::io::Result<bool> {
    Ok(ip_output(args).await?.status.success())
}

async fn has(dev: &str, vip: &Vip) -> bool {
    let out = ip_output(&["-o", "-4", "addr", "show", "dev", dev]).await;
    out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {}/", vip.addr)))
}

/// Gratuitous ARP, so switches and neighbours learn the new holder now, not when their
/// cache entry expires.
async fn announce(dev: &str, vip: &Vip) {
    let addr = vip.addr.to_string();
    let run = tokio::process::Command::new("arping").args(["-U", "-c", "2", "-w", "1", "-I", dev, &addr]).output();
    match tokio::time::timeout(Duration::from_secs(3), run).await {
        Ok(Ok(out)) if out.status.success() || out.status.code() == Some(1) => {}
        Ok(Ok(out)) => tracing::warn!("arping failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Ok(Err(e)) => tracing::warn!("cannot run arping ({e}): neighbours learn the new holder only when their ARP cache expires; apt-get install iputils-arping"),
        Err(_) => tracing::warn!("arping did not finish in 3 s"),
    }
}

/// The device holding the IP of `addr` (`IP:PORT`), from `ip -o -4 addr show`.
fn device_of(addr: &str) -> Option<String> {
    let ip = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let out = std::process::Command::new("ip").args(["-o", "-4", "addr", "show"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(3)?.split('/').next()? == ip).then(|| f.get(1).map(|d| d.to_string()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vip_flags_parse_or_say_what_is_wrong() {
        assert_eq!("10.0.0.5/24".parse::<Vip>(), Ok(Vip { addr: "10.0.0.5".parse().unwrap(), prefix: 24, dev: None }));
        assert!("10.0.0.5".parse::<Vip>().unwrap_err().contains("prefix"));
        assert!("10.0.0/24".parse::<Vip>().unwrap_err().contains("not an IPv4 address"));
        assert!("10.0.0.5/33".parse::<Vip>().unwrap_err().contains("prefix length"));
    }
}
