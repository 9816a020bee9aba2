use crate::cli::AgentArgs;
use std::process::ExitCode;

pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROOST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let node_name = args.name.unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".into())
    });
    let config = roost_agent::AgentConfig {
        data_dir: args.data_dir.unwrap_or_else(super::default_data_dir),
        docker_host: args.docker_host,
        node_name,
        listen: (args.listen != "none").then(|| args.listen.clone()),
        advertise: args.advertise,
        labels: args.labels.into_iter().collect(),
        witness: args.witness,
        down_after: args.down_after,
        vip: args.vip.map(|v| roost_agent::vip::Vip { dev: args.vip_dev, ..v }),
        ingress: roost_agent::ingress::Listen {
            http: (args.http_listen != "none").then_some(args.http_listen),
            https: (args.https_listen != "none").then_some(args.https_listen),
        },
    };
    roost_agent::run(config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
