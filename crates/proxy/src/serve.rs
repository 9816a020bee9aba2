//! The listeners: accept, (TLS), serve HTTP/1.1 and HTTP/2 on each connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::server::ResolvesServerCert;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::error::ProxyError;
use crate::proxy::Proxy;
use crate::table::Scheme;

/// Serves plain HTTP (HTTP/1.1, and HTTP/2 with prior knowledge) on `listener`
/// until dropped. Answers ACME challenges, then routes.
///
/// # Cancel safety
/// Dropping the future stops accepting and closes every connection it accepted
/// (upgraded connections, already handed over, live on).
pub async fn serve_http(listener: TcpListener, proxy: Proxy) {
    accept(listener, proxy, None).await;
}

/// Serves HTTPS on `listener` until dropped, with certificates from `certs`
/// (usually a [`crate::CertStore`]) and ALPN `h2`, `http/1.1`.
///
/// # Errors
/// [`ProxyError::Tls`] if the TLS configuration cannot be built, before serving.
///
/// # Cancel safety
/// As for [`serve_http`].
pub async fn serve_https(
    listener: TcpListener,
    proxy: Proxy,
    certs: Arc<dyn ResolvesServerCert>,
) -> Result<(), ProxyError> {
    let acceptor = TlsAcceptor::from(crate::tls::server_config(certs)?);
    accept(listener, proxy, Some(acceptor)).await;
    Ok(())
}

fn builder(proxy: &Proxy) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(proxy.config().client_header_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

async fn accept(listener: TcpListener, proxy: Proxy, tls: Option<TlsAcceptor>) {
    let builder = builder(&proxy);
    // Owning the connection tasks means dropping this future ends them.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(stream, peer, proxy.clone(), builder.clone(), tls.clone()));
                }
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to close
                    // rather than spin.
                    tracing::warn!(error = %e, "proxy: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Proxy,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let scheme = if tls.is_some() {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let handshake_timeout = proxy.config().client_header_timeout;
    let service = service_fn(move |req| {
        let proxy = proxy.clone();
        async move { Ok::<_, Infallible>(proxy.handle(req, peer, scheme).await) }
    });
    let served = match tls {
        None => {
            builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
        }
        Some(acceptor) => {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
