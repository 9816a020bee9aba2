use crate::cli::DownArgs;
use hyper::Method;
use roost_api::client::Client;
use roost_api::RemoveResponse;
use std::process::ExitCode;

pub async fn run(client: &Client, args: DownArgs) -> anyhow::Result<ExitCode> {
    let name = crate::project::stack_name(&args.project)?;
    let path = format!("/v1/stacks/{}?volumes={}", super::q(&name), args.volumes);
    let resp: RemoveResponse = client.call(Method::DELETE, &path, None::<&()>).await?;
    eprintln!(
        "stack {name} removed: {} containers, {} networks, {} volumes",
        resp.removed_containers,
        resp.removed_networks.len(),
        resp.removed_volumes.len()
    );
    Ok(ExitCode::SUCCESS)
}
