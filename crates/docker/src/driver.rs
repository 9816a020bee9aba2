//! The IO half of the driver: thin calls to the engine through bollard.
//!
//! Each method does as few engine calls as it can and maps errors to [`DriverError`];
//! all decisions about *what* to send live in [`crate::config`].

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, InspectContainerOptions, ListContainersOptions,
    ListNetworksOptions, ListVolumesOptions, LogsOptions, RemoveContainerOptions,
    RemoveVolumeOptions, StopContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use roost_core::labels;
use roost_core::name_clash::NameHolder;
use roost_core::observed::{Observed, ObservedResource};
use roost_spec::{PullPolicy, Stack};

use crate::config::{self, container_config, extra_networks};
use crate::error::{address_pools_exhausted, is_not_found, is_not_modified, port_in_use};
use crate::status::observed_container;
use crate::DriverError;

/// Default engine address when neither the caller nor `DOCKER_HOST` names one.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Bound on pulling a missing image: registries that hang must not stall the agent.
const PULL_TIMEOUT: Duration = Duration::from_secs(60);
/// Per-request timeout (response headers) for ordinary calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to one Docker-compatible engine (Docker ≥ 20.10 or Podman's socket).
///
/// Cheap to clone: bollard's client shares one connection pool.
#[derive(Debug, Clone)]
pub struct Driver {
    docker: Docker,
    host: String,
    /// The agent id this driver creates for and observes; see [`Driver::owned_by`].
    owner: Option<String>,
}

/// One container event, only used by the agent as a hint to observe again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container_id: String,
    /// Docker's action as sent: `create`, `start`, `die`, `destroy`, `oom`,
    /// `health_status: healthy` (the health ones carry the status after a colon), ...
    pub action: String,
}

/// Whether an object with these labels is this driver's: managed by roost, and by
/// `owner` when one is set (what [`managed_filter`] selects).
fn is_owned(labels: Option<&HashMap<String, String>>, owner: Option<&str>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    label(labels::MANAGED) == Some("true") && owner.is_none_or(|o| label(labels::OWNER) == Some(o))
}

/// Docker ANDs label filters: managed by roost, and by this owner when one is set.
fn managed_filter(owner: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut label = vec![format!("{}=true", labels::MANAGED)];
    if let Some(owner) = owner {
        label.push(format!("{}={owner}", labels::OWNER));
    }
    HashMap::from([("label".to_string(), label)])
}

