//! The API between the `roost` CLI and its agent.
//!
//! JSON over HTTP/1.1 on the agent's Unix socket (`DIR/roost.sock`, owner-only). The
//! types here are the whole contract; [`client::Client`] is the CLI's side of it.
//!
//! | method | path                          | body → answer                               |
//! |--------|-------------------------------|---------------------------------------------|
//! | GET    | `/v1/info`                    | → [`Info`]                                  |
//! | PUT    | `/v1/stacks/{name}`           | [`DeployRequest`] → [`DeployResponse`]      |
//! | DELETE | `/v1/stacks/{name}?volumes=b` | → [`RemoveResponse`]                        |
//! | GET    | `/v1/stacks`                  | → `Vec<`[`StackSummary`]`>`                 |
//! | GET    | `/v1/ps?stack=NAME`           | → [`PsResponse`]                            |
//! | GET    | `/v1/logs?stack&service&follow&tail` | → a text stream, `service-slot | line` |
//! | GET    | `/v1/ingress/ca`              | → [`CaResponse`] (makes the CA if needed)    |
//! | GET    | `/v1/ingress/acme`            | → `Vec<`[`AcmeResolverRow`]`>`              |
//! | PUT    | `/v1/ingress/acme/{resolver}` | [`AcmeSetRequest`] → [`AcmeResolverRow`]    |
//!
//! Errors answer with a 4xx/5xx status and an [`ErrorBody`].
#![forbid(unsafe_code)]

pub mod client;

pub use roost_core::placement::links::{Link, LinkKind};
pub use roost_core::status::ReplicaStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub node: String,
    pub version: String,
    /// Docker Engine version and API version, or why the engine is unreachable.
    pub engine: Result<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRequest {
    pub stack: roost_spec::Stack,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployResponse {
    pub stack: String,
    /// Increases with every deploy of this stack that changed it.
    pub generation: u64,
    /// Services whose containers will be created or replaced.
    pub changed_services: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveResponse {
    pub stack: String,
    pub removed_containers: usize,
    pub removed_networks: Vec<String>,
    pub removed_volumes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackSummary {
    pub name: String,
    pub generation: u64,
    pub services: usize,
    /// Name of the node the stack runs on.
    pub node: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PsResponse {
    pub node: String,
    /// Set when the agent could not reach its container engine on the last try.
    pub engine_error: Option<String>,
    pub replicas: Vec<ReplicaStatus>,
    /// depends_on, `network_mode: service:X` and `x-roost: together` pairs, and
    /// whether they cross nodes (`roost ps` lists the cross-node ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `roost token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
}

/// `roost join ADDR --token T`, sent to the joining node's own agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub addr: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    pub nodes: usize,
    /// Joined as a voter (else as a non-voter: the cluster already has 7 voters).
    pub voter: bool,
}

/// One row of `roost nodes`, as this node sees the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub addr: String,
    /// `voter`, `learner` or `witness` (a voter that runs no workloads).
    pub role: String,
    pub leader: bool,
    /// This is the node that answered.
    #[serde(rename = "self")]
    pub is_self: bool,
    pub reachable: bool,
    /// `roost drain` moved its replicas away; it gets none until `roost undrain`.
    #[serde(default)]
    pub draining: bool,
    /// Milliseconds since it last answered this node's probe (0 for itself).
    pub last_seen_ms: Option<u64>,
    /// The Raft log index it has applied, as its last probe answer said.
    #[serde(default)]
    pub applied: Option<u64>,
    /// How many log entries it is behind the node that answered.
    #[serde(default)]
    pub behind: Option<u64>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub cpus: u32,
    pub memory_bytes: u64,
    pub gpus: Vec<String>,
    pub devices: Vec<String>,
}

/// A member this many log entries behind shows as catching up, not active: it counts
/// as a voter but cannot yet serve what the cluster holds. (A busy cluster's healthy
/// members trail by a few entries between probes.)
pub const LAGGING_AFTER: u64 = 100;

impl NodeRow {
    /// The STATUS column of `roost nodes`: `active`, `draining`, or why it is not
    /// fully a member yet.
    pub fn status(&self) -> String {
        match self.behind {
            Some(n) if n > LAGGING_AFTER && self.reachable => format!("catching up ({n} entries behind)"),
            _ if self.draining => "draining".into(),
            _ => "active".into(),
        }
    }
}

/// `roost ca export`: the ingress CA certificate (no key), made on first use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaResponse {
    pub cert_pem: String,
}

/// `roost acme set`: where a resolver orders certificates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcmeSetRequest {
    /// The ACME directory URL (https).
    pub directory: String,
    /// Contact e-mail addresses for the CA's expiry notices.
    #[serde(default)]
    pub emails: Vec<String>,
    /// A PEM root the CA's HTTPS certificate chains to, for a private CA.
    #[serde(default)]
    pub root_ca_pem: Option<String>,
}

/// One ACME resolver as `roost acme show` prints it: no secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcmeResolverRow {
    pub name: String,
    pub directory: String,
    /// Whether `roost acme set` configured it (else: the built-in default).
    pub configured: bool,
    pub emails: Vec<String>,
    /// Whether an extra root CA is trusted for the directory.
    pub custom_root: bool,
    /// Whether an account is registered (the key stays in the cluster).
    pub account: bool,
}

#[cfg(test)]
mod node_status_tests {
    use super::*;

    fn row(reachable: bool, draining: bool, behind: Option<u64>) -> NodeRow {
        NodeRow {
            id: "1".into(),
            name: "h2".into(),
            addr: "10.0.0.2:4280".into(),
            role: "voter".into(),
            leader: false,
            is_self: false,
            reachable,
            draining,
            last_seen_ms: Some(100),
            applied: behind.map(|b| 5000 - b),
            behind,
            labels: Default::default(),
            cpus: 2,
            memory_bytes: 1 << 30,
            gpus: vec![],
            devices: vec![],
        }
    }

    #[test]
    fn a_member_far_behind_shows_as_catching_up() {
        let cases = [
            (row(true, false, Some(0)), "active"),
            (row(true, false, Some(LAGGING_AFTER)), "active"),
            (row(true, false, Some(4200)), "catching up (4200 entries behind)"),
            (row(true, true, Some(4200)), "catching up (4200 entries behind)"),
            (row(true, true, Some(3)), "draining"),
            // Unreachable: REACHABLE says so; its last known index is stale.
            (row(false, false, Some(4200)), "active"),
            (row(true, false, None), "active"),
        ];
        for (row, want) in cases {
            assert_eq!(row.status(), want, "{row:?}");
        }
    }
}
