//! Real TLS handshakes over TCP on 127.0.0.1 between the configs this crate
//! builds. Every network step is bounded by a timeout so a hang fails the test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use roost_pki::rustls::pki_types::pem::PemObject;
use roost_pki::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use roost_pki::rustls::{ClientConfig, RootCertStore, ServerConfig};
use roost_pki::tokio_rustls::{TlsAcceptor, TlsConnector};
use roost_pki::{
    ca_pem_from_chain, cert_fingerprint, client_config, join_client_config, peer_node_id,
    pki_error_in, provider, server_config, ClusterCa, NodeIdentity, PkiError, NODE_SERVER_NAME,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the server saw on its one connection.
#[derive(Debug)]
struct Accepted {
    peer_node_id: Option<u64>,
    had_peer_cert: bool,
    alpn: Option<Vec<u8>>,
}

/// Listens on an ephemeral loopback port and accepts exactly one TLS
/// connection; on success it echoes one message back.
async fn serve_once(
    config: Arc<ServerConfig>,
) -> (SocketAddr, JoinHandle<std::io::Result<Accepted>>) {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (tcp, _) = timeout(LIMIT, listener.accept())
            .await
            .expect("no client came")?;
        let mut tls = timeout(LIMIT, TlsAcceptor::from(config).accept(tcp))
            .await
            .expect("server handshake hung")?;
        let (_, conn) = tls.get_ref();
        let certs = conn.peer_certificates();
        let accepted = Accepted {
            peer_node_id: certs.and_then(|c| c.first()).and_then(|c| peer_node_id(c)),
            had_peer_cert: certs.is_some_and(|c| !c.is_empty()),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        };
        let mut buf = [0u8; 4];
        timeout(LIMIT, tls.read_exact(&mut buf))
            .await
            .expect("read hung")?;
        tls.write_all(&buf).await?;
        tls.shutdown().await?;
        Ok(accepted)
    });
    (addr, handle)
}

/// Connects, sends "ping" and expects it echoed. Returns the server's chain.
async fn ping(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(NODE_SERVER_NAME).unwrap();
    let mut tls = timeout(LIMIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .expect("client handshake hung")?;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .to_vec();
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    timeout(LIMIT, tls.read_exact(&mut buf))
        .await
        .expect("read hung")?;
    assert_eq!(&buf, b"ping");
    Ok(chain)
}

fn node(ca: &ClusterCa, name: &str, id: u64) -> NodeIdentity {
    ca.issue_node(name, id, &[LOCALHOST]).unwrap()
}

#[tokio::test]
async fn mtls_between_nodes_of_the_same_ca() {
    let ca = ClusterCa::generate("c1").unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let chain = ping(addr, client_config(&node(&ca, "beta", 2)).unwrap())
        .await
        .unwrap();
    let seen = server.await.unwrap().unwrap();
    assert!(seen.had_peer_cert);
    assert_eq!(seen.peer_node_id, Some(2));
    assert_eq!(
        peer_node_id(&chain[0]),
        Some(1),
        "client sees the server's node id"
    );
}

#[tokio::test]
async fn plain_tcp_client_gets_no_http_answer() {
    let ca = ClusterCa::generate("c1").unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // EOF or a reset both end the read; either way no HTTP comes back.
    let _ = timeout(LIMIT, tcp.read_to_end(&mut answer))
        .await
        .expect("server kept the socket open");
    assert!(
        !answer.starts_with(b"HTTP"),
        "got an HTTP answer: {answer:?}"
    );
    let err = server
        .await
        .unwrap()
        .expect_err("a plain TCP client must fail the TLS accept");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
}

#[tokio::test]
async fn client_cert_from_another_ca_is_refused() {
    let ca = ClusterCa::generate("ours").unwrap();
    let intruder = node(&ClusterCa::generate("theirs").unwrap(), "mallory", 2);
    // The intruder trusts our server (it knows our CA cert) but presents its own cert.
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(intruder.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(intruder.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    // With TLS 1.3 the client may finish before the server judges its cert;
    // the refusal then shows as a failed read instead of a failed connect.
    assert!(ping(addr, Arc::new(config)).await.is_err());
    let err = server
        .await
        .unwrap()
        .expect_err("server must refuse a foreign client cert");
    assert!(err.to_string().to_lowercase().contains("unknown"), "{err}");
}

#[tokio::test]
async fn certless_join_client_connects_and_learns_the_ca() {
    let ca = ClusterCa::generate("c1").unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let config = join_client_config(&ca.fingerprint()).unwrap();
    let chain = ping(addr, config).await.unwrap();
    let seen = server.await.unwrap().unwrap();
    assert!(!seen.had_peer_cert);
    assert_eq!(seen.peer_node_id, None);
    let ca_pem = ca_pem_from_chain(&chain, &ca.fingerprint()).expect("CA in the chain");
    assert_eq!(cert_fingerprint(&ca_pem).unwrap(), ca.fingerprint());
}

#[tokio::test]
async fn join_client_with_wrong_fingerprint_refuses_the_server() {
    let ca = ClusterCa::generate("c1").unwrap();
    let other = ClusterCa::generate("c2").unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let err = ping(addr, join_client_config(&other.fingerprint()).unwrap())
        .await
        .expect_err("must refuse a server of another cluster");
    match pki_error_in(&err) {
        Some(
            e @ PkiError::FingerprintMismatch {
                expected,
                presented,
            },
        ) => {
            assert_eq!(expected, &other.fingerprint());
            assert_eq!(presented, &ca.fingerprint());
            assert!(
                e.to_string().contains("does not match the join token"),
                "{e}"
            );
        }
        other => panic!("expected a fingerprint mismatch, got {other:?} from {err}"),
    }
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn join_client_refuses_a_leaf_not_signed_by_the_pinned_ca() {
    // A server that sends our CA cert in its chain but a leaf from another CA
    // must not pass just because the fingerprint matches.
    let ca = ClusterCa::generate("c1").unwrap();
    let forged = NodeIdentity {
        ca_cert_pem: ca.cert_pem.clone(),
        ..node(&ClusterCa::generate("evil").unwrap(), "alpha", 1)
    };
    let (addr, server) = serve_once(server_config(&forged).unwrap()).await;
    let err = ping(addr, join_client_config(&ca.fingerprint()).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn node_client_of_another_cluster_refuses_our_server() {
    let ca = ClusterCa::generate("ours").unwrap();
    let stranger = node(&ClusterCa::generate("theirs").unwrap(), "beta", 2);
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let err = ping(addr, client_config(&stranger).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn server_offers_h2_and_http11_alpn() {
    let ca = ClusterCa::generate("c1").unwrap();
    let (addr, server) = serve_once(server_config(&node(&ca, "alpha", 1)).unwrap()).await;
    let mut config = (*client_config(&node(&ca, "beta", 2)).unwrap()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    ping(addr, Arc::new(config)).await.unwrap();
    assert_eq!(
        server.await.unwrap().unwrap().alpn.as_deref(),
        Some(&b"http/1.1"[..])
    );
}

#[test]
fn join_client_config_rejects_a_malformed_fingerprint() {
    assert!(matches!(
        join_client_config("abc"),
        Err(PkiError::Fingerprint(_))
    ));
    let upper = "AB".repeat(32);
    assert!(join_client_config(&upper).is_ok());
}

#[test]
fn server_config_rejects_garbage_pem() {
    let ca = ClusterCa::generate("c1").unwrap();
    let mut id = node(&ca, "alpha", 1);
    id.key_pem = "not a key".into();
    let err = server_config(&id).unwrap_err();
    assert!(err.to_string().contains("node key"), "{err}");
}
