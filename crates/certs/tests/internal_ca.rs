//! The ingress CA: what it signs is what a browser trusting it accepts.

mod support;

use std::sync::Arc;

use roost_certs::{unix_now, CertError, IngressCa, Issuer, CA_NAME};
use roost_proxy::CertStore;
use x509_parser::extensions::GeneralName;

fn hosts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_ca_round_trips_through_pem_and_serde_and_exports_no_secret() {
    let ca = IngressCa::generate().unwrap();
    let back = IngressCa::from_pem(&ca.to_pem()).unwrap();
    assert_eq!(back.cert_pem().trim(), ca.cert_pem().trim());
    assert_eq!(
        back.to_pem(),
        IngressCa::from_pem(&back.to_pem()).unwrap().to_pem()
    );
    let json = serde_json::to_string(&ca).unwrap();
    assert_eq!(serde_json::from_str::<IngressCa>(&json).unwrap(), ca);
    assert!(!ca.cert_pem().contains("PRIVATE KEY"));
    assert!(!format!("{ca:?}").contains("PRIVATE KEY"));

    let der = support::leaf_der(ca.cert_pem());
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(cert.is_ca());
    assert!(cert.subject().to_string().contains(CA_NAME));
    let years = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp())
        / (365 * 86_400);
    assert_eq!(years, 10);
}

#[test]
fn from_pem_refuses_a_key_of_another_ca_and_a_missing_key() {
    let a = IngressCa::generate().unwrap();
    let b = IngressCa::generate().unwrap();
    let b_key = b
        .to_pem()
        .split_once("-----BEGIN PRIVATE KEY")
        .map(|(_, k)| k.to_owned())
        .unwrap();
    let mixed = format!("{}-----BEGIN PRIVATE KEY{b_key}", a.cert_pem());
    let err = IngressCa::from_pem(&mixed).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    assert!(matches!(
        IngressCa::from_pem(a.cert_pem()),
        Err(CertError::Pem { .. })
    ));
}

#[test]
fn a_leaf_has_the_hosts_as_sans_server_auth_and_ninety_days() {
    let ca = IngressCa::generate().unwrap();
    let now = unix_now();
    let cert = ca
        .issue(
            &hosts(&["NAS.lan", "*.home.arpa", "192.168.1.10", "nas.lan"]),
            now,
        )
        .unwrap();
    assert_eq!(
        cert.hosts,
        hosts(&["nas.lan", "*.home.arpa", "192.168.1.10"])
    );
    assert_eq!(cert.issuer, Issuer::Internal);
    assert_eq!(cert.not_before, now - 3600);
    assert_eq!(cert.not_after, now + 90 * 86_400);
    assert!(!cert.needs_renewal(now));
    assert!(cert.needs_renewal(now + 60 * 86_400));
    assert!(cert.covers("printer.home.arpa"));

    let der = support::leaf_der(&cert.chain_pem);
    let (_, x509) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(!x509.is_ca());
    let eku = x509.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth);
    let sans: Vec<String> = x509
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            GeneralName::IPAddress(ip) => format!("{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(&sans[..2], &["nas.lan", "*.home.arpa"]);
    assert_eq!(sans[2], format!("{:?}", [192u8, 168, 1, 10]));

    let again = ca.issue(&hosts(&["nas.lan"]), now).unwrap();
    let again_der = support::leaf_der(&again.chain_pem);
    let (_, x509_again) = x509_parser::parse_x509_certificate(&again_der).unwrap();
    assert_ne!(
        x509.serial, x509_again.serial,
        "every certificate has its own serial"
    );
}

#[test]
fn names_a_certificate_cannot_hold_are_refused_with_the_name() {
    let ca = IngressCa::generate().unwrap();
    let err = ca
        .issue(&hosts(&["ok.lan", "bad name.lan"]), 0)
        .unwrap_err();
    assert!(err.to_string().contains("\"bad name.lan\""), "{err}");
    assert!(matches!(ca.issue(&[], 0), Err(CertError::NoHosts)));
}

#[tokio::test]
async fn the_proxy_serves_an_internal_certificate_to_a_client_trusting_the_ca() {
    let ca = IngressCa::generate().unwrap();
    let cert = ca
        .issue(&hosts(&["nas.lan", "*.home.arpa"]), unix_now())
        .unwrap();
    let store = Arc::new(CertStore::new());
    support::load(&store, &cert);
    let addr = support::serve_https(store).await;

    for sni in ["nas.lan", "printer.home.arpa"] {
        let chain = support::handshake(addr, sni, ca.cert_pem()).await.unwrap();
        assert_eq!(chain[0], support::leaf_der(&cert.chain_pem), "{sni}");
    }
    let other = IngressCa::generate().unwrap();
    let refused = support::handshake(addr, "nas.lan", other.cert_pem())
        .await
        .unwrap_err();
    assert!(refused.contains("UnknownIssuer"), "{refused}");
}
