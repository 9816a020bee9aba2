use crate::cli::LogsArgs;
use http_body_util::BodyExt;
use hyper::Method;
use roost_api::client::Client;
use std::io::Write;
use std::process::ExitCode;

pub async fn run(client: &Client, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let project = crate::cli::ProjectArgs { files: args.files, project_name: args.project_name, profiles: vec![] };
    let stack = crate::project::stack_name(&project)?;
    let mut path = format!("/v1/logs?stack={}&follow={}", super::q(&stack), args.follow);
    if let Some(s) = &args.service {
        path.push_str(&format!("&service={}", super::q(s)));
    }
    if let Some(n) = args.tail {
        path.push_str(&format!("&tail={n}"));
    }
    let resp = client.send(Method::GET, &path, None).await?;
    let mut body = resp.into_body();
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.write_all(&data)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
