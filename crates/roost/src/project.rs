//! Finding and loading the Compose project a command is about, as `docker compose` does.

use crate::cli::ProjectArgs;
use anyhow::{bail, Context};
use roost_compose::{LoadOptions, Loaded};
use std::path::PathBuf;

const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// The files to load: those given, else the first default file in the current folder.
pub fn files(args: &ProjectArgs) -> anyhow::Result<Vec<PathBuf>> {
    if !args.files.is_empty() {
        return Ok(args.files.clone());
    }
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    match DEFAULT_FILES.iter().map(|f| cwd.join(f)).find(|p| p.exists()) {
        Some(p) => Ok(vec![p]),
        None => bail!(
            "no Compose file found in {}: looked for {}; pass one with -f",
            cwd.display(),
            DEFAULT_FILES.join(", ")
        ),
    }
}

/// Loads the project, printing warnings to stderr.
///
/// # Errors
/// The loader's diagnostics (file:line:column with a snippet) as the error text.
pub fn load(args: &ProjectArgs) -> anyhow::Result<Loaded> {
    let opts = LoadOptions {
        files: files(args)?,
        project_name: args.project_name.clone(),
        profiles: args.profiles.clone(),
        env: std::env::vars().collect(),
    };
    let loaded = match roost_compose::load(&opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Err(AlreadyReported.into());
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded)
}

/// The stack name for commands that need only the name: `-p`, else the loaded files'.
pub fn stack_name(args: &ProjectArgs) -> anyhow::Result<String> {
    if let Some(p) = &args.project_name {
        return Ok(p.clone());
    }
    Ok(load(args)?.stack.name)
}

/// An error whose message was already printed (compose diagnostics carry their own
/// `error:` labels); `main` exits non-zero without printing it again.
#[derive(Debug)]
pub struct AlreadyReported;

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid Compose project")
    }
}

impl std::error::Error for AlreadyReported {}
