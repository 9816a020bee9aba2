//! The cluster CA and node certificates, inspected with x509-parser.

use std::net::IpAddr;

use roost_pki::rustls::pki_types::pem::PemObject;
use roost_pki::rustls::pki_types::CertificateDer;
use roost_pki::{
    cert_fingerprint, der_fingerprint, generate_node_key_and_csr, peer_node_id, ClusterCa,
    NodeIdentity, PkiError, NODE_SERVER_NAME,
};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

const DAY: i64 = 86_400;

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der).unwrap().1
}

fn cn(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

fn years_left(cert: &X509Certificate<'_>) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (cert.validity().not_after.timestamp() - now) / (365 * DAY)
}

#[test]
fn ca_is_a_ten_year_self_signed_ca() {
    let ca = ClusterCa::generate("homelab-7").unwrap();
    let der = der(&ca.cert_pem);
    let cert = parse(&der);
    assert_eq!(cn(&cert), "roost cluster CA homelab-7");
    assert!(cert.is_ca());
    assert!(cert.verify_signature(None).is_ok(), "self-signed");
    assert_eq!(years_left(&cert), 10);
    assert_eq!(ca.fingerprint(), der_fingerprint(&der));
    assert_eq!(ca.fingerprint().len(), 64);
    assert_eq!(cert_fingerprint(&ca.cert_pem).unwrap(), ca.fingerprint());
    assert_ne!(
        ClusterCa::generate("homelab-7").unwrap().fingerprint(),
        ca.fingerprint()
    );
}

#[test]
fn signed_node_cert_verifies_against_the_ca_and_has_the_sans() {
    let ca = ClusterCa::generate("c1").unwrap();
    let (key_pem, csr_pem) = generate_node_key_and_csr("alpha").unwrap();
    assert!(key_pem.contains("PRIVATE KEY"));
    let ips: Vec<IpAddr> = vec![
        "192.0.2.10".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
    ];
    let cert_pem = ca.sign_node_csr(&csr_pem, 42, &ips).unwrap();

    let ca_der = der(&ca.cert_pem);
    let ca_cert = parse(&ca_der);
    let node_der = der(&cert_pem);
    let cert = parse(&node_der);
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by the cluster CA");
    assert_eq!(cert.issuer(), ca_cert.subject());
    assert_eq!(cn(&cert), "alpha");
    assert!(!cert.is_ca());
    assert_eq!(years_left(&cert), 5);

    let san = cert.subject_alternative_name().unwrap().unwrap();
    let mut dns = Vec::new();
    let mut addrs = Vec::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::IPAddress(b) => addrs.push(match b.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
            }),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert_eq!(dns, [NODE_SERVER_NAME, "node-42.roost.internal"]);
    assert_eq!(addrs, ips);

    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert_eq!(peer_node_id(&node_der), Some(42));
    assert_eq!(peer_node_id(&ca_der), None);
}

#[test]
fn another_ca_does_not_verify_the_node_cert() {
    let ca = ClusterCa::generate("c1").unwrap();
    let other = ClusterCa::generate("c2").unwrap();
    let id = other.issue_node("alpha", 1, &[]).unwrap();
    let node_der = der(&id.cert_pem);
    let ca_der = der(&ca.cert_pem);
    assert!(parse(&node_der)
        .verify_signature(Some(parse(&ca_der).public_key()))
        .is_err());
}

#[test]
fn csr_requests_beyond_the_key_and_name_are_ignored() {
    // A joiner asking to be a CA for other names gets an ordinary node cert.
    use rcgen::PublicKeyData;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["evil.example.com".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mallory");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let csr_pem = params.serialize_request(&key).unwrap().pem().unwrap();
    let ca = ClusterCa::generate("c1").unwrap();
    let cert_pem = ca.sign_node_csr(&csr_pem, 3, &[]).unwrap();
    let node_der = der(&cert_pem);
    let cert = parse(&node_der);
    assert!(!cert.is_ca());
    assert_eq!(cn(&cert), "mallory");
    let san = cert.subject_alternative_name().unwrap().unwrap();
    assert!(!format!("{:?}", san.value).contains("evil"));
    // The cert carries the CSR's key.
    assert_eq!(
        cert.public_key().raw,
        key.subject_public_key_info().as_slice()
    );
}

#[test]
fn bad_csrs_are_rejected() {
    let ca = ClusterCa::generate("c1").unwrap();
    assert!(matches!(
        ca.sign_node_csr("garbage", 1, &[]),
        Err(PkiError::Csr(_))
    ));
    // Flip a bit in the signature: the CSR no longer proves key possession.
    let (_, csr_pem) = generate_node_key_and_csr("alpha").unwrap();
    let mut bytes = pem::parse(&csr_pem).unwrap().into_contents();
    *bytes.last_mut().unwrap() ^= 1;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", bytes));
    let err = ca.sign_node_csr(&tampered, 1, &[]).unwrap_err();
    assert!(matches!(err, PkiError::Csr(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("invalid certificate signing request"),
        "{err}"
    );
}

#[test]
fn a_broken_ca_key_is_reported() {
    let mut ca = ClusterCa::generate("c1").unwrap();
    ca.key_pem = "oops".into();
    let (_, csr) = generate_node_key_and_csr("alpha").unwrap();
    let err = ca.sign_node_csr(&csr, 1, &[]).unwrap_err();
    assert!(err.to_string().contains("cluster CA key"), "{err}");
}

#[test]
fn invalid_node_names_are_rejected() {
    for name in ["", "   ", "a\nb", &"x".repeat(65)] {
        let err = generate_node_key_and_csr(name).unwrap_err();
        assert!(matches!(err, PkiError::NodeName { .. }), "{name:?}: {err}");
    }
}

#[test]
fn identities_serialize_and_never_debug_print_keys() {
    let ca = ClusterCa::generate("c1").unwrap();
    let id = ca.issue_node("alpha", 9, &[]).unwrap();
    assert_eq!(id.node_id(), Some(9));
    assert_eq!(id.ca_fingerprint().unwrap(), ca.fingerprint());
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(serde_json::from_str::<NodeIdentity>(&json).unwrap(), id);
    let ca_json = serde_json::to_string(&ca).unwrap();
    assert_eq!(serde_json::from_str::<ClusterCa>(&ca_json).unwrap(), ca);
    for debug in [format!("{id:?}"), format!("{ca:?}")] {
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}

#[test]
fn peer_node_id_ignores_garbage() {
    assert_eq!(peer_node_id(b"not a certificate"), None);
}

/// A member whose clock is hours behind the signer's (a hardware clock on local time,
/// until NTP steps it) must still take a certificate issued just now.
#[test]
fn certificates_are_valid_for_clocks_up_to_a_day_behind() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let ca = ClusterCa::generate("c").unwrap();
    let node = ca.issue_node("n1", 7, &[]).unwrap();
    for pem in [&ca.cert_pem, &node.cert_pem] {
        let der = der(pem);
        let not_before = parse(&der).validity().not_before.timestamp();
        assert!(not_before <= now - DAY, "valid only from {} s before now", now - not_before);
    }
}
