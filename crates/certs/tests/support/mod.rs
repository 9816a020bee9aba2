//! Shared by the integration tests: a proxy serving certificates, a TLS
//! client that trusts only what a test says, and pebble.

#![allow(dead_code)] // each test binary uses its own part

pub mod pebble;

use std::net::SocketAddr;
use std::sync::Arc;

use roost_certs::StoredCert;
use roost_proxy::{CertStore, Config, Proxy};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// An HTTPS listener of a fresh proxy on 127.0.0.1, with `certs`.
pub async fn serve_https(certs: Arc<CertStore>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = Proxy::new(Config::default());
    tokio::spawn(async move {
        roost_proxy::serve_https(listener, proxy, certs)
            .await
            .unwrap();
    });
    addr
}

/// Puts `cert` in `store` under each of its names, as the agent will.
pub fn load(store: &CertStore, cert: &StoredCert) {
    let key = roost_proxy::certified_key_from_pem(&cert.chain_pem, &cert.key_pem).unwrap();
    for host in &cert.hosts {
        store.set(host, key.clone());
    }
}

/// Completes a TLS handshake with `addr` for `sni`, trusting only the
/// certificates in `root_pem`; returns the chain the server sent.
///
/// # Errors
/// The handshake's error, as text.
pub async fn handshake(
    addr: SocketAddr,
    sni: &str,
    root_pem: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(client_config(root_pem))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .to_vec())
}

/// A TLS client config trusting only the certificates in `root_pem`.
pub fn client_config(root_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(roost_pki::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The DER of the first certificate in `pem`.
pub fn leaf_der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}
