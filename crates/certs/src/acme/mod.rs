//! The ACME client: an account per resolver, HTTP-01 orders.

mod http;
mod order;

use std::fmt;
use std::time::Duration;

use instant_acme::{Account, AccountCredentials, NewAccount};
use serde::{Deserialize, Serialize};

use crate::error::acme_detail;
use crate::hosts::{self, Signer};
use crate::stored::{Issuer, StoredCert};
use crate::{CertError, ChallengeSink};

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Bounds on the ACME conversation, so a CA that hangs never holds the
/// leader's issuance loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a TCP connection to the CA (10 s).
    pub connect: Duration,
    /// One request, answer body included (30 s).
    pub request: Duration,
    /// Waiting for validation, then again for the certificate (90 s each;
    /// Let's Encrypt takes seconds, more when it retries from several places).
    pub validation: Duration,
    /// The whole order, from creating it to holding the certificate (5 min).
    pub order: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
            validation: Duration::from_secs(90),
            order: Duration::from_secs(300),
        }
    }
}

/// Which CA to use and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The resolver name routes use (`roost_routes::Tls::Acme { resolver }`),
    /// recorded in issued certificates.
    pub resolver: String,
    /// The directory URL, e.g. [`LETS_ENCRYPT`].
    pub directory: String,
    /// A PEM root to trust besides Mozilla's, for a private or test CA.
    pub extra_root_pem: Option<String>,
    /// Account contacts (`mailto:ops@example.com`), for the CA's expiry notices.
    pub contact: Vec<String>,
    /// See [`Timeouts`].
    pub timeouts: Timeouts,
}

impl AcmeConfig {
    /// `resolver` at `directory`, no extra root, no contact, default timeouts.
    pub fn new(resolver: impl Into<String>, directory: impl Into<String>) -> Self {
        AcmeConfig {
            resolver: resolver.into(),
            directory: directory.into(),
            extra_root_pem: None,
            contact: Vec::new(),
            timeouts: Timeouts::default(),
        }
    }
}

/// An ACME account as the replicated state keeps it, so whichever node leads
/// orders with the same account. `credentials` is instant-acme's
/// [`AccountCredentials`] as JSON (account URL and private key): secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    /// The resolver it belongs to.
    pub resolver: String,
    /// The directory it was created at.
    pub directory: String,
    /// [`AccountCredentials`], serialized.
    pub credentials: String,
}

// Hand-written so the account key never ends up in logs.
impl fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAccount")
            .field("resolver", &self.resolver)
            .field("directory", &self.directory)
            .field("credentials", &"[redacted]")
            .finish()
    }
}

/// A usable ACME account: create one with [`AcmeAccount::create`] (and store
/// what it returns), or restore a stored one with [`AcmeAccount::restore`].
pub struct AcmeAccount {
    account: Account,
    resolver: String,
    directory: String,
    timeouts: Timeouts,
}

impl fmt::Debug for AcmeAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcmeAccount")
            .field("resolver", &self.resolver)
            .field("directory", &self.directory)
            .field("id", &self.account.id())
            .finish_non_exhaustive()
    }
}

