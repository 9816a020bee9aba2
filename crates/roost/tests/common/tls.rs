//! A minimal HTTPS client for tests that go through roost's ingress: one request per
//! connection, trusting only the roots a test names, and showing the certificate served.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// A TLS client config trusting only the certificates in `root_pem`.
pub fn client_config(root_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(roost_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// `GET path` over HTTPS at `addr` with SNI and `Host` `host`, trusting only `root_pem`:
/// the status, the body and the leaf certificate served, or why it failed.
pub fn https_get(addr: &str, host: &str, path: &str, root_pem: &str) -> Result<(u16, String, CertificateDer<'static>), String> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(client_config(root_pem), name).map_err(|e| e.to_string())?;
    let tcp = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(tls, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    // A server closing without close_notify is no failure once the answer is in.
    if let Err(e) = tls.read_to_end(&mut bytes) {
        if bytes.is_empty() {
            return Err(e.to_string());
        }
    }
    let leaf = tls.conn.peer_certificates().and_then(|c| c.first()).ok_or("no certificate")?.clone().into_owned();
    let text = String::from_utf8_lossy(&bytes);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("not HTTP: {text}"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_owned()).unwrap_or_default();
    Ok((status, body, leaf))
}
