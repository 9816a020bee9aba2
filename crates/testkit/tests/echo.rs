//! The echo server over real sockets: what tests and benchmarks rely on.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

async fn start(name: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(roost_testkit::serve(listener, name.to_owned()));
    addr
}

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let (parts, body) = sender.send_request(req).await.unwrap().into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn req(method: &str, path: &str) -> hyper::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.test")
}

#[tokio::test]
async fn a_request_is_answered_with_the_name_method_path_and_forwarded_headers() {
    let addr = start("blue-1").await;
    let r = send(
        addr,
        req("GET", "/a/b?c=d")
            .header("x-forwarded-for", "192.0.2.7")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-echo-name"], "blue-1");
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "blue-1 GET /a/b?c=d\nx-forwarded-for: 192.0.2.7\nx-forwarded-proto: -\nhost: app.test\n"
    );
}

#[tokio::test]
async fn health_large_bodies_and_post_echo() {
    let addr = start("e").await;
    let health = send(addr, req("GET", "/health").body(Full::default()).unwrap()).await;
    assert_eq!(
        (health.status, &health.body[..]),
        (StatusCode::OK, &b"ok"[..])
    );

    let big = send(
        addr,
        req("GET", "/bytes/200001").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(big.headers["content-length"], "200001");
    assert!(big.body.len() == 200_001 && big.body.iter().all(|&b| b == b'x'));
    let bad = send(
        addr,
        req("GET", "/bytes/lots").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = send(
        addr,
        req("POST", "/anything")
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap(),
    )
    .await;
    assert_eq!(echoed.status, StatusCode::OK);
    assert_eq!(echoed.body, payload);
}

#[tokio::test]
async fn a_websocket_echoes_text_and_binary_and_closes_cleanly() {
    let addr = start("e").await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(format!("ws://{addr}/chat"), stream)
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-echo-name"], "e");
    for msg in [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
    ] {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), msg);
    }
    ws.close(None).await.unwrap();
    // The server answers the close; then the stream ends.
    while let Some(Ok(m)) = ws.next().await {
        assert!(m.is_close(), "unexpected {m:?}");
    }
}

#[tokio::test]
async fn an_upgrade_without_a_key_is_refused() {
    let addr = start("e").await;
    let r = send(
        addr,
        req("GET", "/")
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
