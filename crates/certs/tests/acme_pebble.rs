//! The ACME client against a real CA (pebble), validating HTTP-01 through a
//! roost proxy's challenge answers. Needs `pebble` (scripts/install-test-peers.sh).

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roost_certs::{
    async_trait, unix_now, AcmeAccount, AcmeConfig, CertError, ChallengeSink, Issuer, SinkError,
    StoredAccount,
};
use roost_proxy::{CertStore, Challenges, Config, Proxy};
use support::pebble::{free_port, Pebble};

/// Answers through the proxy's challenge store, and remembers which tokens
/// are still published so tests can check the order cleaned up.
struct ProxySink {
    challenges: Arc<Challenges>,
    live: Mutex<HashSet<String>>,
    published: Mutex<usize>,
}

impl ProxySink {
    fn new(proxy: &Proxy) -> Self {
        ProxySink {
            challenges: proxy.challenges().clone(),
            live: Mutex::default(),
            published: Mutex::default(),
        }
    }
}

#[async_trait]
impl ChallengeSink for ProxySink {
    async fn set(&self, token: &str, key_authorization: &str) -> Result<(), SinkError> {
        self.challenges.set(token, key_authorization);
        self.live.lock().unwrap().insert(token.to_owned());
        *self.published.lock().unwrap() += 1;
        Ok(())
    }
    async fn remove(&self, token: &str) -> Result<(), SinkError> {
        self.challenges.remove(token);
        self.live.lock().unwrap().remove(token);
        Ok(())
    }
}

/// Accepts every answer and publishes none, as a node whose Raft write was
/// lost would; or refuses them, as one without quorum.
struct LostSink {
    refuse: bool,
}

#[async_trait]
impl ChallengeSink for LostSink {
    async fn set(&self, _: &str, _: &str) -> Result<(), SinkError> {
        if self.refuse {
            return Err("no quorum".into());
        }
        Ok(())
    }
    async fn remove(&self, _: &str) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A proxy answering challenges on 127.0.0.1 (and 404 for anything else:
/// it has no routes), and pebble validating against it.
async fn proxy_and_pebble(validity_secs: Option<u64>) -> (Proxy, Pebble) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = Proxy::new(Config::default());
    tokio::spawn(roost_proxy::serve_http(listener, proxy.clone()));
    (proxy, Pebble::start(port, validity_secs).await)
}

fn hosts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn an_http01_certificate_from_pebble_serves_by_sni_to_a_client_trusting_pebbles_root() {
    let (proxy, pebble) = proxy_and_pebble(None).await;
    let config = pebble.config("default");
    let (account, stored) = AcmeAccount::create(&config).await.unwrap();
    let sink = ProxySink::new(&proxy);

    let cert = account
        .issue(&hosts(&["App.example.com", "www.example.com"]), &sink)
        .await
        .unwrap();

    assert_eq!(cert.hosts, hosts(&["app.example.com", "www.example.com"]));
    assert_eq!(
        cert.issuer,
        Issuer::Acme {
            resolver: "default".into(),
            directory: pebble.directory.clone()
        }
    );
    assert!(cert.not_before <= unix_now() && unix_now() < cert.not_after);
    assert!(!cert.needs_renewal(unix_now()));
    assert_eq!(*sink.published.lock().unwrap(), 2, "one answer per host");
    assert!(
        sink.live.lock().unwrap().is_empty(),
        "answers removed after the order"
    );

    let store = Arc::new(CertStore::new());
    support::load(&store, &cert);
    let addr = support::serve_https(store).await;
    let root = pebble.issuing_root().await;
    for sni in ["app.example.com", "www.example.com"] {
        let chain = support::handshake(addr, sni, &root).await.unwrap();
        assert_eq!(chain[0], support::leaf_der(&cert.chain_pem), "{sni}");
    }

    // The stored account is plain data for the replicated state...
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!format!("{stored:?}").contains(&stored.credentials));
    let stored: StoredAccount = serde_json::from_str(&json).unwrap();
    // ...and only comes back for the directory it was made at.
    let elsewhere = AcmeConfig::new("default", "https://acme.invalid/dir");
    let err = AcmeAccount::restore(&elsewhere, &stored).await.unwrap_err();
    assert!(matches!(err, CertError::Account { .. }), "{err}");
}

