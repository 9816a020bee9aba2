use crate::cli::PsArgs;
use comfy_table::{presets::NOTHING, Table};
use roost_api::client::Client;
use roost_api::PsResponse;
use std::process::ExitCode;

pub async fn run(client: &Client, args: PsArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.project_name {
        Some(p) => format!("/v1/ps?stack={}", super::q(p)),
        None => "/v1/ps".into(),
    };
    let ps: PsResponse = client.get(&path).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ps.replicas)?);
    } else {
        let mut table = Table::new();
        table.load_preset(NOTHING);
        table.set_header(["STACK", "SERVICE", "SLOT", "NODE", "CONTAINER", "STATE", "HEALTH", "PORTS", "NOTE"]);
        for r in &ps.replicas {
            table.add_row([
                r.stack.clone(),
                r.service.clone(),
                r.slot.to_string(),
                r.node.clone(),
                r.container_id.clone().unwrap_or_else(|| "-".into()),
                r.state.clone(),
                r.health.clone(),
                r.ports.join(", "),
                r.note.clone().unwrap_or_default(),
            ]);
        }
        println!("{table}");
    }
    if let Some(err) = &ps.engine_error {
        eprintln!("warning: the agent cannot reach its container engine: {err}");
    }
    Ok(ExitCode::SUCCESS)
}
