//! The `roost` binary: the agent and the CLI that drives it.
#![forbid(unsafe_code)]

#[macro_use]
mod out;
mod cli;
mod cmd;
mod project;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if matches!(cli.command, cli::Command::Agent(_)) {
        cmd::agent::with_few_malloc_arenas();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<project::AlreadyReported>().is_some() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
