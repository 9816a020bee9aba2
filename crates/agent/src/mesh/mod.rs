//! The cluster network on this node: names and connections of a stack's services
//! across nodes (the decisions are in `roost-net`; this room carries them out).
//!
//! - [`dns`]: the agent's resolver for its containers (Docker's embedded DNS forwards
//!   to it what it does not know), answering service addresses and relaying the rest
//!   to the host's resolvers.
//! - [`forward`]: connections to service addresses, redirected here by the firewall,
//!   go to a replica on this node or through a [`tunnel`] to another node's agent.
//! - the loop below keeps the steering (what each local network may reach) and the
//!   firewall rules current, four times a second.

pub mod dns;
pub mod forward;
pub mod tunnel;

use crate::sync::{MutexExt as _, RwLockExt as _};
use crate::Agent;
use roost_net::rules::Ports;
use roost_net::steer::{self, LocalNetwork, Steering};
use roost_net::Subnet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const REFRESH: Duration = Duration::from_millis(250);
/// Rules are written again this often even when unchanged, so a chain someone flushed
/// (a firewall reload, `iptables -F`) comes back by itself.
const REAPPLY: Duration = Duration::from_secs(10);

/// This node's share of the cluster network.
pub struct Mesh {
    /// The steering in force (what the firewall rules say too).
    pub(crate) steering: RwLock<Arc<Steering>>,
    pub(crate) ports: Ports,
    chain: String,
    /// Spreads connections over equal replicas.
    pub(crate) turn: AtomicUsize,
    /// The host's resolvers, for names that are not the cluster's.
    pub(crate) upstreams: Vec<std::net::SocketAddr>,
    /// Why the firewall rules could not be applied, if they could not (for logs once).
    rules_error: std::sync::Mutex<Option<String>>,
}

/// The sockets the mesh listens on, bound before the agent starts.
pub struct Listeners {
    dns_udp: tokio::net::UdpSocket,
    dns_tcp: tokio::net::TcpListener,
    service: tokio::net::TcpListener,
}

/// Binds the DNS (UDP and TCP, one port) and service listeners on ports the kernel
/// picks, on all addresses: the firewall redirects to them from the bridges, and both
/// refuse what did not come through a bridge (see [`dns`], [`forward`]).
///
/// # Errors
/// When no port can be bound.
pub async fn bind(agent_id: &str) -> anyhow::Result<(Mesh, Listeners)> {
    use anyhow::Context;
    let service = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .context("cannot bind the service port")?;
    // One port for DNS over UDP and TCP: try a few until both are free.
    let mut tries = 0;
    let (dns_udp, dns_tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("0.0.0.0:0")
            .await
            .context("cannot bind the DNS port")?;
        let port = udp.local_addr()?.port();
        match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
            Ok(tcp) => break (udp, tcp),
            Err(e) if tries > 10 => return Err(e).context("cannot bind the DNS port over TCP"),
            Err(_) => tries += 1,
        }
    };
    let ports = Ports {
        dns: dns_udp.local_addr()?.port(),
        service: service.local_addr()?.port(),
    };
    let mesh = Mesh {
        steering: Default::default(),
        ports,
        chain: roost_net::rules::chain(agent_id),
        turn: AtomicUsize::new(0),
        upstreams: dns::host_resolvers(),
        rules_error: Default::default(),
    };
    Ok((
        mesh,
        Listeners {
            dns_udp,
            dns_tcp,
            service,
        },
    ))
}

/// Starts the mesh's tasks.
pub fn spawn(agent: &Arc<Agent>, listeners: Listeners, tasks: &mut crate::background::Background) {
    tasks.spawn("cluster DNS (UDP)", dns::serve_udp(agent.clone(), listeners.dns_udp));
    tasks.spawn("cluster DNS (TCP)", dns::serve_tcp(agent.clone(), listeners.dns_tcp));
    tasks.spawn("service forwarder", forward::serve(agent.clone(), listeners.service));
    tasks.spawn("cluster network rules", run(agent.clone()));
}

