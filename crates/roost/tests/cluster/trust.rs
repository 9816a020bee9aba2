//! What a certificate the cluster CA signed is still good for: nothing, once its node
//! was removed; and a join can neither take a member's id nor add somebody else.

use super::{wait_until, Testbed};
use roost_pki::{rustls, NodeIdentity};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const H1: &str = "10.77.0.11:4280";

/// One HTTP/1.1 request over TLS with `config`; the status and body that came back
/// (status 0 when the connection ended without an answer).
fn request(config: Arc<rustls::ClientConfig>, method: &str, path: &str, body: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(H1).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from(roost_pki::NODE_SERVER_NAME).unwrap();
        let Ok(mut tls) = roost_pki::tokio_rustls::TlsConnector::from(config).connect(name, tcp).await else {
            return (0, String::new());
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = tls.write_all(head.as_bytes()).await;
        let _ = tls.write_all(body.as_bytes()).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    })
}

fn identity_of(host: &str) -> NodeIdentity {
    let dir = format!("/tmp/roost-testbed/{host}/roost/cluster");
    let current = std::fs::read_to_string(format!("{dir}/current")).unwrap();
    let json = std::fs::read(format!("{dir}/{}/identity.json", current.trim())).unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// Asks h1 to sign a fresh key for `node_id`, as a joiner with `token` would.
fn sign(token: &roost_pki::JoinToken, node_id: u64) -> (u16, String, String) {
    let (key_pem, csr_pem) = roost_pki::generate_node_key_and_csr("intruder").unwrap();
    let body = serde_json::json!({"secret": token.secret, "csr_pem": csr_pem, "node_id": node_id}).to_string();
    let (status, answer) = request(roost_pki::join_client_config(&token.ca_fingerprint).unwrap(), "POST", "/cluster/join/sign", &body);
    (status, answer, key_pem)
}

fn node_ids(t: &Testbed) -> Vec<(String, u64)> {
    t.json("h1", &["nodes", "--json"])
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap().to_owned(), u64::from_str_radix(n["id"].as_str().unwrap(), 16).unwrap()))
        .collect()
}

