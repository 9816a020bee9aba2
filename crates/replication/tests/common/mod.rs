//! Builders and renderers for the replication tests.
#![allow(dead_code)]

use roost_replication::{Candidate, Held, NodeId, ReplicatedVolume, VolumePlan, VolumeRow};
use roost_spec::{Consistency, Mount, MountKind, Replication, Service};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// A named volume `source` mounted at `target`.
pub fn volume_mount(source: &str, target: &str) -> Mount {
    Mount {
        kind: MountKind::Volume,
        source: Some(source.into()),
        target: target.into(),
        read_only: false,
        create_host_path: false,
        tmpfs_size: None,
    }
}

/// A service of `image` mounting each `(volume, target)` by name.
pub fn service(image: &str, mounts: &[(&str, &str)]) -> Service {
    Service {
        image: image.into(),
        replicas: 1,
        volumes: mounts.iter().map(|(s, t)| volume_mount(s, t)).collect(),
        ..Default::default()
    }
}

/// `x-roost:` settings: `copies`, `interval` in seconds, `pause` consistency.
pub fn settings(copies: u8, interval_s: u64) -> Replication {
    Replication { replicate: true, interval: Duration::from_secs(interval_s), copies, consistency: Consistency::Pause }
}

/// The volume `demo_data`, mounted by `db`, with `settings`.
pub fn volume(settings: Replication) -> ReplicatedVolume {
    ReplicatedVolume {
        docker_name: "demo_data".into(),
        stack: "demo".into(),
        volume: "data".into(),
        services: vec!["db".into()],
        settings,
    }
}

/// An up node that is neither a witness nor draining.
pub fn node(id: NodeId, name: &str) -> Candidate {
    Candidate { id, name: name.into(), up: true, witness: false, draining: false }
}

/// Nodes `h1..=hN` with ids `1..=N`.
pub fn nodes(n: u64) -> Vec<Candidate> {
    (1..=n).map(|i| node(i, &format!("h{i}"))).collect()
}

/// A snapshot whose 64-hex id repeats `tag`, taken at `taken_ms`.
pub fn snap(tag: char, taken_ms: u64) -> Held {
    Held { snapshot: std::iter::repeat_n(tag, 64).collect(), taken_ms }
}

/// What each node holds: `(id, tag, taken_ms)`.
pub fn held(entries: &[(NodeId, char, u64)]) -> BTreeMap<NodeId, Held> {
    entries.iter().map(|(id, tag, t)| (*id, snap(*tag, *t))).collect()
}

/// `hN` for node N (the names [`nodes`] gives).
pub fn name(id: NodeId) -> String {
    format!("h{id}")
}

/// A plan on one line: primary, standbys, recovery point, state.
pub fn render_plan(p: &VolumePlan) -> String {
    let primary = p.primary.map_or("-".to_string(), name);
    let standbys: Vec<String> = p.standbys.iter().map(|id| name(*id)).collect();
    let standbys = if standbys.is_empty() { "-".to_string() } else { standbys.join(",") };
    let rpo = p.rpo_ms.map_or("-".to_string(), |ms| format!("{ms}ms"));
    format!("primary {primary} | standbys {standbys} | rpo {rpo} | {}", p.state)
}

/// Rows as `roost volume ls` would print them: one line per volume, one per standby.
pub fn render_rows(rows: &[VolumeRow]) -> String {
    let dash = || "-".to_string();
    let mut out = String::new();
    for r in rows {
        let rpo = r.rpo_s.map_or_else(dash, |s| format!("{s}s"));
        let primary = r.primary.clone().unwrap_or_else(dash);
        writeln!(
            out,
            "{} ({}/{}) on {primary}: {}, rpo {rpo}, every {}s, {}",
            r.docker_name, r.stack, r.volume, r.state, r.interval_s, r.consistency
        )
        .unwrap();
        for s in &r.standbys {
            let snapshot = s.snapshot.clone().unwrap_or_else(dash);
            let age = s.age_s.map_or_else(dash, |a| format!("{a}s"));
            writeln!(out, "  standby {}: {snapshot} ({age})", s.node).unwrap();
        }
    }
    if out.is_empty() {
        out.push_str("(no replicated volumes)\n");
    }
    out
}
