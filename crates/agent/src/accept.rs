//! Accepting connections on the agent's listeners, one way for all of them.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// How long to wait after a failed accept: most likely the process is out of file
/// descriptors, and only closing connections frees some.
const RETRY: Duration = Duration::from_millis(100);

/// The next connection on `listener`. A failed accept is logged once per streak of
/// failures (naming `what` the listener serves) and retried after [`RETRY`], so an
/// exhausted descriptor table neither spins a core nor floods the log.
///
/// # Cancel safety
/// Cancel-safe: dropping the future loses no accepted connection (`TcpListener::accept`
/// is cancel-safe, and the sleep holds none).
pub async fn next(listener: &TcpListener, what: &str) -> (TcpStream, SocketAddr) {
    let mut failing = false;
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                if failing {
                    tracing::info!("{what}: accepting connections again");
                }
                return accepted;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("{what}: accept failed: {e}; retrying every {}ms", RETRY.as_millis());
                    failing = true;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
