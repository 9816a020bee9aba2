//! A TLS client with a certificate from another CA, against the real agent.

use roost_pki::rustls;
use std::sync::Arc;

/// Trusts any server (the test is about the *server* refusing the client).
#[derive(Debug)]
struct AnyServer;

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        roost_pki::provider().signature_verification_algorithms.supported_schemes()
    }
}

/// Connects to `addr` presenting a node certificate of a *different* cluster CA and
/// sends a request; returns what came back before the connection ended.
pub fn foreign_ca_client(addr: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    let ca = roost_pki::ClusterCa::generate("stranger").unwrap();
    let id = ca.issue_node("stranger", 99, &[]).unwrap();
    let certs = vec![rustls::pki_types::CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(roost_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer))
        .with_client_auth_cert(certs, key)
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from(roost_pki::NODE_SERVER_NAME).unwrap();
        let Ok(mut tls) = roost_pki::tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await else {
            return Vec::new();
        };
        let _ = tls.write_all(b"GET /v1/nodes HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), tls.read_to_end(&mut buf)).await;
        buf
    })
}
