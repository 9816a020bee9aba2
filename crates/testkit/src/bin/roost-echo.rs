//! `roost-echo`: the echo server of `roost_testkit` on `0.0.0.0:$PORT` (default 8080),
//! reporting `$NAME` (default: the host name).
#![forbid(unsafe_code)]

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) if !p.is_empty() => p
            .parse()
            .with_context(|| format!("PORT must be a port number, not {p:?}"))?,
        _ => 8080,
    };
    let name = roost_testkit::name_from_env();
    let listener = TcpListener::bind(("0.0.0.0", port))
        .await
        .with_context(|| format!("cannot listen on 0.0.0.0:{port}"))?;
    eprintln!("roost-echo: {name} listening on 0.0.0.0:{port}");
    // As a container's PID 1 the default SIGTERM action does not apply: without a
    // handler `docker stop` would wait out the whole grace period.
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    tokio::select! {
        () = roost_testkit::serve(listener, name) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
