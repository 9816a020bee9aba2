//! The crate's error type.
//!
//! Messages name the host(s) and, for ACME, the CA's own problem text: the
//! agent logs them and `roost` shows them next to the route, and "validation
//! failed" alone would send people guessing (DNS? port 80? firewall?).

use std::time::Duration;

use thiserror::Error;

/// An error from a [`crate::ChallengeSink`] (for the agent: a Raft write that
/// did not commit).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Failure to issue, load or read a certificate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    /// A host name cannot go into the certificate asked for.
    #[error("cannot issue a certificate for {host:?}: {reason}")]
    Host {
        /// The rejected name, as given.
        host: String,
        /// Why, e.g. "ACME HTTP-01 cannot validate wildcard names".
        reason: &'static str,
    },
    /// No host names were given.
    #[error("a certificate needs at least one host name")]
    NoHosts,
    /// rcgen failed to generate a key, build a certificate or a CSR.
    #[error("cannot {what}: {source}")]
    Generate {
        /// The step that failed, e.g. "sign the certificate for app.lan".
        what: String,
        /// The underlying rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM document (certificate or key) could not be read.
    #[error("invalid {what}: {reason}")]
    Pem {
        /// Which document, e.g. "ingress CA certificate".
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The stored ACME account cannot be read (corrupt replicated state).
    #[error("invalid stored ACME account for {directory}: {reason}")]
    Account {
        /// The account's directory URL.
        directory: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The ACME directory could not be reached or refused the account.
    #[error("ACME directory {directory}: {detail}")]
    Directory {
        /// The directory URL.
        directory: String,
        /// The CA's problem detail (and type), or the network error chain.
        detail: String,
    },
    /// The CA refused or failed a step of the order (not a single host's
    /// validation).
    #[error("ACME order for {hosts} failed to {step}: {detail}")]
    Order {
        /// The order's hosts, comma separated.
        hosts: String,
        /// The step, e.g. "create the order", "finalize".
        step: &'static str,
        /// The CA's problem detail (and type), or the network error chain.
        detail: String,
    },
    /// The CA could not validate control of `host`: it fetched the HTTP-01
    /// answer and got something else, or could not connect.
    #[error("ACME validation of {host} failed: {detail}")]
    Validation {
        /// The host whose authorization is invalid.
        host: String,
        /// The CA's problem detail (and type), e.g. the status it got.
        detail: String,
    },
    /// The CA offers no HTTP-01 challenge for `host` (the only type roost answers).
    #[error("the ACME CA offers no http-01 challenge for {host}")]
    NoHttpChallenge {
        /// The host.
        host: String,
    },
    /// Publishing the challenge answer failed, so the CA was never asked to validate.
    #[error("cannot publish the ACME challenge for {host}: {source}")]
    Sink {
        /// The host whose challenge could not be published.
        host: String,
        /// The sink's error.
        #[source]
        source: SinkError,
    },
    /// rustls refused the ACME client's TLS configuration.
    #[error("cannot build the ACME client's TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The whole order took longer than allowed.
    #[error("ACME order for {hosts} timed out after {after:?}")]
    Timeout {
        /// The order's hosts, comma separated.
        hosts: String,
        /// The limit that was hit.
        after: Duration,
    },
}

/// A readable text for an instant-acme error: for a CA problem document its
/// detail and type (and subproblems), otherwise the whole `source()` chain,
/// because hyper's top-level text ("client error (Connect)") hides the cause
/// ("Connection refused", "certificate unknown").
pub(crate) fn acme_detail(err: &instant_acme::Error) -> String {
    if let instant_acme::Error::Api(problem) = err {
        return problem_detail(problem);
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some layers repeat their source's text; say each thing once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `detail (type)` of an RFC 7807 problem, subproblems included.
pub(crate) fn problem_detail(problem: &instant_acme::Problem) -> String {
    let mut text = problem.detail.clone().unwrap_or_else(|| "no detail".into());
    if let Some(kind) = &problem.r#type {
        text.push_str(&format!(" ({kind})"));
    }
    for sub in &problem.subproblems {
        text.push_str(&format!("; {sub}"));
    }
    text
}
