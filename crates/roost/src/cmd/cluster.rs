//! Cluster commands: token, join, nodes, leave, node rm.

use crate::cli::{JoinArgs, LsArgs, NodeCommand, NodesArgs, TokenArgs};
use comfy_table::{presets::NOTHING, Table};
use hyper::Method;
use roost_api::client::Client;
use roost_api::{JoinRequest, JoinResponse, NodeRow, StackSummary, TokenResponse};
use std::process::ExitCode;

pub async fn token(client: &Client, args: TokenArgs) -> anyhow::Result<ExitCode> {
    let t: TokenResponse = client.get(&format!("/v1/token?rotate={}&cli={}", args.rotate, args.cli)).await?;
    outln!("{}", t.token);
    Ok(ExitCode::SUCCESS)
}

pub async fn join(client: &Client, args: JoinArgs) -> anyhow::Result<ExitCode> {
    let req = JoinRequest { addr: args.addr.clone(), token: args.token };
    let r: JoinResponse = client.call(Method::POST, "/v1/join", Some(&req)).await?;
    let role = if r.voter { "a voter" } else { "a non-voter (the cluster has 7 voters)" };
    eprintln!("joined the cluster at {} as {role}", args.addr);
    Ok(ExitCode::SUCCESS)
}

pub async fn nodes(client: &Client, args: NodesArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<NodeRow> = client.get("/v1/nodes").await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(["NAME", "ADDRESS", "ROLE", "LEADER", "STATUS", "REACHABLE", "LAST SEEN", "LABELS", "CPUS", "MEMORY", "GPUS/DEVICES"]);
    for n in rows {
        let status = n.status();
        let name = if n.is_self { format!("{} (this node)", n.name) } else { n.name };
        let labels: Vec<_> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let devices: Vec<_> = n.gpus.iter().chain(&n.devices).cloned().collect();
        table.add_row([
            name,
            n.addr,
            n.role,
            if n.leader { "*".into() } else { String::new() },
            status,
            if n.reachable { "yes".into() } else { "no".into() },
            n.last_seen_ms.map_or("never".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            labels.join(","),
            n.cpus.to_string(),
            format!("{:.1} GiB", n.memory_bytes as f64 / (1u64 << 30) as f64),
            devices.join(","),
        ]);
    }
    outln!("{table}");
    Ok(ExitCode::SUCCESS)
}

pub async fn leave(client: &Client) -> anyhow::Result<ExitCode> {
    let _: serde_json::Value = client.call(Method::POST, "/v1/leave", None::<&()>).await?;
    eprintln!("left the cluster; this node is a one-node cluster again");
    Ok(ExitCode::SUCCESS)
}

pub async fn node(client: &Client, cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Rm { name, force } => {
            let path = format!("/v1/nodes/{}?force={force}", super::q(&name));
            let _: serde_json::Value = client.call(Method::DELETE, &path, None::<&()>).await?;
            eprintln!("node {name} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn ls(client: &Client, args: LsArgs) -> anyhow::Result<ExitCode> {
    let stacks: Vec<StackSummary> = client.get("/v1/stacks").await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&stacks)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(["STACK", "SERVICES", "GENERATION", "NODE"]);
    for s in stacks {
        table.add_row([s.name, s.services.to_string(), s.generation.to_string(), s.node]);
    }
    outln!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// `roost move STACK/SERVICE NODE`: asks, then waits until every replica is ready there.
pub async fn move_service(client: &Client, service: &str, node: &str, wait_timeout: u64) -> anyhow::Result<ExitCode> {
    let body = serde_json::json!({ "service": service, "node": node });
    let _: serde_json::Value = client.call(Method::POST, "/v1/move", Some(&body)).await?;
    let Some((stack, svc)) = service.split_once('/') else { anyhow::bail!("name the service as STACK/SERVICE") };
    let started = std::time::Instant::now();
    loop {
        let ps: roost_api::PsResponse = client.get(&format!("/v1/ps?stack={}", super::q(stack))).await?;
        let rows: Vec<_> = ps.replicas.iter().filter(|r| r.service == svc && r.desired).collect();
        if !rows.is_empty() && rows.iter().all(|r| r.ready && r.node == node) {
            eprintln!("{service} runs on {node} ({:.1}s)", started.elapsed().as_secs_f64());
            return Ok(ExitCode::SUCCESS);
        }
        if started.elapsed().as_secs() > wait_timeout {
            anyhow::bail!("{service} is not ready on {node} within {wait_timeout}s (`roost ps -p {stack}` shows why)");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub async fn drain(client: &Client, node: &str, on: bool) -> anyhow::Result<ExitCode> {
    let path = format!("/v1/nodes/{}/drain?on={on}", super::q(node));
    let _: serde_json::Value = client.call(Method::POST, &path, None::<&()>).await?;
    if on {
        eprintln!("node {node} is draining: its replicas move to other nodes (watch with `roost ps`)");
    } else {
        eprintln!("node {node} takes new replicas again; running ones do not move back");
    }
    Ok(ExitCode::SUCCESS)
}
