//! The roost agent: keeps the node's containers matching the desired state.
//!
//! Three parts share one [`Agent`]: the [`store`] (desired state on disk), the
//! [`reconcile_loop`] (observe Docker, plan with the pure core, apply) and the [`api`]
//! the CLI talks to over `DIR/roost.sock`. The loop wakes on Docker events, on every
//! change to desired state, and at least once a second (restart backoff timers).
#![forbid(unsafe_code)]

mod accept;
pub mod api;
mod background;
mod campaign;
mod lease;
mod limits;
pub mod fence;
mod cluster_api;
pub mod ingress;
mod logs;
pub mod mesh;
mod probe;
mod raft_watch;
pub mod reconcile_loop;
mod resources;
mod rollout;
mod scheduler;
mod stall;
pub mod sync;
pub mod vip;
pub mod volumes;

use crate::sync::MutexExt as _;
use anyhow::Context;
use roost_core::observed::Observed;
use roost_core::reconcile::Reconciler;
use roost_docker::Driver;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use cluster::Cluster;
use roost_cluster::state::NodeInfo;
use std::collections::BTreeMap;
use tokio::sync::Notify;

/// How to run an agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Holds `state.redb` and `roost.sock`; created owner-only.
    pub data_dir: PathBuf,
    /// Docker or Podman API address; `None` uses `DOCKER_HOST` or the default socket.
    pub docker_host: Option<String>,
    /// This node's name, shown in `roost ps`.
    pub node_name: String,
    /// Cluster port (`ADDR:PORT`); `None` for no TCP at all (cannot be joined).
    pub listen: Option<String>,
    /// Address other nodes reach this one at; derived from `listen` when `None`.
    pub advertise: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// A witness votes but never runs workloads.
    pub witness: bool,
    /// A peer unheard for this long is down: the leader moves its replicas (stateful
    /// ones also wait for its lease to expire). Use one value on every node; the
    /// leader's decides.
    pub down_after: std::time::Duration,
    /// Where the ingress proxy listens.
    pub ingress: ingress::Listen,
    /// A floating address the leader holds (see [`vip`]).
    pub vip: Option<vip::Vip>,
}

/// State shared by the loop and the API handlers.
pub struct Agent {
    pub(crate) node: String,
    /// Stamped on everything this agent creates; see `Driver::owned_by`.
    agent_id: String,
    docker_host: Option<String>,
    /// Desired state lives here, replicated with Raft (a one-node cluster by default).
    pub(crate) cluster: Cluster,
    /// When each peer last answered a probe (this node's view).
    pub(crate) seen: Mutex<BTreeMap<u64, Instant>>,
    /// This node's proxy and certificates.
    pub(crate) ingress: ingress::Ingress,
    /// This node's share of the cluster network (service names and addresses).
    pub(crate) mesh: mesh::Mesh,
    /// See [`AgentConfig::down_after`].
    pub(crate) down_after: std::time::Duration,
    /// Whether this process ran without a freeze lately (see [`stall`]).
    pub(crate) stall: Arc<Mutex<stall::StallGuard>>,
    /// Leader side: when each node's last lease renewal arrived.
    pub(crate) leases: Mutex<BTreeMap<u64, Instant>>,
    /// This node's side: until when it may run stateful replicas (the last granted
    /// renewal's send time plus the fence delay).
    lease_until: Mutex<Instant>,
    /// A write of the fencing deadline is under way (see `Agent::publish_deadline`).
    deadline_writing: Arc<std::sync::atomic::AtomicBool>,
    /// A lease grant waiting for this node to apply the log up to the index it names.
    pending_grant: Mutex<Option<(Instant, u64)>>,
    data_dir: std::path::PathBuf,
    /// The latest report of each peer (from probe answers), and when it arrived.
    pub(crate) reports: Mutex<BTreeMap<u64, (Instant, probe::Report)>>,
    driver: tokio::sync::RwLock<Option<Arc<Driver>>>,
    pub(crate) view: Mutex<View>,
    /// Wakes the loop: new desired state, a Docker event.
    pub(crate) wake: Notify,
    /// Wakes the leader's scheduler: a stack or node changed.
    pub(crate) schedule: Notify,
    /// Held for a whole reconcile pass, and by `down` while it tears a stack down, so
    /// the two never race (a pass planned before the stack was removed could recreate
    /// a container after `down` returned).
    pub(crate) pass: tokio::sync::Mutex<()>,
    /// Volume replication's state on this node.
    pub(crate) volumes: volumes::Room,
    started: Instant,
}

