//! The certificate as the replicated state keeps it, and the decisions made
//! on it as pure functions of (certificate, now).

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use crate::hosts::{canonical, name_covers};
use crate::CertError;

/// Who issued a [`StoredCert`], so renewal goes back to the same place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    /// roost's ingress CA ([`crate::IngressCa`]).
    Internal,
    /// An ACME CA.
    Acme {
        /// The resolver name of the route's TLS mode (`roost_routes::Tls::Acme`).
        resolver: String,
        /// The ACME directory URL the certificate came from.
        directory: String,
    },
}

/// A certificate with its key, ready to serve and to store in replicated
/// state: every node loads the same one into its proxy.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCert {
    /// The names the certificate was issued for, canonical (lower case, no
    /// trailing dot), the first being the common name.
    pub hosts: Vec<String>,
    /// PEM chain, leaf first (as ACME delivers it and rustls serves it).
    pub chain_pem: String,
    /// The leaf's PKCS#8 private key, PEM. Secret.
    pub key_pem: String,
    /// The leaf's notBefore, Unix seconds.
    pub not_before: i64,
    /// The leaf's notAfter, Unix seconds.
    pub not_after: i64,
    /// Where it came from, and so where its renewal goes.
    pub issuer: Issuer,
}

// Hand-written so private keys never end up in logs.
impl fmt::Debug for StoredCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCert")
            .field("hosts", &self.hosts)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("issuer", &self.issuer)
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A certificate's validity period, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
}

impl StoredCert {
    /// A stored certificate from its PEM chain (leaf first) and key, with the
    /// validity read from the leaf so the stored times can never disagree
    /// with what clients check.
    ///
    /// # Errors
    /// [`CertError::Pem`] if the chain holds no readable certificate.
    pub fn from_pem(
        hosts: Vec<String>,
        chain_pem: String,
        key_pem: String,
        issuer: Issuer,
    ) -> Result<StoredCert, CertError> {
        let Validity {
            not_before,
            not_after,
        } = validity(&chain_pem)?;
        Ok(StoredCert {
            hosts: hosts.iter().map(|h| canonical(h)).collect(),
            chain_pem,
            key_pem,
            not_before,
            not_after,
            issuer,
        })
    }

    /// When renewal is due: when a third of the lifetime is left.
    ///
    /// A fraction rather than a fixed margin because lifetimes differ by
    /// orders of magnitude: 90-day ACME certificates renew 30 days early (as
    /// Let's Encrypt advises, leaving weeks of retries for an outage), 6-day
    /// short-lived ones 2 days early, a 30-second test certificate after 20
    /// seconds. A fixed "30 days before" would renew a 6-day certificate on
    /// every pass, hammering the CA into its rate limits.
    ///
    /// Times that make no sense (notAfter not after notBefore) give
    /// `i64::MIN`: due at once, since no client accepts such a certificate.
    pub fn renew_at(&self) -> i64 {
        if self.not_after <= self.not_before {
            return i64::MIN;
        }
        self.not_after - (self.not_after - self.not_before) / 3
    }

    /// Whether the certificate should be replaced at `now` (Unix seconds):
    /// from [`StoredCert::renew_at`] on, which includes expired certificates
    /// and ones whose times make no sense.
    pub fn needs_renewal(&self, now: i64) -> bool {
        now >= self.renew_at()
    }

    /// Whether the certificate serves `host`: one of its names, or a wildcard
    /// one level up (`*.example.com` covers `a.example.com`, not
    /// `a.b.example.com`). Case and a trailing dot do not matter.
    pub fn covers(&self, host: &str) -> bool {
        let host = canonical(host);
        self.hosts.iter().any(|name| name_covers(name, &host))
    }

    /// Whether the certificate serves every one of `hosts`.
    pub fn covers_all(&self, hosts: &[String]) -> bool {
        hosts.iter().all(|h| self.covers(h))
    }
}

/// The validity of the first certificate (the leaf) in `chain_pem`.
///
/// # Errors
/// [`CertError::Pem`] if there is no certificate or it cannot be parsed.
pub fn validity(chain_pem: &str) -> Result<Validity, CertError> {
    let der = CertificateDer::from_pem_slice(chain_pem.as_bytes()).map_err(|e| CertError::Pem {
        what: "certificate chain",
        reason: e.to_string(),
    })?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| CertError::Pem {
        what: "certificate",
        reason: e.to_string(),
    })?;
    Ok(Validity {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Now as Unix seconds, for callers of the pure functions above. A clock
/// before 1970 reads as 0.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_before: i64, not_after: i64, hosts: &[&str]) -> StoredCert {
        StoredCert {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            chain_pem: String::new(),
            key_pem: "secret".into(),
            not_before,
            not_after,
            issuer: Issuer::Internal,
        }
    }

    #[test]
    fn renewal_is_due_when_a_third_of_the_lifetime_is_left() {
        let day = 86_400;
        let ninety = cert(0, 90 * day, &["a.example.com"]);
        assert_eq!(ninety.renew_at(), 60 * day);
        assert!(!ninety.needs_renewal(60 * day - 1));
        assert!(ninety.needs_renewal(60 * day));
        assert!(ninety.needs_renewal(100 * day), "expired");

        let short = cert(1000, 1030, &["a.example.com"]);
        assert!(!short.needs_renewal(1019));
        assert!(short.needs_renewal(1020));

        assert!(
            cert(50, 10, &["a"]).needs_renewal(0),
            "nonsense times renew"
        );
    }

    #[test]
    fn covers_names_and_one_level_of_wildcard() {
        let c = cert(0, 1, &["app.example.com", "*.lan"]);
        assert!(c.covers("App.Example.com."));
        assert!(c.covers("nas.lan"));
        assert!(!c.covers("a.nas.lan"));
        assert!(!c.covers("example.com"));
        assert!(c.covers_all(&["nas.lan".into(), "app.example.com".into()]));
        assert!(!c.covers_all(&["nas.lan".into(), "other.example.com".into()]));
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert!(!format!("{:?}", cert(0, 1, &["a"])).contains("secret"));
    }

    #[test]
    fn stored_certs_round_trip_through_serde() {
        let c = StoredCert {
            issuer: Issuer::Acme {
                resolver: "le".into(),
                directory: "https://acme.test/dir".into(),
            },
            ..cert(1, 2, &["a.example.com"])
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<StoredCert>(&json).unwrap(), c);
    }

    #[test]
    fn validity_of_garbage_is_a_pem_error() {
        assert!(matches!(validity("nope"), Err(CertError::Pem { .. })));
    }
}
