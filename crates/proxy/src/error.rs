//! Errors of the proxy's public API. Request failures are not errors here: they
//! become error pages (see the crate docs).

/// What can go wrong setting the proxy up.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A certificate chain could not be read.
    #[error("cannot read the certificate: {0}")]
    Certificate(String),
    /// A private key could not be read.
    #[error("cannot read the private key: {0}")]
    PrivateKey(String),
    /// rustls refused the key or the configuration.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}
