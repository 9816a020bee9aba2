//! `roost volume ls` and `roost volume snapshots`.

use crate::cli::VolumeCommand;
use comfy_table::{presets::NOTHING, Table};
use roost_agent::volumes::api::SnapshotRow;
use roost_api::client::Client;
use roost_replication::VolumeRow;
use std::process::ExitCode;

pub async fn run(client: &Client, cmd: VolumeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VolumeCommand::Ls { json } => {
            let rows: Vec<VolumeRow> = client.get("/v1/volumes").await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                eprintln!("no replicated volumes (named volumes of stateful services replicate unless `x-roost: {{replicate: false}}`)");
            } else {
                outln!("{}", table(&rows));
            }
        }
        VolumeCommand::Password => {
            let answer: serde_json::Value = client.get("/v1/volumes/password").await?;
            outln!("{}", answer["password"].as_str().unwrap_or_default());
        }
        VolumeCommand::Restore { volume, snapshot } => {
            let docker_name = docker_name(client, &volume).await?;
            let request = roost_agent::volumes::restore_cmd::RestoreCommand { volume: docker_name, snapshot };
            let answer: serde_json::Value = client.call(hyper::Method::POST, "/v1/volumes/restore", Some(&request)).await?;
            eprintln!("{}", answer["message"].as_str().unwrap_or("restored"));
        }
        VolumeCommand::Snapshots { volume, json } => {
            let docker_name = docker_name(client, &volume).await?;
            let snapshots: Vec<SnapshotRow> = client.get(&format!("/v1/volumes/snapshots?volume={}", super::q(&docker_name))).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&snapshots)?);
            } else {
                let mut table = Table::new();
                table.load_preset(NOTHING).set_header(["ID", "TIME", "TAGS"]);
                for s in &snapshots {
                    table.add_row([s.id.get(..8).unwrap_or(&s.id).to_owned(), s.time.clone(), s.tags.join(",")]);
                }
                outln!("{table}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The Docker name of STACK/VOLUME, from the cluster's replicated volumes.
async fn docker_name(client: &Client, volume: &str) -> anyhow::Result<String> {
    let Some((stack, key)) = volume.split_once('/') else {
        anyhow::bail!("name the volume as STACK/VOLUME (its Compose name), not `{volume}`");
    };
    let rows: Vec<VolumeRow> = client.get("/v1/volumes").await?;
    match rows.into_iter().find(|r| r.stack == stack && r.volume == key) {
        Some(row) => Ok(row.docker_name),
        None => anyhow::bail!("no replicated volume {volume}; `roost volume ls` lists them"),
    }
}

fn table(rows: &[VolumeRow]) -> Table {
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header(["VOLUME", "PRIMARY", "STANDBYS", "RPO", "EVERY", "CONSISTENCY", "STATE"]);
    for r in rows {
        let standbys: Vec<String> = r
            .standbys
            .iter()
            .map(|s| match s.age_s {
                Some(age) => format!("{} ({age}s)", s.node),
                None => format!("{} (none yet)", s.node),
            })
            .collect();
        table.add_row([
            format!("{}/{}", r.stack, r.volume),
            r.primary.clone().unwrap_or_else(|| "-".into()),
            if standbys.is_empty() { "-".into() } else { standbys.join(", ") },
            r.rpo_s.map_or("-".into(), |s| format!("{s}s")),
            format!("{}s", r.interval_s),
            r.consistency.clone(),
            r.state.to_string(),
        ]);
    }
    table
}
