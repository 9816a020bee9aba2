//! A real ACME CA for the tests: pebble (Let's Encrypt's test server), with
//! pebble-challtestsrv as its DNS server answering 127.0.0.1 for every name,
//! so it validates HTTP-01 against a roost proxy on this machine and nothing
//! leaves it. Each test starts its own pair on free ports.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roost_certs::{unix_now, AcmeConfig, IngressCa, Timeouts};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const INSTALL: &str =
    "install it with `apt-get install -y pebble` (scripts/install-test-peers.sh does)";

/// A running pebble; both processes are killed on drop.
pub struct Pebble {
    /// The ACME directory URL.
    pub directory: String,
    management: SocketAddr,
    /// Signs pebble's own HTTPS certificate: the extra root ACME clients need.
    listener_ca: IngressCa,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Pebble {
    /// Starts pebble validating HTTP-01 on 127.0.0.1:`http_port`, issuing
    /// certificates valid `validity_secs` seconds (pebble's default, five
    /// years, if `None`).
    pub async fn start(http_port: u16, validity_secs: Option<u64>) -> Pebble {
        Self::start_at("127.0.0.1", "127.0.0.1", http_port, validity_secs).await
    }

    /// As [`Pebble::start`], with pebble listening on `listen_ip` and every name
    /// resolving to `names_ip` (the testbed: pebble on the bridge, names on a node).
    pub async fn start_at(listen_ip: &str, names_ip: &str, http_port: u16, validity_secs: Option<u64>) -> Pebble {
        let pebble = binary("pebble");
        let challtestsrv = binary("pebble-challtestsrv");
        let dir = tempfile::tempdir().unwrap();
        let listener_ca = IngressCa::generate().unwrap();
        let listener_cert = listener_ca
            .issue(
                &[listen_ip.to_owned(), "localhost".to_owned()],
                unix_now(),
            )
            .unwrap();
        std::fs::write(dir.path().join("cert.pem"), &listener_cert.chain_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), &listener_cert.key_pem).unwrap();

        let (acme, management, dns, dns_management, tls) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("{listen_ip}:{acme}"),
            "managementListenAddress": format!("{listen_ip}:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(secs) = validity_secs {
            config["pebble"]["certificateValidityPeriod"] = secs.into();
        }
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();

        let mut children = Vec::new();
        // Every name resolves to 127.0.0.1 and to no IPv6 address, where the
        // test's proxy listens.
        children.push(spawn(
            Command::new(challtestsrv).args([
                "-defaultIPv4",
                names_ip,
                "-defaultIPv6",
                "",
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{dns_management}"),
            ]),
            &dir.path().join("challtestsrv.log"),
        ));
        children.push(spawn(
            Command::new(pebble)
                .arg("-config")
                .arg(&config_path)
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                // No random 0-15 s wait before validating, and no 5 % of
                // nonces refused (instant-acme retries those, but a test
                // should fail for its own reason only).
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
            &dir.path().join("pebble.log"),
        ));
        let pebble = Pebble {
            directory: format!("https://{listen_ip}:{acme}/dir"),
            management: SocketAddr::new(listen_ip.parse().unwrap(), management),
            listener_ca,
            children,
            dir,
        };
        for (ip, port) in [(listen_ip, acme), (listen_ip, management), ("127.0.0.1", dns_management)] {
            pebble.wait_for(ip, port).await;
        }
        pebble
    }

    /// An [`AcmeConfig`] for this pebble, trusting its HTTPS certificate,
    /// with timeouts short enough for a test to fail quickly.
    pub fn config(&self, resolver: &str) -> AcmeConfig {
        AcmeConfig {
            extra_root_pem: Some(self.listener_ca.cert_pem().to_owned()),
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_secs(10),
                validation: Duration::from_secs(20),
                order: Duration::from_secs(60),
            },
            ..AcmeConfig::new(resolver, &self.directory)
        }
    }

    /// The root pebble's certificates chain to (made anew at every start),
    /// from its management interface.
    pub async fn issuing_root(&self) -> String {
        let tcp = TcpStream::connect(self.management).await.unwrap();
        let name = ServerName::from(self.management.ip());
        let mut tls = TlsConnector::from(super::client_config(self.listener_ca.cert_pem()))
            .connect(name, tcp)
            .await
            .unwrap();
        tls.write_all(b"GET /roots/0 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        // Pebble closes the connection after an HTTP/1.0 answer; a missing
        // close_notify is then no error for this test.
        let _ = tls.read_to_string(&mut response).await;
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        body.to_owned()
    }

    /// What pebble printed, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    async fn wait_for(&self, ip: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect((ip, port)).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "pebble did not listen on port {port} within 15 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- pebble log ---\n{}", self.log());
        }
    }
}

/// `name` on the PATH, or a failure saying how to install it: CI installs
/// pebble, so a missing one is a broken setup, never a reason to skip.
fn binary(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| panic!("{name} is not installed: {INSTALL}"))
}

fn spawn(command: &mut Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}; {INSTALL}"))
}

/// A port free for TCP and UDP now (pebble-challtestsrv's DNS takes both).
/// Another process could take it before pebble binds; on a test machine that
/// is rare enough, and shows as a clear "did not listen" failure.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
