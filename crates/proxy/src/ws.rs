//! HTTP/1.1 upgrades (WebSockets): the handshake goes over a connection of its
//! own, then bytes are copied both ways until either side closes.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::attempt::Failure;
use crate::lb::InFlight;

/// Sends an upgrade request on a new connection. Not through the pool: an
/// upgraded connection never goes back to it, and a fresh one means the
/// handshake cannot land on a connection the backend is about to close.
///
/// # Cancel safety
/// Dropping the future drops the connection; nothing else is left behind.
pub(crate) async fn send(
    dialer: &dyn crate::dial::Dial,
    addr: SocketAddr,
    req: Request<Empty<Bytes>>,
    connect_timeout: Duration,
) -> Result<Response<Incoming>, Failure> {
    // Dialers set TCP_NODELAY: small frames (chat messages, keystrokes) should not
    // wait for Nagle.
    let stream = match crate::dial::dial(dialer, addr, connect_timeout).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(Failure::Connect { timed_out: true }),
        Err(e) => {
            tracing::debug!(%addr, error = %e, "upgrade: connect failed");
            return Err(Failure::Connect { timed_out: false });
        }
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| {
            tracing::debug!(%addr, error = %e, "upgrade: handshake failed");
            Failure::Broken
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(%addr, error = %e, "upgrade: backend connection failed");
        }
    });
    sender.send_request(req).await.map_err(|e| {
        tracing::debug!(%addr, error = %e, "upgrade: request failed");
        Failure::Broken
    })
}

/// After a `101 Switching Protocols`, joins the client's and the backend's
/// connections in a task that lives until either closes; the backend counts as
/// busy (`guard`) for as long.
pub(crate) fn splice(client: OnUpgrade, backend: &mut Response<Incoming>, guard: InFlight) {
    let backend = hyper::upgrade::on(backend);
    tokio::spawn(async move {
        let _busy = guard;
        let (client, backend) = match tokio::try_join!(client, backend) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade did not complete");
                return;
            }
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            Ok((up, down)) => tracing::debug!(up, down, "upgraded connection closed"),
            Err(e) => tracing::debug!(error = %e, "upgraded connection failed"),
        }
    });
}
