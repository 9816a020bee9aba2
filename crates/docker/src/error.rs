//! The driver's error type.
//!
//! Messages are written for a user reading `roost ps`: they say what failed, on which
//! object and, where there is one, what to do about it. The variants let the agent
//! tell apart what is worth retrying ([`DriverError::Unreachable`]) from what needs a
//! change to the stack or the node.

use bollard::errors::Error as BollardError;

/// Everything a [`crate::Driver`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The engine did not answer: socket missing, connection refused or reset, timeout.
    /// Transient from the agent's point of view: retry later.
    #[error("Docker engine at {host} is unreachable: {detail}")]
    Unreachable { host: String, detail: String },

    /// The image is not on this node and could not (or may not) be pulled.
    #[error("image `{image}` is not present on this node and {detail}")]
    ImageNotFound { image: String, detail: String },

    /// A published host port is taken by another container or process.
    #[error("host port {port} is already in use on this node: {detail}")]
    PortInUse { port: String, detail: String },

    /// Name already taken, object in use, or similar state conflict (HTTP 409).
    #[error("conflict: {detail}")]
    Conflict { detail: String },

    /// The engine has no subnet left for a new network: its address pools are used up.
    /// Docker would otherwise only say, later, that the network was not found.
    #[error(
        "network `{network}` cannot be created: Docker's address pools are used up ({detail}); \
         give Docker more with `default-address-pools` in /etc/docker/daemon.json, or remove networks \
         this node does not need (`docker network ls`, `docker network prune`)"
    )]
    AddressPoolsExhausted { network: String, detail: String },

    /// An `external: true` network or volume the stack relies on does not exist.
    #[error("external {kind} `{name}` does not exist on this node; create it first (`docker {kind} create {name}`)")]
    MissingExternal { kind: &'static str, name: String },

    /// The stack asks for something this driver cannot do (yet).
    #[error("unsupported: {detail}")]
    Unsupported { detail: String },

    /// The stack is inconsistent (unknown service, secret or config name).
    #[error("invalid stack: {detail}")]
    InvalidSpec { detail: String },

    /// Any other answer from the engine (`status` is `None` for stream or decode
    /// errors that carry no HTTP status).
    #[error("Docker API error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Api { status: Option<u16>, message: String },
}

impl DriverError {
    /// Whether the engine could not be reached at all (as opposed to refusing a request).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DriverError::Unreachable { .. })
    }

    /// HTTP status of an API error, if the engine answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            DriverError::Api { status, .. } => *status,
            DriverError::Conflict { .. } => Some(409),
            _ => None,
        }
    }

    /// Maps a bollard error; `host` names the engine in [`DriverError::Unreachable`].
    pub(crate) fn from_bollard(err: BollardError, host: &str) -> DriverError {
        match err {
            BollardError::DockerResponseServerError { status_code: 409, message } => {
                DriverError::Conflict { detail: message }
            }
            BollardError::DockerResponseServerError { status_code, message } => {
                DriverError::Api { status: Some(status_code), message }
            }
            BollardError::RequestTimeoutError
            | BollardError::IOError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::HyperLegacyError { .. }
            | BollardError::SocketNotFoundError(_) => {
                DriverError::Unreachable { host: host.to_string(), detail: err.to_string() }
            }
            other => DriverError::Api { status: None, message: other.to_string() },
        }
    }
}

/// Whether a bollard error is an HTTP 404 (object does not exist).
pub(crate) fn is_not_found(err: &BollardError) -> bool {
    matches!(err, BollardError::DockerResponseServerError { status_code: 404, .. })
}

/// Whether a bollard error is an HTTP 304 (nothing to do, e.g. already stopped).
pub(crate) fn is_not_modified(err: &BollardError) -> bool {
    matches!(err, BollardError::DockerResponseServerError { status_code: 304, .. })
}

/// Whether an engine's answer to a network create says its address pools are used up.
///
/// Docker 20.10 to 24 say `could not find an available, non-overlapping IPv4 address
/// pool among the defaults to assign to the network`, older ones `could not find an
/// available predefined network`, newer ones `all predefined address pools have been
/// fully subnetted`.
pub fn address_pools_exhausted(message: &str) -> bool {
    ["non-overlapping IPv4 address pool", "available predefined network", "address pools have been fully subnetted"]
        .iter()
        .any(|m| message.contains(m))
}

/// The host port named in an engine's "port taken" message, if the message is one.
///
/// Docker 20.10 says either `Bind for 0.0.0.0:8080 failed: port is already allocated`
/// (another container holds it) or `listen tcp4 0.0.0.0:8080: bind: address already in
/// use` (a host process holds it); Podman says the latter too.
pub fn port_in_use(message: &str) -> Option<String> {
    if !(message.contains("port is already allocated") || message.contains("address already in use")) {
        return None;
    }
    let addr = if let Some(i) = message.find("Bind for ") {
        let rest = &message[i + "Bind for ".len()..];
        rest.split(" failed").next().unwrap_or("")
    } else if let Some(i) = message.find("listen ") {
        // `listen tcp4 0.0.0.0:8080: bind: ...`
        let rest = &message[i + "listen ".len()..];
        rest.split_whitespace().nth(1).unwrap_or("").trim_end_matches(':')
    } else {
        ""
    };
    let port = addr.rsplit(':').next().unwrap_or("").trim();
    if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
        Some(port.to_string())
    } else {
        Some("?".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_in_use_messages() {
        let cases = [
            ("driver failed programming external connectivity on endpoint x-web-1 (abc): Bind for 0.0.0.0:8080 failed: port is already allocated", Some("8080")),
            ("driver failed programming external connectivity on endpoint x (abc): Error starting userland proxy: listen tcp4 0.0.0.0:18080: bind: address already in use", Some("18080")),
            ("Bind for [::]:443 failed: port is already allocated", Some("443")),
            ("address already in use", Some("?")),
            ("no such container", None),
        ];
        for (msg, want) in cases {
            assert_eq!(port_in_use(msg).as_deref(), want, "{msg}");
        }
    }

    #[test]
    fn used_up_address_pools_are_recognized_and_named_with_the_fix() {
        let cases = [
            ("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network", true),
            ("failed to parse pool request for address space \"LocalDefault\" pool \"\" subpool \"\": could not find an available predefined network", true),
            ("all predefined address pools have been fully subnetted", true),
            ("network with name x already exists", false),
            ("Pool overlaps with other one on this address space", false),
        ];
        for (msg, want) in cases {
            assert_eq!(address_pools_exhausted(msg), want, "{msg}");
        }
        let e = DriverError::AddressPoolsExhausted { network: "xnode_default".into(), detail: cases[0].0.into() };
        assert_eq!(
            e.to_string(),
            "network `xnode_default` cannot be created: Docker's address pools are used up (could not find an available, \
             non-overlapping IPv4 address pool among the defaults to assign to the network); give Docker more with \
             `default-address-pools` in /etc/docker/daemon.json, or remove networks this node does not need \
             (`docker network ls`, `docker network prune`)"
        );
    }

    #[test]
    fn messages_read_well() {
        let e = DriverError::ImageNotFound {
            image: "x".into(),
            detail: "pulling it failed: no registry".into(),
        };
        assert_eq!(e.to_string(), "image `x` is not present on this node and pulling it failed: no registry");
        let e = DriverError::Api { status: Some(500), message: "boom".into() };
        assert_eq!(e.to_string(), "Docker API error (HTTP 500): boom");
        let e = DriverError::MissingExternal { kind: "network", name: "proxy".into() };
        assert!(e.to_string().contains("docker network create proxy"));
    }
}
