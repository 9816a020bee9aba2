//! The ingress proxy's data plane: every node runs one, so any node's address
//! reaches every published service.
//!
//! # Use
//! ```no_run
//! # async fn run(table: roost_proxy::Table) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use roost_proxy::{CertStore, Config, Proxy};
//!
//! let proxy = Proxy::new(Config::default());
//! let certs = Arc::new(CertStore::new());
//! certs.set_fallback(Some(roost_proxy::self_signed(&["roost.invalid".into()])?));
//! let http = tokio::net::TcpListener::bind("0.0.0.0:80").await?;
//! let https = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
//! tokio::spawn(roost_proxy::serve_http(http, proxy.clone()));
//! tokio::spawn(roost_proxy::serve_https(https, proxy.clone(), certs.clone()));
//! proxy.set_table(table); // again whenever routes or replica health change
//! proxy.challenges().set("token", "token.thumbprint"); // during an ACME order
//! # Ok(()) }
//! ```
//!
//! # Design
//! - **A table swapped whole.** The caller computes a [`Table`] (routes with
//!   their replicas' addresses and health) from cluster state and calls
//!   [`Proxy::set_table`]; requests clone an `Arc` of the current one under a
//!   read lock held for that clone only. Routes are sorted once per swap by
//!   [`roost_routes::Rule::priority`] (ties by id), so matching is a scan.
//! - **HTTP and HTTPS listeners** ([`serve_http`], [`serve_https`]) speak
//!   HTTP/1.1 and HTTP/2 (ALPN over TLS, prior knowledge in plain text);
//!   backends get HTTP/1.1 over a pooled client. Certificates come from a
//!   [`CertStore`] by SNI (exact, then `*.parent`, then a fallback) and can
//!   change at any time. A plain-HTTP request that only an HTTPS route matches
//!   gets a 308 to `https://`.
//! - **Forwarding streams**: bodies are never collected. `Host` is kept;
//!   `X-Forwarded-For` gets the client's address appended; `X-Forwarded-Proto`,
//!   `X-Forwarded-Host` and `X-Real-IP` are set; hop-by-hop headers go. An
//!   HTTP/1.1 `Upgrade` (WebSockets) is forwarded on a connection of its own and
//!   then spliced byte for byte.
//! - **Load balancing: least requests in flight, ties in rotation** (see `lb`
//!   for why), over the route's healthy backends.
//! - **Passive health.** A failed connect ejects a backend at once; three 502,
//!   503 or 504 answers (or resets, or timeouts) in a row eject it too. An
//!   ejection lasts 5 s, doubling up to 60 s while the backend keeps failing,
//!   and a success ends it. So a dead node's replicas leave the pool with the
//!   first request that finds them gone, well before the caller's health view
//!   catches up. If every healthy backend is ejected they are tried anyway.
//! - **Retries** on another backend, at most two: after a failed connect for
//!   any request (nothing was sent; the body is handed to the first attempt
//!   that reads it, so this is known, not guessed), and after a connection
//!   failure before the response for GET, HEAD, OPTIONS, PUT and DELETE
//!   without a body. Never after a timeout, and never for a response, even a
//!   502: the backend's answer is the answer.
//! - **Errors are pages**: 404 no route, 503 no healthy replica, 502 the backend
//!   failed, 504 it timed out, 413 body too large; HTML for browsers, one line
//!   of text otherwise, never cached.
//! - **ACME HTTP-01** tokens in [`Challenges`] are answered on plain HTTP
//!   before routing.
//! - **Observability**: `tracing` at debug level (a span per routed request,
//!   events for failures, ejections, retries); no metrics yet.
//!
//! # Defaults and why
//! See [`Config`]: connect 2 s (a LAN connect is sub-millisecond; waiting
//! longer only delays the retry elsewhere), response headers 60 s after the
//! request body was sent (long enough for slow reports, short enough to free
//! a stuck client), client headers and TLS handshake 30 s, request bodies up to
//! 1 GiB (streamed, so only a guard for backends), backend connections idle
//! 30 s in the pool.
//!
//! # Not yet
//! HTTP/2 (h2c, gRPC) to backends, WebSockets over HTTP/2 (RFC 8441), per-route
//! limits and timeouts, metrics, trusting `X-Forwarded-*` from a proxy in front.
#![forbid(unsafe_code)]

mod acme;
mod attempt;
mod body;
mod dial;
mod error;
mod forward;
mod headers;
mod lb;
mod pages;
mod proxy;
mod serve;
mod table;
mod tls;
mod ws;

pub use acme::Challenges;
pub use body::{BoxError, ProxyBody};
pub use dial::{BoxStream, Dial, DialFuture, TcpDial};
pub use error::ProxyError;
pub use proxy::{Config, Proxy};
pub use serve::{serve_http, serve_https};
pub use table::{Backend, ProxyRoute, Scheme, Table};
pub use tls::{certified_key_from_pem, self_signed, server_config, CertStore, ALPN};
