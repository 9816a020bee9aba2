//! Tunnels between agents (the wire format is [`roost_net::tunnel`]): TLS on the
//! cluster port with the node's cluster certificate and the ALPN protocol
//! [`roost_net::tunnel::ALPN`].

use crate::sync::MutexExt as _;
use crate::Agent;
use roost_net::tunnel::{parse_status, split_line, status, Request};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

pub type TunnelStream = tokio_rustls::client::TlsStream<TcpStream>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the other side may take to connect to its replica and say so.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads one line byte by byte, so nothing after its newline is consumed (the TLS
/// stream buffers, so this costs no extra syscalls).
async fn read_line<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(128);
    loop {
        let b = stream.read_u8().await?;
        buf.push(b);
        if let Some((line, _)) = split_line(&buf)? {
            return Ok(line.to_vec());
        }
    }
}

/// Opens a tunnel to `node`'s replica of `req`, ready to carry bytes.
///
/// # Errors
/// The node is unknown or unreachable, the handshake fails, or it cannot reach its
/// replica (its reason).
pub async fn open(agent: &Agent, node: u64, req: &Request) -> anyhow::Result<TunnelStream> {
    let addr = agent
        .cluster
        .with_state(|s| s.nodes.get(&node).map(|n| n.addr.clone()))
        .ok_or_else(|| anyhow::anyhow!("node {node:016x} is not a member"))?;
    let mut config = (*agent.cluster.transport.client_config()).clone();
    config.alpn_protocols = vec![roost_net::tunnel::ALPN.to_vec()];
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
        .await
        .map_err(|_| anyhow::anyhow!("connect to {addr} timed out"))??;
    let _ = tcp.set_nodelay(true);
    let name =
        rustls::pki_types::ServerName::try_from(roost_pki::NODE_SERVER_NAME).expect("a valid name");
    let mut tls = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| anyhow::anyhow!("TLS handshake with {addr} timed out"))??;
    if tls.get_ref().1.alpn_protocol() != Some(roost_net::tunnel::ALPN) {
        anyhow::bail!("{addr} does not offer tunnels (an older roost?)");
    }
    tls.write_all(&req.encode()).await?;
    tls.flush().await?;
    let line = tokio::time::timeout(STATUS_TIMEOUT, read_line(&mut tls))
        .await
        .map_err(|_| anyhow::anyhow!("{addr} did not answer the tunnel request in time"))??;
    parse_status(&line)?;
    Ok(tls)
}

/// The other side: a member opened a tunnel; connect it to a local replica.
pub async fn accept(
    agent: Arc<Agent>,
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Option<u64>,
) {
    let member = peer.is_some_and(|id| agent.cluster.with_state(|s| s.nodes.contains_key(&id)));
    if !member {
        let _ = tls
            .write_all(&status(Err("tunnels are for cluster members")))
            .await;
        return;
    }
    let req = match tokio::time::timeout(STATUS_TIMEOUT, read_line(&mut tls)).await {
        Ok(Ok(line)) => match Request::decode(&line) {
            Ok(r) => r,
            Err(e) => {
                let _ = tls.write_all(&status(Err(&e.to_string()))).await;
                return;
            }
        },
        _ => return,
    };
    // The named slot if it runs here, else any running replica of the service here.
    let candidates: Vec<std::net::Ipv4Addr> = {
        let view = agent.view.locked();
        let mut running: Vec<_> = view
            .observed
            .containers
            .iter()
            .filter(|c| {
                c.stack == req.stack
                    && c.service == req.service
                    && c.state == roost_core::observed::ContainerState::Running
            })
            .collect();
        running.sort_by_key(|c| c.slot != req.slot);
        running.iter().filter_map(|c| c.ipv4()).collect()
    };
    let mut up = None;
    let mut reason = format!(
        "no replica of {}/{} runs on this node",
        req.stack, req.service
    );
    for ip in candidates {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((ip, req.port))).await {
            Ok(Ok(s)) => {
                up = Some(s);
                break;
            }
            Ok(Err(e)) => reason = format!("{ip}:{}: {e}", req.port),
            Err(_) => reason = format!("{ip}:{}: connect timed out", req.port),
        }
    }
    let Some(mut up) = up else {
        let _ = tls.write_all(&status(Err(&reason))).await;
        return;
    };
    let _ = up.set_nodelay(true);
    if tls.write_all(&status(Ok(()))).await.is_err() || tls.flush().await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional_with_sizes(&mut tls, &mut up, 64 * 1024, 64 * 1024).await;
}
