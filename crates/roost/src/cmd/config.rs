use crate::cli::ConfigArgs;
use std::process::ExitCode;

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::project::load(&args.project)?;
    if !args.quiet {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&loaded.stack)?);
        } else {
            print!("{}", roost_compose::render_yaml(&loaded.stack));
        }
    }
    Ok(ExitCode::SUCCESS)
}