impl AcmeAccount {
    /// Registers a new account at `config.directory`, agreeing to the CA's
    /// terms of service (whoever configures an ACME resolver asks for that).
    ///
    /// # Errors
    /// [`CertError::Pem`] / [`CertError::Tls`] for a bad `extra_root_pem`,
    /// [`CertError::Directory`] if the directory cannot be reached or refuses
    /// the account (with the CA's problem detail or the network error).
    pub async fn create(config: &AcmeConfig) -> Result<(AcmeAccount, StoredAccount), CertError> {
        let http = http::AcmeHttp::new(config.extra_root_pem.as_deref(), &config.timeouts)?;
        let contact: Vec<&str> = config.contact.iter().map(String::as_str).collect();
        let new = NewAccount {
            contact: &contact,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let (account, credentials) = Account::builder_with_http(Box::new(http))
            .create(&new, config.directory.clone(), None)
            .await
            .map_err(|e| directory_error(config, &e))?;
        let stored = StoredAccount {
            resolver: config.resolver.clone(),
            directory: config.directory.clone(),
            credentials: serde_json::to_string(&credentials).map_err(|e| CertError::Account {
                directory: config.directory.clone(),
                reason: e.to_string(),
            })?,
        };
        Ok((AcmeAccount::new(account, config), stored))
    }

    /// The account in `stored`, talking to its directory with `config`'s
    /// roots and timeouts.
    ///
    /// # Errors
    /// [`CertError::Account`] if `stored` cannot be read or belongs to
    /// another directory than `config` (create a new account then),
    /// [`CertError::Directory`] if the directory cannot be reached,
    /// [`CertError::Pem`] / [`CertError::Tls`] for a bad `extra_root_pem`.
    pub async fn restore(
        config: &AcmeConfig,
        stored: &StoredAccount,
    ) -> Result<AcmeAccount, CertError> {
        let invalid = |reason: String| CertError::Account {
            directory: stored.directory.clone(),
            reason,
        };
        if stored.directory != config.directory {
            return Err(invalid(format!(
                "it belongs to that directory, not to {}",
                config.directory
            )));
        }
        let credentials: AccountCredentials =
            serde_json::from_str(&stored.credentials).map_err(|e| invalid(e.to_string()))?;
        let http = http::AcmeHttp::new(config.extra_root_pem.as_deref(), &config.timeouts)?;
        let account = Account::builder_with_http(Box::new(http))
            .from_credentials(credentials)
            .await
            .map_err(|e| directory_error(config, &e))?;
        Ok(AcmeAccount::new(account, config))
    }

    fn new(account: Account, config: &AcmeConfig) -> Self {
        AcmeAccount {
            account,
            resolver: config.resolver.clone(),
            directory: config.directory.clone(),
            timeouts: config.timeouts,
        }
    }

    /// Orders a certificate for `hosts` with HTTP-01, publishing each
    /// challenge answer through `sink` and removing it afterwards whatever
    /// the outcome. The key is generated here (ECDSA P-256) and never leaves
    /// the result. Bounded by [`Timeouts::order`].
    ///
    /// # Errors
    /// [`CertError::NoHosts`] / [`CertError::Host`] for names ACME HTTP-01
    /// cannot prove (wildcards, IP addresses, malformed names);
    /// [`CertError::Sink`] if an answer could not be published;
    /// [`CertError::Validation`] naming the host the CA could not validate,
    /// with its problem detail; [`CertError::NoHttpChallenge`];
    /// [`CertError::Order`] for other refusals or network failures;
    /// [`CertError::Timeout`]; [`CertError::Generate`] if the key or CSR
    /// cannot be made; [`CertError::Pem`] if the CA's chain is unreadable.
    pub async fn issue(
        &self,
        hosts: &[String],
        sink: &dyn ChallengeSink,
    ) -> Result<StoredCert, CertError> {
        let hosts = hosts::normalize(hosts, Signer::Acme)?;
        let mut published = Vec::new();
        let limit = self.timeouts.order;
        let ordered = tokio::time::timeout(
            limit,
            order::run(&self.account, &hosts, sink, &self.timeouts, &mut published),
        )
        .await;
        for token in published {
            let removed = tokio::time::timeout(self.timeouts.request, sink.remove(&token)).await;
            match removed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(%token, error = %e, "cannot remove an ACME challenge answer")
                }
                Err(_) => tracing::warn!(%token, "removing an ACME challenge answer timed out"),
            }
        }
        let (chain_pem, key_pem) = ordered.map_err(|_| CertError::Timeout {
            hosts: hosts::list(&hosts),
            after: limit,
        })??;
        StoredCert::from_pem(
            hosts,
            chain_pem,
            key_pem,
            Issuer::Acme {
                resolver: self.resolver.clone(),
                directory: self.directory.clone(),
            },
        )
    }
}

fn directory_error(config: &AcmeConfig, err: &instant_acme::Error) -> CertError {
    CertError::Directory {
        directory: config.directory.clone(),
        detail: acme_detail(err),
    }
}
