//! Real servers for the proxy tests: backends that report what they saw, a
//! WebSocket echo backend, the proxy on a free port, and a small client.
#![allow(dead_code)] // each test file uses its own part of this

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::HOST;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use roost_proxy::{Backend, Config, Proxy, ProxyRoute, Table};
use roost_routes::Rule;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub type Body = BoxBody<Bytes, std::io::Error>;

/// A running server; dropping it closes the listener and every connection, as
/// a killed process would.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_each<F, Fut>(on_conn: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(on_conn(stream));
        }
    });
    Server { addr, task }
}

pub fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// `n` bytes in 64 KiB chunks, made as they are read.
pub fn stream_of(n: usize) -> Body {
    let chunks = (0..n.div_ceil(65536)).map(move |i| {
        let len = 65536.min(n - i * 65536);
        Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![b'x'; len])))
    });
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)))
}

/// An HTTP/1.1 backend named `name`. Paths: `/slow` answers after 5 s;
/// `/reset-NAME` closes the connection without an answer and `/fail-NAME`
/// answers 503 when NAME is this backend; `/upload` counts the body;
/// `/download/N` sends N bytes; anything else lists what the backend saw, one
/// `key=value` a line (`backend`, `host`, `path`, `version`, `h:NAME` per header).
pub async fn backend(name: &'static str) -> Server {
    serve_each(move |stream| async move {
        let service = service_fn(move |req| answer(name, req));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
    .await
}

async fn answer(
    name: &'static str,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let path = req.uri().path().to_owned();
    let mine = |prefix: &str| path.strip_prefix(prefix) == Some(name);
    let (status, body) = if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        (StatusCode::OK, full("slow"))
    } else if mine("/reset-") {
        return Err(std::io::Error::other("reset on purpose"));
    } else if mine("/fail-") {
        (StatusCode::SERVICE_UNAVAILABLE, full("failing"))
    } else if path == "/upload" {
        let mut body = req.into_body();
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            n += frame
                .map_err(std::io::Error::other)?
                .data_ref()
                .map_or(0, Bytes::len);
        }
        (StatusCode::OK, full(format!("bytes={n}\n")))
    } else if let Some(n) = path.strip_prefix("/download/") {
        (StatusCode::OK, stream_of(n.parse().unwrap()))
    } else {
        let mut seen = format!("backend={name}\npath={path}\nversion={:?}\n", req.version());
        for (k, v) in req.headers() {
            seen += &format!("h:{k}={}\n", v.to_str().unwrap_or("?"));
        }
        (StatusCode::OK, full(seen))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("x-backend", name.parse().unwrap());
    Ok(resp)
}

/// A WebSocket backend that echoes every message.
pub async fn ws_echo() -> Server {
    serve_each(|stream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() || ws.send(msg).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// An address where nothing listens.
pub async fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn host(name: &str) -> Rule {
    Rule::Host(vec![name.to_owned()])
}

pub fn route(id: &str, rule: Rule, backends: &[SocketAddr]) -> ProxyRoute {
    let backends = backends
        .iter()
        .map(|&addr| Backend {
            addr,
            healthy: true,
        })
        .collect();
    ProxyRoute {
        id: id.to_owned(),
        rule,
        http: true,
        https: true,
        backends,
    }
}

pub struct Running {
    pub proxy: Proxy,
    pub addr: SocketAddr,
    _server: Server,
}

/// The proxy's plain HTTP listener on a free port, with `routes`.
pub async fn start(config: Config, routes: Vec<ProxyRoute>) -> Running {
    let proxy = Proxy::new(config);
    proxy.set_table(Table { routes });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(roost_proxy::serve_http(listener, proxy.clone()));
    Running {
        proxy,
        addr,
        _server: Server { addr, task },
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// A `key=value` line of a backend's report.
    pub fn seen(&self, key: &str) -> Option<&str> {
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }

    pub fn backend(&self) -> &str {
        self.headers
            .get("x-backend")
            .map_or("-", |v| v.to_str().unwrap())
    }
}

/// Sends `req` on a new HTTP/1.1 connection to `to`.
pub async fn send(to: SocketAddr, req: Request<Body>) -> Reply {
    let stream = TcpStream::connect(to).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub fn request(method: &str, host: &str, path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host)
        .body(body)
        .unwrap()
}

pub async fn get(to: SocketAddr, host: &str, path: &str) -> Reply {
    send(
        to,
        request(
            "GET",
            host,
            path,
            Empty::new().map_err(|never| match never {}).boxed(),
        ),
    )
    .await
}