/// What the last pass saw and remembers; read by `ps`.
#[derive(Default)]
pub(crate) struct View {
    pub observed: Observed,
    pub reconciler: Reconciler,
    pub engine_error: Option<String>,
    /// This node's replica rows as of the last pass (what probes report).
    pub rows: Vec<roost_api::ReplicaStatus>,
}

impl Agent {
    /// Replica rows of the whole cluster: this node's and every fresh peer report's.
    pub(crate) fn cluster_rows(&self) -> Vec<roost_api::ReplicaStatus> {
        let mut rows = self.view.locked().rows.clone();
        rows.extend(self.peer_rows());
        rows
    }

    /// Replica rows from the reports of current members. A report older than the down
    /// threshold is from a node that is gone or cut off: its rows would claim replicas
    /// the cluster has already moved.
    pub(crate) fn peer_rows(&self) -> Vec<roost_api::ReplicaStatus> {
        let reports = self.reports.locked();
        self.cluster.with_state(|s| {
            reports
                .iter()
                .filter(|(id, (at, _))| s.nodes.contains_key(id) && at.elapsed() < self.down_after)
                .flat_map(|(_, (_, report))| report.rows.iter().cloned())
                .collect()
        })
    }

    /// What this node runs, for probe answers.
    pub(crate) fn report(&self) -> probe::Report {
        let view = self.view.locked();
        probe::Report {
            node: self.node.clone(),
            rows: view.rows.clone(),
            containers: view.observed.containers.clone(),
            volumes: view.observed.volumes.iter().map(|v| v.name.clone()).collect(),
            applied: self.cluster.node().metrics().last_applied.map_or(0, |l| l.index),
        }
    }

    /// The scope of this node's reconciler: its assigned slots, what peers run, and
    /// whether it is fenced. A lone node runs everything.
    pub(crate) fn scope(&self) -> roost_core::reconcile::Scope {
        let state = self.cluster.state();
        let alone = state.nodes.len() <= 1;
        let slots = (!alone).then(|| {
            state.placement.assignments.iter().filter(|(_, n)| **n == self.cluster.id).map(|(k, _)| k.clone()).collect()
        });
        let remote = self
            .reports
            .locked()
            .iter()
            .filter(|(id, (at, _))| state.nodes.contains_key(id) && at.elapsed() < self.down_after)
            .flat_map(|(_, (_, r))| r.containers.clone())
            .collect();
        roost_core::reconcile::Scope {
            slots,
            remote,
            fenced: self.fenced(),
            updatable: Some(state.rollout.clone()),
        }
    }

    /// The desired stacks (all of them: the scope says which slots run here; none on
    /// a witness).
    pub(crate) fn desired_here(&self) -> roost_core::reconcile::Desired {
        if self.cluster.info.witness {
            return Default::default();
        }
        // Wired for the cluster network (its DNS, `SERVICE.STACK` aliases) on one node
        // as on many, so a stack never changes when a node joins.
        self.cluster.state().stacks.into_values().map(|s| (s.spec.name.clone(), roost_net::wire::wire(&s.spec))).collect()
    }

    /// Milliseconds since the agent started: the reconciler's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The engine connection, made on first use and again after it was dropped.
    ///
    /// # Errors
    /// Why the engine cannot be reached; the caller records it for `ps`.
    pub(crate) async fn driver(&self) -> Result<Arc<Driver>, String> {
        if let Some(d) = self.driver.read().await.as_ref() {
            return Ok(d.clone());
        }
        let mut slot = self.driver.write().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = Driver::connect(self.docker_host.as_deref()).await.map_err(|e| e.to_string())?;
        let d = Arc::new(d.owned_by(self.agent_id.clone()));
        *slot = Some(d.clone());
        Ok(d)
    }

    /// Forgets the connection so the next use reconnects (and renegotiates the API version).
    pub(crate) async fn drop_driver(&self) {
        *self.driver.write().await = None;
    }
}

