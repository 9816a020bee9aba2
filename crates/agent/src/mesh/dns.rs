//! The agent's DNS server for its containers (UDP and TCP on one port, reached through
//! the firewall's redirect of `10.213.0.53:53`). Answers come from
//! [`roost_net::dns::answer`]; names that are not the cluster's are relayed, as they
//! are, to the host's resolvers, the ones Docker would have given the container.

use crate::sync::RwLockExt as _;
use crate::Agent;
use roost_net::dns::{answer, servfail, Reply};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a relayed query may take per upstream.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// Queries being relayed at once; more are dropped (the client retries), so a
/// container that floods its resolver cannot exhaust the agent's sockets.
const MAX_RELAYS: usize = 256;

/// The host's resolvers as Docker picks them: the `nameserver` lines of
/// `/etc/resolv.conf` that are not loopback (a loopback resolver is not reachable from
/// a container, nor meant for it); with systemd-resolved's stub only, its real
/// upstreams from `/run/systemd/resolve/resolv.conf`.
pub fn host_resolvers() -> Vec<SocketAddr> {
    let read = |path: &str| -> Vec<SocketAddr> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .filter(|ip| !ip.is_loopback())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect()
    };
    let etc = read("/etc/resolv.conf");
    if etc.is_empty() {
        read("/run/systemd/resolve/resolv.conf")
    } else {
        etc
    }
}

fn source_v4(src: SocketAddr) -> Option<Ipv4Addr> {
    match src.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(ip) => ip.to_ipv4_mapped(),
    }
}

/// The reply bytes for one query from `src`, relaying when it is not a cluster name.
async fn reply(agent: &Agent, query: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
    let steering = agent.mesh.steering.reading().clone();
    match answer(query, source_v4(src)?, &steering) {
        Reply::Answer(bytes) => Some(bytes),
        Reply::Drop => None,
        Reply::Forward => match relay(&agent.mesh.upstreams, query).await {
            Some(bytes) => Some(bytes),
            None => servfail(query),
        },
    }
}

/// Asks each upstream in turn over UDP until one answers.
async fn relay(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let Ok(socket) = tokio::net::UdpSocket::bind(if upstream.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .await
        else {
            continue;
        };
        if socket.send_to(query, upstream).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv_from(&mut buf)).await
        {
            if from == *upstream && n >= 2 && buf[..2] == query[..2] {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

pub async fn serve_udp(agent: Arc<Agent>, socket: tokio::net::UdpSocket) {
    let socket = Arc::new(socket);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RELAYS));
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, src) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("DNS receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let query = buf[..n].to_vec();
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%src, "DNS query dropped: {MAX_RELAYS} already in flight");
            continue;
        };
        let (agent, socket) = (agent.clone(), socket.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Some(bytes) = reply(&agent, &query, src).await {
                let _ = socket.send_to(&bytes, src).await;
            }
        });
    }
}

/// DNS over TCP: two-byte length, then the message; several per connection.
pub async fn serve_tcp(agent: Arc<Agent>, listener: tokio::net::TcpListener) {
    loop {
        let (mut stream, src) = crate::accept::next(&listener, "DNS over TCP").await;
        let agent = agent.clone();
        tokio::spawn(async move {
            loop {
                let read = async {
                    let len = stream.read_u16().await.ok()? as usize;
                    let mut query = vec![0u8; len];
                    stream.read_exact(&mut query).await.ok()?;
                    Some(query)
                };
                let Ok(Some(query)) = tokio::time::timeout(Duration::from_secs(10), read).await
                else {
                    return;
                };
                let Some(bytes) = reply(&agent, &query, src).await else {
                    return;
                };
                let Ok(len) = u16::try_from(bytes.len()) else {
                    return;
                };
                if stream.write_u16(len).await.is_err() || stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
    }
}
