//! Certificates for the ingress proxy: where they come from, how they are
//! stored, and when they are renewed.
//!
//! # Design
//! - **Two issuers.** Names a public CA can validate get certificates from an
//!   ACME CA ([`AcmeAccount`], HTTP-01 only); names none will sign
//!   (`nas.lan`, `*.home.arpa`, see `roost_routes::is_local`) get them from
//!   roost's own [`IngressCa`]. The ingress CA is not the cluster's mutual-TLS
//!   CA (`roost-pki`): people install this one in their browsers, so it must
//!   never be able to make a certificate a node would accept, nor the reverse.
//! - **One stored form.** Both produce a [`StoredCert`] (hosts, PEM chain and
//!   key, validity as Unix seconds, [`Issuer`]): plain serde data the agent
//!   keeps in the Raft-replicated state, so every node serves the same
//!   certificate (`roost_proxy::certified_key_from_pem(&c.chain_pem,
//!   &c.key_pem)` into its `CertStore`) and any new leader knows what to renew.
//!   The ACME account ([`StoredAccount`]) and the CA ([`IngressCa`]) are
//!   replicated the same way.
//! - **Decisions are pure.** [`StoredCert::needs_renewal`] and
//!   [`StoredCert::covers`] take the time as an argument and do no IO; the
//!   agent's leader loop decides with them and only then calls an issuer.
//! - **IO only for ACME.** An order publishes each HTTP-01 answer through a
//!   [`ChallengeSink`] the caller provides (the agent: a Raft write, so the
//!   node the CA's request reaches answers it; tests: a proxy's
//!   `Challenges`), tells the CA to validate, finalizes with a CSR for a key
//!   made here, and removes the answers whatever happened. Every exchange and
//!   the whole order are bounded ([`Timeouts`]).
//! - **One crypto backend.** TLS to the CA uses rustls with the ring provider
//!   (`roost_pki::provider()`), Mozilla's roots compiled in (`webpki-roots`,
//!   so a host without a CA bundle still reaches Let's Encrypt) plus an
//!   optional extra root for private or test CAs; instant-acme runs without
//!   its aws-lc-rs default.
//!
//! # Renewal rule
//! A certificate is due for renewal once a third of its lifetime is left
//! ([`StoredCert::renew_at`]): 30 days before a 90-day certificate expires,
//! as Let's Encrypt advises, leaving weeks to retry through an outage; 2 days
//! before a 6-day short-lived one; 10 seconds before a 30-second test one. A
//! fixed margin would either renew short-lived certificates on every pass
//! (into the CA's rate limits) or renew long ones too late.
//!
//! # Errors
//! One type, [`CertError`], whose messages name the host and, for ACME, the
//! CA's problem detail ("ACME validation of app.example.com failed: ... 404").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acme;
mod ca;
mod error;
mod hosts;
mod sink;
mod stored;

pub use acme::{
    AcmeAccount, AcmeConfig, StoredAccount, Timeouts, LETS_ENCRYPT, LETS_ENCRYPT_STAGING,
};
pub use ca::{IngressCa, CA_NAME, LEAF_VALIDITY};
pub use error::{CertError, SinkError};
pub use sink::ChallengeSink;
pub use stored::{unix_now, validity, Issuer, StoredCert, Validity};

/// Re-exported for implementing [`ChallengeSink`].
pub use async_trait::async_trait;
