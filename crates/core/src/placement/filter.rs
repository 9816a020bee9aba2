//! The static filters of placement: which nodes a service may run on at all, and why
//! not when none. "Static" means independent of what else is placed: availability,
//! constraints, devices, GPUs and a pinned volume. Reservations depend on the other
//! slots and are checked by the caller.

use super::NodeView;
use roost_spec::{DeviceRequest, Service};

/// A parsed `deploy.placement.constraints` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub field: Field,
    /// `true` for `==`, `false` for `!=`.
    pub equal: bool,
    pub value: String,
    /// As written, for messages.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Hostname,
    Id,
    Role,
    Label(String),
}

/// Parses `node.hostname|node.id|node.role|node.labels.KEY (==|!=) VALUE`, spaces allowed
/// around the parts.
///
/// # Errors
/// A message naming the constraint and the accepted forms.
pub fn parse_constraint(text: &str) -> Result<Constraint, String> {
    let bad = || {
        format!(
            "cannot parse placement constraint `{text}`: roost understands node.hostname, node.id, \
             node.role and node.labels.KEY with == or !="
        )
    };
    let (left, right, equal) = if let Some((l, r)) = text.split_once("!=") {
        (l, r, false)
    } else if let Some((l, r)) = text.split_once("==") {
        (l, r, true)
    } else {
        return Err(bad());
    };
    let (left, value) = (left.trim(), right.trim());
    if value.is_empty() || value.contains("==") || value.contains("!=") {
        return Err(bad());
    }
    let field = match left {
        "node.hostname" => Field::Hostname,
        "node.id" => Field::Id,
        "node.role" => Field::Role,
        l => match l.strip_prefix("node.labels.") {
            Some(k) if !k.is_empty() && !k.contains(char::is_whitespace) => Field::Label(k.to_owned()),
            _ => return Err(bad()),
        },
    };
    Ok(Constraint { field, equal, value: value.to_owned(), text: text.trim().to_owned() })
}

impl Constraint {
    /// Values compare case-insensitively, as Swarm's do. A missing label never equals
    /// and always differs, so `node.labels.ssd != true` holds on a node without `ssd`.
    pub fn matches(&self, node: &NodeView) -> bool {
        let id;
        let actual = match &self.field {
            Field::Hostname => Some(node.name.as_str()),
            Field::Id => {
                id = node.id.to_string();
                Some(id.as_str())
            }
            Field::Role => Some(node.role.as_str()),
            Field::Label(k) => node.labels.get(k).map(String::as_str),
        };
        let eq = actual.is_some_and(|a| a.eq_ignore_ascii_case(&self.value));
        eq == self.equal
    }
}

/// One filter: a check per node, how to describe a node that fails it ("is …"), and
/// what to tell the user when it eliminates the last candidates.
pub(super) struct Stage<'a> {
    pub check: Box<dyn Fn(&NodeView) -> bool + 'a>,
    pub node_is: String,
    pub empty: String,
}

/// Why a node cannot take any replica, if so: "a witness", "down", "draining".
pub(super) fn unavailable(node: &NodeView) -> Option<&'static str> {
    if node.witness {
        Some("a witness")
    } else if !node.up {
        Some("down")
    } else if node.draining {
        Some("draining")
    } else {
        None
    }
}

/// "no node is up (3 down, 1 draining)".
pub(super) fn nobody_available(nodes: &[NodeView]) -> String {
    if nodes.is_empty() {
        return "no node is up (the cluster has no nodes)".into();
    }
    let count = |what: &str| nodes.iter().filter(|n| unavailable(n) == Some(what)).count();
    let parts: Vec<String> = [("down", "down"), ("draining", "draining"), ("a witness", "witness")]
        .iter()
        .filter_map(|(what, word)| Some(count(what)).filter(|c| *c > 0).map(|c| format!("{c} {word}")))
        .collect();
    format!("no node is up ({})", parts.join(", "))
}

/// The constraint, device and GPU stages of a service, in the order they are reported.
pub(super) fn service_stages<'a>(svc: &'a Service, constraints: &'a [Constraint]) -> Vec<Stage<'a>> {
    let mut stages = Vec::new();
    for c in constraints {
        stages.push(Stage {
            check: Box::new(move |n: &NodeView| c.matches(n)),
            node_is: format!("excluded by {}", c.text),
            empty: format!("no node matches {}", c.text),
        });
    }
    for d in &svc.devices {
        let path = d.host.as_str();
        stages.push(Stage {
            check: Box::new(move |n: &NodeView| n.devices.iter().chain(&n.gpus).any(|x| x == path)),
            node_is: format!("without {path}"),
            empty: format!("no node has {path}"),
        });
    }
    for r in &svc.device_requests {
        let (node_is, empty) = request_messages(r);
        stages.push(Stage { check: Box::new(move |n: &NodeView| request_fits(r, n)), node_is, empty });
    }
    stages
}

fn is_gpu(r: &DeviceRequest) -> bool {
    r.capabilities.iter().any(|all| all.iter().any(|c| c == "gpu"))
}

/// GPU requests: `count` GPUs (`-1`, or neither count nor ids: at least one), and every
/// `device_ids` entry present. Other capabilities: any device at all, since nodes do not
/// report capabilities (a deliberate simplification; Docker checks for real at create).
fn request_fits(r: &DeviceRequest, n: &NodeView) -> bool {
    if !is_gpu(r) {
        return !n.gpus.is_empty() || !n.devices.is_empty();
    }
    let wanted = match r.count {
        Some(c) if c > 0 => usize::try_from(c).unwrap_or(usize::MAX),
        _ if !r.device_ids.is_empty() => 0,
        _ => 1,
    };
    n.gpus.len() >= wanted && r.device_ids.iter().all(|id| n.gpus.iter().any(|g| gpu_is(g, id)))
}

/// `"0"` names `/dev/nvidia0`; a full path or UUID names itself.
fn gpu_is(gpu: &str, id: &str) -> bool {
    let digits = gpu.len() - gpu.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    gpu == id || (digits > 0 && &gpu[gpu.len() - digits..] == id)
}

fn request_messages(r: &DeviceRequest) -> (String, String) {
    if !is_gpu(r) {
        let caps: Vec<String> = r.capabilities.iter().map(|c| c.join("+")).collect();
        let caps = caps.join(" or ");
        return ("without devices".into(), format!("needs a device with capability {caps}; no node has any device"));
    }
    if !r.device_ids.is_empty() {
        let ids = r.device_ids.join(", ");
        return (format!("without GPU {ids}"), format!("needs GPU {ids}; no node has it"));
    }
    match r.count {
        Some(c) if c > 1 => (format!("without {c} GPUs"), format!("needs {c} GPUs; no node has that many")),
        _ => ("without a GPU".into(), "needs a GPU; no node has one".into()),
    }
}

/// `1.5 GiB`, or MiB below one GiB.
pub(super) fn bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.0} MiB", b / (1024.0 * 1024.0))
    }
}

/// `2`, `1.5`, `0.25`: CPUs without trailing zeros.
pub(super) fn cpus(c: f64) -> String {
    let s = format!("{c:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
