//! The HTTP answers of the echo server.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The largest body a `POST` gets echoed; more is `413`. The body is read whole
/// before the answer, so a client that writes everything before reading works.
pub const MAX_ECHO: usize = 64 << 20;

pub(crate) async fn answer(
    name: Arc<str>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let mut resp = route(&name, req).await;
    if let Ok(v) = HeaderValue::from_str(&name) {
        resp.headers_mut().insert("x-echo-name", v);
    }
    Ok(resp)
}

async fn route(name: &str, req: Request<Incoming>) -> Response<Body> {
    if crate::ws::is_websocket(req.headers()) {
        return crate::ws::accept(req);
    }
    let path = req.uri().path();
    if path == "/health" {
        return text(StatusCode::OK, "ok".into());
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        return match n.parse::<u64>() {
            Ok(n) => Response::new(BodyExt::boxed(Repeat { left: n })),
            Err(_) => text(
                StatusCode::BAD_REQUEST,
                format!("/bytes/N: N must be a byte count, not {n:?}\n"),
            ),
        };
    }
    if req.method() == Method::POST {
        return match Limited::new(req.into_body(), MAX_ECHO).collect().await {
            Ok(body) => Response::new(full(body.to_bytes())),
            Err(e) => text(StatusCode::PAYLOAD_TOO_LARGE, format!("not echoed: {e}\n")),
        };
    }
    let header = |key| {
        req.headers()
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    };
    let target = req.uri().path_and_query().map_or(path, |pq| pq.as_str());
    let host = match req.headers().get(HOST) {
        Some(_) => header(HOST.as_str()),
        None => req.uri().authority().map_or("-", |a| a.as_str()),
    };
    let body = format!(
        "{name} {} {target}\nx-forwarded-for: {}\nx-forwarded-proto: {}\nhost: {host}\n",
        req.method(),
        header("x-forwarded-for"),
        header("x-forwarded-proto"),
    );
    text(StatusCode::OK, body)
}

fn full(bytes: Bytes) -> Body {
    BodyExt::boxed(Full::new(bytes))
}

pub(crate) fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// One static chunk, handed out as often as needed: large bodies cost no memory.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// `left` bytes of `x`, with an exact size so the answer has a `Content-Length`.
struct Repeat {
    left: u64,
}

impl hyper::body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len() as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
