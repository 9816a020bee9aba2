//! The proxy's own answers: error pages, redirects, ACME challenge responses.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};

use crate::body::ProxyBody;

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // An error is about this moment (a backend down, a route not yet there):
    // nothing may cache it.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Browsers get a small HTML page, everything else (curl, API clients) one line
/// of text.
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An error page for `status`, with one sentence saying what happened.
pub(crate) fn error(status: StatusCode, detail: &str, html: bool) -> Response<ProxyBody> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    if !html {
        return respond(
            status,
            "text/plain; charset=utf-8",
            format!("{title}: {detail}\n"),
        );
    }
    let (title, detail) = (escape(&title), escape(detail));
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;color:#222;max-width:36em;margin:15vh auto;padding:0 1em}}\
         h1{{font-size:1.6em;font-weight:600}}p.by{{color:#888;font-size:.85em}}</style></head>\n\
         <body><h1>{title}</h1><p>{detail}</p><p class=\"by\">roost</p></body></html>\n"
    );
    respond(status, "text/html; charset=utf-8", page)
}

/// A permanent redirect that keeps the method and body (308).
pub(crate) fn redirect(location: &str) -> Response<ProxyBody> {
    let mut resp = respond(
        StatusCode::PERMANENT_REDIRECT,
        "text/plain; charset=utf-8",
        format!("Moved to {location}\n"),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// The key authorization for an ACME HTTP-01 challenge.
pub(crate) fn challenge(key_authorization: &str) -> Response<ProxyBody> {
    respond(
        StatusCode::OK,
        "application/octet-stream",
        key_authorization.to_owned(),
    )
}
