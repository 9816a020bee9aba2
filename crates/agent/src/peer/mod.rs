//! Node-to-node traffic: HTTPS with mutual TLS, both directions.
//!
//! [`TlsTransport`] is the client half: Raft RPCs and forwarded writes, one reused
//! HTTP/1.1 connection per peer. [`serve`] is the server half: it accepts TLS on the
//! cluster port (a peer with a certificate from another CA, or no TLS at all, fails the
//! handshake before any request is read) and tags each connection with the peer's node
//! id, so handlers can refuse cluster-internal routes to cert-less clients.
//!
//! The server half also defends the port: a certificate of a removed node counts as no
//! certificate ([`roost_cluster::trust`]), strangers get a connection [`budget`], and
//! a connection that does not finish its request headers within
//! [`HEADER_READ_TIMEOUT`] is closed.

pub mod budget;

use crate::sync::{MutexExt as _, RwLockExt as _};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use roost_cluster::network::{BoxFuture, Transport, TransportError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a TLS handshake on the cluster port may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server waits for a request's headers, on a new connection and
/// between the requests of a kept-alive one.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A pooled client connection idle this long is not reused: the server may be closing
/// it ([`HEADER_READ_TIMEOUT`]) just as a request goes out.
const POOL_IDLE_LIMIT: Duration = Duration::from_secs(20);

/// Who is on the other end of a cluster-port connection: a member's node id and its
/// certificate's fingerprint, or `None` for a client without a valid, unrevoked
/// certificate of this cluster.
#[derive(Debug, Clone, Default)]
pub struct Peer(pub Option<Member>);

/// A client that presented a certificate of this cluster that is not revoked.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: u64,
    /// [`roost_pki::der_fingerprint`] of its certificate.
    pub cert_sha256: String,
}

