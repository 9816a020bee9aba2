//! One request: route it, send it to a backend with retries, return the answer.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderMap, CONTENT_LENGTH};
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::time::Instant;
use tracing::Instrument;

use crate::body::{BoxError, Meter, Metered, ProxyBody, Shared, Taker};
use crate::headers::{is_upgrade, request_host, strip_hop_by_hop, to_backend};
use crate::lb::InFlight;
use crate::pages::{self, wants_html};
use crate::proxy::{Inner, Proxy};
use crate::table::{Entry, Lookup, Scheme};
use crate::{acme, ws};

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

pub(crate) async fn handle(proxy: &Proxy, req: Request<Incoming>, client: SocketAddr, scheme: Scheme) -> Response<ProxyBody> {
    let host = request_host(req.uri(), req.headers());
    let path = req.uri().path().to_owned();
    let html = wants_html(req.headers());
    if scheme == Scheme::Http {
        if let Some(key_auth) = path.strip_prefix(acme::PREFIX).and_then(|t| proxy.inner.challenges.get(t)) {
            tracing::debug!(%host, "answered an ACME challenge");
            return pages::challenge(&key_auth);
        }
    }
    let table = proxy.table();
    let entry = match table.find(scheme, &host, &path) {
        Lookup::Route(entry) => entry,
        Lookup::RedirectToHttps => return pages::redirect(&https_location(&host, req.uri())),
        Lookup::NotFound => {
            tracing::debug!(%host, %path, "no route");
            return pages::error(StatusCode::NOT_FOUND, "No service is published at this address.", html);
        }
    };
    let span = tracing::debug_span!("proxy", route = %entry.route.id, method = %req.method(), %host, %path);
    forward(&proxy.inner, entry, req, client, scheme, &host, html).instrument(span).await
}

/// Where a plain-HTTP request for an HTTPS-only route is sent: same host on the
/// default port (the HTTP port says nothing about the HTTPS one), same target.
fn https_location(host: &str, uri: &Uri) -> String {
    let name = host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("https://{name}{target}")
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn forward(
    inner: &Inner,
    entry: &Entry,
    mut req: Request<Incoming>,
    client: SocketAddr,
    scheme: Scheme,
    host: &str,
    html: bool,
) -> Response<ProxyBody> {
    let cfg = &inner.config;
    let length = content_length(req.headers());
    if let (Some(len), Some(max)) = (length, cfg.max_request_body) {
        if len > max {
            return pages::error(StatusCode::PAYLOAD_TOO_LARGE, &format!("The request body is larger than {max} bytes."), html);
        }
    }
    if !entry.route.backends.iter().any(|b| b.healthy) {
        return pages::error(StatusCode::SERVICE_UNAVAILABLE, "The service has no healthy replica right now.", html);
    }
    let upgrade = is_upgrade(req.version(), req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    // Only these may be sent twice after the backend might have seen them, and
    // only without a body, since a body already sent cannot be sent again.
    let retry_broken = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE)
        && (body.is_end_stream() || length == Some(0));
    let headers = to_backend(parts.headers, client.ip(), scheme, host, upgrade);
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let meter = Meter::new();
    let body = Shared::new(Metered::new(body, cfg.max_request_body, meter.clone()));
    let mut tried = Vec::new();
    let mut last = None;
    while tried.len() <= cfg.retries {
        let Some((addr, guard)) = inner.balancer.pick(entry, &tried, Instant::now()) else { break };
        tried.push(addr);
        let Ok(uri) = Uri::builder().scheme("http").authority(addr.to_string()).path_and_query(target.as_str()).build() else {
            return pages::error(StatusCode::BAD_REQUEST, "The request target cannot be forwarded.", html);
        };
        let outcome = if upgrade {
            let req = request(&parts.method, uri, &headers, Empty::<Bytes>::new());
            within(ws::send(addr, req, cfg.connect_timeout), &meter, cfg.response_timeout).await
        } else {
            let req = request(&parts.method, uri, &headers, body.taker());
            let sent = async { inner.client.request(req).await.map_err(|e| classify(addr, &e)) };
            within(sent, &meter, cfg.response_timeout).await
        };
        let failure = match outcome {
            Ok(resp) => return answer(inner, addr, resp, guard, client_upgrade, html),
            Err(failure) => failure,
        };
        if meter.exceeded() {
            let max = cfg.max_request_body.unwrap_or_default();
            return pages::error(StatusCode::PAYLOAD_TOO_LARGE, &format!("The request body is larger than {max} bytes."), html);
        }
        let now = Instant::now();
        let again = match failure {
            Failure::Connect { .. } => {
                inner.balancer.connect_failed(addr, now);
                body.untouched()
            }
            Failure::Broken => {
                inner.balancer.failed(addr, now);
                retry_broken
            }
            // The backend may still be working on it; sending it elsewhere
            // would double the load that made it slow.
            Failure::Timeout => {
                inner.balancer.failed(addr, now);
                false
            }
        };
        tracing::debug!(backend = %addr, ?failure, retry = again, "attempt failed");
        last = Some(failure);
        if !again {
            break;
        }
    }
    match last {
        Some(Failure::Timeout) | Some(Failure::Connect { timed_out: true }) => {
            pages::error(StatusCode::GATEWAY_TIMEOUT, "The service did not answer in time.", html)
        }
        Some(_) => pages::error(StatusCode::BAD_GATEWAY, "The service could not be reached or failed to answer.", html),
        None => pages::error(StatusCode::SERVICE_UNAVAILABLE, "The service has no healthy replica right now.", html),
    }
}

fn request<B>(method: &Method, uri: Uri, headers: &HeaderMap, body: B) -> Request<B> {
    let mut req = Request::new(body);
    *req.method_mut() = method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers.clone();
    req
}

fn classify(addr: SocketAddr, e: &hyper_util::client::legacy::Error) -> Failure {
    tracing::debug!(backend = %addr, error = ?e, "backend request failed");
    if !e.is_connect() {
        return Failure::Broken;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
            return Failure::Connect { timed_out: true };
        }
        source = err.source();
    }
    Failure::Connect { timed_out: false }
}

/// Waits for `sent` until the request has made no progress for `limit`.
async fn within<F>(sent: F, meter: &Meter, limit: Duration) -> Result<Response<Incoming>, Failure>
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
fn answer(
    inner: &Inner,
    addr: SocketAddr,
    mut resp: Response<Incoming>,
    guard: InFlight,
    client_upgrade: Option<OnUpgrade>,
    html: bool,
) -> Response<ProxyBody> {
    let status = resp.status();
    if matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT) {
        inner.balancer.failed(addr, Instant::now());
    } else {
        inner.balancer.succeeded(addr);
    }
    tracing::debug!(backend = %addr, status = status.as_u16(), "response");
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return pages::error(StatusCode::BAD_GATEWAY, "The service switched protocols unasked.", html);
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
