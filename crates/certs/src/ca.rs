//! The ingress CA: signs certificates for names no public CA will (`nas.lan`,
//! `*.home.arpa`), so routes on them still get HTTPS once people trust it.
//!
//! It is a CA of its own, never the cluster's mutual-TLS CA (`roost-pki`):
//! people are asked to install this one in their browsers, and a certificate
//! it signs must never be able to pose as a cluster node, nor the other way
//! round.

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer as RcgenIssuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::hosts::{self, Signer};
use crate::stored::{Issuer, StoredCert};
use crate::CertError;

/// The CA's common name, what people see in their trust store.
pub const CA_NAME: &str = "roost ingress CA";
/// Ten years: replacing the CA means every browser that trusts it must be
/// told again, so it should outlive the homelab's hardware.
const CA_VALIDITY: Duration = Duration::days(3653);
/// Like an ACME certificate, so internal and ACME ones renew alike and a
/// leaked key is useful for weeks, not years.
pub const LEAF_VALIDITY: Duration = Duration::days(90);
/// Backdating tolerates clients whose clocks run slightly behind the signer's.
const BACKDATE: Duration = Duration::hours(1);

/// The ingress CA: its certificate and key, both PEM. Serializable so the
/// cluster can replicate it and any leader can sign.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngressCa {
    cert_pem: String,
    key_pem: String,
}

// Hand-written so the CA key never ends up in logs.
impl fmt::Debug for IngressCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngressCa")
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl IngressCa {
    /// A new CA: ECDSA P-256, CN "roost ingress CA" (OU "ca <key id>"), valid
    /// 10 years, may sign end-entity certificates only (path length 0).
    ///
    /// # Errors
    /// [`CertError::Generate`] if key generation or signing fails.
    pub fn generate() -> Result<IngressCa, CertError> {
        let key = KeyPair::generate().map_err(generate("generate the ingress CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "roost");
        dn.push(DnType::CommonName, CA_NAME);
        // Two clusters' CAs must differ in name, not only in key: people
        // trusting both tell them apart in their trust store, and verifiers
        // that pick an issuer by name find the right one.
        dn.push(
            DnType::OrganizationalUnitName,
            format!("ca {}", key_id(&key)),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        let cert = params
            .self_signed(&key)
            .map_err(generate("self-sign the ingress CA"))?;
        Ok(IngressCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The CA certificate, PEM, for `roost ca export`: what people add to
    /// their trust stores. Holds no secret.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Certificate and private key in one PEM document (certificate first).
    /// Secret: it can sign for any name.
    pub fn to_pem(&self) -> String {
        format!(
            "{}{}",
            ensure_newline(&self.cert_pem),
            ensure_newline(&self.key_pem)
        )
    }

    /// Reads what [`IngressCa::to_pem`] wrote, and checks the key belongs to
    /// the certificate and the certificate is a CA, so a mixed-up file fails
    /// here rather than as certificates no client accepts.
    ///
    /// # Errors
    /// [`CertError::Pem`] if either block is missing or unreadable, the key
    /// does not match, or the certificate is not a CA.
    pub fn from_pem(pem: &str) -> Result<IngressCa, CertError> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| CertError::Pem {
            what: "ingress CA certificate",
            reason: e.to_string(),
        })?;
        // The first private-key block, wherever it is (rcgen's own reader
        // takes the first block of any kind, the certificate here).
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|der| KeyPair::try_from(&der).map_err(|e| e.to_string()))
            .map_err(|reason| CertError::Pem {
                what: "ingress CA key",
                reason,
            })?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| CertError::Pem {
            what: "ingress CA certificate",
            reason: e.to_string(),
        })?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(CertError::Pem {
                what: "ingress CA key",
                reason: "the key does not belong to the certificate".into(),
            });
        }
        if !cert.is_ca() {
            return Err(CertError::Pem {
                what: "ingress CA certificate",
                reason: "the certificate is not a CA".into(),
            });
        }
        Ok(IngressCa {
            cert_pem: roost_pki::der_to_pem(&der),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs a certificate for `hosts` (DNS names, `*.` wildcards or IP
    /// addresses), valid from an hour before `now` (Unix seconds) for 90
    /// days, for server authentication only, with a fresh ECDSA P-256 key.
    /// The chain is the leaf alone: clients that trust the CA have it.
    ///
    /// # Errors
    /// [`CertError::NoHosts`] / [`CertError::Host`] for names that cannot be
    /// certified, [`CertError::Pem`] if the CA cannot be loaded,
    /// [`CertError::Generate`] if signing fails.
    pub fn issue(&self, hosts: &[String], now: i64) -> Result<StoredCert, CertError> {
        let hosts = hosts::normalize(hosts, Signer::Internal)?;
        let what = format!("sign the certificate for {}", hosts::list(&hosts));
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| CertError::Pem {
            what: "ingress CA key",
            reason: e.to_string(),
        })?;
        let issuer =
            RcgenIssuer::from_ca_cert_pem(&self.cert_pem, ca_key).map_err(|e| CertError::Pem {
                what: "ingress CA certificate",
                reason: e.to_string(),
            })?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, hosts[0].as_str());
        params.distinguished_name = dn;
        params.subject_alt_names = hosts
            .iter()
            .map(|h| {
                san(h).map_err(|source| CertError::Generate {
                    what: what.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        params.not_before = now - BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        // No serial set: rcgen derives it from the (fresh) public key, so
        // every certificate has its own; browsers reject two different
        // certificates with one issuer and serial.
        let key = KeyPair::generate().map_err(|source| CertError::Generate {
            what: what.clone(),
            source,
        })?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|source| CertError::Generate { what, source })?;
        StoredCert::from_pem(hosts, cert.pem(), key.serialize_pem(), Issuer::Internal)
    }
}

/// The first 8 bytes of SHA-256 of the CA's public key, in hex.
fn key_id(key: &KeyPair) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn san(host: &str) -> Result<SanType, rcgen::Error> {
    Ok(match host.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(host.try_into()?),
    })
}

fn ensure_newline(pem: &str) -> String {
    if pem.ends_with('\n') {
        pem.to_owned()
    } else {
        format!("{pem}\n")
    }
}

fn generate(what: &'static str) -> impl Fn(rcgen::Error) -> CertError {
    move |source| CertError::Generate {
        what: what.to_owned(),
        source,
    }
}