/// Keeps the steering and the firewall current.
async fn run(agent: Arc<Agent>) {
    let chain = agent.mesh.chain.clone();
    let _ = tokio::task::spawn_blocking(move || prune_stale(&chain)).await;
    let mut applied: Option<(String, std::time::Instant)> = None;
    loop {
        let steering = current(&agent);
        // Nothing to steer, no chain: an agent without stacks leaves no trace.
        let rules = if steering.networks.is_empty() {
            String::new()
        } else {
            roost_net::rules::restore_input(&agent.mesh.chain, &steering, agent.mesh.ports)
        };
        *agent.mesh.steering.writing() = Arc::new(steering);
        let fresh = applied
            .as_ref()
            .is_some_and(|(r, at)| *r == rules && at.elapsed() < REAPPLY);
        if !fresh {
            let chain = agent.mesh.chain.clone();
            let input = rules.clone();
            let result = tokio::task::spawn_blocking(move || {
                if input.is_empty() {
                    remove_chain(&chain);
                    Ok(())
                } else {
                    apply_rules(&chain, &input)
                }
            })
            .await;
            let result = result.unwrap_or_else(|e| Err(e.to_string()));
            let mut last = agent.mesh.rules_error.locked();
            match result {
                Ok(()) => {
                    if last.take().is_some() {
                        tracing::info!("cluster network rules applied again");
                    }
                    applied = Some((rules, std::time::Instant::now()));
                }
                Err(e) => {
                    if last.as_deref() != Some(e.as_str()) {
                        tracing::error!("cannot apply the cluster network's firewall rules (service names of other nodes will not resolve): {e}");
                    }
                    *last = Some(e);
                }
            }
        }
        tokio::time::sleep(REFRESH).await;
    }
}

/// The steering for this node now: its observed networks, the desired stacks and the
/// replicated service addresses.
fn current(agent: &Agent) -> Steering {
    let networks: Vec<LocalNetwork> = {
        let view = agent.view.locked();
        view.observed
            .networks
            .iter()
            .filter_map(|n| {
                Some(LocalNetwork {
                    docker_name: n.name.clone(),
                    interface: n.interface.clone()?,
                    subnet: Subnet::parse(n.subnet.as_deref()?)?,
                })
            })
            .collect()
    };
    agent.cluster.with_state(|s| {
        steer::plan(
            s.stacks.values().map(|st| &st.spec),
            &s.service_addrs,
            &networks,
        )
    })
}

/// Replaces the agent's chain with `input` (and the shared guard chain) and makes sure
/// `PREROUTING` (and `DOCKER-USER`) jump to them first.
fn apply_rules(chain: &str, input: &str) -> Result<(), String> {
    use std::process::Command;
    restore(input)?;
    // The guard (shared by every agent on the host) first in DOCKER-USER: Docker
    // inserts each network's `-i br-X ! -o br-X -j ACCEPT` at the top of FORWARD, ahead
    // of anything else there, but always runs DOCKER-USER first and never touches it.
    // The agent's own redirects go first in PREROUTING.
    let guard = roost_net::rules::GUARD_CHAIN;
    let has_docker_user = Command::new("iptables")
        .args(["--wait", "-t", "filter", "-S", "DOCKER-USER"])
        .output()
        .is_ok_and(|o| o.status.success());
    for (table, builtin, target, input) in [
        (
            "filter",
            if has_docker_user {
                "DOCKER-USER"
            } else {
                "FORWARD"
            },
            guard,
            Some(roost_net::rules::guard_input()),
        ),
        ("nat", "PREROUTING", chain, None),
    ] {
        if let Some(input) = input {
            restore(&input)?;
        }
        let iptables = |args: &[&str]| {
            Command::new("iptables")
                .args(["--wait", "-t", table])
                .args(args)
                .output()
                .map_err(|e| format!("cannot run iptables: {e}"))
        };
        if !iptables(&["-C", builtin, "-j", target])?.status.success() {
            let out = iptables(&["-I", builtin, "1", "-j", target])?;
            if !out.status.success() {
                return Err(format!(
                    "iptables: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    Ok(())
}

/// Runs `iptables-restore --noflush` with `input`.
fn restore(input: &str) -> Result<(), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("iptables-restore")
        .args(["--noflush", "--wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run iptables-restore: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "iptables-restore: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Removes the agent's chain (at shutdown), so a stopped agent leaves no redirects
/// to ports nobody listens on.
pub fn remove_rules(mesh: &Mesh) {
    remove_chain(&mesh.chain);
}

/// Removes the agent's nat chain (the shared guard stays: it only refuses traffic to
/// the service range that nothing redirected).
fn remove_chain(chain: &str) {
    use std::process::Command;
    let iptables = |args: &[&str]| {
        Command::new("iptables")
            .args(["--wait", "-t", "nat"])
            .args(args)
            .output()
    };
    // A chain may be jumped to more than once after races; remove every jump.
    while iptables(&["-D", "PREROUTING", "-j", chain]).is_ok_and(|o| o.status.success()) {}
    let _ = iptables(&["-F", chain]);
    let _ = iptables(&["-X", chain]);
}

/// Removes chains of agents that were killed before they could (see
/// [`roost_net::rules::stale_chains`]).
fn prune_stale(own: &str) {
    let Ok(out) = std::process::Command::new("iptables")
        .args(["--wait", "-t", "nat", "-S"])
        .output()
    else {
        return;
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    let exists = |i: &str| std::path::Path::new("/sys/class/net").join(i).exists();
    for chain in roost_net::rules::stale_chains(&listing, own, exists) {
        tracing::info!(%chain, "removing the cluster network rules a stopped agent left behind");
        remove_chain(&chain);
    }
}
