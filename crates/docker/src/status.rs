//! Turning `GET /containers/json` rows into [`ObservedContainer`]s.
//!
//! API 1.41 (Docker 20.10, what Debian ships) has no `Health` field in the container
//! list, and no exit code either; both only appear in the human `Status` text
//! (`Up 3 seconds (healthy)`, `Exited (137) 2 seconds ago`). Inspecting each container
//! would cost one request per container per observation, so the text is parsed
//! instead. When a newer engine does send `Health`, that field wins.

use bollard::models::{ContainerSummary, ContainerSummaryHealthStatusEnum, ContainerSummaryStateEnum};
use roost_core::labels;
use roost_core::observed::{ContainerState, Health, ObservedContainer};

/// What the `Status` text of a container list row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusText {
    /// The state the text implies (used when the `State` field is missing).
    pub state: Option<ContainerState>,
    pub health: Health,
    /// `Exited (N)` / `Restarting (N)`.
    pub exit_code: Option<i64>,
}

/// Parses Docker's (and Podman's) human `Status` text of the container list.
///
/// Recognized forms: `Up 3 seconds`, `Up 3 seconds (healthy)`, `Up 3 seconds
/// (unhealthy)`, `Up 3 seconds (health: starting)`, `Up 2 minutes (Paused)`,
/// `Exited (137) 2 seconds ago`, `Restarting (1) 5 seconds ago`, `Created`,
/// `Removal In Progress`, `Dead`. Anything else yields no state and no health.
pub fn parse_status(text: &str) -> StatusText {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let health = if lower.contains("(health: starting)") {
        Health::Starting
    } else if lower.contains("(unhealthy)") {
        Health::Unhealthy
    } else if lower.contains("(healthy)") {
        Health::Healthy
    } else {
        Health::None
    };
    let exit_code = first_parenthesized_number(t);
    let state = if lower.starts_with("up") {
        if lower.contains("(paused)") {
            Some(ContainerState::Paused)
        } else {
            Some(ContainerState::Running)
        }
    } else if lower.starts_with("exited") {
        Some(ContainerState::Exited { code: exit_code })
    } else if lower.starts_with("restarting") {
        Some(ContainerState::Restarting)
    } else if lower.starts_with("created") {
        Some(ContainerState::Created)
    } else if lower.starts_with("removal") || lower.starts_with("dead") {
        Some(ContainerState::Dead)
    } else {
        None
    };
    StatusText { state, health, exit_code }
}

/// The integer inside the first `(...)` if it is one (`Exited (137) ...` → 137).
fn first_parenthesized_number(t: &str) -> Option<i64> {
    let open = t.find('(')?;
    let close = open + t[open..].find(')')?;
    t[open + 1..close].trim().parse().ok()
}

/// Combines the `State` field (authoritative when present) with the `Status` text.
pub fn container_state(state: Option<ContainerSummaryStateEnum>, status: &str) -> (ContainerState, Health) {
    let parsed = parse_status(status);
    let state = match state {
        Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited { code: parsed.exit_code },
        Some(ContainerSummaryStateEnum::REMOVING) | Some(ContainerSummaryStateEnum::DEAD) => {
            ContainerState::Dead
        }
        // `stopping` (newer engines): still running for our purposes.
        Some(ContainerSummaryStateEnum::STOPPING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::EMPTY) | None => {
            parsed.state.unwrap_or(ContainerState::Exited { code: parsed.exit_code })
        }
    };
    // Health is only meaningful while running; Docker keeps no "(healthy)" text otherwise.
    let health = if matches!(state, ContainerState::Running) { parsed.health } else { Health::None };
    (state, health)
}

