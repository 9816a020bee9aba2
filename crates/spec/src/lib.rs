//! The normalized stack model shared by every layer of roost.
//!
//! A [`Stack`] is what a Compose project means once it has been loaded: files merged,
//! variables interpolated, `env_file`s read, relative paths made absolute, short syntax
//! expanded and defaults filled. It holds no YAML details and needs no IO to interpret,
//! so the same value is what the CLI sends, what the agent stores (and later Raft
//! replicates), what the reconciler plans from and what the Docker driver maps to API
//! calls. `roost config` prints it.
//!
//! Names of networks and volumes here are the *Compose* names (`default`, `db-data`);
//! the Docker-side names (`<stack>_default`) are derived by the driver.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One deployed Compose project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Project name: `-p`, else top-level `name:`, else the folder name (normalized as
    /// Compose does: lowercase, only `[a-z0-9_-]`).
    pub name: String,
    pub services: BTreeMap<String, Service>,
    /// Every network the services use. `default` is present when any service uses it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
}

/// One service, fully normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: String,
    /// Exec form. A Compose string command is split with shell-words rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `env_file` contents first, then `environment` over them. A variable listed
    /// without a value and unset in the environment is left out, as Compose does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Ports exposed to other containers only (documentation in Docker; kept as given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    /// Networks this service joins, by Compose name. Never empty after loading: a
    /// service that names none joins `default`.
    #[serde(default)]
    pub networks: BTreeMap<String, ServiceNetwork>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// When roost restarts a container of this service that stopped.
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `container_name`: roost names containers itself (replicas cannot share a name),
    /// so this is one more name the service answers to on its networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
    /// From `gpus:` and `deploy.resources.reservations.devices`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_requests: Vec<DeviceRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `tmpfs:` entries as `PATH[:OPTIONS]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `deploy.replicas`, else `scale`, else 1.
    pub replicas: u32,
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Placement::is_empty")]
    pub placement: Placement,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    /// `network_mode`: `host`, `none`, `bridge`, `service:NAME` or `container:NAME`.
    /// When set, `networks` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// `extra_hosts` as `HOST:IP`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin_open: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// OCI runtime (`nvidia`, `runc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    /// `pull_policy`: whether the agent may pull a missing image.
    #[serde(default)]
    pub pull_policy: PullPolicy,
    /// The service's `x-roost` mapping, kept verbatim for later issues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_roost: Option<serde_json::Value>,
    /// Ingress routes to this service, from its Traefik labels and `x-roost.routes`
    /// (read when loading, so stored state and the proxy never parse labels). Defaulted
    /// so state stored before routes existed still loads; skipped when empty so the
    /// config hash of a service without routes is unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<roost_routes::Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Container port.
    pub target: u16,
    /// Host port or range (`8080`, `8080-8081`); `None` lets Docker choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    pub kind: MountKind,
    /// Volume: the Compose volume name (a key of [`Stack::volumes`]), or `None` for an
    /// anonymous volume. Bind: an absolute host path. Tmpfs: `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Bind only: create the host path if missing (Compose's default for short syntax).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_host_path: bool,
    /// Tmpfs only: size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub condition: DependencyCondition,
    /// `required: false` lets the service start when the dependency is missing.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Docker form: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
}

/// When a stopped container is started again. Merges Compose's `restart:` and
/// `deploy.restart_policy` (the latter wins, as in `docker stack deploy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    pub condition: RestartCondition,
    /// Base delay before a restart; roost doubles it per consecutive failure.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Give up after this many consecutive failed restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

