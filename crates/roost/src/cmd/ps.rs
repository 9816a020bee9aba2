use crate::cli::PsArgs;
use comfy_table::{presets::NOTHING, Table};
use roost_api::client::Client;
use roost_api::{Link, LinkKind, PsResponse};
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(client: &Client, args: PsArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.project_name {
        Some(p) => format!("/v1/ps?stack={}", super::q(p)),
        None => "/v1/ps".into(),
    };
    // The rows, and the stacks' service links when the agent sends them (a `links`
    // field computed with `roost_core::placement::links::links`).
    let raw: serde_json::Value = client.get(&path).await?;
    let links: Option<Vec<Link>> = raw.get("links").cloned().and_then(|l| serde_json::from_value(l).ok());
    let ps: PsResponse = serde_json::from_value(raw)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&ps.replicas)?);
    } else {
        let links = links.unwrap_or_else(|| local_links(&ps));
        // `service:X` followers get a note saying whose network they share.
        let shares: BTreeMap<(&str, &str), &str> = links
            .iter()
            .filter(|l| l.kind == LinkKind::NetworkMode)
            .map(|l| ((l.stack.as_str(), l.from.as_str()), l.to.as_str()))
            .collect();
        let mut table = Table::new();
        table.load_preset(NOTHING);
        table.set_header(["STACK", "SERVICE", "SLOT", "NODE", "CONTAINER", "STATE", "HEALTH", "PORTS", "NOTE"]);
        for r in &ps.replicas {
            let note = match (&r.note, shares.get(&(r.stack.as_str(), r.service.as_str()))) {
                (Some(n), _) => n.clone(),
                (None, Some(x)) if r.desired => format!("shares {x}'s network"),
                _ => String::new(),
            };
            table.add_row([
                r.stack.clone(),
                r.service.clone(),
                r.slot.to_string(),
                r.node.clone(),
                r.container_id.clone().unwrap_or_else(|| "-".into()),
                r.state.clone(),
                r.health.clone(),
                r.ports.join(", "),
                note,
            ]);
        }
        outln!("{table}");
        out!("{}", cross_node_section(&links));
    }
    if let Some(err) = &ps.engine_error {
        eprintln!("warning: the agent cannot reach its container engine: {err}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One block per stack with links whose replicas run on different nodes:
/// `cross-node links (stack web):` then `  app (h1) -> db (h3)`.
fn cross_node_section(links: &[Link]) -> String {
    let mut by_stack: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for l in links.iter().filter(|l| l.cross_node) {
        by_stack.entry(l.stack.as_str()).or_default().push(format!("  {l}\n"));
    }
    by_stack.into_iter().map(|(stack, lines)| format!("\ncross-node links (stack {stack}):\n{}", lines.concat())).collect()
}

/// An agent that does not send links yet: take the stack's spec from the Compose
/// project in the current folder, if there is one and it is among the rows (quietly:
/// `ps` must work anywhere, and the file may differ from what was deployed).
fn local_links(ps: &PsResponse) -> Vec<Link> {
    let Ok(cwd) = std::env::current_dir() else { return Vec::new() };
    let Some(file) = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"].iter().map(|f| cwd.join(f)).find(|p| p.exists()) else {
        return Vec::new();
    };
    let opts = roost_compose::LoadOptions { files: vec![file], project_name: None, profiles: Vec::new(), env: std::env::vars().collect() };
    let Ok(loaded) = roost_compose::load(&opts) else { return Vec::new() };
    if !ps.replicas.iter().any(|r| r.stack == loaded.stack.name) {
        return Vec::new();
    }
    let stacks = BTreeMap::from([(loaded.stack.name.clone(), loaded.stack)]);
    roost_core::placement::links::links(&stacks, &ps.replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cross_node_links_are_listed_per_stack() {
        let link = |stack: &str, from: &str, to: &str, kind, cross_node| Link {
            stack: stack.into(),
            from: from.into(),
            to: to.into(),
            kind,
            from_nodes: vec!["h1".into()],
            to_nodes: vec!["h3".into()],
            cross_node,
        };
        let links = [
            link("web", "app", "db", LinkKind::DependsOn, true),
            link("web", "vpn", "db", LinkKind::NetworkMode, false),
            link("web", "a", "b", LinkKind::Together, true),
            link("other", "x", "y", LinkKind::DependsOn, false),
        ];
        assert_eq!(
            cross_node_section(&links),
            "\ncross-node links (stack web):\n  app (h1) -> db (h3)\n  a (h1) <-> b (h3): split, but x-roost together needs one node\n"
        );
    }
}