/// Maps one container list row (of a container labelled [`labels::MANAGED`]).
///
/// Missing or malformed roost labels do not drop the row: the container is reported
/// with empty names and slot 0, so the agent can still see and remove it.
pub fn observed_container(c: &ContainerSummary) -> ObservedContainer {
    let empty = Default::default();
    let l = c.labels.as_ref().unwrap_or(&empty);
    let get = |k: &str| l.get(k).cloned().unwrap_or_default();
    let (state, mut health) =
        container_state(c.state, c.status.as_deref().unwrap_or_default());
    if let Some(h) = c.health.as_ref().and_then(|h| h.status) {
        // API ≥ 1.52 reports health directly.
        if matches!(state, ContainerState::Running) {
            health = match h {
                ContainerSummaryHealthStatusEnum::STARTING => Health::Starting,
                ContainerSummaryHealthStatusEnum::HEALTHY => Health::Healthy,
                ContainerSummaryHealthStatusEnum::UNHEALTHY => Health::Unhealthy,
                _ => health,
            };
        }
    }
    let mut ports: Vec<String> = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let public = p.public_port?;
            let ip = p.ip.clone().unwrap_or_else(|| "0.0.0.0".into());
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            Some(format!("{ip}:{public}->{}/{proto}", p.private_port))
        })
        .collect();
    ports.sort();
    ports.dedup();
    let addresses = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|(name, e)| {
            let ip = e.ip_address.as_deref().filter(|ip| !ip.is_empty())?;
            Some((name.clone(), ip.to_owned()))
        })
        .collect();
    let mut exposed: Vec<u16> = c
        .ports
        .iter()
        .flatten()
        .filter(|p| p.typ.is_none_or(|t| t.to_string() == "tcp"))
        .map(|p| p.private_port)
        .collect();
    exposed.sort_unstable();
    exposed.dedup();
    ObservedContainer {
        exposed,
        addresses,
        id: c.id.clone().unwrap_or_default(),
        name: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        stack: get(labels::STACK),
        service: get(labels::SERVICE),
        slot: get(labels::SLOT).parse().unwrap_or(0),
        config_hash: get(labels::CONFIG_HASH),
        state,
        health,
        ports,
        created: c.created.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState::*;

    #[test]
    fn status_text_table() {
        let cases: &[(&str, Option<ContainerState>, Health, Option<i64>)] = &[
            ("Up 3 seconds", Some(Running), Health::None, None),
            ("Up 3 seconds (healthy)", Some(Running), Health::Healthy, None),
            ("Up About a minute (unhealthy)", Some(Running), Health::Unhealthy, None),
            ("Up 5 seconds (health: starting)", Some(Running), Health::Starting, None),
            ("Up 2 minutes (Paused)", Some(Paused), Health::None, None),
            ("Exited (137) 2 seconds ago", Some(Exited { code: Some(137) }), Health::None, Some(137)),
            ("Exited (0) About an hour ago", Some(Exited { code: Some(0) }), Health::None, Some(0)),
            ("Restarting (1) 5 seconds ago", Some(Restarting), Health::None, Some(1)),
            ("Created", Some(Created), Health::None, None),
            ("Removal In Progress", Some(Dead), Health::None, None),
            ("Dead", Some(Dead), Health::None, None),
            ("", None, Health::None, None),
            ("something new", None, Health::None, None),
        ];
        for (text, state, health, code) in cases {
            let got = parse_status(text);
            assert_eq!(got, StatusText { state: *state, health: *health, exit_code: *code }, "{text:?}");
        }
    }

    #[test]
    fn state_field_wins_and_health_only_when_running() {
        use ContainerSummaryStateEnum as S;
        assert_eq!(container_state(Some(S::RUNNING), "Up 1 second (healthy)"), (Running, Health::Healthy));
        assert_eq!(
            container_state(Some(S::EXITED), "Exited (2) 1 second ago"),
            (Exited { code: Some(2) }, Health::None)
        );
        assert_eq!(container_state(Some(S::EXITED), "weird"), (Exited { code: None }, Health::None));
        assert_eq!(container_state(None, "Up 4 hours (unhealthy)"), (Running, Health::Unhealthy));
        assert_eq!(container_state(Some(S::DEAD), "Dead"), (Dead, Health::None));
    }

    #[test]
    fn maps_a_list_row() {
        let row: ContainerSummary = serde_json::from_value(serde_json::json!({
            "Id": "abc",
            "Names": ["/s-web-2"],
            "Created": 1700000000,
            "State": "running",
            "Status": "Up 3 seconds (health: starting)",
            "Ports": [
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"PrivatePort": 443, "Type": "tcp"}
            ],
            "Labels": {
                "io.roost.managed": "true", "io.roost.stack": "s", "io.roost.service": "web",
                "io.roost.slot": "2", "io.roost.config-hash": "h1"
            }
        }))
        .unwrap();
        let o = observed_container(&row);
        assert_eq!(o.name, "s-web-2");
        assert_eq!((o.stack.as_str(), o.service.as_str(), o.slot), ("s", "web", 2));
        assert_eq!(o.config_hash, "h1");
        assert_eq!((o.state, o.health), (Running, Health::Starting));
        assert_eq!(o.ports, vec!["0.0.0.0:8080->80/tcp".to_string()]);
        assert_eq!(o.created, 1700000000);
    }
}

/// The host interface of a bridge network: the one its options name, else Docker's
/// `br-` plus the first 12 hex digits of its id (the default bridge is `docker0`).
pub fn bridge_interface(n: &bollard::models::Network) -> Option<String> {
    if n.driver.as_deref() != Some("bridge") {
        return None;
    }
    if let Some(name) = n.options.as_ref().and_then(|o| o.get("com.docker.network.bridge.name")) {
        return Some(name.clone());
    }
    let id = n.id.as_deref()?;
    (id.len() >= 12).then(|| format!("br-{}", &id[..12]))
}

/// The network's first IPv4 subnet, as `ADDR/PREFIX`.
pub fn ipv4_subnet(n: &bollard::models::Network) -> Option<String> {
    n.ipam
        .as_ref()?
        .config
        .as_ref()?
        .iter()
        .filter_map(|c| c.subnet.clone())
        .find(|s| s.contains('.'))
}