impl Driver {
    /// Connects to `host`, else `DOCKER_HOST`, else `unix:///var/run/docker.sock`, and
    /// negotiates the API version down to what the engine speaks (1.41 on Debian's
    /// Docker 20.10; Podman's compat socket says its own). `unix://`, `tcp://` and
    /// `http://` URLs are accepted.
    ///
    /// # Errors
    /// [`DriverError::Unreachable`] when the engine does not answer the version probe;
    /// [`DriverError::InvalidSpec`] for an unsupported URL scheme.
    pub async fn connect(host: Option<&str>) -> Result<Driver, DriverError> {
        let host = match host {
            Some(h) => h.to_string(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_HOST.to_string()),
        };
        let secs = REQUEST_TIMEOUT.as_secs();
        let docker = if host.starts_with("unix://") {
            Docker::connect_with_unix(&host, secs, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, secs, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with('/') {
            Docker::connect_with_unix(&host, secs, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DriverError::InvalidSpec {
                detail: format!("unsupported Docker host `{host}` (use unix:// or tcp://)"),
            });
        }
        .map_err(|e| DriverError::from_bollard(e, &host))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| DriverError::from_bollard(e, &host))?;
        Ok(Driver { docker, host, owner: None })
    }

    /// Scopes the driver to one agent: what it creates carries [`labels::OWNER`] =
    /// `owner`, and [`Driver::observe`] and [`Driver::events`] see only that owner's
    /// objects. Two agents (or an agent and a test) sharing an engine then never remove
    /// each other's containers. Existing networks and volumes are reused by name
    /// whoever created them, so data survives a reset agent.
    pub fn owned_by(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    fn owner_labels(&self, labels: &mut Option<HashMap<String, String>>) {
        if let Some(owner) = &self.owner {
            labels.get_or_insert_with(HashMap::new).insert(labels::OWNER.to_string(), owner.clone());
        }
    }

    /// The agent id this driver creates for, if it is scoped to one.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The engine address this driver talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying client, for callers that need an API this driver does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub(crate) fn err(&self, e: bollard::errors::Error) -> DriverError {
        DriverError::from_bollard(e, &self.host)
    }

    /// # Errors
    /// [`DriverError::Unreachable`] when the engine does not answer.
    pub async fn ping(&self) -> Result<(), DriverError> {
        self.docker.ping().await.map(|_| ()).map_err(|e| self.err(e))
    }

    /// Everything labelled [`labels::MANAGED`]: containers (stopped ones too), networks
    /// and volumes. One list call per kind; no per-container inspect (health and exit
    /// codes come from the status text, see [`crate::status`]). Networks and volumes
    /// are listed whole: those of other owners, which a stack reuses by name, are
    /// named in [`Observed::unowned_networks`] and [`Observed::unowned_volumes`].
    ///
    /// # Errors
    /// Any failed list call.
    pub async fn observe(&self) -> Result<Observed, DriverError> {
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(managed_filter(self.owner.as_deref())),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.err(e))?;
        let owner = self.owner.as_deref();
        let (networks, unowned_networks): (Vec<_>, Vec<_>) = self
            .docker
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .partition(|n| is_owned(n.labels.as_ref(), owner));
        let (volumes, unowned_volumes): (Vec<_>, Vec<_>) = self
            .docker
            .list_volumes(None::<ListVolumesOptions>)
            .await
            .map_err(|e| self.err(e))?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .partition(|v| is_owned(Some(&v.labels), owner));

        let resource = |name: String, l: Option<&HashMap<String, String>>| ObservedResource {
            name,
            stack: l.and_then(|l| l.get(labels::STACK)).cloned().unwrap_or_default(),
            resource: l.and_then(|l| l.get(labels::RESOURCE)).cloned().unwrap_or_default(), interface: None, subnet: None
        };
        let mut observed = Observed {
            containers: containers.iter().map(observed_container).collect(),
            networks: networks
                .into_iter()
                .map(|n| {
                    let mut r = resource(n.name.clone().unwrap_or_default(), n.labels.as_ref());
                    r.interface = crate::status::bridge_interface(&n);
                    r.subnet = crate::status::ipv4_subnet(&n);
                    r
                })
                .collect(),
            volumes: volumes.into_iter().map(|v| resource(v.name.clone(), Some(&v.labels))).collect(),
            unowned_networks: unowned_networks.into_iter().filter_map(|n| n.name).collect(),
            unowned_volumes: unowned_volumes.into_iter().map(|v| v.name).collect(),
        };
        // Stable order, so observations compare and print deterministically.
        observed.containers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        observed.networks.sort_by(|a, b| a.name.cmp(&b.name));
        observed.volumes.sort_by(|a, b| a.name.cmp(&b.name));
        observed.unowned_networks.sort();
        observed.unowned_volumes.sort();
        Ok(observed)
    }