/// Runs the agent until `shutdown` completes.
///
/// # Errors
/// Start-up failures: the data dir cannot be created, another agent holds it, the
/// socket cannot be bound. Once running, engine failures are reported, not fatal.
pub async fn run(config: AgentConfig, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict permissions of {}", config.data_dir.display()))?;
    let open_files = limits::raise_open_files();
    tracing::debug!(?open_files, "open-file limit");
    let agent_id = agent_id(&config.data_dir)?;
    let node_id = u64::from_str_radix(&agent_id, 16).context("the agent id is not hex")?;
    let tcp = match &config.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (choose another with --listen ADDR:PORT, or --listen none)"))?,
        ),
        None => None,
    };
    let advertise = match (&config.advertise, &tcp) {
        (Some(a), Some(l)) => advertise_given(a, l.local_addr()?.port())?,
        (Some(a), None) => advertise_given(a, 0)?,
        (None, Some(l)) => advertise_for(l.local_addr()?),
        (None, None) => "127.0.0.1:0".into(),
    };
    let info = NodeInfo {
        id: node_id,
        name: config.node_name.clone(),
        addr: advertise,
        labels: config.labels.clone(),
        witness: config.witness,
        resources: resources::detect(),
        // Recorded by whoever admits this node (see `Cluster::open` and join commit).
        cert_sha256: None,
    };
    let cluster = Cluster::open(&config.data_dir, info).await?;
    // The store's lock proves no other agent uses this dir, so a socket file left here
    // is stale.
    let socket = config.data_dir.join("roost.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;

    let mut background = background::Background::default();
    let ingress = ingress::start(&config.ingress, &mut background).await?;
    let (mesh, mesh_listeners) = mesh::bind(&agent_id).await?;
    let agent = Arc::new(Agent {
        ingress,
        mesh,
        node: config.node_name,
        agent_id,
        docker_host: config.docker_host,
        cluster,
        seen: Default::default(),
        leases: Default::default(),
        down_after: config.down_after,
        stall: Arc::new(Mutex::new(stall::StallGuard::new(Instant::now()))),
        lease_until: Mutex::new(lease::initial(&config.data_dir)),
        deadline_writing: Default::default(),
        pending_grant: Default::default(),
        data_dir: config.data_dir.clone(),
        reports: Default::default(),
        driver: Default::default(),
        view: Default::default(),
        wake: Notify::new(),
        schedule: Notify::new(),
        pass: Default::default(),
        volumes: Default::default(),
        started: Instant::now(),
    });
    agent.ingress.dial.set_agent(Arc::downgrade(&agent));
    tracing::info!(socket = %socket.display(), node = %agent.node, "roost agent listening");
    background.spawn("reconcile loop", reconcile_loop::run(agent.clone()));
    background.spawn("apply watcher", wake_on_apply(agent.clone()));
    background.spawn("rollout", rollout::run(agent.clone()));
    background.spawn("volume replication", volumes::run(agent.clone()));
    background.spawn("Raft watch", raft_watch::run(agent.clone()));
    mesh::spawn(&agent, mesh_listeners, &mut background);
    if let Some(v) = config.vip.clone() {
        background.spawn("floating address", vip::run(agent.clone(), v));
    }
    background.spawn("routing table", ingress::run(agent.clone(), agent.ingress.proxy.clone()));
    // Certificates: the leader issues and renews (on any node, even one without a
    // cluster port), every node serves what is replicated.
    background.spawn("certificate renewal", ingress::certs::run(agent.clone()));
    background.spawn("certificate sync", ingress::sync::run(agent.clone()));
    if let Some(listener) = tcp {
        tracing::info!(listen = %listener.local_addr()?, advertise = %agent.cluster.info.addr, "cluster port open (mutual TLS)");
        let tls = agent.cluster.server_tls.clone();
        let tunnels = agent.clone();
        let tunnel: peer::TunnelHandler = Arc::new(move |tls, peer| Box::pin(mesh::tunnel::accept(tunnels.clone(), tls, peer)));
        let trust = agent.clone();
        let revoked: peer::Revoked = Arc::new(move |cert| trust.cluster.with_state(|s| s.is_revoked(cert)));
        background.spawn("cluster port", peer::serve(listener, tls, cluster_api::peer_router(agent.clone()), tunnel, revoked));
        fence::spawn(&config.data_dir, agent.docker_host.as_deref(), &agent.agent_id);
        background.spawn("stall guard", stall::run(agent.stall.clone()));
        background.spawn("leader campaign", campaign::run(agent.clone()));
        background.spawn("probes", probe::run(agent.clone()));
        background.spawn("scheduler", scheduler::run(agent.clone()));
    }
    let app = api::router(agent.clone());
    let api = std::future::IntoFuture::into_future(axum::serve(listener, app).with_graceful_shutdown(shutdown));
    // The agent runs until it is told to stop, or until one of its loops ends: then it
    // stops with that reason rather than limp on with the API answering.
    let outcome = tokio::select! {
        served = api => served.context("the local API stopped"),
        ended = background.first_end() => {
            tracing::error!("{ended}: stopping the agent");
            Err(anyhow::anyhow!("{ended}"))
        }
    };
    background.abort_all();
    if let Some(v) = &config.vip {
        vip::release(v, &agent.cluster.info.addr);
    }
    mesh::remove_rules(&agent.mesh);
    agent.cluster.node().shutdown().await;
    fence::agent_stopped(&config.data_dir);
    let _ = std::fs::remove_file(&socket);
    outcome
}

