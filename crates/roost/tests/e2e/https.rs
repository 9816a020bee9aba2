//! HTTPS through the ingress: certificates of the internal CA for local names, from a
//! real ACME CA (pebble, offline) for public-looking ones, renewed before they expire.

use crate::harness::{ok, stderr, wait_until, Agent, INGRESS_HTTP, INGRESS_HTTPS};
use std::io::{Read, Write};
use std::time::Duration;

#[path = "../../../certs/tests/support/pebble.rs"]
#[allow(dead_code)]
mod pebble;
#[path = "../common/tls.rs"]
mod tls;

use tls::https_get;
// `pebble` reaches its management port with this.
use tls::client_config;

/// The head of the plain-HTTP answer for `host` (status line and headers).
fn http_head(host: &str) -> String {
    let mut s = std::net::TcpStream::connect(INGRESS_HTTP).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /x?y=1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// A stack whose busybox web server answers `text`, routed at `host` with `tls`.
fn site(host: &str, tls: &str, text: &str) -> String {
    format!(
        "services:
  web:
    image: roost-test/busybox:latest
    command: [\"sh\", \"-c\", \"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 8080 -h /www\"]
    healthcheck:
      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:8080/\"]
      interval: 1s
    x-roost:
      routes: [{{host: {host}, port: 8080, tls: {tls}}}]
"
    )
}

fn stdout(out: &std::process::Output) -> String {
    ok(out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_tls_internal_route_serves_a_certificate_of_the_exported_ca_and_http_redirects() {
    let _serial = crate::harness::serial();
    let mut agent = Agent::start();
    ok(&agent.up("app", &site("app.home.arpa", "internal", "hello-tls")));
    let ca = stdout(&agent.roost(&["ca", "export"]));
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----") && !ca.contains("PRIVATE"), "{ca}");
    assert_eq!(stdout(&agent.roost(&["ca", "export"])), ca, "one CA, made once");

    wait_until(Duration::from_secs(20), "HTTPS for app.home.arpa with the internal CA", || {
        https_get(INGRESS_HTTPS, "app.home.arpa", "/", &ca).is_ok_and(|(s, _, _)| s == 200)
    });
    let (status, body, _) = https_get(INGRESS_HTTPS, "app.home.arpa", "/", &ca).unwrap();
    assert_eq!((status, body.as_str()), (200, "hello-tls"));

    // A client trusting another CA refuses the certificate.
    let other = roost_certs::IngressCa::generate().unwrap();
    let err = https_get(INGRESS_HTTPS, "app.home.arpa", "/", other.cert_pem()).unwrap_err();
    assert!(err.contains("UnknownIssuer") || err.contains("unknown"), "{err}");

    // Plain HTTP for an HTTPS-only route: a permanent redirect keeping path and query.
    let head = http_head("app.home.arpa");
    assert!(head.starts_with("HTTP/1.1 308"), "{head}");
    assert!(head.to_ascii_lowercase().contains("location: https://app.home.arpa/x?y=1"), "{head}");
}

#[test]
fn acme_certificates_come_from_pebble_and_are_renewed_before_they_expire() {
    const VALIDITY: u64 = 30;
    let _serial = crate::harness::serial();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // pebble validates HTTP-01 on port 18480 of 127.0.0.1 (every name resolves
    // there): the agent's HTTP listener.
    let port: u16 = INGRESS_HTTP.rsplit_once(':').unwrap().1.parse().unwrap();
    let pebble = runtime.block_on(pebble::Pebble::start(port, Some(VALIDITY)));
    let mut agent = Agent::start();
    let root_file = agent.dir.path().join("pebble-listener.pem");
    std::fs::write(&root_file, pebble.config("x").extra_root_pem.unwrap()).unwrap();

    let set = agent.roost(&["acme", "set", "--directory", &pebble.directory, "--root-ca", root_file.to_str().unwrap(), "--email", "ops@roost.example.org"]);
    ok(&set);
    let show = stdout(&agent.roost(&["acme", "show", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&show).unwrap();
    assert_eq!(rows.len(), 1, "{show}");
    assert_eq!((&rows[0]["name"], &rows[0]["configured"], &rows[0]["account"]), (&"default".into(), &true.into(), &true.into()));
    assert_eq!(rows[0]["directory"], pebble.directory.as_str());
    assert!(!show.contains("BEGIN") && !show.contains("credentials"), "no secrets: {show}");

    ok(&agent.up("shop", &site("shop.example.com", "acme", "hello-acme")));
    let root = runtime.block_on(pebble.issuing_root());
    wait_until(Duration::from_secs(60), "HTTPS for shop.example.com with pebble's certificate", || {
        https_get(INGRESS_HTTPS, "shop.example.com", "/", &root).is_ok_and(|(s, _, _)| s == 200)
    });
    let (status, body, first) = https_get(INGRESS_HTTPS, "shop.example.com", "/", &root).unwrap();
    assert_eq!((status, body.as_str()), (200, "hello-acme"));
    let expires = roost_certs::validity(&roost_pki::der_to_pem(&first)).unwrap().not_after;

    // Renewal is due a third of the lifetime before expiry: a new certificate is
    // served before the first one expires.
    wait_until(Duration::from_secs(VALIDITY + 10), "a renewed certificate", || {
        https_get(INGRESS_HTTPS, "shop.example.com", "/", &root).is_ok_and(|(_, _, leaf)| leaf != first)
    });
    let now = roost_certs::unix_now();
    assert!(now < expires, "renewed {} s after the first certificate expired\n{}", now - expires, agent.log());
}

#[test]
fn acme_settings_that_cannot_work_are_refused_and_change_nothing() {
    let _serial = crate::harness::serial();
    let agent = Agent::start();
    let refused = |args: &[&str], expect: &str| {
        let mut all = vec!["acme", "set"];
        all.extend_from_slice(args);
        let out = agent.roost(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    };
    refused(&["--directory", "acme.example.com/dir"], "is not an https URL");
    refused(&["--directory", "http://acme.example.com/dir"], "is not an https URL");
    refused(&["--directory", "https://127.0.0.1:1/dir"], "cannot register an ACME account");
    refused(&["--directory", "letsencrypt", "--email", "nobody"], "is not an e-mail address");
    refused(&["--directory", "letsencrypt", "--root-ca", "/nonexistent.pem"], "cannot read --root-ca");
    refused(&["--resolver", "a/b", "--directory", "letsencrypt"], "not a resolver name");

    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&agent.roost(&["acme", "show", "--json"]))).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["configured"], false, "nothing was stored: {rows:?}");
    assert_eq!(rows[0]["directory"], roost_certs::LETS_ENCRYPT, "Let's Encrypt is the default");
}