#[tokio::test]
async fn a_short_lived_certificate_needs_renewal_and_a_second_issuance_replaces_it() {
    const VALIDITY: u64 = 8;
    let (proxy, pebble) = proxy_and_pebble(Some(VALIDITY)).await;
    let config = pebble.config("default");
    let (_, stored) = AcmeAccount::create(&config).await.unwrap();
    let sink = ProxySink::new(&proxy);
    let names = hosts(&["short.example.com"]);

    let account = AcmeAccount::restore(&config, &stored).await.unwrap();
    let first = account.issue(&names, &sink).await.unwrap();
    let lifetime = first.not_after - first.not_before;
    assert!(
        lifetime <= VALIDITY as i64 + 1,
        "pebble issued {lifetime} s"
    );
    let store = Arc::new(CertStore::new());
    support::load(&store, &first);
    let addr = support::serve_https(store.clone()).await;
    let root = pebble.issuing_root().await;
    let served = support::handshake(addr, "short.example.com", &root)
        .await
        .unwrap();
    assert_eq!(served[0], support::leaf_der(&first.chain_pem));

    // The leader's loop: check the rule against the clock until it says renew,
    // which must be a third of the lifetime before expiry, not after it.
    let deadline = Instant::now() + Duration::from_secs(VALIDITY + 5);
    while !first.needs_renewal(unix_now()) {
        assert!(
            Instant::now() < deadline,
            "never due for renewal: {first:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unix_now() < first.not_after, "due before it expires");

    // A new leader restores the account from replicated state and renews.
    let account = AcmeAccount::restore(&config, &stored).await.unwrap();
    let second = account.issue(&first.hosts, &sink).await.unwrap();
    assert!(second.not_after > first.not_after);
    assert!(!second.needs_renewal(second.not_before));
    support::load(&store, &second);
    let served = support::handshake(addr, "short.example.com", &root)
        .await
        .unwrap();
    assert_eq!(served[0], support::leaf_der(&second.chain_pem));
    assert_ne!(served[0], support::leaf_der(&first.chain_pem));
}

#[tokio::test]
async fn a_challenge_nobody_answers_fails_naming_the_host_and_pebbles_problem() {
    let (proxy, pebble) = proxy_and_pebble(None).await;
    let (account, _) = AcmeAccount::create(&pebble.config("default"))
        .await
        .unwrap();

    let err = account
        .issue(&hosts(&["lost.example.com"]), &LostSink { refuse: false })
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(err, CertError::Validation { ref host, .. } if host == "lost.example.com"),
        "{text}"
    );
    assert!(
        text.contains("404"),
        "pebble's problem says what it got: {text}"
    );

    let err = account
        .issue(&hosts(&["refused.example.com"]), &LostSink { refuse: true })
        .await
        .unwrap_err();
    assert!(
        matches!(err, CertError::Sink { ref host, .. } if host == "refused.example.com"),
        "{err}"
    );
    assert!(err.to_string().contains("no quorum"), "{err}");
    drop(proxy);
}

#[tokio::test]
async fn an_unreachable_directory_fails_quickly_naming_it() {
    let directory = format!("https://127.0.0.1:{}/dir", free_port());
    let started = Instant::now();
    let err = AcmeAccount::create(&AcmeConfig::new("default", &directory))
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(err, CertError::Directory { .. }), "{text}");
    assert!(
        text.contains(&directory) && text.to_lowercase().contains("refused"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_directory_with_an_untrusted_certificate_is_refused() {
    let (_proxy, pebble) = proxy_and_pebble(None).await;
    let untrusted = AcmeConfig {
        extra_root_pem: None,
        ..pebble.config("default")
    };
    let err = AcmeAccount::create(&untrusted).await.unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(err, CertError::Directory { .. }), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
}
