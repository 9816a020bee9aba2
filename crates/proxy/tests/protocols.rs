//! WebSockets, HTTP/2 with prior knowledge, and HTTPS with SNI and ALPN.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use roost_proxy::{CertStore, Config, Proxy, Table};
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use common::{backend, host, route, start, ws_echo};

#[tokio::test]
async fn a_websocket_echoes_through_the_proxy() {
    let echo = ws_echo().await;
    let p = start(
        Config::default(),
        vec![route("s/ws/r", host("ws.test"), &[echo.addr])],
    )
    .await;
    let stream = TcpStream::connect(p.addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async("ws://ws.test/chat", stream)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text(format!("hello {i}"))
        );
    }
    let big = vec![7u8; 1 << 20];
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(big));
    ws.close(None).await.unwrap();
}

/// Sends a GET for `uri` over HTTP/2 on `io` and returns (status, body).
async fn h2_get<I>(io: I, uri: &str) -> (u16, String)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn seen<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

#[tokio::test]
async fn http2_with_prior_knowledge_reaches_an_http1_backend() {
    let a = backend("a").await;
    let p = start(
        Config::default(),
        vec![route("s/a/r", host("a.test"), &[a.addr])],
    )
    .await;
    let (status, body) = h2_get(
        TcpStream::connect(p.addr).await.unwrap(),
        "http://a.test/x?q=1",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(seen(&body, "h:host"), Some("a.test"));
    assert_eq!(seen(&body, "version"), Some("HTTP/1.1"));
    assert_eq!(seen(&body, "path"), Some("/x"));
}

#[tokio::test]
async fn https_picks_the_certificate_by_sni_and_speaks_h2_by_alpn() {
    let a = backend("a").await;
    let proxy = Proxy::new(Config::default());
    proxy.set_table(Table {
        routes: vec![route("s/a/r", host("a.test"), &[a.addr])],
    });
    let cert = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
    let certs = Arc::new(CertStore::new());
    let key =
        roost_proxy::certified_key_from_pem(&cert.cert.pem(), &cert.signing_key.serialize_pem())
            .unwrap();
    certs.set("a.test", key);
    certs.set_fallback(Some(
        roost_proxy::self_signed(&["fallback.invalid".into()]).unwrap(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(roost_proxy::serve_https(listener, proxy, certs));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(roost_pki::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

    let tls = connector
        .connect(
            ServerName::try_from("a.test").unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (status, body) = h2_get(tls, "https://a.test/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(seen(&body, "h:x-forwarded-proto"), Some("https"));

    // Another name gets the fallback, which this client does not trust.
    let other = connector
        .connect(
            ServerName::try_from("b.test").unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        )
        .await;
    assert!(other.is_err());
    server.abort();
}

#[tokio::test]
async fn a_client_that_never_sends_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Config { client_header_timeout: std::time::Duration::from_millis(200), ..Config::default() };
    let p = start(config, vec![]).await;
    let mut stream = TcpStream::connect(p.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: a.te").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the proxy kept the connection open");
}
