//! HTTPS across nodes: the certificates are replicated, so every node serves the same
//! one for a route, whichever node the client reaches.

use crate::{wait_until, Testbed};
use std::collections::BTreeSet;
use std::time::Duration;

#[path = "../common/tls.rs"]
mod tls;

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

    let mut served = BTreeSet::new();
    for node in NODES {
        wait_until(Duration::from_secs(30), "HTTPS for app.home.arpa with the internal CA", || {
            tls::https_get(node, "app.home.arpa", "/", &ca).is_ok_and(|(status, body, _)| status == 200 && body == "hello-tls")
        });
        let (_, _, leaf) = tls::https_get(node, "app.home.arpa", "/", &ca).unwrap();
        served.insert(leaf.to_vec());
    }
    assert_eq!(served.len(), 1, "the nodes serve different certificates for one route");
}
