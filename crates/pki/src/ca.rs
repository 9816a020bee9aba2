//! The cluster certificate authority and node certificates.
//!
//! Every roost cluster has its own CA, created by the first node. Nodes trust
//! each other because their certificates chain to that CA, not because of the
//! names or addresses in them: addresses change in a homelab, the CA does not.

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::PkiError;

/// All node certificates carry this DNS name; clients connect with it as the
/// TLS server name, because nodes are reached by IP and IPs change — trust
/// comes from the cluster CA, not from the name.
pub const NODE_SERVER_NAME: &str = "node.roost.internal";

/// Suffix of the per-node DNS SAN `node-<id>.roost.internal`.
const NODE_NAME_SUFFIX: &str = ".roost.internal";

/// The CA is long-lived: replacing it means re-issuing every node certificate.
const CA_VALIDITY_DAYS: i64 = 3653;
/// Node certificates outlive most homelab hardware but still expire eventually.
const NODE_VALIDITY_DAYS: i64 = 1827;
/// Backdating tolerates nodes whose clocks are behind the signer's: not only a little
/// drift, but a machine whose hardware clock keeps local time (a dual-boot habit) and
/// so is hours off until NTP steps it. A member that rejected a newer member's
/// certificate as "not yet valid" would drop out of the cluster.
const BACKDATE: Duration = Duration::days(2);

/// The cluster CA. Created by the first node at first start; its cert and key
/// are replicated through Raft so any leader can sign joining nodes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCa {
    /// The self-signed CA certificate, PEM.
    pub cert_pem: String,
    /// The CA's PKCS#8 private key, PEM. Secret.
    pub key_pem: String,
}

/// A node's key and certificate plus the CA cert (no CA key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// The cluster CA certificate, PEM: the only trust anchor of the node.
    pub ca_cert_pem: String,
    /// The node certificate signed by the cluster CA, PEM.
    pub cert_pem: String,
    /// The node's private key, PEM. Secret.
    pub key_pem: String,
}

// Debug is hand-written so private keys never end up in logs.
impl fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCa")
            .field("fingerprint", &self.fingerprint())
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("ca_fingerprint", &cert_fingerprint(&self.ca_cert_pem).ok())
            .field("node_id", &self.node_id())
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

impl ClusterCa {
    /// Creates a new self-signed CA for the cluster `cluster_id`
    /// (CN "roost cluster CA <cluster_id>", 10-year validity, may sign only
    /// end-entity certificates).
    ///
    /// # Errors
    /// [`PkiError::Generate`] if key generation or signing fails.
    pub fn generate(cluster_id: &str) -> Result<ClusterCa, PkiError> {
        let key = KeyPair::generate().map_err(gen_err("generate the cluster CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "roost");
        dn.push(DnType::CommonName, format!("roost cluster CA {cluster_id}"));
        params.distinguished_name = dn;
        // Path length 0: the CA signs nodes directly, never sub-CAs.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, CA_VALIDITY_DAYS);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .self_signed(&key)
            .map_err(gen_err("self-sign the cluster CA"))?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Lowercase hex SHA-256 of the CA certificate's DER encoding, as put in
    /// join tokens. Returns an empty string (which matches no token) if
    /// `cert_pem` is not a PEM certificate.
    pub fn fingerprint(&self) -> String {
        cert_fingerprint(&self.cert_pem).unwrap_or_default()
    }

    /// Signs a node's CSR (PEM). Only the CSR's public key and common name are
    /// used — everything else is decided here so a joiner cannot ask for more
    /// (e.g. to be a CA). The certificate has CN = node name, SANs DNS
    /// `node.roost.internal`, DNS `node-<node_id>.roost.internal` and the given
    /// IP addresses, client and server auth EKUs, and 5-year validity.
    ///
    /// # Errors
    /// [`PkiError::Pem`] if the CA cert or key cannot be loaded,
    /// [`PkiError::Csr`] if the CSR is unparsable, badly signed or lacks a CN,
    /// [`PkiError::NodeName`] if the CN is not a valid node name,
    /// [`PkiError::Generate`] if signing fails.
    pub fn sign_node_csr(
        &self,
        csr_pem: &str,
        node_id: u64,
        ips: &[IpAddr],
    ) -> Result<String, PkiError> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| PkiError::Pem {
            what: "cluster CA key",
            reason: e.to_string(),
        })?;
        let issuer =
            Issuer::from_ca_cert_pem(&self.cert_pem, ca_key).map_err(|e| PkiError::Pem {
                what: "cluster CA certificate",
                reason: e.to_string(),
            })?;
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::Csr(e.to_string()))?;
        let name = match csr.params.distinguished_name.get(&DnType::CommonName) {
            Some(DnValue::Utf8String(s)) => s.clone(),
            Some(DnValue::PrintableString(s)) => s.as_str().to_owned(),
            Some(DnValue::Ia5String(s)) => s.as_str().to_owned(),
            Some(_) => return Err(PkiError::Csr("unsupported common name encoding".into())),
            None => return Err(PkiError::Csr("no common name (node name)".into())),
        };
        validate_node_name(&name)?;

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "roost");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![
            dns_san(NODE_SERVER_NAME)?,
            dns_san(&node_dns_name(node_id))?,
        ];
        params
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, NODE_VALIDITY_DAYS);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .signed_by(&csr.public_key, &issuer)
            .map_err(gen_err("sign the node certificate"))?;
        Ok(cert.pem())
    }

    /// Convenience for the first node (and tests): generates the node key and
    /// CSR and signs it in one go.
    ///
    /// # Errors
    /// As [`generate_node_key_and_csr`] and [`ClusterCa::sign_node_csr`].
    pub fn issue_node(
        &self,
        node_name: &str,
        node_id: u64,
        ips: &[IpAddr],
    ) -> Result<NodeIdentity, PkiError> {
        let (key_pem, csr_pem) = generate_node_key_and_csr(node_name)?;
        let cert_pem = self.sign_node_csr(&csr_pem, node_id, ips)?;
        Ok(NodeIdentity {
            ca_cert_pem: self.cert_pem.clone(),
            cert_pem,
            key_pem,
        })
    }
}

