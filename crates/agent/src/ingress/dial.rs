//! How this node's proxy reaches backends: container addresses on this node over
//! plain TCP, replicas on other nodes through the cluster network's tunnels (the
//! made-up addresses of [`super::table::remote_addr`]).

use crate::sync::RwLockExt as _;
use super::table::Remote;
use crate::Agent;
use roost_proxy::{BoxStream, Dial, DialFuture, TcpDial};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock, Weak};

#[derive(Default)]
pub struct MeshDial {
    remotes: RwLock<Arc<BTreeMap<SocketAddr, Remote>>>,
    agent: OnceLock<Weak<Agent>>,
}

impl std::fmt::Debug for MeshDial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshDial").finish_non_exhaustive()
    }
}

impl MeshDial {
    /// Called once the agent exists (the proxy starts before it).
    pub fn set_agent(&self, agent: Weak<Agent>) {
        let _ = self.agent.set(agent);
    }

    /// The remote replicas of the table about to be installed.
    pub fn set_remotes(&self, remotes: BTreeMap<SocketAddr, Remote>) {
        *self.remotes.writing() = Arc::new(remotes);
    }
}

impl Dial for MeshDial {
    fn dial(&self, addr: SocketAddr) -> DialFuture {
        let remote = self
            .remotes
            .reading()
            .get(&addr)
            .cloned();
        let Some(r) = remote else {
            return TcpDial.dial(addr);
        };
        let agent = self.agent.get().and_then(Weak::upgrade);
        Box::pin(async move {
            let agent = agent.ok_or_else(|| std::io::Error::other("the agent is stopping"))?;
            let req = roost_net::tunnel::Request {
                stack: r.stack,
                service: r.service,
                slot: r.slot,
                port: r.port,
            };
            let tls = crate::mesh::tunnel::open(&agent, r.node, &req)
                .await
                .map_err(std::io::Error::other)?;
            Ok(Box::new(tls) as BoxStream)
        })
    }
}
