//! Error types of the crate.
//!
//! Two types, because they reach different people: [`PkiError`] is about
//! certificates and TLS setup (an operator sees it in logs), [`TokenError`] is
//! about a join token somebody pasted on a command line, so its messages say
//! what is wrong with the text they typed.

use thiserror::Error;

/// Failure to create, sign, load or use certificates and keys.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen failed to generate a key, build a certificate or serialize it.
    #[error("cannot {what}: {source}")]
    Generate {
        /// The step that failed, e.g. "generate the cluster CA key".
        what: &'static str,
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM document (certificate, key or CSR) could not be read.
    #[error("invalid {what} PEM: {reason}")]
    Pem {
        /// Which document, e.g. "node certificate".
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The CSR could not be parsed, its signature is wrong, or it asks for
    /// extensions we do not sign.
    #[error("invalid certificate signing request: {0}")]
    Csr(String),
    /// A node name is empty or contains characters not allowed in a certificate name.
    #[error("invalid node name {name:?}: {reason}")]
    NodeName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A CA fingerprint is not 64 lowercase hex characters.
    #[error("invalid CA fingerprint {0:?}: expected 64 hex characters (SHA-256)")]
    Fingerprint(String),
    /// The server's certificate chain does not contain the CA named by the join token.
    #[error(
        "the server's cluster CA does not match the join token: expected CA fingerprint \
         {expected}, server presented {presented}"
    )]
    FingerprintMismatch {
        /// Fingerprint from the join token.
        expected: String,
        /// Fingerprints of the certificates the server sent (comma separated), or "none".
        presented: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// rustls refused the configuration (bad key, unsupported algorithm, ...).
    #[error("cannot build the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// rustls refused the trust anchors or verifier settings.
    #[error("cannot build the certificate verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// Why a join token was rejected by [`crate::JoinToken::parse`].
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Nothing was given.
    #[error("join token is empty")]
    Empty,
    /// The text does not start with `ROOST1-`.
    #[error("not a roost join token (expected ROOST1-<CA fingerprint>-<secret>)")]
    NotAToken,
    /// A token of another format version.
    #[error("unsupported join token version {0:?} (this roost understands ROOST1)")]
    Version(String),
    /// The token ends too early, as happens when it is cut off while copying.
    #[error("join token is truncated: {0}")]
    Truncated(String),
    /// The token is longer than a valid one or has extra parts.
    #[error("join token is malformed: {0}")]
    Malformed(&'static str),
    /// A part that must be hexadecimal is not.
    #[error("join token's {0} is not hexadecimal")]
    BadHex(&'static str),
}