impl Default for RestartPolicy {
    /// With neither `restart:` nor `deploy.restart_policy`, roost restarts always, as
    /// `docker stack deploy` does: an orchestrator keeps services running.
    fn default() -> Self {
        RestartPolicy { condition: RestartCondition::Any, delay: None, max_attempts: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    /// `restart: "no"` / `condition: none`: a stopped container stays stopped.
    None,
    /// `on-failure`: restart only after a non-zero exit.
    OnFailure,
    /// `always`, `unless-stopped`, `condition: any`.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceMapping {
    pub host: String,
    pub container: String,
    /// cgroup permissions, `rwm` by default.
    pub permissions: String,
}

/// A Docker DeviceRequest (GPUs and other driver-managed devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `-1` means all devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    /// Each inner list is an AND of capabilities; the outer list an OR (Docker's form).
    pub capabilities: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "ResourceSet::is_empty")]
    pub limits: ResourceSet,
    #[serde(default, skip_serializing_if = "ResourceSet::is_empty")]
    pub reservations: ResourceSet,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.reservations.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourceSet {
    /// CPUs as a fraction (`0.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

impl ResourceSet {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.pids.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    pub parallelism: u32,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// `pause`, `continue` or `rollback`.
    pub failure_action: String,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failure_ratio: Option<f64>,
    /// `stop-first` or `start-first`.
    pub order: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// Spread preferences, as the label expression (`node.labels.zone`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<String>,
}

impl Placement {
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty() && self.preferences.is_empty()
    }
}

/// A service's use of a top-level secret or config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// Key in [`Stack::secrets`] / [`Stack::configs`].
    pub source: String,
    /// Absolute path inside the container (`/run/secrets/<source>` for secrets,
    /// `/<source>` for configs unless given).
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Pull only when the image is not present locally (Compose's default).
    #[default]
    Missing,
    Always,
    Never,
    /// `build`: roost does not build; treated as `never` with a warning at load time.
    Build,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// `external: true`: roost uses but never creates or removes it; `name` is the
    /// Docker name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// Docker-side name when given explicitly (`name:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How roost replicates the volume between nodes (`x-roost:` on the volume). Only
    /// named, non-external volumes of stateful services are replicated.
    #[serde(default, skip_serializing_if = "Replication::is_default")]
    pub replication: Replication,
}

/// A volume's replication settings, from `x-roost:` on a top-level volume:
///
/// ```yaml
/// volumes:
///   data:
///     x-roost:
///       replicate: true      # false: the volume stays on the node that made it
///       interval: 10s        # a snapshot this often (1s to 24h)
///       copies: 3            # nodes holding it, the primary included (1 to 3)
///       consistency: pause   # pause | none | hook
///       hook: "pg_dump -U postgres -f /var/lib/postgresql/data/dump.sql"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    pub replicate: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Nodes holding a copy, the primary included; the default is every eligible
    /// non-witness node, at most [`Replication::MAX_COPIES`].
    pub copies: u8,
    pub consistency: Consistency,
}

impl Replication {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
    pub const MAX_COPIES: u8 = 3;

    pub fn is_default(&self) -> bool {
        *self == Replication::default()
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication { replicate: true, interval: Self::DEFAULT_INTERVAL, copies: Self::MAX_COPIES, consistency: Consistency::Pause }
    }
}

/// How a snapshot is made consistent while it reads the volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// `docker pause` the containers mounting the volume while the snapshot reads it:
    /// crash-consistent (a database recovers as after a power cut).
    Pause,
    /// Read while the service writes: for media and big file trees.
    None,
    /// Run this command in the service's container (`sh -c`) first; its output lands in
    /// the same snapshot (a `pg_dump`, say). The volume is not paused.
    Hook(String),
}

/// A top-level secret or config. roost supports the file-based form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileObject {
    /// Absolute path on the host the stack was deployed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `environment:` form: the variable's value captured at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl Stack {
    /// The Docker-side name of a Compose network of this stack.
    /// An external network without `name:` is called by its key, as in Compose.
    pub fn docker_network_name(&self, network: &str) -> String {
        match self.networks.get(network) {
            Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
            Some(n) if n.external => network.to_owned(),
            _ => format!("{}_{}", self.name, network),
        }
    }

    /// The Docker-side name of a Compose volume of this stack.
    /// An external volume without `name:` is called by its key, as in Compose.
    pub fn docker_volume_name(&self, volume: &str) -> String {
        match self.volumes.get(volume) {
            Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
            Some(v) if v.external => volume.to_owned(),
            _ => format!("{}_{}", self.name, volume),
        }
    }
}
