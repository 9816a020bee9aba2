//! Connections to service addresses. The firewall redirects them to the service port;
//! the original destination (`SO_ORIGINAL_DST`) says which service and port were
//! meant, the source which network asked. A connection goes to the first replica in
//! [`roost_net::backends::targets`] order that accepts it: on this node straight to the
//! container, on another node through a [`super::tunnel`].

use crate::sync::{MutexExt as _, RwLockExt as _};
use crate::Agent;
use roost_net::backends::{targets, NodeContainers, Target};
use roost_proxy::BoxStream;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// On a LAN a replica that does not accept within this is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Bigger copy buffers than tokio's 8 KiB: fewer TLS records and syscalls per byte.
const BUFFER: usize = 64 * 1024;

pub async fn serve(agent: Arc<Agent>, listener: tokio::net::TcpListener) {
    loop {
        let (stream, src) = crate::accept::next(&listener, "service port").await;
        let agent = agent.clone();
        tokio::spawn(async move {
            let IpAddr::V4(src) = src.ip() else { return };
            if let Err(e) = handle(&agent, stream, src).await {
                tracing::debug!(%src, "service connection ended: {e}");
            }
        });
    }
}

/// The destination the client asked for before the redirect.
fn original_destination(stream: &TcpStream) -> std::io::Result<SocketAddrV4> {
    let addr = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::OriginalDst)?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    ))
}

async fn handle(agent: &Arc<Agent>, mut client: TcpStream, src: Ipv4Addr) -> anyhow::Result<()> {
    let dst = original_destination(&client)?;
    let steering = agent.mesh.steering.reading().clone();
    let Some((stack, service)) = steering.service(src, *dst.ip()) else {
        // Not redirected (someone dialled the port directly), or a network that may
        // not reach this service.
        anyhow::bail!("{src} may not reach {dst}");
    };
    let (stack, service) = (stack.to_owned(), service.to_owned());
    let _ = client.set_nodelay(true);
    let order = {
        let view = agent.view.locked();
        let reports = agent.reports.locked();
        let mut nodes = vec![NodeContainers {
            node: None,
            containers: &view.observed.containers,
        }];
        agent.cluster.with_state(|s| {
            for (id, (at, report)) in reports.iter() {
                if s.nodes.contains_key(id)
                    && at.elapsed() < agent.down_after
                    && *id != agent.cluster.id
                {
                    nodes.push(NodeContainers {
                        node: Some(*id),
                        containers: &report.containers,
                    });
                }
            }
        });
        targets(
            &stack,
            &service,
            &nodes,
            agent.mesh.turn.fetch_add(1, Ordering::Relaxed),
        )
    };
    let mut last_error = format!("no replica of {stack}/{service} is running");
    for target in order {
        let attempt = match &target {
            Target::Local { ip, .. } => {
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((*ip, dst.port())))
                    .await
                    .map_err(|_| anyhow::anyhow!("connect to {ip}:{} timed out", dst.port()))
                    .and_then(|r| {
                        r.map_err(|e| anyhow::anyhow!("connect to {ip}:{}: {e}", dst.port()))
                    })
                    .map(|s| {
                        let _ = s.set_nodelay(true);
                        Box::new(s) as BoxStream
                    })
            }
            Target::Remote { node, slot } => {
                let req = roost_net::tunnel::Request {
                    stack: stack.clone(),
                    service: service.clone(),
                    slot: *slot,
                    port: dst.port(),
                };
                super::tunnel::open(agent, *node, &req)
                    .await
                    .map(|s| Box::new(s) as BoxStream)
            }
        };
        match attempt {
            Ok(mut up) => {
                tokio::io::copy_bidirectional_with_sizes(&mut client, &mut up, BUFFER, BUFFER)
                    .await?;
                return Ok(());
            }
            Err(e) => {
                tracing::debug!("{stack}/{service} via {target:?}: {e}");
                last_error = e.to_string();
            }
        }
    }
    // Nothing took it: close at once (the client sees a reset-like end, not a hang).
    let _ = client.shutdown().await;
    anyhow::bail!("{stack}/{service}:{}: {last_error}", dst.port())
}
