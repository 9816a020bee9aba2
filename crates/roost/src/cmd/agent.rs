use crate::cli::AgentArgs;
use std::process::ExitCode;

/// glibc gives each thread that allocates its own arena (up to 8 per core) and keeps
/// what is freed in it. The agent's snapshot and restore threads allocate pack-sized
/// buffers, so its memory grew to 545 MB on a standby of a 1 GB volume, against 150 MB
/// with two arenas, at about the same CPU (`bench/volumes.sh`, one run each). glibc reads the limit only
/// from the environment at start, so the agent starts itself again with it set, same
/// process id and arguments, unless it is set already (a user's choice wins). If that
/// fails the agent runs on as it is.
pub fn with_few_malloc_arenas() {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let error = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("MALLOC_ARENA_MAX", "2").exec();
    eprintln!("note: cannot restart with MALLOC_ARENA_MAX=2 ({error}); running on with glibc's default arenas");
}

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
