//! rustls configurations for node servers, node clients and joining nodes.
//!
//! All configs use the ring provider explicitly (never a process-wide default),
//! so the binary has exactly one crypto backend and no global state to race on.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore, ServerConfig,
    SignatureScheme,
};
use rustls_pki_types::pem::PemObject;

use crate::ca::{der_fingerprint, parse_cert};
use crate::{NodeIdentity, PkiError};

/// ALPN protocols the node server offers, in preference order.
pub const ALPN_PROTOCOLS: [&[u8]; 3] = [b"h2", b"http/1.1", b"roost-tunnel/1"];

/// The ring crypto provider every roost TLS config uses: ring's suites, with
/// AES-128-GCM preferred over AES-256-GCM (both are 128-bit-secure against classical
/// attacks; 128 takes 10 AES rounds instead of 14, which shows in the cluster
/// network's tunnel throughput, see bench/network.sh).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut p = rustls::crypto::ring::default_provider();
            p.cipher_suites.sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
            Arc::new(p)
        })
        .clone()
}

/// Server config for a node's cluster port. It presents the chain
/// `[node cert, CA cert]` (the CA is included so joiners can check its
/// fingerprint). Client certificates are optional, but one that is presented
/// must chain to the cluster CA: a plain TCP client or a client with a
/// certificate from another CA fails the handshake, while a certificate-less
/// TLS client (a node joining with a token, a remote CLI with a token) gets
/// through and must be restricted by the HTTP layer — check
/// `peer_certificates()` and [`crate::peer_node_id`] there. ALPN: `h2`,
/// `http/1.1`, and `roost-tunnel/1` (the cluster network's tunnels between agents,
/// see roost-net). TLS 1.3 and 1.2.
///
/// # Errors
/// [`PkiError::Pem`] if a certificate or the key cannot be read,
/// [`PkiError::Tls`] / [`PkiError::Verifier`] if rustls rejects them.
pub fn server_config(id: &NodeIdentity) -> Result<Arc<ServerConfig>, PkiError> {
    let (ca, chain, key) = load_identity(id)?;
    let roots = Arc::new(root_store(ca)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
        .allow_unauthenticated()
        .build()?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Client config for node-to-node connections: presents the node certificate
/// and accepts the server only if it chains to the cluster CA and is valid for
/// [`crate::NODE_SERVER_NAME`] (connect with that as the server name).
///
/// No ALPN is offered, so HTTP/1.1 is used; to use HTTP/2 clone the config and
/// set `alpn_protocols`.
///
/// # Errors
/// As [`server_config`].
pub fn client_config(id: &NodeIdentity) -> Result<Arc<ClientConfig>, PkiError> {
    let (ca, chain, key) = load_identity(id)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca)?)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Client config for a joining node (or a remote CLI) that has a join token but
/// no cluster certificate yet. It sends no client certificate and accepts the
/// server only if the server's chain contains a CA certificate whose SHA-256
/// fingerprint equals `expected_ca_fingerprint` *and* the leaf is validly
/// signed by that CA for [`crate::NODE_SERVER_NAME`]. A fingerprint mismatch
/// fails the handshake with a `bad_certificate` alert and an error carrying
/// [`PkiError::FingerprintMismatch`]; [`pki_error_in`] digs it out of the
/// `io::Error` tokio-rustls returns, for a clear message to the operator.
///
/// After the handshake, [`ca_pem_from_chain`] extracts the CA certificate to
/// store.
///
/// # Errors
/// [`PkiError::Fingerprint`] if the fingerprint is not 64 hex characters,
/// [`PkiError::Tls`] if rustls rejects the protocol settings.
pub fn join_client_config(expected_ca_fingerprint: &str) -> Result<Arc<ClientConfig>, PkiError> {
    let expected = normalize_fingerprint(expected_ca_fingerprint)?;
    let verifier = Arc::new(PinnedCaVerifier {
        expected,
        provider: provider(),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The CA certificate (PEM) in a verified server chain whose fingerprint is
/// `expected_ca_fingerprint`, e.g. from `ClientConnection::peer_certificates()`
/// after a [`join_client_config`] handshake. `None` if it is not there.
pub fn ca_pem_from_chain(
    chain: &[CertificateDer<'_>],
    expected_ca_fingerprint: &str,
) -> Option<String> {
    let expected = normalize_fingerprint(expected_ca_fingerprint).ok()?;
    chain
        .iter()
        .find(|c| der_fingerprint(c) == expected)
        .map(|c| der_to_pem(c))
}

/// The [`PkiError`] inside a handshake error, if there is one — e.g.
/// [`PkiError::FingerprintMismatch`] from a [`join_client_config`] connection
/// (rustls only shows it in `Debug` form). Accepts the `io::Error` from
/// tokio-rustls, a `rustls::Error`, or any error whose source chain holds one.
pub fn pki_error_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a PkiError> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(pki) = e.downcast_ref::<PkiError>() {
            return Some(pki);
        }
        if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) =
            e.downcast_ref::<rustls::Error>()
        {
            return inner.downcast_ref::<PkiError>();
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => e.source(),
        };
    }
    None
}

/// PEM encoding (LF line endings) of a DER certificate.
pub fn der_to_pem(der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("CERTIFICATE", der), config)
}

type LoadedIdentity = (
    CertificateDer<'static>,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
);

fn load_identity(id: &NodeIdentity) -> Result<LoadedIdentity, PkiError> {
    let ca = parse_cert(&id.ca_cert_pem, "cluster CA certificate")?;
    let leaf = parse_cert(&id.cert_pem, "node certificate")?;
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(|e| PkiError::Pem {
        what: "node key",
        reason: e.to_string(),
    })?;
    Ok((ca.clone(), vec![leaf, ca], key))
}

fn root_store(ca: CertificateDer<'static>) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca)?;
    Ok(roots)
}

fn normalize_fingerprint(fp: &str) -> Result<String, PkiError> {
    let fp = fp.trim().to_ascii_lowercase();
    if fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(fp)
    } else {
        Err(PkiError::Fingerprint(fp))
    }
}

/// Verifies a server against a CA pinned by fingerprint: the CA is taken
/// from the chain the server sends, checked against the fingerprint, and then
/// used as the only trust anchor for ordinary WebPKI verification.
#[derive(Debug)]
struct PinnedCaVerifier {
    expected: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = intermediates
            .iter()
            .find(|c| der_fingerprint(c) == self.expected)
        else {
            let presented: Vec<String> = intermediates.iter().map(|c| der_fingerprint(c)).collect();
            let err = PkiError::FingerprintMismatch {
                expected: self.expected.clone(),
                presented: if presented.is_empty() {
                    "none".into()
                } else {
                    presented.join(", ")
                },
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(err)),
            )));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| {
                    rustls::Error::General(format!("cannot build the pinned-CA verifier: {e}"))
                })?;
        inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
