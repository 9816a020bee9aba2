//! The ingress: every node runs the proxy (`roost-proxy`) for every route of the
//! cluster, so any node is a front door.
//!
//! Routes come from the desired stacks in the replicated state; backends from what
//! every node reports running (probe answers carry each node's containers with their
//! addresses and exposed ports), reached over the cluster network ([`dial`]). The table is rebuilt every [`REFRESH`], so a node whose reports
//! stop (down after `--down-after`) leaves the pool by itself, and the proxy's passive
//! ejection takes a dead replica out at its first failed connect.
//!
//! Listeners: `--http-listen` (default `0.0.0.0:80`) and `--https-listen` (default
//! `0.0.0.0:443`); `none` disables one. Without the privilege to bind ports below 1024,
//! a default listener falls back to 8080 / 8443 with a warning; an address given
//! explicitly must bind or the agent does not start.

pub mod cert_api;
pub mod certs;
pub mod dial;
mod need;
pub mod sync;
pub mod table;

use crate::sync::MutexExt as _;
use crate::Agent;
use anyhow::Context;
use roost_proxy::{CertStore, Proxy, Table};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub const REFRESH: Duration = Duration::from_millis(250);
pub const DEFAULT_HTTP: &str = "0.0.0.0:80";
pub const DEFAULT_HTTPS: &str = "0.0.0.0:443";

/// Where the proxy listens; `None` disables a listener.
#[derive(Debug, Clone)]
pub struct Listen {
    pub http: Option<String>,
    pub https: Option<String>,
}

impl Default for Listen {
    fn default() -> Self {
        Listen { http: Some(DEFAULT_HTTP.into()), https: Some(DEFAULT_HTTPS.into()) }
    }
}

/// The running ingress of this node.
pub struct Ingress {
    pub proxy: Proxy,
    /// The proxy's way to backends; knows the tunnel addresses of the current table.
    pub dial: Arc<dial::MeshDial>,
    pub certs: Arc<CertStore>,
    /// The addresses actually bound (after any fallback).
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
}

/// Binds the listeners and starts serving; routes arrive with [`run`].
///
/// # Errors
/// An explicitly given address cannot be bound, or the fallback certificate cannot be
/// made.
pub async fn start(listen: &Listen, tasks: &mut crate::background::Background) -> anyhow::Result<Ingress> {
    // Replicas are on the LAN: a connect that takes a second is to a node that is gone,
    // and the request should move on to another replica.
    let dial = Arc::new(dial::MeshDial::default());
    let proxy = Proxy::with_dialer(roost_proxy::Config { connect_timeout: Duration::from_secs(1), ..Default::default() }, dial.clone());
    let certs = Arc::new(CertStore::new());
    // Clients asking for a name without a certificate still get a TLS answer (and a
    // clear 404 behind it) instead of a handshake failure.
    certs.set_fallback(Some(roost_proxy::self_signed(&["roost.invalid".into()]).context("fallback certificate")?));
    let mut ingress = Ingress { proxy: proxy.clone(), dial, certs: certs.clone(), http: None, https: None };
    if let Some(listener) = bind(listen.http.as_deref(), DEFAULT_HTTP, 8080).await? {
        ingress.http = listener.local_addr().ok();
        tasks.spawn("ingress (HTTP)", roost_proxy::serve_http(listener, proxy.clone()));
    }
    if let Some(listener) = bind(listen.https.as_deref(), DEFAULT_HTTPS, 8443).await? {
        ingress.https = listener.local_addr().ok();
        let (proxy, certs) = (proxy.clone(), certs.clone());
        tasks.spawn("ingress (HTTPS)", async move {
            if let Err(e) = roost_proxy::serve_https(listener, proxy, certs).await {
                tracing::error!("the HTTPS listener stopped: {e}");
            }
        });
    }
    tracing::info!(http = ?ingress.http, https = ?ingress.https, "ingress listening");
    Ok(ingress)
}

async fn bind(addr: Option<&str>, default: &str, fallback_port: u16) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = addr else { return Ok(None) };
    let err = match TcpListener::bind(addr).await {
        Ok(l) => return Ok(Some(l)),
        Err(e) => e,
    };
    if addr != default {
        return Err(err).with_context(|| format!("cannot listen on {addr} for the ingress"));
    }
    let fallback = default.rsplit_once(':').map_or(String::new(), |(ip, _)| format!("{ip}:{fallback_port}"));
    tracing::warn!("cannot listen on {addr} ({err}); the ingress uses {fallback} instead");
    match TcpListener::bind(&fallback).await {
        Ok(l) => Ok(Some(l)),
        Err(e) => {
            tracing::warn!("cannot listen on {fallback} either ({e}); this node serves no ingress there");
            Ok(None)
        }
    }
}

/// Keeps the proxy's table matching the cluster: rebuilt every [`REFRESH`].
pub async fn run(agent: Arc<Agent>, proxy: Proxy) {
    let mut last = Table::default();
    let mut last_problems = Vec::new();
    loop {
        let table::Built { table, remotes, problems } = current(&agent);
        if table != last {
            // Addresses first: a request routed by the new table must find its tunnel.
            agent.ingress.dial.set_remotes(remotes);
            proxy.set_table(table.clone());
            last = table;
        }
        if problems != last_problems {
            for p in &problems {
                tracing::warn!("ingress: {p}");
            }
            last_problems = problems;
        }
        tokio::time::sleep(REFRESH).await;
    }
}

fn current(agent: &Agent) -> table::Built {
    // Built from borrowed state every REFRESH: nothing is copied but the table itself.
    let view = agent.view.locked();
    let reports = agent.reports.locked();
    agent.cluster.with_state(|state| {
        let mut nodes = vec![table::NodeContainers { node: None, containers: &view.observed.containers }];
        for (id, (_, report)) in reports.iter().filter(|(_, (at, _))| at.elapsed() < agent.down_after) {
            if state.nodes.contains_key(id) && *id != agent.cluster.id {
                nodes.push(table::NodeContainers { node: Some(*id), containers: &report.containers });
            }
        }
        table::build(state.stacks.iter().map(|(name, stored)| (name.as_str(), &stored.spec)), &nodes)
    })
}