impl NodeIdentity {
    /// The node id in this identity's certificate, if it can be read.
    pub fn node_id(&self) -> Option<u64> {
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).ok()?;
        peer_node_id(&der)
    }

    /// Fingerprint of the cluster CA this node trusts (see [`cert_fingerprint`]).
    ///
    /// # Errors
    /// [`PkiError::Pem`] if `ca_cert_pem` is not a PEM certificate.
    pub fn ca_fingerprint(&self) -> Result<String, PkiError> {
        cert_fingerprint(&self.ca_cert_pem)
    }
}

/// Generates a node key pair (ECDSA P-256) and a CSR with CN = `node_name`.
/// The key never leaves the node; only the CSR is sent to the cluster.
///
/// # Errors
/// [`PkiError::NodeName`] for an invalid name, [`PkiError::Generate`] if key
/// generation or CSR serialization fails.
pub fn generate_node_key_and_csr(node_name: &str) -> Result<(String, String), PkiError> {
    validate_node_name(node_name)?;
    let key = KeyPair::generate().map_err(gen_err("generate the node key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, node_name);
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .map_err(gen_err("create the node CSR"))?;
    let csr_pem = csr.pem().map_err(gen_err("encode the node CSR"))?;
    Ok((key.serialize_pem(), csr_pem))
}

/// Lowercase hex SHA-256 of the DER of the first certificate in `cert_pem`.
///
/// # Errors
/// [`PkiError::Pem`] if `cert_pem` holds no certificate.
pub fn cert_fingerprint(cert_pem: &str) -> Result<String, PkiError> {
    Ok(der_fingerprint(&parse_cert(cert_pem, "certificate")?))
}

/// Lowercase hex SHA-256 of a DER-encoded certificate.
pub fn der_fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The per-node DNS name `node-<id>.roost.internal` put in node certificates.
pub fn node_dns_name(node_id: u64) -> String {
    format!("node-{node_id}{NODE_NAME_SUFFIX}")
}

/// Node id from a verified peer certificate (from its
/// `node-<id>.roost.internal` DNS SAN). `None` if the certificate cannot be
/// parsed or carries no such name. It does not verify the certificate: pass
/// only certificates rustls has already verified against the cluster CA.
pub fn peer_node_id(cert_der: &[u8]) -> Option<u64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::DNSName(dns) => dns
            .strip_prefix("node-")?
            .strip_suffix(NODE_NAME_SUFFIX)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok(),
        _ => None,
    })
}

/// Parses the first certificate of a PEM document.
pub(crate) fn parse_cert(
    pem: &str,
    what: &'static str,
) -> Result<CertificateDer<'static>, PkiError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem {
        what,
        reason: e.to_string(),
    })
}

/// Node names go into the certificate CN and show up in logs and `roost`
/// output, so they are kept short and printable.
fn validate_node_name(name: &str) -> Result<(), PkiError> {
    let reason = if name.trim().is_empty() {
        "must not be empty"
    } else if name.len() > 64 {
        "must be at most 64 bytes"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(PkiError::NodeName {
        name: name.to_owned(),
        reason,
    })
}

fn dns_san(name: &str) -> Result<SanType, PkiError> {
    let ia5 = name
        .try_into()
        .map_err(gen_err("encode a DNS subject alternative name"))?;
    Ok(SanType::DnsName(ia5))
}

fn set_validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(days);
}

/// 16 random bytes with the top bit cleared, so the DER integer stays positive
/// and within RFC 5280's 20-octet limit. Random serials keep re-issued
/// certificates for the same key distinguishable.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = crate::token::random_bytes::<16>()?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01 << 6; // never zero, never a leading 0x00 byte
    Ok(SerialNumber::from_slice(&bytes))
}

fn gen_err(what: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |source| PkiError::Generate { what, source }
}
