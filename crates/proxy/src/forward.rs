//! One request: route it, send it to a backend with retries, return the answer.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderMap, CONTENT_LENGTH};
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::time::Instant;
use tracing::Instrument;

use crate::attempt::{answer, classify, request, within, Failure};
use crate::body::{Meter, Metered, ProxyBody, Shared};
use crate::headers::{is_upgrade, request_host, to_backend};
use crate::pages::{self, wants_html};
use crate::proxy::{Inner, Proxy};
use crate::table::{Entry, Lookup, Scheme};
use crate::{acme, ws};

pub(crate) async fn handle(
    proxy: &Proxy,
    req: Request<Incoming>,
    client: SocketAddr,
    scheme: Scheme,
) -> Response<ProxyBody> {
    let host = request_host(req.uri(), req.headers());
    let path = req.uri().path().to_owned();
    let html = wants_html(req.headers());
    if scheme == Scheme::Http {
        if let Some(key_auth) = path
            .strip_prefix(acme::PREFIX)
            .and_then(|t| proxy.inner.challenges.get(t))
        {
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
            return pages::error(
                StatusCode::NOT_FOUND,
                "No service is published at this address.",
                html,
            );
        }
    };
    let span = tracing::debug_span!("proxy", route = %entry.route.id, method = %req.method(), %host, %path);
    forward(&proxy.inner, entry, req, client, scheme, &host, html)
        .instrument(span)
        .await
}

/// Where a plain-HTTP request for an HTTPS-only route is sent: same host on the
/// default port (the HTTP port says nothing about the HTTPS one), same target.
fn https_location(host: &str, uri: &Uri) -> String {
    let name = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
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
            return pages::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request body is larger than {max} bytes."),
                html,
            );
        }
    }
    if !entry.route.backends.iter().any(|b| b.healthy) {
        return pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service has no healthy replica right now.",
            html,
        );
    }
    let upgrade = is_upgrade(req.version(), req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    // Only these may be sent twice after the backend might have seen them, and
    // only without a body, since a body already sent cannot be sent again.
    let retry_broken = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    ) && (body.is_end_stream() || length == Some(0));
    let headers = to_backend(parts.headers, client.ip(), scheme, host, upgrade);
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let meter = Meter::new();
    let body = Shared::new(Metered::new(body, cfg.max_request_body, meter.clone()));
    let mut tried = Vec::new();
    let mut last = None;
    while tried.len() <= cfg.retries {
        let Some((addr, guard)) = inner.balancer.pick(entry, &tried, Instant::now()) else {
            break;
        };
        tried.push(addr);
        let Ok(uri) = Uri::builder()
            .scheme("http")
            .authority(addr.to_string())
            .path_and_query(target.as_str())
            .build()
        else {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "The request target cannot be forwarded.",
                html,
            );
        };
        let outcome = if upgrade {
            let req = request(&parts.method, uri, &headers, Empty::<Bytes>::new());
            within(
                ws::send(&*inner.dialer, addr, req, cfg.connect_timeout),
                &meter,
                cfg.response_timeout,
            )
            .await
        } else {
            let req = request(&parts.method, uri, &headers, body.taker());
            let sent = async {
                inner
                    .client
                    .request(req)
                    .await
                    .map_err(|e| classify(addr, &e))
            };
            within(sent, &meter, cfg.response_timeout).await
        };
        let failure = match outcome {
            Ok(resp) => return answer(inner, addr, resp, guard, client_upgrade, html),
            Err(failure) => failure,
        };
        if meter.exceeded() {
            let max = cfg.max_request_body.unwrap_or_default();
            return pages::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request body is larger than {max} bytes."),
                html,
            );
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
        Some(Failure::Timeout) | Some(Failure::Connect { timed_out: true }) => pages::error(
            StatusCode::GATEWAY_TIMEOUT,
            "The service did not answer in time.",
            html,
        ),
        Some(_) => pages::error(
            StatusCode::BAD_GATEWAY,
            "The service could not be reached or failed to answer.",
            html,
        ),
        None => pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service has no healthy replica right now.",
            html,
        ),
    }
}
