//! Certificates by SNI, changeable while the listener runs.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ProxyError;

/// ALPN protocols offered to clients, in preference order.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Host name → certificate, read on every handshake and updated at any time
/// (ACME renewals, routes added). Lookup: the exact name, then a wildcard one
/// level up (`*.example.com` for `a.example.com`, never for `a.b.example.com`),
/// then the fallback. Names are compared in lower case.
#[derive(Debug, Default)]
pub struct CertStore {
    certs: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    fallback: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertStore {
    /// An empty store: every handshake fails until a certificate or a fallback is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the certificate for `name` (`app.example.com` or `*.example.com`).
    pub fn set(&self, name: &str, key: Arc<CertifiedKey>) {
        self.certs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_ascii_lowercase(), key);
    }

    /// Forgets the certificate for `name`.
    pub fn remove(&self, name: &str) {
        self.certs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&name.to_ascii_lowercase());
    }

    /// Replaces every named certificate at once (the fallback stays).
    pub fn replace_all(&self, certs: HashMap<String, Arc<CertifiedKey>>) {
        let certs = certs
            .into_iter()
            .map(|(n, k)| (n.to_ascii_lowercase(), k))
            .collect();
        *self.certs.write().unwrap_or_else(PoisonError::into_inner) = certs;
    }

    /// The certificate for clients without SNI or with an unknown name (a
    /// self-signed one, see [`self_signed`], so they get an answer at all).
    pub fn set_fallback(&self, key: Option<Arc<CertifiedKey>>) {
        *self
            .fallback
            .write()
            .unwrap_or_else(PoisonError::into_inner) = key;
    }

    /// The certificate a handshake for `server_name` gets.
    pub fn lookup(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = server_name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let certs = self.certs.read().unwrap_or_else(PoisonError::into_inner);
            let wildcard = name
                .split_once('.')
                .map(|(_, parent)| format!("*.{parent}"));
            let found = certs
                .get(&name)
                .or_else(|| wildcard.and_then(|w| certs.get(&w)));
            if let Some(key) = found {
                return Some(key.clone());
            }
        }
        self.fallback
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(hello.server_name())
    }
}

/// A certificate and key from PEM (the chain leaf first, as ACME delivers it).
///
/// # Errors
/// [`ProxyError::Certificate`] / [`ProxyError::PrivateKey`] if the PEM holds none
/// or cannot be read, [`ProxyError::Tls`] if the key type is not supported or
/// does not belong to the certificate.
pub fn certified_key_from_pem(
    chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, ProxyError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProxyError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(ProxyError::Certificate("no certificate in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| ProxyError::PrivateKey(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::from_der(
        chain,
        key,
        &roost_pki::provider(),
    )?))
}

/// A self-signed certificate for `names`, for [`CertStore::set_fallback`] until
/// real ones exist (clients will warn, but they connect and see the error page
/// rather than a failed handshake).
///
/// # Errors
/// [`ProxyError::Certificate`] if a name is not valid in a certificate.
pub fn self_signed(names: &[String]) -> Result<Arc<CertifiedKey>, ProxyError> {
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| ProxyError::Certificate(e.to_string()))?;
    certified_key_from_pem(
        &generated.cert.pem(),
        &generated.signing_key.serialize_pem(),
    )
}

/// The server config of the HTTPS listener: certificates from `certs`, TLS 1.2
/// and 1.3, ring only (like every roost TLS config), ALPN [`ALPN`].
///
/// # Errors
/// [`ProxyError::Tls`] if rustls refuses the protocol versions (not with ring).
pub fn server_config(certs: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, ProxyError> {
    let mut config = ServerConfig::builder_with_provider(roost_pki::provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_one_level_wildcard_then_fallback() {
        let store = CertStore::new();
        assert!(store.lookup(Some("a.test")).is_none());
        let exact = self_signed(&["a.example.com".into()]).unwrap();
        let wild = self_signed(&["*.example.com".into()]).unwrap();
        let fallback = self_signed(&["roost.invalid".into()]).unwrap();
        store.set("A.example.com", exact.clone());
        store.set("*.example.com", wild.clone());
        store.set_fallback(Some(fallback.clone()));
        assert!(Arc::ptr_eq(
            &store.lookup(Some("a.example.COM.")).unwrap(),
            &exact
        ));
        assert!(Arc::ptr_eq(
            &store.lookup(Some("b.example.com")).unwrap(),
            &wild
        ));
        assert!(Arc::ptr_eq(
            &store.lookup(Some("x.b.example.com")).unwrap(),
            &fallback
        ));
        assert!(Arc::ptr_eq(&store.lookup(None).unwrap(), &fallback));
        store.remove("a.example.com");
        assert!(Arc::ptr_eq(
            &store.lookup(Some("a.example.com")).unwrap(),
            &wild
        ));
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused() {
        let cert = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
        assert!(matches!(
            certified_key_from_pem(&cert.cert.pem(), "nope"),
            Err(ProxyError::PrivateKey(_))
        ));
        assert!(matches!(
            certified_key_from_pem("", "nope"),
            Err(ProxyError::Certificate(_))
        ));
    }
}
