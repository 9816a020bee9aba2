//! Ingress certificate commands: `roost ca export`, `roost acme set|show`.

use crate::cli::{AcmeCommand, AcmeSetArgs, CaCommand};
use anyhow::Context;
use comfy_table::{presets::NOTHING, Table};
use hyper::Method;
use roost_api::client::Client;
use roost_api::{AcmeResolverRow, AcmeSetRequest, CaResponse};
use std::process::ExitCode;

const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

pub async fn ca(client: &Client, cmd: CaCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CaCommand::Export => {
            let ca: CaResponse = client.get("/v1/ingress/ca").await?;
            out!("{}", ca.cert_pem);
            if !ca.cert_pem.ends_with('\n') {
                outln!();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn acme(client: &Client, cmd: AcmeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AcmeCommand::Set(args) => set(client, args).await,
        AcmeCommand::Show { json } => {
            let rows: Vec<AcmeResolverRow> = client.get("/v1/ingress/acme").await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                outln!("{}", table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn set(client: &Client, args: AcmeSetArgs) -> anyhow::Result<ExitCode> {
    let directory = match args.directory.as_str() {
        "letsencrypt" => LETS_ENCRYPT.to_owned(),
        "letsencrypt-staging" => LETS_ENCRYPT_STAGING.to_owned(),
        other => other.to_owned(),
    };
    let root_ca_pem = match &args.root_ca {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("cannot read --root-ca {}", path.display()))?),
        None => None,
    };
    let req = AcmeSetRequest { directory, emails: args.emails, root_ca_pem };
    let path = format!("/v1/ingress/acme/{}", super::q(&args.resolver));
    let row: AcmeResolverRow = client.call(Method::PUT, &path, Some(&req)).await?;
    eprintln!("ACME resolver `{}` uses {} (account registered); certificates follow within seconds", row.name, row.directory);
    Ok(ExitCode::SUCCESS)
}

fn table(rows: &[AcmeResolverRow]) -> Table {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    table.set_header(["RESOLVER", "DIRECTORY", "EMAILS", "ROOT CA", "ACCOUNT"]);
    for r in rows {
        let name = if r.configured { r.name.clone() } else { format!("{} (built-in)", r.name) };
        table.add_row([
            name,
            r.directory.clone(),
            if r.emails.is_empty() { "-".into() } else { r.emails.join(",") },
            if r.custom_root { "custom".into() } else { "public".into() },
            if r.account { "registered".into() } else { "on first order".into() },
        ]);
    }
    table
}
