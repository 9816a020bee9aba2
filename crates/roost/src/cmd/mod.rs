//! One module per command; each returns the process exit code.

pub(crate) mod agent;
mod cluster;
mod config;
mod down;
mod ingress;
mod logs;
mod ps;
mod up;
mod volume;
mod wait;

use crate::cli::{Cli, Command};
use roost_api::client::Client;
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let host = cli.host.clone();
    let token = cli.cli_token.clone();
    let client = |host: Option<String>| client(host, token.as_deref());
    match cli.command {
        Command::Agent(args) => agent::run(args).await,
        Command::FenceWatchdog { data_dir, owner, docker_host } => {
            roost_agent::fence::watchdog(data_dir, docker_host, owner).await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(args) => config::run(args),
        Command::Up(args) => up::run(&client(host)?, args).await,
        Command::Down(args) => down::run(&client(host)?, args).await,
        Command::Rollback(args) => up::rollback(&client(host)?, args).await,
        Command::Ps(args) => ps::run(&client(host)?, args).await,
        Command::Logs(args) => logs::run(&client(host)?, args).await,
        Command::Ls(args) => cluster::ls(&client(host)?, args).await,
        Command::Token(args) => cluster::token(&client(host)?, args).await,
        Command::Join(args) => cluster::join(&client(host)?, args).await,
        Command::Nodes(args) => cluster::nodes(&client(host)?, args).await,
        Command::Leave => cluster::leave(&client(host)?).await,
        Command::Drain { node } => cluster::drain(&client(host)?, &node, true).await,
        Command::Undrain { node } => cluster::drain(&client(host)?, &node, false).await,
        Command::Move { service, node, wait_timeout } => cluster::move_service(&client(host)?, &service, &node, wait_timeout).await,
        Command::Node(cmd) => cluster::node(&client(host)?, cmd).await,
        Command::Ca(cmd) => ingress::ca(&client(host)?, cmd).await,
        Command::Acme(cmd) => ingress::acme(&client(host)?, cmd).await,
        Command::Volume(cmd) => volume::run(&client(host)?, cmd).await,
    }
}

/// The data dir an agent uses when none is given.
pub fn default_data_dir() -> PathBuf {
    if std::env::var_os("ROOST_DATA_DIR").is_some_and(|d| !d.is_empty()) {
        return PathBuf::from(std::env::var_os("ROOST_DATA_DIR").unwrap());
    }
    let is_root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if is_root {
        return PathBuf::from("/var/lib/roost");
    }
    match (std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("roost"),
        (_, Some(h)) => PathBuf::from(h).join(".local/share/roost"),
        _ => PathBuf::from("/var/lib/roost"),
    }
}

fn client(host: Option<String>, token: Option<&str>) -> anyhow::Result<Client> {
    let address = host
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("unix://{}", default_data_dir().join("roost.sock").display()));
    Ok(Client::with_token(&address, token)?)
}

/// Percent-encodes a query value (stack and service names are plain, but be safe).
pub(crate) fn q(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
