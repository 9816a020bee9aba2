use crate::cli::ConfigArgs;
use std::process::ExitCode;

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::project::load(&args.project)?;
    if !args.quiet {
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&loaded.stack)?);
        } else {
            out!("{}", roost_compose::render_yaml(&loaded.stack));
        }
    }
    Ok(ExitCode::SUCCESS)
}
