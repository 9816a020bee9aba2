//! Header rewriting between client and backend.

use std::net::IpAddr;

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, EXPECT, HOST, UPGRADE};
use hyper::{Uri, Version};

use crate::table::Scheme;

/// Headers about one connection, never forwarded (RFC 9110 §7.6.1), plus the
/// old `Proxy-Connection` and `Keep-Alive`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

fn connection_tokens(h: &HeaderMap) -> impl Iterator<Item = &str> {
    h.get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The host a request is for: the URI's authority (HTTP/2 `:authority`, or an
/// absolute-form HTTP/1 target, which RFC 9112 puts before `Host`), else `Host`.
pub(crate) fn request_host(uri: &Uri, headers: &HeaderMap) -> String {
    if let Some(host) = uri.host() {
        return match uri.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
    }
    headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An HTTP/1.1 upgrade request (WebSocket, or another protocol the backend knows).
pub(crate) fn is_upgrade(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// Removes hop-by-hop headers and those the `Connection` header names. For an
/// upgrade, `Upgrade` is kept and `Connection` reduced to `upgrade`, since the
/// handshake has to reach the other side.
pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = connection_tokens(h)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    let upgrade = if keep_upgrade {
        h.get(UPGRADE).cloned()
    } else {
        None
    };
    for name in named {
        h.remove(name);
    }
    for name in HOP_BY_HOP {
        h.remove(name);
    }
    if let Some(upgrade) = upgrade {
        h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(UPGRADE, upgrade);
    }
}

/// The headers a backend gets: the client's, less hop-by-hop ones, with `Host`
/// kept as the client sent it and the `X-Forwarded-*` set. `X-Forwarded-For`
/// keeps what earlier proxies added and appends the client's address; the
/// others are overwritten, since this proxy is where the request entered.
pub(crate) fn to_backend(
    mut h: HeaderMap,
    client: IpAddr,
    scheme: Scheme,
    host: &str,
    upgrade: bool,
) -> HeaderMap {
    strip_hop_by_hop(&mut h, upgrade);
    // The client gets its `100 Continue` from this proxy when the body is first
    // read; the backend would send one the client never sees.
    h.remove(EXPECT);
    let ip = client.to_canonical().to_string();
    let earlier: Vec<&str> = h
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let xff = if earlier.is_empty() {
        ip.clone()
    } else {
        format!("{}, {ip}", earlier.join(", "))
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert(X_FORWARDED_FOR.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&ip) {
        h.insert(X_REAL_IP.clone(), v);
    }
    h.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(scheme.as_str()),
    );
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(X_FORWARDED_HOST.clone(), v.clone());
        h.insert(HOST, v);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let out = to_backend(
            h,
            "::ffff:192.0.2.7".parse().unwrap(),
            Scheme::Https,
            "a.test",
            false,
        );
        assert!(out.get("x-secret").is_none() && out.get(CONNECTION).is_none());
        assert!(out.get("transfer-encoding").is_none());
        assert_eq!(out["x-kept"], "1");
        assert_eq!(out["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(out["x-real-ip"], "192.0.2.7");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["host"], "a.test");
    }

    #[test]
    fn an_upgrade_keeps_its_handshake_headers() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(Version::HTTP_11, &h));
        assert!(!is_upgrade(Version::HTTP_2, &h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h[CONNECTION], "upgrade");
        assert_eq!(h[UPGRADE], "websocket");
    }

    #[test]
    fn the_host_comes_from_the_authority_first() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("b.test"));
        assert_eq!(
            request_host(&"http://a.test:81/x".parse().unwrap(), &h),
            "a.test:81"
        );
        assert_eq!(request_host(&"/x".parse().unwrap(), &h), "b.test");
    }
}
