//! `atelier`: one self-hosted server for visual AI.
//!
//! `atelier serve` runs the API with in-process workers (SQLite and a local folder under `./data`
//! by default); `atelier worker` runs workers only, for scaled-out deployments sharing PostgreSQL
//! and an S3-compatible store; `atelier migrate` applies database migrations and exits;
//! `atelier studio …` scripts a detector project on a running server through its REST API.

mod cascade_args;
mod cli;
mod commands;
mod file_settings;
mod guard_settings;
mod limit_settings;
mod logging;
mod oidc_settings;
mod settings;
mod studio_args;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A client command's error is for its user, not a server log.
    let is_client = matches!(cli.command, cli::Command::Studio(_));
    let settings = match settings::Settings::load(&cli) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("atelier: {err:#}");
            return ExitCode::from(2);
        }
    };
    logging::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("atelier: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !is_client {
                tracing::error!("{err:#}");
            }
            eprintln!("atelier: {err:#}");
            ExitCode::FAILURE
        }
    }
}