impl Peer {
    pub fn id(&self) -> Option<u64> {
        self.0.as_ref().map(|m| m.id)
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A client connection to a peer. Dropping it (the request's future was dropped, say
/// at a write's no-quorum timeout) aborts the connection: its socket lingers 0 s, so
/// the kernel resets it and discards what was not sent yet. Before, a forwarded write
/// the caller had been told was refused sat in the send buffer of a cut link and was
/// delivered, and applied, after the heal.
struct Connection {
    sender: Sender,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Connection {
    /// Lets the connection live on by itself (a streamed answer still flows).
    fn detach(mut self) {
        self.task = None;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The client half. Its TLS config is swappable: joining a cluster replaces the identity.
pub struct TlsTransport {
    config: RwLock<Arc<rustls::ClientConfig>>,
    /// Idle connections by peer address. A connection is taken out while in use and put
    /// back only after a complete exchange, so each carries one request at a time.
    pool: Arc<Mutex<HashMap<String, (Connection, Instant)>>>,
}

impl TlsTransport {
    pub fn new(config: Arc<rustls::ClientConfig>) -> Arc<Self> {
        Arc::new(TlsTransport { config: RwLock::new(config), pool: Arc::default() })
    }

    /// The client config in force (this node's cluster identity).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.config.reading().clone()
    }

    pub fn set_config(&self, config: Arc<rustls::ClientConfig>) {
        *self.config.writing() = config;
        self.pool.locked().clear();
    }

    /// One POST with an explicit TLS config (the join client, which has no cluster cert).
    ///
    /// # Errors
    /// Unreachable peers and TLS refusals as [`TransportError::Unreachable`]; HTTP
    /// errors as [`TransportError::Failed`] with the peer's message.
    pub async fn post_with(config: Arc<rustls::ClientConfig>, addr: &str, path: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let mut conn = connect(config, addr).await?;
        send(&mut conn.sender, path, body).await
    }
}

/// How long one bulk request (a repository file of a volume snapshot) may take.
const BULK_TIMEOUT: Duration = Duration::from_secs(120);

/// A POST of bulk data to a peer (volume snapshot files) on a connection of its own,
/// so it never holds up Raft or probes on the pooled ones, with a longer timeout than
/// theirs. Returns the answer's body.
///
/// # Errors
/// The peer cannot be reached, does not answer within [`BULK_TIMEOUT`], or refuses.
pub async fn post_bulk(transport: &TlsTransport, addr: &str, path: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
    let config = transport.config.reading().clone();
    let exchange = async {
        let mut conn = connect(config, addr).await?;
        exchange(&mut conn.sender, path, body, "application/octet-stream").await
    };
    tokio::time::timeout(BULK_TIMEOUT, exchange)
        .await
        .map_err(|_| TransportError::Unreachable(format!("{addr}: no answer within {}s", BULK_TIMEOUT.as_secs())))?
}

/// A streaming GET to a peer (logs of its replicas), with this node's identity.
///
/// # Errors
/// As [`TlsTransport::post_with`].
pub async fn get_stream(transport: &TlsTransport, addr: &str, path: &str) -> Result<hyper::body::Incoming, TransportError> {
    let config = transport.config.reading().clone();
    let mut conn = connect(config, addr).await?;
    let req = Request::get(path)
        .header("host", roost_pki::NODE_SERVER_NAME)
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    let resp = conn.sender.send_request(req).await.map_err(|e| TransportError::Unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(TransportError::Failed(format!("{addr} answered {}", resp.status())));
    }
    // The body streams on after this returns: the connection must outlive `conn`.
    conn.detach();
    Ok(resp.into_body())
}

async fn connect(config: Arc<rustls::ClientConfig>, addr: &str) -> Result<Connection, TransportError> {
    let unreachable = |e: String| TransportError::Unreachable(format!("{addr}: {e}"));
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| unreachable("connect timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    // Closed means reset: nothing buffered is delivered after its sender gave up.
    let _ = tcp.set_zero_linger();
    let name = rustls::pki_types::ServerName::try_from(roost_pki::NODE_SERVER_NAME).expect("a valid name");
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, tokio_rustls::TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| unreachable("TLS handshake timed out".into()))?
        .map_err(|e| unreachable(format!("TLS handshake failed: {e}")))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Connection { sender, task: Some(task) })
}

async fn send(sender: &mut Sender, path: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(sender, path, body, "application/json"))
        .await
        .map_err(|_| TransportError::Unreachable("request timed out".into()))?
}

/// One POST and its answer's body; an error answer's message when it is an
/// [`roost_api::ErrorBody`].
async fn exchange(sender: &mut Sender, path: &str, body: Vec<u8>, content_type: &str) -> Result<Vec<u8>, TransportError> {
    let req = Request::post(path)
        .header("host", roost_pki::NODE_SERVER_NAME)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let resp = sender.send_request(req).await.map_err(|e| TransportError::Unreachable(e.to_string()))?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.map_err(|e| TransportError::Unreachable(e.to_string()))?.to_bytes();
    if status.is_success() {
        Ok(bytes.to_vec())
    } else {
        let msg = serde_json::from_slice::<roost_api::ErrorBody>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        Err(TransportError::Failed(msg))
    }
}

impl Transport for TlsTransport {
    fn post(&self, addr: &str, path: &str, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, TransportError>> {
        let cached = self.pool.locked().remove(addr).filter(|(_, idle_since)| idle_since.elapsed() < POOL_IDLE_LIMIT);
        let config = self.config.reading().clone();
        let (addr, path) = (addr.to_owned(), path.to_owned());
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut conn = match cached {
                Some((c, _)) if c.sender.is_ready() => c,
                _ => connect(config, &addr).await?,
            };
            let result = send(&mut conn.sender, &path, body).await;
            if result.is_ok() {
                pool.locked().insert(addr, (conn, Instant::now()));
            }
            result
        })
    }

    fn post_fresh(&self, addr: &str, path: &str, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, TransportError>> {
        let config = self.config.reading().clone();
        let (addr, path) = (addr.to_owned(), path.to_owned());
        Box::pin(async move {
            let mut conn = connect(config, &addr).await?;
            send(&mut conn.sender, &path, body).await
        })
    }
}

/// What takes a connection that chose the tunnel protocol (ALPN
/// [`roost_net::tunnel::ALPN`]), with the peer's node id when it presented a cluster
/// certificate.
pub type TunnelHandler = Arc<dyn Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, Option<u64>) -> BoxFuture<()> + Send + Sync>;

/// Whether a certificate (by [`roost_pki::der_fingerprint`]) was revoked.
pub type Revoked = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Serves `router` on `listener` with TLS from `tls` (read per connection, so a join
/// can swap the identity), tagging each connection with its [`Peer`]; connections that
/// negotiated the tunnel protocol go to `tunnel` instead. A certificate for which
/// `revoked` holds is treated as none; strangers are held to a [`budget::Budget`].
pub async fn serve(listener: tokio::net::TcpListener, tls: Arc<RwLock<Arc<rustls::ServerConfig>>>, router: Router, tunnel: TunnelHandler, revoked: Revoked) {
    let budget = budget::Budget::new(budget::PER_SOURCE, budget::TOTAL);
    loop {
        let (tcp, remote) = crate::accept::next(&listener, "cluster port").await;
        let slot = match budget.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                tracing::debug!(%remote, ?refused, "closed a cluster-port connection at once: too many unproven connections");
                continue;
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.reading().clone());
        let router = router.clone();
        let tunnel = tunnel.clone();
        let revoked = revoked.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, "refused a connection during the TLS handshake: {e}");
                    return;
                }
                Err(_) => return,
            };
            let peer = Peer(member_of(&tls, &revoked, remote));
            // A member's connection no longer counts against the strangers' budget; a
            // stranger's keeps its place until it ends.
            let _slot = if peer.0.is_some() {
                slot.release();
                None
            } else {
                Some(slot)
            };
            if tls.get_ref().1.alpn_protocol() == Some(roost_net::tunnel::ALPN) {
                let _ = tcp_nodelay(&tls);
                return tunnel(tls, peer.id()).await;
            }
            let service = hyper_util::service::TowerToHyperService::new(router.layer(axum::Extension(peer)));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// The member behind a handshaken connection: the node id in its certificate, unless
/// that certificate was revoked.
fn member_of(tls: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>, revoked: &Revoked, remote: std::net::SocketAddr) -> Option<Member> {
    let cert = tls.get_ref().1.peer_certificates()?.first()?;
    let id = roost_pki::peer_node_id(cert.as_ref())?;
    let cert_sha256 = roost_pki::der_fingerprint(cert.as_ref());
    if revoked(&cert_sha256) {
        // A removed node that still runs retries several times a second: say it once.
        static WARNED: Mutex<Option<std::collections::HashSet<String>>> = Mutex::new(None);
        let first = WARNED.locked().get_or_insert_default().insert(cert_sha256.clone());
        if first {
            tracing::warn!(%remote, node = format!("{id:016x}"), "refusing cluster access to a removed node: its certificate was revoked");
        }
        return None;
    }
    Some(Member { id, cert_sha256 })
}

fn tcp_nodelay(tls: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> std::io::Result<()> {
    tls.get_ref().0.set_nodelay(true)
}