/// This agent's id, made once and kept in `DIR/agent-id`, so a restarted agent
/// recognizes (adopts) the containers it created.
fn agent_id(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join("agent-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").context("cannot make an agent id")?;
    let id: String = uuid.trim().chars().filter(|c| *c != '-').take(16).collect();
    let tmp = dir.join("agent-id.tmp");
    std::fs::write(&tmp, &id).and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}
pub mod peer;
pub mod cluster;

/// `--advertise` as given: `IP:PORT`, or an IP alone, which gets the listen port.
/// Other nodes connect to it as a socket address, so a host name or anything else is
/// refused here, naming the flag, rather than failing quietly when a peer dials it.
///
/// # Errors
/// Not an IP address with an optional port.
fn advertise_given(given: &str, listen_port: u16) -> anyhow::Result<String> {
    let given = given.trim();
    if let Ok(addr) = given.parse::<std::net::SocketAddr>() {
        return Ok(addr.to_string());
    }
    let ip = given.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<std::net::IpAddr>() {
        Ok(ip) if listen_port != 0 => Ok(std::net::SocketAddr::new(ip, listen_port).to_string()),
        Ok(_) => anyhow::bail!("--advertise {given}: give a port too (IP:PORT); there is no --listen port to take it from"),
        Err(_) => anyhow::bail!("--advertise {given}: expected IP or IP:PORT (a host name cannot be advertised: other nodes dial the address as it is)"),
    }
}

/// The address to advertise for a listener: itself, unless it listens on all
/// addresses, then this host's primary IPv4 address (the one its default route uses).
fn advertise_for(local: std::net::SocketAddr) -> String {
    if !local.ip().is_unspecified() {
        return local.to_string();
    }
    // Connecting a UDP socket sends nothing; it only asks the kernel for a route.
    let primary = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    format!("{primary}:{}", local.port())
}

/// Wakes the reconcile loop whenever this node applies a Raft entry (a new placement,
/// a stack change), so followers act on the leader's decisions at once.
async fn wake_on_apply(agent: Arc<Agent>) {
    loop {
        let mut metrics = agent.cluster.node().raft().metrics();
        let mut last = metrics.borrow().last_applied;
        while metrics.changed().await.is_ok() {
            let now = metrics.borrow().last_applied;
            if now != last {
                last = now;
                agent.wake.notify_one();
            }
        }
        // The Raft node was replaced (join/leave): follow the new one.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod advertise_tests {
    use super::advertise_given;

    #[test]
    fn an_advertised_ip_without_a_port_gets_the_listen_port_and_names_are_refused() {
        assert_eq!(advertise_given("10.0.0.5", 4280).unwrap(), "10.0.0.5:4280");
        assert_eq!(advertise_given("10.0.0.5:5000", 4280).unwrap(), "10.0.0.5:5000");
        assert_eq!(advertise_given("fd00::5", 4280).unwrap(), "[fd00::5]:4280");
        assert_eq!(advertise_given("[fd00::5]:7", 4280).unwrap(), "[fd00::5]:7");
        let err = advertise_given("node1.lan", 4280).unwrap_err().to_string();
        assert!(err.contains("--advertise node1.lan") && err.contains("IP or IP:PORT"), "{err}");
        assert!(advertise_given("10.0.0.5", 0).unwrap_err().to_string().contains("give a port"));
    }
}