#[test]
fn a_removed_nodes_certificate_is_refused_joins_cannot_take_or_add_ids_and_no_secret_is_left_in_the_clear() {
    let t = Testbed::cluster(2, &[]);
    let token = roost_pki::JoinToken::parse(t.ok("h1", &["token"]).trim()).unwrap();
    let ids = node_ids(&t);
    let h1_id = ids.iter().find(|(n, _)| n == "h1").unwrap().1;

    // A join may not get a certificate for a member's id.
    let (status, answer, _) = sign(&token, h1_id);
    assert_eq!(status, 409, "signing a member's id: {answer}");
    assert!(answer.contains("already a member"), "{answer}");

    // A certificate for a new id cannot commit another node into the cluster.
    let (status, answer, key_pem) = sign(&token, 0x5eed);
    assert_eq!(status, 200, "{answer}");
    let signed: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let intruder = NodeIdentity {
        ca_cert_pem: signed["ca_cert_pem"].as_str().unwrap().to_owned(),
        cert_pem: signed["cert_pem"].as_str().unwrap().to_owned(),
        key_pem,
    };
    let other = serde_json::json!({"node": {"id": 0xbad, "name": "ghost", "addr": "10.77.0.99:4280"}}).to_string();
    let (status, answer) = request(roost_pki::client_config(&intruder).unwrap(), "POST", "/cluster/join/commit", &other);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("can only add itself"), "{answer}");
    // Nor can it vouch for itself on the members' forwarding path.
    let own = serde_json::json!({"node": {"id": 0x5eed, "name": "ghost", "addr": "10.77.0.99:4280"}}).to_string();
    let (status, answer) = request(roost_pki::client_config(&intruder).unwrap(), "POST", "/cluster/join/commit-vouched", &own);
    assert_eq!(status, 403, "{answer}");
    assert_eq!(node_ids(&t).len(), 2, "nobody was added");

    // h2's certificate works while it is a member...
    let old = identity_of("h2");
    let (status, answer) = request(roost_pki::client_config(&old).unwrap(), "GET", "/v1/nodes", "");
    assert_eq!(status, 200, "a member's certificate: {answer}");

    // ...and is refused once h2 left, although the CA signed it: as a stranger's.
    t.ok("h2", &["leave"]);
    wait_until(Duration::from_secs(10), "h1 alone", || node_ids(&t).len() == 1);
    let (status, answer) = request(roost_pki::client_config(&old).unwrap(), "GET", "/v1/nodes", "");
    assert_eq!(status, 401, "the certificate of a node that left: {answer}");
    let (status, answer) = request(roost_pki::client_config(&old).unwrap(), "POST", "/cluster/ping", "");
    assert_eq!(status, 403, "a member-only route with a revoked certificate: {answer}");

    // h2 may join again under its own id: it gets a new certificate; the old one stays refused.
    let rejoin = t.ok("h1", &["token"]).trim().to_owned();
    t.ok("h2", &["join", H1, "--token", &rejoin]);
    wait_until(Duration::from_secs(15), "h2 back and reachable", || {
        t.json("h1", &["nodes", "--json"]).is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["reachable"] == true))
    });
    assert_eq!(node_ids(&t).iter().find(|(n, _)| n == "h2").unwrap().1, ids.iter().find(|(n, _)| n == "h2").unwrap().1);
    let (status, _) = request(roost_pki::client_config(&old).unwrap(), "GET", "/v1/nodes", "");
    assert_eq!(status, 401, "the old certificate stays revoked");
    let (status, answer) = request(roost_pki::client_config(&identity_of("h2")).unwrap(), "GET", "/v1/nodes", "");
    assert_eq!(status, 200, "the new certificate: {answer}");

    // After all this, no token is anywhere on disk or in a log, and private keys are
    // only in the owner-only files ARCHITECTURE.md names (invariant 35).
    let cli = t.ok("h1", &["token", "--cli"]).trim().to_owned();
    let remote = Command::new(env!("CARGO_BIN_EXE_roost")).args(["--host", "tcp://10.77.0.11:4280", "--cli-token", &cli, "ls"]).output().unwrap();
    assert!(remote.status.success(), "{}", String::from_utf8_lossy(&remote.stderr));
    let tokens: Vec<String> = [&rejoin, &cli].iter().map(|t| roost_pki::JoinToken::parse(t).unwrap().secret).chain([token.secret.clone()]).collect();
    for host in ["h1", "h2"] {
        for (path, bytes) in files_under(std::path::Path::new(&format!("/tmp/roost-testbed/{host}/roost"))) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for secret in &tokens {
                assert!(!contains(&bytes, secret.as_bytes()), "a token's secret in plain text in {}", path.display());
            }
            if contains(&bytes, b"PRIVATE KEY") {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert!(KEY_FILES.contains(&name.as_str()), "a private key in {}, which is not a key file", path.display());
                assert_eq!(mode, 0o600, "{} holds a private key: owner-only", path.display());
            }
        }
        let log = std::fs::read(format!("/tmp/roost-testbed/{host}/agent.log")).unwrap();
        for secret in &tokens {
            assert!(!contains(&log, secret.as_bytes()), "a token's secret in {host}'s agent log");
        }
        assert!(!contains(&log, b"PRIVATE KEY"), "a private key in {host}'s agent log");
    }
}

/// The files allowed to hold private keys (ARCHITECTURE.md, invariant 35): the node's
/// identity, and the Raft store with the cluster's CAs and certificates.
const KEY_FILES: [&str; 2] = ["identity.json", "raft.redb"];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(files_under(&path));
        } else if kind.is_file() {
            out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
        }
    }
    out
}
