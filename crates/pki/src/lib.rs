//! Public-key infrastructure for a roost cluster.
//!
//! Nodes talk to each other over mutual TLS only. This crate provides the
//! pieces:
//!
//! - [`ClusterCa`]: the cluster's own certificate authority, created by the
//!   first node and replicated through Raft so any leader can sign joiners.
//! - Node identities ([`NodeIdentity`]): a node key that never leaves the
//!   node, a certificate signed from its CSR, and the CA certificate.
//! - [`JoinToken`]s: `ROOST1-<CA fingerprint>-<secret>`. The fingerprint lets
//!   a joiner authenticate the cluster before it has any certificate; the
//!   secret lets the cluster authenticate the joiner.
//! - rustls configs ([`server_config`], [`client_config`],
//!   [`join_client_config`]) that all use the ring provider.
//!
//! Trust comes from the CA, never from addresses: every node certificate
//! carries the DNS name [`NODE_SERVER_NAME`] and clients use it as the TLS
//! server name whatever IP they dial.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ca;
mod error;
mod tls;
mod token;

pub use ca::{
    cert_fingerprint, der_fingerprint, generate_node_key_and_csr, node_dns_name, peer_node_id,
    ClusterCa, NodeIdentity, NODE_SERVER_NAME,
};
pub use error::{PkiError, TokenError};
pub use tls::{
    ca_pem_from_chain, client_config, der_to_pem, join_client_config, pki_error_in, provider,
    server_config, ALPN_PROTOCOLS,
};
pub use token::{random_secret, secret_matches, JoinToken};

/// Re-exported so users name the exact rustls the configs are built with.
pub use rustls;
/// Re-exported so users wrap streams with the matching tokio-rustls.
pub use tokio_rustls;
