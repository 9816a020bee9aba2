use crate::cli::UpArgs;
use hyper::Method;
use roost_api::client::Client;
use roost_api::{DeployRequest, DeployResponse};
use std::process::ExitCode;

/// Loads and validates the files locally (so bad input never reaches the agent), then
/// deploys. With `--wait`, follows the rollout until it is ready or fails.
pub async fn run(client: &Client, args: UpArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::project::load(&args.project)?;
    let name = loaded.stack.name.clone();
    let resp: DeployResponse = client
        .call(Method::PUT, &format!("/v1/stacks/{}", super::q(&name)), Some(&DeployRequest { stack: loaded.stack }))
        .await?;
    if resp.changed_services.is_empty() {
        eprintln!("stack {name} is up to date (generation {})", resp.generation);
    } else {
        eprintln!(
            "stack {name} deployed (generation {}): {} changed",
            resp.generation,
            resp.changed_services.join(", ")
        );
    }
    if args.wait {
        return super::wait::until_ready(client, &name, resp.generation, std::time::Duration::from_secs(args.wait_timeout)).await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rollback(client: &Client, args: crate::cli::RollbackArgs) -> anyhow::Result<ExitCode> {
    let name = crate::project::stack_name(&args.project)?;
    let resp: DeployResponse =
        client.call(Method::POST, &format!("/v1/stacks/{}/rollback", super::q(&name)), None::<&()>).await?;
    eprintln!(
        "stack {name} rolled back to its previous version (generation {}): {} changed",
        resp.generation,
        if resp.changed_services.is_empty() { "nothing".into() } else { resp.changed_services.join(", ") }
    );
    if args.wait {
        return super::wait::until_ready(client, &name, resp.generation, std::time::Duration::from_secs(args.wait_timeout)).await;
    }
    Ok(ExitCode::SUCCESS)
}
