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
//!
//! Errors answer with a 4xx/5xx status and an [`ErrorBody`].
#![forbid(unsafe_code)]

pub mod client;

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PsResponse {
    pub node: String,
    /// Set when the agent could not reach its container engine on the last try.
    pub engine_error: Option<String>,
    pub replicas: Vec<ReplicaStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}
