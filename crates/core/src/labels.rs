//! The labels roost puts on every Docker object it owns, and how names are derived.
//!
//! Labels are the only link between a container and the desired state, so an agent
//! that restarts (or a new agent on the same engine) adopts what it finds.

/// Present (value `"true"`) on every container, network and volume roost created.
pub const MANAGED: &str = "io.roost.managed";
/// The id of the agent that created the object. An agent observes and removes only
/// its own, so agents sharing an engine never fight over containers.
pub const OWNER: &str = "io.roost.owner";
/// On containers of stateful services (see `reconcile::is_stateful`): what fencing kills.
pub const STATEFUL: &str = "io.roost.stateful";
/// Stack (Compose project) name.
pub const STACK: &str = "io.roost.stack";
/// Service name within the stack.
pub const SERVICE: &str = "io.roost.service";
/// Replica slot, `1..=replicas`.
pub const SLOT: &str = "io.roost.slot";
/// Hash of the service configuration the container was created from.
pub const CONFIG_HASH: &str = "io.roost.config-hash";
/// Compose name of a network or volume (on networks and volumes only).
pub const RESOURCE: &str = "io.roost.resource";

/// Compose-compatible labels, so `docker compose ls/ps` and tools that read them
/// (Portainer, Watchtower) see roost stacks as projects.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
pub const COMPOSE_NUMBER: &str = "com.docker.compose.container-number";

/// Container name of a replica: `<stack>-<service>-<slot>`, as Compose v2 names them.
pub fn container_name(stack: &str, service: &str, slot: u32) -> String {
    format!("{stack}-{service}-{slot}")
}
