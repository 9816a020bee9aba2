//! Test backends for roost's tests and benchmarks.
//!
//! [`serve`] is `roost-echo` (the image `roost-test/echo:latest`, built by
//! `scripts/build-test-images.sh`): a small HTTP/1.1 + WebSocket server that says
//! who answered and what it was asked, so a test through the proxy can tell which
//! replica served it and check the forwarded headers.
//!
//! | request | answer |
//! |---|---|
//! | `Upgrade: websocket` (any path) | a WebSocket that echoes text and binary messages |
//! | `/health` | `200 ok` |
//! | `/bytes/N` | `N` bytes of `x`, with a `Content-Length` |
//! | `POST` (any other path) | the request body (up to [`MAX_ECHO`]) |
//! | anything else | `NAME METHOD PATH` then the `x-forwarded-for`, `x-forwarded-proto` and `host` it got, one `key: value` a line (`-` when absent) |
//!
//! Every answer carries `x-echo-name: NAME`.
#![forbid(unsafe_code)]

mod answer;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use answer::MAX_ECHO;

/// The name an echo server reports: `$NAME`, else the host name (a container's
/// short id), so replicas are told apart without configuration.
pub fn name_from_env() -> String {
    std::env::var("NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "roost-echo".to_owned())
}

/// Serves the echo on `listener` until the task is dropped; one task per connection.
pub async fn serve(listener: TcpListener, name: impl Into<Arc<str>>) {
    let name: Arc<str> = name.into();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors under a benchmark's load: wait rather than
                // spin on an accept that keeps failing.
                eprintln!("roost-echo: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Answers are small and written at once; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let name = name.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer::answer(name.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
