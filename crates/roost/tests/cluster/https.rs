//! HTTPS across nodes: the certificates are replicated, so every node serves the same
//! one for a route, whichever node the client reaches.

use crate::{wait_until, Testbed};
use std::collections::BTreeSet;
use std::time::Duration;

#[path = "../common/tls.rs"]
mod tls;
#[path = "../../../certs/tests/support/pebble.rs"]
#[allow(dead_code)]
mod pebble;
// `pebble` reaches its management port with this.
use tls::client_config;

/// Every host's HTTPS listener (the agents run as root: the default port 443).
const NODES: [&str; 3] = ["10.77.0.11:443", "10.77.0.12:443", "10.77.0.13:443"];

const STACK: &str = "services:
  web:
    image: roost-test/busybox:latest
    command: [\"sh\", \"-c\", \"mkdir -p /www && echo hello-tls > /www/index.html && exec httpd -f -p 8080 -h /www\"]
    healthcheck:
      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:8080/\"]
      interval: 1s
    x-roost:
      routes: [{host: app.home.arpa, port: 8080, tls: internal}]
";

#[test]
fn every_node_serves_the_same_internal_certificate_for_a_route() {
    let t = Testbed::cluster(3, &[]);
    std::fs::write("/tmp/roost-cluster-test-https.yaml", STACK).unwrap();
    t.ok("h1", &["up", "-f", "/tmp/roost-cluster-test-https.yaml", "-p", "tls"]);
    // From two nodes (at least one a follower): one CA, made once through the leader.
    let ca = t.ok("h2", &["ca", "export"]);
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert_eq!(t.ok("h3", &["ca", "export"]), ca, "every node exports the same CA");

    every_node_serves_one_certificate("app.home.arpa", &ca, Duration::from_secs(30));
}

/// Waits until every node answers HTTPS for `host` with a certificate chaining to
/// `root`, and checks they all present the same one.
fn every_node_serves_one_certificate(host: &str, root: &str, within: Duration) {
    let mut served = BTreeSet::new();
    for node in NODES {
        wait_until(within, &format!("HTTPS for {host} through {node}"), || {
            tls::https_get(node, host, "/", root).is_ok_and(|(status, body, _)| status == 200 && body == "hello-tls")
        });
        let (_, _, leaf) = tls::https_get(node, host, "/", root).unwrap();
        served.insert(leaf.to_vec());
    }
    assert_eq!(served.len(), 1, "the nodes serve different certificates for {host}");
}

#[test]
fn pebble_issues_a_certificate_by_http01_and_every_node_serves_it() {
    let t = Testbed::cluster(3, &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // pebble listens on the bridge, which every host reaches; every name resolves to
    // h1, whose proxy answers the HTTP-01 challenge the leader wrote through Raft.
    let pebble = runtime.block_on(pebble::Pebble::start_at("10.77.0.1", "10.77.0.11", 80, None));
    let root_file = "/tmp/roost-cluster-test-pebble-listener.pem";
    std::fs::write(root_file, pebble.config("x").extra_root_pem.unwrap()).unwrap();
    t.ok("h2", &["acme", "set", "--directory", &pebble.directory, "--root-ca", root_file]);
    std::fs::write("/tmp/roost-cluster-test-https.yaml", STACK.replace("app.home.arpa", "shop.example.com").replace("internal", "acme")).unwrap();
    t.ok("h3", &["up", "-f", "/tmp/roost-cluster-test-https.yaml", "-p", "shop"]);

    let root = runtime.block_on(pebble.issuing_root());
    every_node_serves_one_certificate("shop.example.com", &root, Duration::from_secs(60));
}
