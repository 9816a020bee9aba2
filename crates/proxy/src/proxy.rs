//! The proxy handle: configuration, the live table, and the shared client.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::acme::Challenges;
use crate::attempt::OutBody;
use crate::body::ProxyBody;
use crate::lb::{Balancer, Ejection};
use crate::table::{Compiled, Scheme, Table};

/// Timeouts, limits and health settings. [`Config::default`] gives the values
/// the crate docs explain.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time to open a TCP connection to a backend (2 s). A LAN connect takes
    /// well under a millisecond; a node that is gone never answers, and this is
    /// how long a request waits before it tries another replica.
    pub connect_timeout: Duration,
    /// Time a backend may take to send response headers, counted from the last
    /// request body byte that went through (60 s), so uploads are not cut off.
    pub response_timeout: Duration,
    /// Time a client has to complete the TLS handshake and each request head
    /// (30 s): keeps slow or idle clients from holding connections.
    pub client_header_timeout: Duration,
    /// Largest request body in bytes (1 GiB; `None`: no limit). Bodies stream,
    /// so this is a guard for backends, not for the proxy's memory.
    pub max_request_body: Option<u64>,
    /// Further attempts on other backends after a failure that allows one (2).
    pub retries: usize,
    /// Consecutive 502/503/504 answers, resets or timeouts that eject a backend
    /// (3). A failed connect ejects at once.
    pub eject_after_failures: u32,
    /// How long the first ejection lasts (5 s); doubled for each further one
    /// without a success between.
    pub eject_base: Duration,
    /// The longest ejection (60 s).
    pub eject_max: Duration,
    /// How long an idle pooled backend connection is kept (30 s).
    pub backend_idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            client_header_timeout: Duration::from_secs(30),
            max_request_body: Some(1 << 30),
            retries: 2,
            eject_after_failures: 3,
            eject_base: Duration::from_secs(5),
            eject_max: Duration::from_secs(60),
            backend_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// A running proxy's state. Cheap to clone; every clone is the same proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub config: Config,
    table: RwLock<Arc<Compiled>>,
    pub balancer: Balancer,
    pub client: Client<crate::dial::Connector, OutBody>,
    pub dialer: Arc<dyn crate::dial::Dial>,
    pub challenges: Arc<Challenges>,
}

impl Proxy {
    /// A proxy with an empty table (every request gets a 404) that reaches backends
    /// over plain TCP.
    pub fn new(config: Config) -> Self {
        Proxy::with_dialer(config, Arc::new(crate::dial::TcpDial))
    }

    /// A proxy that opens backend connections with `dialer`.
    pub fn with_dialer(config: Config, dialer: Arc<dyn crate::dial::Dial>) -> Self {
        let connector = crate::dial::Connector { dialer: dialer.clone(), timeout: config.connect_timeout };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(config.backend_idle_timeout)
            .build(connector);
        let balancer = Balancer::new(Ejection {
            after_failures: config.eject_after_failures.max(1),
            base: config.eject_base,
            max: config.eject_max,
        });
        let inner = Inner {
            config,
            table: RwLock::default(),
            balancer,
            client,
            dialer,
            challenges: Arc::default(),
        };
        Proxy {
            inner: Arc::new(inner),
        }
    }

    /// Replaces the routing table. Requests already routed finish with the table
    /// they started with; the next request sees the new one. What was learned
    /// about backends (ejections) is kept for addresses still in the table.
    pub fn set_table(&self, table: Table) {
        let compiled = Arc::new(Compiled::new(table));
        self.inner.balancer.retain(compiled.backend_addrs());
        *self
            .inner
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner) = compiled;
    }

    /// The table requests are routed with now. The read lock is held only to
    /// clone the `Arc`, never across an await.
    pub(crate) fn table(&self) -> Arc<Compiled> {
        self.inner
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The ACME HTTP-01 challenges this proxy answers; fill it while an order runs.
    pub fn challenges(&self) -> &Arc<Challenges> {
        &self.inner.challenges
    }

    /// The settings it was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Answers one request that came in on a `scheme` listener from `client`:
    /// what [`crate::serve_http`] and [`crate::serve_https`] call for each
    /// request, public for embedding the proxy in another server. Never fails:
    /// errors become error pages.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the backend request (its connection is
    /// closed, not reused); an upgraded connection already handed over lives on.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        client: SocketAddr,
        scheme: Scheme,
    ) -> Response<ProxyBody> {
        crate::forward::handle(self, req, client, scheme).await
    }
}