    /// Whether a network with exactly this name exists. The `name` filter matches
    /// substrings, and inspect-by-name also matches ID prefixes, hence the exact check.
    async fn network_exists(&self, name: &str) -> Result<bool, DriverError> {
        let found = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(HashMap::from([("name".to_string(), vec![name.to_string()])])),
            }))
            .await
            .map_err(|e| self.err(e))?;
        Ok(found.iter().any(|n| n.name.as_deref() == Some(name)))
    }

    /// Creates the stack's network `network` (Compose name) unless it exists. External
    /// networks are never created, only checked.
    ///
    /// API 1.41 still allows two networks with one name (`CheckDuplicate` defaults to
    /// false and bollard's model no longer has the field), so the existence check
    /// comes first; concurrent calls for the same network could still race.
    ///
    /// # Errors
    /// [`DriverError::MissingExternal`] for an external network that does not exist;
    /// [`DriverError::AddressPoolsExhausted`] when the engine has no subnet left for
    /// it; engine errors otherwise.
    pub async fn ensure_network(&self, stack: &Stack, network: &str) -> Result<(), DriverError> {
        let name = stack.docker_network_name(network);
        let external = stack.networks.get(network).is_some_and(|n| n.external);
        if self.network_exists(&name).await? {
            return Ok(());
        }
        if external {
            return Err(DriverError::MissingExternal { kind: "network", name });
        }
        let mut body: NetworkCreateRequest = config::network_config(stack, network);
        self.owner_labels(&mut body.labels);
        match self.docker.create_network(body).await {
            Ok(_) => Ok(()),
            Err(e) => match self.err(e) {
                DriverError::Conflict { .. } => Ok(()),
                DriverError::Api { message, .. } if address_pools_exhausted(&message) => {
                    Err(DriverError::AddressPoolsExhausted { network: name, detail: message })
                }
                other => Err(other),
            },
        }
    }

    /// Creates the stack's volume `volume` (Compose name) unless it exists. External
    /// volumes are never created, only checked.
    ///
    /// # Errors
    /// [`DriverError::MissingExternal`] for an external volume that does not exist;
    /// engine errors otherwise.
    pub async fn ensure_volume(&self, stack: &Stack, volume: &str) -> Result<(), DriverError> {
        let name = stack.docker_volume_name(volume);
        match self.docker.inspect_volume(&name).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err(e)),
        }
        if stack.volumes.get(volume).is_some_and(|v| v.external) {
            return Err(DriverError::MissingExternal { kind: "volume", name });
        }
        let mut body = config::volume_config(stack, volume);
        self.owner_labels(&mut body.labels);
        self.docker
            .create_volume(body)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Makes sure `image` is present, pulling it (bounded by 60 s) when the policy
    /// allows. Only a missing image is pulled, also under `pull_policy: always`:
    /// refreshing a present image is an explicit operation, not a side effect of
    /// creating a replica.
    async fn ensure_image(&self, image: &str, policy: PullPolicy) -> Result<(), DriverError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.err(e)),
        }
        if matches!(policy, PullPolicy::Never | PullPolicy::Build) {
            return Err(DriverError::ImageNotFound {
                image: image.to_string(),
                detail: "pull_policy forbids pulling it (never/build); load or build it on this node".into(),
            });
        }
        let (from_image, tag) = split_image_tag(image);
        let opts = CreateImageOptions { from_image: Some(from_image), tag, ..Default::default() };
        let pull = self.docker.create_image(Some(opts), None, None).try_for_each(|info| async move {
            match info.error_detail.and_then(|d| d.message) {
                Some(msg) => Err(bollard::errors::Error::DockerStreamError { error: msg }),
                None => Ok(()),
            }
        });
        let failed = |detail: String| DriverError::ImageNotFound {
            image: image.to_string(),
            detail: format!("pulling it failed: {detail}"),
        };
        match tokio::time::timeout(PULL_TIMEOUT, pull).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => match self.err(e) {
                u @ DriverError::Unreachable { .. } => Err(u),
                DriverError::Api { message, .. } => Err(failed(message)),
                other => Err(failed(other.to_string())),
            },
            Err(_) => Err(failed(format!("no answer within {} s", PULL_TIMEOUT.as_secs()))),
        }
    }

    /// Creates (does not start) replica `slot` of `service`, named
    /// [`labels::container_name`], joined to its first network at create time and to
    /// the others right after. Pulls a missing image if the pull policy allows.
    ///
    /// # Errors
    /// [`DriverError::ImageNotFound`] when the image is missing and cannot be pulled;
    /// [`DriverError::Conflict`] when a container of that name exists (the caller
    /// asks [`Driver::name_holder`] whose it is); [`DriverError::Unsupported`]/[`DriverError::InvalidSpec`]
    /// from [`container_config`]. When joining an extra network fails, the created
    /// container is removed again and the error returned.
    pub async fn create_container(
        &self,
        stack: &Stack,
        service: &str,
        slot: u32,
        config_hash: &str,
    ) -> Result<String, DriverError> {
        let name = labels::container_name(&stack.name, service, slot);
        self.create_container_named(stack, service, slot, config_hash, &name).await
    }

    /// As [`Driver::create_container`], under another name: a start-first update
    /// starts the new copy while the old one still holds the usual name.
    ///
    /// # Errors
    /// As [`Driver::create_container`].
    pub async fn create_container_named(
        &self,
        stack: &Stack,
        service: &str,
        slot: u32,
        config_hash: &str,
        name: &str,
    ) -> Result<String, DriverError> {
        let name = name.to_owned();
        let mut body = container_config(stack, service, slot, config_hash)?;
        self.owner_labels(&mut body.labels);
        let extra = extra_networks(stack, service)?;
        let svc = config::service(stack, service)?;
        if roost_core::reconcile::is_stateful(svc) {
            // What the fence watchdog kills when this node's lease runs out.
            body.labels.get_or_insert_with(HashMap::new).insert(labels::STATEFUL.to_string(), "true".to_string());
        }
        self.ensure_image(&svc.image, svc.pull_policy).await?;
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions { name: Some(name.clone()), ..Default::default() }),
                body,
            )
            .await
            .map_err(|e| match self.err(e) {
                DriverError::Conflict { detail } => DriverError::Conflict {
                    detail: format!("container `{name}` already exists: {detail}"),
                },
                DriverError::Api { status: Some(404), message } if message.contains("image") => {
                    DriverError::ImageNotFound {
                        image: svc.image.clone(),
                        detail: format!("the engine could not find it: {message}"),
                    }
                }
                other => other,
            })?;
        for (network, endpoint) in extra {
            let req = NetworkConnectRequest { container: created.id.clone(), endpoint_config: Some(endpoint) };
            if let Err(e) = self.docker.connect_network(&network, req).await {
                let err = self.err(e);
                let _ = self.remove_container(&created.id, None, Some(Duration::ZERO)).await;
                return Err(err);
            }
        }
        for w in created.warnings.iter().filter(|w| !w.is_empty()) {
            tracing::warn!(container = %name, "engine warning: {w}");
        }
        Ok(created.id)
    }

    /// The container that holds `name`, with its labels, or `None` when no container
    /// has that name (any more).
    ///
    /// # Errors
    /// Engine errors other than not-found.
    pub async fn name_holder(&self, name: &str) -> Result<Option<NameHolder>, DriverError> {
        // Inspect by name also matches id prefixes: check the name it answers with.
        match self.docker.inspect_container(name, None::<InspectContainerOptions>).await {
            Ok(c) if c.name.as_deref().map(|n| n.trim_start_matches('/')) == Some(name) => Ok(Some(NameHolder {
                id: c.id.unwrap_or_default(),
                labels: c.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect(),
            })),
            Ok(_) => Ok(None),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Starts a created container.
    ///
    /// # Errors
    /// [`DriverError::PortInUse`] when a published port is taken ("port is already
    /// allocated" / "address already in use"); engine errors otherwise.
    pub async fn start_container(&self, id: &str) -> Result<(), DriverError> {
        match self.docker.start_container(id, None).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_modified(&e) => Ok(()), // already running
            Err(e) => Err(match self.err(e) {
                DriverError::Api { message, .. } if port_in_use(&message).is_some() => {
                    DriverError::PortInUse { port: port_in_use(&message).unwrap_or_default(), detail: message }
                }
                other => other,
            }),
        }
    }

    /// Stops (with `stop_signal`, waiting `grace` before SIGKILL) and removes a
    /// container with its anonymous volumes. A container that is already gone is fine.
    ///
    /// API 1.41 ignores the stop request's `signal` parameter (added in 1.42); the
    /// container's own `StopSignal`, set from the service at create time, applies then.
    ///
    /// # Errors
    /// Engine errors other than not-found.
    pub async fn remove_container(
        &self,
        id: &str,
        stop_signal: Option<&str>,
        grace: Option<Duration>,
    ) -> Result<(), DriverError> {
        let t = grace.map(|g| i32::try_from(g.as_secs()).unwrap_or(i32::MAX));
        // The stop call blocks for up to the grace period; give it room beyond that.
        let docker = self
            .docker
            .clone()
            .with_timeout(REQUEST_TIMEOUT + grace.unwrap_or(Duration::from_secs(10)));
        let stop = StopContainerOptions { signal: stop_signal.map(str::to_string), t };
        match docker.stop_container(id, Some(stop)).await {
            Ok(()) => {}
            Err(e) if is_not_modified(&e) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            // A failed stop is not fatal: the forced remove below kills the container.
            Err(e) => tracing::debug!(container = %id, "stop failed, removing by force: {e}"),
        }
        let rm = RemoveContainerOptions { v: true, force: true, link: false };
        match self.docker.remove_container(id, Some(rm)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => match self.err(e) {
                // "removal of container ... is already in progress"
                DriverError::Conflict { detail } if detail.contains("already in progress") => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Removes a network by Docker name. Not-found is fine.
    ///
    /// # Errors
    /// Engine errors, e.g. [`DriverError::Api`] 403 while containers still use it.
    pub async fn remove_network(&self, name: &str) -> Result<(), DriverError> {
        match self.docker.remove_network(name).await {
            Err(e) if !is_not_found(&e) => Err(self.err(e)),
            _ => Ok(()),
        }
    }

    /// Removes a volume by Docker name. Not-found is fine.
    ///
    /// # Errors
    /// [`DriverError::Conflict`] while a container still uses it; other engine errors.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DriverError> {
        match self.docker.remove_volume(name, Some(RemoveVolumeOptions { force: false })).await {
            Err(e) if !is_not_found(&e) => Err(self.err(e)),
            _ => Ok(()),
        }
    }

    /// Kills (SIGKILL, no grace) every running stateful container of this driver's
    /// owner: the fence watchdog's one action. Returns how many it killed.
    ///
    /// # Errors
    /// The engine cannot list containers.
    pub async fn kill_stateful(&self) -> Result<usize, DriverError> {
        let mut filters = managed_filter(self.owner.as_deref());
        filters.get_mut("label").expect("label filter").push(format!("{}=true", labels::STATEFUL));
        filters.insert("status".to_string(), vec!["running".to_string()]);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions { all: false, filters: Some(filters), ..Default::default() }))
            .await
            .map_err(|e| self.err(e))?;
        let mut killed = 0;
        for c in list {
            if let Some(id) = c.id {
                let opts = bollard::query_parameters::KillContainerOptions { signal: "SIGKILL".to_string() };
                if self.docker.kill_container(&id, Some(opts)).await.is_ok() {
                    killed += 1;
                }
            }
        }
        Ok(killed)
    }

    /// Events of managed containers (label [`labels::MANAGED`]), from now on. The
    /// stream ends or yields [`DriverError::Unreachable`] when the engine goes away;
    /// the caller reconnects and observes again.
    ///
    /// # Cancel safety
    /// Dropping the stream, or a `next()` future in a `select!`, loses nothing the
    /// agent relies on: events are only wake-ups, the state itself is re-read with
    /// [`Driver::observe`]. Dropping closes the HTTP connection.
    pub fn events(&self) -> impl Stream<Item = Result<ContainerEvent, DriverError>> + Send + 'static {
        let mut filters = managed_filter(self.owner.as_deref());
        filters.insert("type".to_string(), vec!["container".to_string()]);
        let host = self.host.clone();
        // No response timeout: an idle engine sends nothing for a long time.
        let docker = self.docker.clone().with_timeout(Duration::from_secs(u64::from(u32::MAX)));
        docker
            .events(Some(EventsOptions { filters: Some(filters), ..Default::default() }))
            .map(move |r| match r {
                Ok(ev) => Ok(ContainerEvent {
                    container_id: ev.actor.and_then(|a| a.id).unwrap_or_default(),
                    action: ev.action.unwrap_or_default(),
                }),
                Err(e) => Err(DriverError::from_bollard(e, &host)),
            })
    }

    /// Output of a container (stdout and stderr interleaved, no timestamps), all of it
    /// or the last `tail` lines, following new output if `follow`.
    ///
    /// # Cancel safety
    /// Dropping the stream stops reading; nothing is lost on the engine side.
    pub fn logs(
        &self,
        id: &str,
        follow: bool,
        tail: Option<u64>,
    ) -> impl Stream<Item = Result<Bytes, DriverError>> + Send + 'static {
        let host = self.host.clone();
        let docker = if follow {
            self.docker.clone().with_timeout(Duration::from_secs(u64::from(u32::MAX)))
        } else {
            self.docker.clone()
        };
        let opts = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            timestamps: false,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..Default::default()
        };
        docker.logs(id, Some(opts)).map(move |r| match r {
            Ok(out) => Ok(out.into_bytes()),
            Err(e) => Err(DriverError::from_bollard(e, &host)),
        })
    }
}

/// Splits `repo[:tag]` for the pull API, defaulting the tag to `latest` (an empty tag
/// would pull every tag of the repository). Digests stay in the repository part.
fn split_image_tag(image: &str) -> (String, Option<String>) {
    if image.contains('@') {
        return (image.to_string(), None);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (image[..at].to_string(), Some(image[at + 1..].to_string()))
        }
        None => (image.to_string(), Some("latest".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::split_image_tag;

    #[test]
    fn image_tags() {
        let t = |s: &str| split_image_tag(s);
        assert_eq!(t("busybox"), ("busybox".into(), Some("latest".into())));
        assert_eq!(t("busybox:1.36"), ("busybox".into(), Some("1.36".into())));
        assert_eq!(t("reg:5000/a/b"), ("reg:5000/a/b".into(), Some("latest".into())));
        assert_eq!(t("reg:5000/a/b:v2"), ("reg:5000/a/b".into(), Some("v2".into())));
        assert_eq!(t("a/b@sha256:abc"), ("a/b@sha256:abc".into(), None));
    }
}
