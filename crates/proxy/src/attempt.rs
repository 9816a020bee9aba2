//! One attempt at one backend: building the request, waiting for the answer,
//! and what the answer (or its absence) says about the backend.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::time::Instant;

use crate::body::{BoxError, Meter, Metered, ProxyBody, Taker};
use crate::headers::strip_hop_by_hop;
use crate::lb::InFlight;
use crate::pages;
use crate::proxy::Inner;
use crate::ws;

/// The request body as the pooled client sends it.
pub(crate) type OutBody = Taker<Metered<Incoming>>;

/// Why an attempt got no response.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure {
    /// No connection: nothing was sent.
    Connect { timed_out: bool },
    /// Sent, but the connection failed before the response head.
    Broken,
    /// No response head within the response timeout.
    Timeout,
}

pub(crate) fn request<B>(method: &Method, uri: Uri, headers: &HeaderMap, body: B) -> Request<B> {
    let mut req = Request::new(body);
    *req.method_mut() = method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers.clone();
    req
}

pub(crate) fn classify(addr: SocketAddr, e: &hyper_util::client::legacy::Error) -> Failure {
    tracing::debug!(backend = %addr, error = ?e, "backend request failed");
    if !e.is_connect() {
        return Failure::Broken;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return Failure::Connect { timed_out: true };
        }
        source = err.source();
    }
    Failure::Connect { timed_out: false }
}

/// Waits for `sent` until the request has made no progress for `limit`.
pub(crate) async fn within<F>(
    sent: F,
    meter: &Meter,
    limit: Duration,
) -> Result<Response<Incoming>, Failure>
where
    F: Future<Output = Result<Response<Incoming>, Failure>>,
{
    tokio::pin!(sent);
    loop {
        tokio::select! {
            result = &mut sent => return result,
            () = tokio::time::sleep_until(meter.last_progress() + limit) => {
                if meter.last_progress() + limit <= Instant::now() {
                    return Err(Failure::Timeout);
                }
            }
        }
    }
}

/// Records what the backend's answer says about it and hands the answer on.
pub(crate) fn answer(
    inner: &Inner,
    addr: SocketAddr,
    mut resp: Response<Incoming>,
    guard: InFlight,
    client_upgrade: Option<OnUpgrade>,
    html: bool,
) -> Response<ProxyBody> {
    let status = resp.status();
    if matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    ) {
        inner.balancer.failed(addr, Instant::now());
    } else {
        inner.balancer.succeeded(addr);
    }
    tracing::debug!(backend = %addr, status = status.as_u16(), "response");
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return pages::error(
                StatusCode::BAD_GATEWAY,
                "The service switched protocols unasked.",
                html,
            );
        };
        ws::splice(client_upgrade, &mut resp, guard);
        strip_hop_by_hop(resp.headers_mut(), true);
        return resp.map(|_| Empty::new().map_err(|never| match never {}).boxed_unsync());
    }
    strip_hop_by_hop(resp.headers_mut(), false);
    // The backend counts as busy until the body is done (or dropped).
    resp.map(|body| {
        body.map_err(BoxError::from)
            .map_frame(move |frame| {
                let _busy = &guard;
                frame
            })
            .boxed_unsync()
    })
}
