//! What a driver saw: the containers, networks and volumes roost owns on one engine.

use serde::{Deserialize, Serialize};

/// Observed state of one node's engine at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub containers: Vec<ObservedContainer>,
    /// Networks this agent made: labelled [`crate::labels::MANAGED`] and, for a driver
    /// scoped to an owner, with its [`crate::labels::OWNER`].
    pub networks: Vec<ObservedResource>,
    /// Volumes this agent made, as for networks.
    pub volumes: Vec<ObservedResource>,
    /// Docker names of the networks on the engine this agent did not make (another
    /// agent's, this node's former data dir's, made by hand). A stack reuses one of
    /// its name, so the reconciler does not create it again (that would plan the
    /// same action at every pass), and never removes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unowned_networks: Vec<String>,
    /// The same for volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unowned_volumes: Vec<String>,
}

/// A network or volume roost created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedResource {
    /// Docker-side name.
    pub name: String,
    pub stack: String,
    /// Compose-side name (`default`, `db-data`).
    pub resource: String,
    /// Networks only: the host's interface for it (`br-<id>`) and its IPv4 subnet
    /// (`172.18.0.0/16`), which the cluster network needs to steer its containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
}

/// A container labelled [`crate::labels::MANAGED`], as its labels and state say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub stack: String,
    pub service: String,
    pub slot: u32,
    pub config_hash: String,
    pub state: ContainerState,
    pub health: Health,
    /// Published ports as `HOST_IP:HOST_PORT->CONTAINER_PORT/PROTO`.
    pub ports: Vec<String>,
    /// Unix seconds the container was created.
    pub created: i64,
    /// The container's IPv4 address on each network it joined, by Docker network name.
    /// The cluster network reaches a replica there (from its own node only).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub addresses: std::collections::BTreeMap<String, String>,
    /// The TCP ports the container exposes (published or not), so the ingress can
    /// reach a route without a port at the image's single one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<u16>,
}

impl ObservedContainer {
    /// Running, and healthy where a healthcheck says: a replica that should get work.
    pub fn serving(&self) -> bool {
        self.state == ContainerState::Running && matches!(self.health, Health::Healthy | Health::None)
    }

    /// Its IPv4 address on one of its networks (any: every one is reachable from its
    /// own node), for reaching it from the node.
    pub fn ipv4(&self) -> Option<std::net::Ipv4Addr> {
        self.addresses.values().find_map(|a| a.parse().ok())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state")]
pub enum ContainerState {
    /// Created but never started, or start failed.
    Created,
    Running,
    /// Paused by someone (roost never pauses); counts as not serving.
    Paused,
    Restarting,
    /// Stopped with this exit code (`None` when Docker did not say).
    Exited { code: Option<i64> },
    /// Being removed or dead.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No healthcheck configured.
    None,
    Starting,
    Healthy,
    Unhealthy,
}
